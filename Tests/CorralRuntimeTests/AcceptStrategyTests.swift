import Glibc
import Testing
@testable import CorralRuntime
import CorralTestSupport

@Suite struct AcceptStrategyTests {
    @Test(arguments: AcceptStrategy.all, testedBackends)
    func everyStrategyAcceptsEachConnectionOnceAndCountsIt(strategy: AcceptStrategy, backend: EventLoopBackend) throws {
        var options = ListenerOptions()
        options.blockingThreads = 3
        let server = try EchoServer(loops: 2, strategy: strategy, options: options, backend: backend)
        defer { server.close() }
        let connections = 24
        for i in 0..<connections {
            // One at a time, with a round trip: the connection has been accepted and is served
            // before the next one arrives.
            let client = try BlockingClient(server.address)
            let payload = pattern(64, seed: UInt64(i))
            try client.send(payload)
            #expect(try client.receive(exactly: 64) == payload)
        }
        let stats = server.listener.acceptorStats
        #expect(stats.map(\.accepted).reduce(0, +) == connections)
        #expect(stats.map(\.errors).reduce(0, +) == 0)
        // One wake-up may accept several connections, so the count is at most one per connection
        // for the wake-one strategies (the herd, `shared`, may wake more).
        let wakeUps = stats.map(\.wakeUps).reduce(0, +)
        #expect(wakeUps > 0)
        // EPOLLEXCLUSIVE promises "one or more" wake-ups, so only the others are bounded here.
        if strategy != .shared && strategy != .exclusive { #expect(wakeUps <= connections + stats.count) }
        let loopsTookOver = server.group.loops.map(\.stats.acceptedConnections).reduce(0, +)
        #expect(loopsTookOver == connections)
        switch strategy {
        case .blocking:
            // Each blocked accept(2) returns with a connection: exclusive wait queue, wake-one.
            #expect(stats.map(\.emptyWakeUps).reduce(0, +) == 0)
            #expect(stats.count == 3)
        case .reuseport:
            #expect(stats.count == 2)
        case .dispatch, .dispatchFewest:
            #expect(stats.count == 1)
            // The acceptor hands connections out: both loops get some.
            #expect(server.group.loops.allSatisfy { $0.stats.acceptedConnections > 0 })
        default:
            #expect(stats.count == 2)
        }
    }

    @Test func strategiesAreSelectableByName() {
        for strategy in AcceptStrategy.all {
            #expect(AcceptStrategy(name: strategy.description) == strategy)
        }
        #expect(AcceptStrategy(name: "herd") == nil)
    }

    /// TCP_NODELAY is set once on the listening sockets and inherited by every accepted one.
    @Test(arguments: AcceptStrategy.all)
    func acceptedSocketsAreNonBlockingCloseOnExecAndNoDelay(strategy: AcceptStrategy) throws {
        let group = try EventLoopGroup(loopCount: 1)
        try group.start()
        defer { group.shutdown() }
        let seen = ResultBox<(CInt, CInt, CInt)>()
        let done = try OneShotSignal()
        let listener = Listener(group: group, address: .ipv4(host: "127.0.0.1", port: 0), strategy: strategy) { _ in
            FlagProbe { fd in
                seen.value = (
                    fcntl(fd, F_GETFL) & O_NONBLOCK, fcntl(fd, F_GETFD) & FD_CLOEXEC,
                    (try? Posix.getsockopt(fd, CInt(IPPROTO_TCP), TCP_NODELAY)) ?? -1)
                done.signal()
            }
        }
        try listener.start()
        defer { listener.stop() }
        let client = try BlockingClient(listener.address)
        done.wait()
        _ = client
        #expect(seen.value!.0 != 0)
        #expect(seen.value!.1 != 0)
        #expect(seen.value!.2 == 1)
    }
}

private final class FlagProbe: ConnectionHandler {
    let probe: (CInt) -> Void
    init(_ probe: @escaping (CInt) -> Void) { self.probe = probe }
    func connectionDidOpen(_ connection: Connection) { probe(connection.fd) }
    func connection(_ connection: Connection, didRead buffer: UnsafeRawBufferPointer) -> Int { buffer.count }
}
