import ArgumentParser
import CorralRuntime
import Synchronization

/// `corral echo`: a TCP echo server (plain, or sockperf-framed for `sockperf ping-pong`), on
/// the runtime's callback API or, with --async, on its async API.
struct EchoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "echo",
        abstract: "Run a TCP echo server on the runtime.",
        discussion: "With --sockperf it answers sockperf's ping-pong framing, so `sockperf ping-pong --tcp` can measure it. With --async each connection is served by a task on its loop (Listener.run) instead of a callback handler. SIGINT/SIGTERM stop it and print the accept counters."
    )

    @OptionGroup var listen: ListenOptions

    @Flag(help: "Speak sockperf's framing (reply only to PONG_REQUEST, clear the CLIENT flag).")
    var sockperf = false

    @Flag(name: .customLong("async"), help: "Serve with the async API (a task per connection on its loop).")
    var useAsync = false

    func run() throws {
        TerminationSignals.block()
        let group = try EventLoopGroup(loopCount: listen.loopCount, pinToCPUs: listen.pin, backend: listen.eventLoopBackend)
        try group.start()
        let sockperf = self.sockperf
        let listener: Listener
        if useAsync {
            listener = Listener(group: group, address: try listen.address(), strategy: listen.strategy, options: listen.listenerOptions)
        } else {
            listener = Listener(
                group: group, address: try listen.address(), strategy: listen.strategy, options: listen.listenerOptions
            ) { _ -> any ConnectionHandler in sockperf ? SockperfHandler() : EchoHandler() }
        }
        let address: SocketAddress
        do {
            address = try listener.start()
        } catch {
            group.shutdown()
            throw CLIError("cannot listen on \(listen.host):\(listen.port): \(error)")
        }
        var served: Task<Void, any Error>?
        let finished = try OneShotSignal()
        if useAsync {
            served = Task(executorPreference: group.loops[0]) {
                defer { finished.signal() }
                try await listener.run { connection in
                    try await sockperf ? AsyncServices.sockperf(connection) : AsyncServices.echo(connection)
                }
            }
        }
        printFlushed("listening on \(address) (\(listen.loopCount) loops, \(group.backend), accept \(listen.strategy)\(useAsync ? ", async" : ""))")
        _ = TerminationSignals.wait()
        if let served {
            served.cancel()
            finished.wait()
        } else {
            listener.stop()
        }
        group.shutdown()
        printFlushed(AcceptorTable.render(listener.acceptorStats))
    }
}
