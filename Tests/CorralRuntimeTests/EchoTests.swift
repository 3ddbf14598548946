import Dispatch
import Glibc
import Testing
@testable import CorralRuntime
import CorralTestSupport

@Suite struct EchoTests {
    @Test(arguments: testedBackends)
    func echoesPayloadsLargerThanTheSocketBuffersOnManyConnections(backend: EventLoopBackend) throws {
        let server = try EchoServer(loops: 2, backend: backend)
        defer { server.close() }
        // 2 MiB per connection is several times the loopback socket buffers, so the server
        // must hit partial writes and EAGAIN, and resume on EPOLLOUT.
        let size = 2 << 20
        let clients = try (0..<8).map { _ in try BlockingClient(server.address) }
        let payloads = (0..<clients.count).map { pattern(size, seed: UInt64($0)) }
        // Writers on their own threads: a client that only sends would deadlock against an echo
        // server whose replies it is not reading.
        try withThrowingTaskGroupSync(count: clients.count) { i in
            try clients[i].send(payloads[i])
            clients[i].shutdownWrite()
        } reader: { i in
            let echoed = try clients[i].receiveAll()
            #expect(echoed.count == size)
            #expect(echoed == payloads[i], "connection \(i) got different bytes back")
        }
    }

    /// Request/response round trips, each reply a quiet send: with SQPOLL every send posts a
    /// completion the loop waits for before it sleeps (a quiet send's user data there once left
    /// the loop waiting after the first reply).
    @Test(arguments: testedBackends.contains(.uring) ? [EventLoopBackend.uringSubmissionPolling] : [])
    func roundTripsWithSubmissionPolling(backend: EventLoopBackend) throws {
        let server = try EchoServer(loops: 1, backend: backend)
        defer { server.close() }
        let client = try BlockingClient(server.address)
        for round in 0..<200 {
            let message = pattern(64, seed: UInt64(round))
            try client.send(message)
            #expect(try client.receive(exactly: message.count) == message, "round \(round)")
        }
    }

    /// More completions in one turn than the completion queue's 8 slots: the kernel keeps the
    /// rest in its overflow backlog and may end multishot receives; the loop drains the backlog,
    /// re-arms, and settles the quiet sends of that turn around it. Every connection still gets
    /// all its bytes back, in order.
    @Test(arguments: testedBackends.contains(.uring) ? [EventLoopBackend.uring(submissionEntries: 8, completionEntries: 8)] : [])
    func echoesEverythingWhenTheCompletionQueueOverflows(backend: EventLoopBackend) throws {
        let server = try EchoServer(loops: 1, backend: backend)
        defer { server.close() }
        let loop = server.group.loops[0]
        let clients = try (0..<16).map { _ in try BlockingClient(server.address) }
        for round in 0..<4 {
            // The loop is held while every client sends, so that its next turn finds input on
            // all 16 connections at once: 8 receive buffers' worth each.
            let held = DispatchSemaphore(value: 0)
            let release = DispatchSemaphore(value: 0)
            loop.execute {
                held.signal()
                release.wait()
            }
            held.wait()
            let payloads = (0..<clients.count).map { pattern(32 * 1024, seed: UInt64(round * 100 + $0)) }
            for (client, payload) in zip(clients, payloads) { try client.send(payload) }
            release.signal()
            for (i, client) in clients.enumerated() {
                #expect(try client.receive(exactly: payloads[i].count) == payloads[i], "round \(round), connection \(i)")
            }
        }
        #expect(loop.stats.completionQueueOverflows > 0, "the completion queue never overflowed: the path was not tested")
    }

    @Test(arguments: testedBackends)
    func echoesOverIPv6AndUnixSockets(backend: EventLoopBackend) throws {
        for address in [SocketAddress.ipv6(host: "::1", port: 0), .unix(path: "/tmp/corral-test-\(getpid())-\(backend).sock")] {
            let server = try EchoServer(loops: 1, strategy: .exclusive, address: address, backend: backend)
            defer { server.close() }
            let client = try BlockingClient(server.address)
            let payload = pattern(100_000, seed: 7)
            try client.send(payload)
            #expect(try client.receive(exactly: payload.count) == payload)
        }
    }

    @Test(arguments: testedBackends)
    func sockperfFramingAnswersOnlyPongRequests(backend: EventLoopBackend) throws {
        let group = try EventLoopGroup(loopCount: 1, backend: backend)
        try group.start()
        let listener = Listener(group: group, address: .ipv4(host: "127.0.0.1", port: 0), strategy: .reuseport) { _ in
            SockperfHandler()
        }
        try listener.start()
        defer {
            listener.stop()
            group.shutdown()
        }
        func message(seq: UInt64, flags: UInt16, payload: Int) -> [UInt8] {
            let length = UInt32(14 + payload)
            return withUnsafeBytes(of: seq.bigEndian, Array.init) + withUnsafeBytes(of: flags.bigEndian, Array.init)
                + withUnsafeBytes(of: length.bigEndian, Array.init) + pattern(payload, seed: seq)
        }
        let client = try BlockingClient(listener.address)
        // A warm-up and a plain message get no answer; the pong request that follows does,
        // with CLIENT cleared. All three arrive in one segment, the pong split across two sends.
        let warmup = message(seq: 1, flags: 1 | 2 | 4, payload: 50)
        let silent = message(seq: 2, flags: 1, payload: 50)
        let pong = message(seq: 3, flags: 1 | 2, payload: 50)
        try client.send(warmup + silent + Array(pong[..<20]))
        try client.send(Array(pong[20...]))
        let reply = try client.receive(exactly: pong.count)
        var expected = pong
        expected[9] = 2  // flags low byte: CLIENT (1) cleared, PONG_REQUEST (2) kept
        #expect(reply == expected)
    }
}

/// Runs `writer(i)` and `reader(i)` for every i on their own threads and waits for all of them.
func withThrowingTaskGroupSync(
    count: Int, writer: @escaping @Sendable (Int) throws -> Void, reader: @escaping @Sendable (Int) throws -> Void
) throws {
    let errors = ResultBox<[any Error]>()
    errors.value = []
    let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    pthread_mutex_init(lock, nil)
    defer { lock.deallocate() }
    var threads: [pthread_t] = []
    for i in 0..<count {
        for body in [writer, reader] {
            threads.append(try Threads.spawn(name: "test-\(i)") {
                do { try body(i) } catch {
                    pthread_mutex_lock(lock)
                    errors.value!.append(error)
                    pthread_mutex_unlock(lock)
                }
            })
        }
    }
    for thread in threads { Threads.join(thread) }
    if let first = errors.value!.first { throw first }
}
