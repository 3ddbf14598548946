import Glibc
import Synchronization
import Testing
@testable import CorralRuntime
import CorralTestSupport

@Suite struct BackPressureTests {
    /// A server that produces 32 MiB for a client that is not reading: it must stop at the high
    /// watermark (not queue everything), and deliver every byte once the client reads.
    @Test func aSlowReaderBoundsWhatTheServerQueuesAndLosesNothing() throws {
        let total = 32 << 20
        let chunk = ByteChunk(pattern(64 * 1024, seed: 3))
        let blocked = try OneShotSignal()
        let maxPending = MaxBox()
        let group = try EventLoopGroup(loopCount: 1)
        try group.start()
        let listener = Listener(group: group, address: .ipv4(host: "127.0.0.1", port: 0), strategy: .reuseport) { _ in
            Producer(chunk: chunk, total: total, blocked: blocked, maxPending: maxPending)
        }
        try listener.start()
        defer {
            listener.stop()
            group.shutdown()
        }
        let client = try BlockingClient(listener.address)
        blocked.wait()  // the server has hit the high watermark
        // 256 KiB high watermark + at most one 64 KiB chunk beyond it.
        #expect(maxPending.value.load(ordering: .relaxed) <= 256 * 1024 + 64 * 1024)
        #expect(maxPending.value.load(ordering: .relaxed) > 0)
        let received = try client.receiveAll()
        try #require(received.count == total, "bytes were lost")
        let expected = Array(chunk.bytes)
        var mismatches = 0
        for offset in stride(from: 0, to: received.count, by: expected.count)
        where Array(received[offset..<offset + expected.count]) != expected {
            mismatches += 1
        }
        #expect(mismatches == 0)
    }

    /// One write far larger than the socket can take while the client does not read, flushed
    /// once and under the watermark: on uring its send is submitted in the io_uring_enter that
    /// sleeps, and falls short. The loop must wake for that (not wait for an event that never
    /// comes) and finish the send once the client reads.
    @Test(arguments: testedBackends)
    func aSendThatFallsShortIsFinishedOnceThePeerReads(backend: EventLoopBackend) throws {
        let chunk = ByteChunk(pattern(8 << 20, seed: 5))
        let group = try EventLoopGroup(loopCount: 1, backend: backend)
        try group.start()
        let listener = Listener(group: group, address: .ipv4(host: "127.0.0.1", port: 0), strategy: .reuseport) { _ in
            OneBigWrite(chunk: chunk)
        }
        try listener.start()
        defer {
            listener.stop()
            group.shutdown()
        }
        let client = try BlockingClient(listener.address)
        let received = try client.receive(exactly: chunk.count)
        try #require(received.count == chunk.count, "bytes were lost")
        #expect(received == Array(chunk.bytes))
    }
}

/// Writes `chunk` once, below a raised watermark, and keeps the connection open.
private final class OneBigWrite: ConnectionHandler {
    let chunk: ByteChunk
    init(chunk: ByteChunk) { self.chunk = chunk }

    func connectionDidOpen(_ connection: Connection) {
        connection.highWatermark = 2 * chunk.count
        connection.lowWatermark = chunk.count
        connection.write(chunk)
        connection.flush()
    }

    func connection(_ connection: Connection, didRead buffer: UnsafeRawBufferPointer) -> Int { buffer.count }
}

final class MaxBox: Sendable {
    let value = Atomic<Int>(0)
    func observe(_ v: Int) {
        var current = value.load(ordering: .relaxed)
        while v > current {
            let (done, now) = value.compareExchange(expected: current, desired: v, ordering: .relaxed)
            if done { return }
            current = now
        }
    }
}

private final class Producer: ConnectionHandler {
    let chunk: ByteChunk
    var left: Int
    let blocked: OneShotSignal
    let maxPending: MaxBox
    var signalled = false

    init(chunk: ByteChunk, total: Int, blocked: OneShotSignal, maxPending: MaxBox) {
        self.chunk = chunk
        self.left = total
        self.blocked = blocked
        self.maxPending = maxPending
    }

    func connectionDidOpen(_ connection: Connection) { produce(connection) }

    func connectionWritabilityDidChange(_ connection: Connection) {
        if connection.isWritable { produce(connection) }
    }

    private func produce(_ connection: Connection) {
        while left > 0 && connection.isWritable {
            connection.write(chunk)
            left -= chunk.count
            maxPending.observe(connection.pendingWriteBytes)
            connection.flush()
        }
        if left == 0 {
            connection.closeAfterFlush()
        } else if !signalled {
            signalled = true
            blocked.signal()
        }
    }

    func connection(_ connection: Connection, didRead buffer: UnsafeRawBufferPointer) -> Int { buffer.count }
}
