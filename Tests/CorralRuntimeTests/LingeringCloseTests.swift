import Glibc
import Synchronization
import Testing
@testable import CorralRuntime

/// A server that answers the first line and closes while the client is still sending: with a
/// plain close the kernel answers the unread bytes with a reset; a lingering close shuts down
/// the write side and reads them away, so the client gets the reply and a clean end of file.
@Suite struct LingeringCloseTests {
    @Test func aLingeringCloseDeliversTheReplyAndAnOrderlyEndWhileThePeerIsStillSending() throws {
        let server = try ReplyThenClose.Server(linger: Linger(timeoutNanoseconds: 20_000_000_000))
        defer { server.close() }
        let client = try BlockingClient(server.address)
        let extra = pattern(512 * 1024, seed: 9)
        let writer = try Threads.spawn(name: "test-writer") {
            try? client.send(Array("REQ\n".utf8) + extra)
            client.shutdownWrite()  // the server's discarding read sees EOF and closes
        }
        defer { Threads.join(writer) }
        let (reply, end) = client.receiveUntilEnd()
        #expect(reply == Array("RESP\n".utf8))
        #expect(end == 0, "the client saw errno \(end) instead of an orderly end of file")
        server.closed.wait()
        #expect(server.reasons == [.closed])
    }

    @Test func aPeerThatNeverClosesIsLetGoAtTheDeadline() throws {
        let server = try ReplyThenClose.Server(linger: Linger(timeoutNanoseconds: 50_000_000))
        defer { server.close() }
        let client = try BlockingClient(server.address)
        try client.send(Array("REQ\nmore".utf8))
        let (reply, end) = client.receiveUntilEnd()
        #expect(reply == Array("RESP\n".utf8))
        #expect(end == 0)
        server.closed.wait()  // without the deadline this never returns: the client never closes
        #expect(server.reasons == [.closed])
    }

    /// What lingering prevents, so that the first test can fail: unread input at close(2) makes
    /// the kernel send a reset (RFC 1122 4.2.2.13), which the client sees as ECONNRESET.
    @Test func aPlainCloseWithUnreadInputResetsTheConnection() throws {
        let server = try ReplyThenClose.Server(linger: nil)
        defer { server.close() }
        let client = try BlockingClient(server.address)
        try client.send(Array("REQ\n".utf8) + pattern(4096, seed: 1))
        server.closed.wait()
        _ = client.receiveUntilEnd()
        // The reset may arrive before or after the reply was read; either way a send now fails.
        var reset = false
        for _ in 0..<3 where !reset {
            do { try client.send([1]) } catch let error as SystemError { reset = error.errno == .connectionReset || error.errno == .brokenPipe }
        }
        #expect(reset)
    }
}

/// Replies "RESP\n" to the first line it reads and closes (lingering or not), leaving
/// whatever else arrived in that read, and everything after it, unread.
private final class ReplyThenClose: ConnectionHandler {
    let linger: Linger?
    let recorder: Recorder

    init(linger: Linger?, recorder: Recorder) {
        self.linger = linger
        self.recorder = recorder
    }

    func connection(_ connection: Connection, didRead buffer: UnsafeRawBufferPointer) -> Int {
        guard buffer.contains(UInt8(ascii: "\n")) else { return 0 }
        connection.write(Array("RESP\n".utf8))
        if let linger { connection.closeAfterFlush(lingering: linger) } else { connection.closeAfterFlush() }
        return buffer.count
    }

    func connectionDidClose(_ connection: Connection, reason: CloseReason) {
        recorder.record(reason)
    }

    final class Recorder: Sendable {
        let closed: OneShotSignal
        private let recorded = Locked<[CloseReason]>([])
        var reasons: [CloseReason] { recorded.withLock { $0 } }

        init() throws { closed = try OneShotSignal() }

        func record(_ reason: CloseReason) {
            recorded.withLock { $0.append(reason) }
            closed.signal()
        }
    }

    struct Server {
        let group: EventLoopGroup
        let listener: Listener
        let recorder: Recorder
        var address: SocketAddress { listener.address }
        var closed: OneShotSignal { recorder.closed }
        var reasons: [CloseReason] { recorder.reasons }

        init(linger: Linger?) throws {
            group = try EventLoopGroup(loopCount: 1)
            try group.start()
            let recorder = try Recorder()
            self.recorder = recorder
            listener = Listener(group: group, address: .ipv4(host: "127.0.0.1", port: 0), strategy: .reuseport) { _ in
                ReplyThenClose(linger: linger, recorder: recorder)
            }
            try listener.start()
        }

        func close() {
            listener.stop()
            group.shutdown()
        }
    }
}

extension BlockingClient {
    /// Reads until the stream ends; returns the bytes and 0 for an orderly end of file, or the
    /// errno that ended it (ECONNRESET for a reset).
    func receiveUntilEnd() -> ([UInt8], CInt) {
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress!, 65536, 0) }
            if n == 0 { return (result, 0) }
            if n < 0 { return (result, errno) }
            result += chunk[..<n]
        }
    }
}
