import ArgumentParser
import CorralRuntime

/// `corral echo`: a TCP echo server (plain, or sockperf-framed for `sockperf ping-pong`).
struct EchoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "echo",
        abstract: "Run a TCP echo server on the runtime.",
        discussion: "With --sockperf it answers sockperf's ping-pong framing, so `sockperf ping-pong --tcp` can measure it. SIGINT/SIGTERM stop it and print the accept counters."
    )

    @OptionGroup var listen: ListenOptions

    @Flag(help: "Speak sockperf's framing (reply only to PONG_REQUEST, clear the CLIENT flag).")
    var sockperf = false

    func run() throws {
        TerminationSignals.block()
        let group = try EventLoopGroup(loopCount: listen.loopCount, pinToCPUs: listen.pin)
        try group.start()
        let sockperf = self.sockperf
        let listener = Listener(
            group: group, address: try listen.address(), strategy: listen.strategy, options: listen.listenerOptions
        ) { _ -> any ConnectionHandler in sockperf ? SockperfHandler() : EchoHandler() }
        let address: SocketAddress
        do {
            address = try listener.start()
        } catch {
            group.shutdown()
            throw CLIError("cannot listen on \(listen.host):\(listen.port): \(error)")
        }
        printFlushed("listening on \(address) (\(listen.loopCount) loops, accept \(listen.strategy))")
        _ = TerminationSignals.wait()
        listener.stop()
        group.shutdown()
        printFlushed(AcceptorTable.render(listener.acceptorStats))
    }
}
