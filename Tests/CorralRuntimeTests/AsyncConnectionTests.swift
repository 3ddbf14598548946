import CCorral  // its header owns declarations (SOCK_STREAM…) it includes textually: import it where they are used
import Glibc
import Logging
import ServiceLifecycle
import Synchronization
import Testing
@testable import CorralRuntime

/// The async API over real sockets: `Listener.run`, `inbound`, `write`/`flush`, back-pressure,
/// cancellation, close reasons and outgoing connects.
@Suite struct AsyncConnectionTests {
    @Test func anAsyncEchoServesManyConnectionsOnTheirOwnLoops() async throws {
        let server = try AsyncServer(loops: 2) { connection in
            for try await chunk in connection.inbound {
                guard connection.loop.inLoop else { throw CloseReason.protocolViolation("handler off its loop") }
                try await connection.write(chunk)
                try await connection.flush()
            }
        }
        defer { server.close() }
        try await server.clients(8) { client, i in
            for round in 0..<20 {
                let payload = pattern(100 + round * 37, seed: UInt64(i * 100 + round))
                try client.send(payload)
                #expect(try client.receive(exactly: payload.count) == payload)
            }
            // Larger than the socket buffers: sent from its own thread while this one reads (a
            // client that sends it all before reading deadlocks against any echo server).
            let big = pattern(1 << 20, seed: UInt64(i))
            let writer = try Threads.spawn(name: "test-writer") { try? client.send(big) }
            defer { Threads.join(writer) }
            #expect(try client.receive(exactly: big.count) == big)
        }
        #expect(server.errors.isEmpty, "\(server.errors)")
    }

    /// A consumer that does not read: the connection stops reading at the inbound high
    /// watermark instead of buffering what the peer sends; nothing is lost once it reads.
    @Test func aSlowConsumerPausesReadingAndLosesNothing() async throws {
        let gate = LoopGate()
        let buffered = Locked<[Int]>([])
        let total = 8 << 20
        let server = try AsyncServer(loops: 1) { connection in
            var iterator = connection.inbound.makeAsyncIterator()
            var received = try await iterator.next()?.count ?? 0
            // Nothing is consumed until the client's sends stop going through.
            await gate.wait(on: connection.loop)
            buffered.withLock { $0.append(connection.state.bufferedBytes) }
            while received < total, let chunk = try await iterator.next() { received += chunk.count }
            try await connection.write(Array(String(received).utf8))
            try await connection.flush()
        }
        defer { server.close() }
        let address = server.address
        let (sent, reply) = try await onThread {
            let client = try BlockingClient(address)
            let payload = pattern(total, seed: 5)
            // Send without blocking until the kernel refuses (every buffer on the way is full:
            // the server has stopped reading), open the gate, then send the rest.
            var sent = 0
            while sent < total {
                let n = payload.withUnsafeBytes { Glibc.send(client.fd, $0.baseAddress! + sent, total - sent, CInt(MSG_DONTWAIT)) }
                if n < 0 {
                    guard errno == EAGAIN else { throw SystemError("send", errno: .init(rawValue: errno)) }
                    break
                }
                sent += n
            }
            gate.open()
            try client.send(Array(payload[sent...]))
            return (sent, try client.receive(exactly: String(total).utf8.count))
        }
        #expect(sent < total, "the server took 8 MiB without its consumer reading")
        #expect(String(decoding: reply, as: UTF8.self) == String(total))
        let held = try #require(buffered.withLock { $0.first })
        // The high watermark (64 KiB) plus at most one read (the loop's 64 KiB buffer).
        #expect(held <= 128 * 1024, "the connection buffered \(held) bytes for a consumer that was not reading")
    }

    /// A peer that does not read: `write` suspends at the high watermark instead of queueing
    /// 32 MiB, and every byte arrives once the peer reads.
    @Test func writesSuspendAtTheHighWatermark() async throws {
        let chunk = ByteChunk(pattern(64 * 1024, seed: 3))
        let total = 32 << 20
        let maxPending = MaxBox()
        let aboutToWait = try OneShotSignal()
        let server = try AsyncServer(loops: 1) { connection in
            var sent = 0
            var signalled = false
            while sent < total {
                let pending = connection.state.connection!.pendingWriteBytes
                if !signalled && pending + chunk.count > 256 * 1024 {
                    signalled = true
                    aboutToWait.signal()  // this write crosses the high watermark and suspends
                }
                try await connection.write(chunk)
                sent += chunk.count
                maxPending.observe(connection.state.connection!.pendingWriteBytes)
            }
            try await connection.flush()
        }
        defer { server.close() }
        let client = try BlockingClient(server.address)  // connect(2) returns at once on loopback
        try await onThread { aboutToWait.wait() }
        let received = try await onThread { try client.receiveAll() }
        #expect(received.count == total)
        #expect(maxPending.value.load(ordering: .relaxed) <= 256 * 1024 + 64 * 1024)
    }

    @Test func aPeerResetIsThrownAsTheCloseReason() async throws {
        let reasons = Locked<[CloseReason]>([])
        let reading = try OneShotSignal()
        let recorded = try OneShotSignal()
        let server = try AsyncServer(loops: 1) { connection in
            defer { recorded.signal() }
            do throws(CloseReason) {
                for try await _ in connection.inbound { reading.signal() }
                reasons.withLock { $0.append(.closed) }
            } catch {
                reasons.withLock { $0.append(error) }
            }
        }
        defer { server.close() }
        let address = server.address
        try await onThread {
            let client = try BlockingClient(address)
            try client.send([1, 2, 3])
            reading.wait()  // the handler is iterating
            var linger = linger(l_onoff: 1, l_linger: 0)  // close(2) now sends a reset
            setsockopt(client.fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<linger>.size))
        }  // the client is released (closed) here
        try await onThread { recorded.wait() }
        #expect(reasons.withLock { $0 } == [.peerReset])
    }

    @Test func theInboundSequenceEndsAtThePeersEndOfFile() async throws {
        let server = try AsyncServer(loops: 1) { connection in
            var count = 0
            for try await chunk in connection.inbound { count += chunk.count }
            try await connection.write(Array(String(count).utf8))
        }
        defer { server.close() }
        let address = server.address
        let reply = try await onThread {
            let client = try BlockingClient(address)
            try client.send(pattern(5000, seed: 1))
            client.shutdownWrite()
            return try client.receiveAll()
        }
        #expect(String(decoding: reply, as: UTF8.self) == "5000")
    }

    /// Cancelling `run` cancels the handlers' tasks, which closes their connections.
    @Test func cancellingRunClosesTheConnections() async throws {
        let group = try EventLoopGroup(loopCount: 1)
        try group.start()
        defer { group.shutdown() }
        let listener = Listener(group: group, address: .ipv4(host: "127.0.0.1", port: 0))
        try listener.start()
        let started = try OneShotSignal()
        let reasons = Locked<[CloseReason]>([])
        let run = Task {
            try await listener.run { connection in
                started.signal()
                do throws(CloseReason) {
                    for try await _ in connection.inbound {}
                } catch {
                    reasons.withLock { $0.append(error) }
                }
            }
        }
        let client = try BlockingClient(listener.address)
        try await onThread { started.wait() }
        run.cancel()
        try await run.value
        #expect(try await onThread { try client.receiveAll() }.isEmpty)  // end of file: the server closed it
        #expect(reasons.withLock { $0 } == [.cancelled])
    }

    /// Graceful shutdown of a `ServiceGroup`: the listener stops accepting, and the open
    /// connection's handler finishes its exchange.
    @Test func aServiceGroupShutsTheListenerDownGracefully() async throws {
        let group = try EventLoopGroup(loopCount: 1)
        let listener = Listener(group: group, address: .ipv4(host: "127.0.0.1", port: 0))
        try group.start()
        try listener.start()
        let arrived = try OneShotSignal()
        let serviceGroup = ServiceGroup(
            services: [group, listener.serving { connection in
                var iterator = connection.inbound.makeAsyncIterator()
                _ = try await iterator.next()
                arrived.signal()
                _ = try await iterator.next()  // the request's second half, after shutdown began
                try await connection.write("done")
            }], logger: Logger(label: "test"))
        let running = Task { try await serviceGroup.run() }
        let address = listener.address
        let client = try BlockingClient(address)
        try client.send([1])
        try await onThread { arrived.wait() }
        await serviceGroup.triggerGracefulShutdown()
        try client.send([2])
        #expect(try await onThread { try client.receiveAll() } == Array("done".utf8))
        try await running.value
        #expect(group.loops.allSatisfy { $0.hasFinished })
        #expect(throws: SystemError.self) { try BlockingClient(address, receiveTimeoutSeconds: 1) }
    }

    @Test func connectWorksFromAnyTaskAndRunsItsBodyOnTheLoop() async throws {
        let echo = try EchoServer(loops: 1)
        defer { echo.close() }
        let client = try EventLoopGroup(loopCount: 1)
        try client.start()
        defer { client.shutdown() }
        let (onLoop, reply) = try await client.connect(to: echo.address) { connection in
            try await connection.write("ping")
            try await connection.flush()
            var reply: [UInt8] = []
            for try await chunk in connection.inbound {
                reply += chunk
                if reply.count == 4 { break }
            }
            return (connection.loop.inLoop, reply)
        }
        #expect(onLoop)
        #expect(reply == Array("ping".utf8))
    }

    @Test func aRefusedConnectThrowsTheReason() async throws {
        let group = try EventLoopGroup(loopCount: 1)
        try group.start()
        defer { group.shutdown() }
        let port = try unusedPort()
        let error = await #expect(throws: CloseReason.self) {
            try await group.connect(to: .ipv4(host: "127.0.0.1", port: port)) { _ in }
        }
        #expect(error?.systemError?.errno == .connectionRefused)
    }
}

/// Runs blocking test code (a `BlockingClient`, a signal wait) on a thread of its own, so that
/// it never holds one of the few threads of Swift's cooperative pool.
///
/// The thread resumes the continuation while holding `handoff`, and the task takes `handoff`
/// once it runs again. Without that, when the thread resumes before the task has suspended,
/// the concurrency runtime orders the two only through an atomic ThreadSanitizer does not see,
/// and the task's next use of the same frame memory is reported as a race with `resume`.
/// The lock guards a real flag, not `()`: ThreadSanitizer reported the locked access of a
/// zero-sized value at the object's own address, racing with the task's unlocked 8-byte read of
/// the object's header there (a false report, seen once in a `Scripts/sanitizers.sh thread` run).
func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    let handoff = Locked(false)
    defer { _ = handoff.withLock { $0 } }
    return try await withUnsafeThrowingContinuation { continuation in
        do {
            try Threads.spawn(name: "test-blocking", detached: true) {
                let result = Result(catching: body)
                handoff.withLock { resumed in
                    resumed = true
                    continuation.resume(with: result)
                }
            }
        } catch {
            continuation.resume(throwing: error)
        }
    }
}

/// A port nothing listens on (bound, then closed).
func unusedPort() throws -> UInt16 {
    let fd = try Posix.socket(domain: AF_INET, type: CInt(SOCK_STREAM.rawValue))
    defer { Posix.close(fd) }
    try Posix.bind(fd, .ipv4(host: "127.0.0.1", port: 0))
    return try Posix.getsockname(fd).port!
}

/// An async listener on a fresh group, serving with `handler`; `close()` stops it and waits
/// for the handlers.
final class AsyncServer: Sendable {
    let group: EventLoopGroup
    let listener: Listener
    private let task: Task<Void, any Error>
    private let failures = Failures()
    var address: SocketAddress { listener.address }
    var errors: [String] { failures.list.withLock { $0 } }

    private let finished: OneShotSignal

    init(loops: Int, handler: @escaping @Sendable (AsyncConnection) async throws -> Void) throws {
        group = try EventLoopGroup(loopCount: loops)
        try group.start()
        listener = Listener(group: group, address: .ipv4(host: "127.0.0.1", port: 0))
        try listener.start()
        let failures = self.failures
        let listener = self.listener
        let finished = try OneShotSignal()
        self.finished = finished
        // The whole task prefers a loop, so stopping it needs no thread of the global pool.
        task = Task(executorPreference: group.loops[0]) {
            defer { finished.signal() }
            try await listener.run { connection in
                do {
                    try await handler(connection)
                } catch {
                    failures.list.withLock { $0.append("\(error)") }
                    throw error
                }
            }
        }
    }

    /// Runs `body(client, i)` for `count` clients, each on its own thread.
    func clients(_ count: Int, _ body: @escaping @Sendable (BlockingClient, Int) throws -> Void) async throws {
        let address = self.address
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<count {
                group.addTask {
                    try await onThread {
                        let client = try BlockingClient(address)
                        try body(client, i)
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// Cancels `run` (closing every connection), waits for it to return, shuts the loops down.
    func close() {
        task.cancel()
        finished.wait()
        group.shutdown()
    }
}

final class Failures: Sendable {
    let list = Locked<[String]>([])
}

/// A gate a task on a loop waits at and another thread opens. The waiter is resumed from the
/// loop's own thread (a loop task), not from the opening thread: resuming a loop task from a
/// foreign thread is correct, but ThreadSanitizer cannot see the ordering through Swift's
/// (uninstrumented) concurrency runtime and reports a race on the task's frame.
final class LoopGate: Sendable {
    private struct State {
        var opened = false
        var waiter: UnsafeContinuation<Void, Never>?
        var loop: EventLoop?
    }

    private let state = Locked(State())

    func wait(on loop: EventLoop) async {
        await withUnsafeContinuation { continuation in
            let opened = state.withLock { state in
                if !state.opened {
                    state.waiter = continuation
                    state.loop = loop
                }
                return state.opened
            }
            if opened { continuation.resume() }
        }
    }

    func open() {
        let (waiter, loop) = state.withLock { state in
            state.opened = true
            defer { state.waiter = nil }
            return (state.waiter, state.loop)
        }
        if let waiter, let loop { loop.execute { waiter.resume() } }
    }
}
