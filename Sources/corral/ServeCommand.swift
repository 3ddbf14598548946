import ArgumentParser
import CorralHTTP
import CorralRuntime
import Glibc

/// `corral serve [ROOT]`: the HTTP/1.1 static-file server.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve a directory over HTTP/1.1 (GET and HEAD).",
        discussion: "SIGINT/SIGTERM stop accepting, let in-flight requests finish, and exit 0."
    )

    @Argument(help: "The directory to serve.")
    var root = "."

    @OptionGroup var listen: ListenOptions

    @Option(help: "Largest file whose body is kept in memory, in bytes; larger files go out with sendfile.")
    var cacheMaxFileSize = 16 * 1024

    @Option(help: "Most open connections; more are answered 503 and closed.")
    var maxConnections = 10_000

    @Option(help: "Seconds a request head may take to arrive (slowloris).")
    var headerTimeout = 10

    @Option(help: "Seconds an idle keep-alive connection stays open.")
    var keepAliveTimeout = 60

    @Option(help: "Seconds a response may stall because the client does not read.")
    var writeTimeout = 30

    @Option(help: "Serve Prometheus metrics at http://127.0.0.1:PORT/metrics (off by default).")
    var metricsPort: UInt16?

    @Option(help: "Offer the listening sockets to a successor at this UNIX socket path (restart without dropping connections).")
    var handover: String?

    @Option(help: "Take the listening sockets over from the server offering them at this path, then let it drain.")
    var takeOver: String?

    @Flag(help: "Log one line per request to standard output.")
    var accessLog = false

    func validate() throws {
        for (name, value) in [("--header-timeout", headerTimeout), ("--keep-alive-timeout", keepAliveTimeout),
                              ("--write-timeout", writeTimeout)] where value < 1 || value > 86_400 {
            throw ValidationError("\(name) must be 1…86400 seconds")
        }
        guard maxConnections >= 1 else { throw ValidationError("--max-connections must be at least 1") }
        guard cacheMaxFileSize >= 0, cacheMaxFileSize <= 1 << 30 else {
            throw ValidationError("--cache-max-file-size must be 0…1073741824")
        }
    }

    func run() throws {
        TerminationSignals.block()
        var configuration = HTTPServerConfiguration()
        configuration.root = root
        configuration.address = try listen.address()
        configuration.loops = listen.loopCount
        configuration.acceptStrategy = listen.strategy
        configuration.pinLoops = listen.pin
        configuration.maxCachedFileSize = cacheMaxFileSize
        configuration.maxConnections = maxConnections
        configuration.headerTimeout = headerTimeout
        configuration.keepAliveTimeout = keepAliveTimeout
        configuration.writeTimeout = writeTimeout
        configuration.accessLog = accessLog
        if let metricsPort { configuration.metricsAddress = .ipv4(host: "127.0.0.1", port: metricsPort) }
        var predecessor: CInt?
        if let takeOver {
            do {
                let received = try Handover.receive(from: takeOver)
                configuration.inheritedDescriptors = received.descriptors
                predecessor = received.connection
            } catch {
                throw CLIError("cannot take over from \(takeOver): \(error)")
            }
        }
        let server = HTTPServer(configuration: configuration)
        let address: SocketAddress
        do {
            address = try server.start()
        } catch {
            throw CLIError("\(error)")
        }
        // Accepting on the inherited sockets now: the predecessor may stop and drain.
        if let predecessor { Handover.acknowledge(predecessor) }
        if let handover {
            // On take-over, raise SIGTERM in ourselves: the main thread then drains as on any stop.
            try server.offerHandover(at: handover) { _ = kill(getpid(), SIGTERM) }
        }
        printFlushed("listening on \(address) (root \(root), \(configuration.loops) loops, accept \(configuration.acceptStrategy))")
        if let metrics = server.metricsAddress { printFlushed("metrics on http://\(metrics)/metrics") }
        _ = TerminationSignals.wait()
        let acceptors = server.acceptorStats
        server.stop()
        printFlushed("served \(server.stats.requests) requests; \(server.stats.timeouts) timeouts, \(server.stats.shedConnections) shed")
        printFlushed(AcceptorTable.render(acceptors))
    }
}
