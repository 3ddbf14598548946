import ArgumentParser
import CorralHTTP
import CorralRuntime
import Glibc
import Logging

/// `corral serve [ROOT]`: the HTTP/1.1 static-file server.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve a directory over HTTP/1.1 (GET and HEAD).",
        discussion: """
            SIGINT/SIGTERM stop accepting, let in-flight requests finish (with Connection: close), close \
            idle connections, and exit 0. SIGHUP reloads: the root path is opened again (a switched \
            symlink is picked up), file caches are emptied and the access log file is reopened; no \
            request is dropped.
            """
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

    @Option(help: "TCP_DEFER_ACCEPT: accept a connection once its request arrives (read at once), or after this many seconds without one; 0 accepts at the handshake.")
    var deferAccept = 1

    @Option(help: "Seconds an idle keep-alive connection stays open.")
    var keepAliveTimeout = 60

    @Option(help: "Seconds a request body may pause between reads.")
    var bodyTimeout = 60

    @Option(help: "Seconds a response may stall because the client does not read.")
    var writeTimeout = 30

    @Option(help: "Largest request body in bytes (413 beyond); bodies are read and discarded.")
    var maxBodySize = 64 * 1024

    @Option(help: "Descriptors the file cache may keep open, all loops together (default: a quarter of RLIMIT_NOFILE).")
    var cacheMaxOpenFiles: Int?

    @Option(help: "Serve Prometheus metrics at http://127.0.0.1:PORT/metrics (off by default).")
    var metricsPort: UInt16?

    @Option(help: "Offer the listening sockets to a successor at this UNIX socket path (restart without dropping connections).")
    var handover: String?

    @Option(help: "Take the listening sockets over from the server offering them at this path, then let it drain.")
    var takeOver: String?

    @Flag(help: "Log every response to standard output (combined format unless --access-log-format).")
    var accessLog = false

    @Option(help: "Log every response to this file (appended; reopened on SIGHUP).")
    var accessLogFile: String?

    @Option(help: "Access log format: \(AccessLogFormat.allCases.map(\.rawValue).joined(separator: ", ")).")
    var accessLogFormat = "combined"

    func validate() throws {
        for (name, value) in [("--header-timeout", headerTimeout), ("--keep-alive-timeout", keepAliveTimeout),
                              ("--body-timeout", bodyTimeout), ("--write-timeout", writeTimeout)]
        where value < 1 || value > 86_400 {
            throw ValidationError("\(name) must be 1…86400 seconds")
        }
        guard deferAccept >= 0, deferAccept <= 3600 else { throw ValidationError("--defer-accept must be 0…3600 seconds") }
        guard maxConnections >= 1 else { throw ValidationError("--max-connections must be at least 1") }
        guard cacheMaxFileSize >= 0, cacheMaxFileSize <= 1 << 30 else {
            throw ValidationError("--cache-max-file-size must be 0…1073741824")
        }
        guard maxBodySize >= 0 else { throw ValidationError("--max-body-size must be at least 0") }
        if let cacheMaxOpenFiles, cacheMaxOpenFiles < 0 { throw ValidationError("--cache-max-open-files must be at least 0") }
        guard AccessLogFormat(rawValue: accessLogFormat) != nil else {
            throw ValidationError("unknown access log format '\(accessLogFormat)' (choose from \(AccessLogFormat.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        if accessLog && accessLogFile != nil { throw ValidationError("--access-log and --access-log-file: choose one") }
    }

    func run() throws {
        let signals = TerminationSignals.stop + [SIGHUP]
        TerminationSignals.block(signals)
        // Errors are reported from event loops: through a writer thread, never blocking them.
        let errors = try LogWriter(destination: .standardError)
        LoggingSystem.bootstrap { NonBlockingLogHandler(label: $0, writer: errors) }
        defer { errors.stop() }
        var configuration = HTTPServerConfiguration()
        configuration.root = root
        configuration.address = try listen.address()
        configuration.loops = listen.loopCount
        configuration.acceptStrategy = listen.strategy
        configuration.pinLoops = listen.pin
        configuration.backend = listen.eventLoopBackend
        configuration.maxCachedFileSize = cacheMaxFileSize
        configuration.maxConnections = maxConnections
        configuration.headerTimeout = headerTimeout
        configuration.deferAcceptSeconds = deferAccept > 0 ? deferAccept : nil
        configuration.keepAliveTimeout = keepAliveTimeout
        configuration.bodyTimeout = bodyTimeout
        configuration.writeTimeout = writeTimeout
        configuration.parserLimits.maxBody = maxBodySize
        configuration.maxOpenFiles = cacheMaxOpenFiles
        configuration.logger = Logger(label: "corral.serve")
        let format = AccessLogFormat(rawValue: accessLogFormat) ?? .combined
        if accessLog { configuration.accessLog = AccessLogConfiguration(destination: .standardOutput, format: format) }
        if let accessLogFile {
            configuration.accessLog = AccessLogConfiguration(destination: .file(accessLogFile), format: format)
        }
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
            // kill(2) of our own pid with a valid signal cannot fail.
            try server.offerHandover(at: handover) { _ = try? Processes.kill(getpid(), SIGTERM) }
        }
        printFlushed("listening on \(address) (root \(root), \(configuration.loops) loops, \(server.backend ?? configuration.backend), accept \(configuration.acceptStrategy))")
        if let metrics = server.metricsAddress { printFlushed("metrics on http://\(metrics)/metrics") }
        while TerminationSignals.wait(signals) == SIGHUP {
            do {
                try server.reload()
            } catch {
                configuration.logger.error("reload failed; still serving the previous root", metadata: ["error": "\(error)"])
            }
        }
        let acceptors = server.acceptorStats
        server.stop()
        printFlushed("served \(server.stats.requests) requests; \(server.stats.timeouts) timeouts, \(server.stats.shedConnections) shed")
        printFlushed(AcceptorTable.render(acceptors))
    }
}
