import ArgumentParser
import CorralHTTP
import CorralRuntime
import Glibc

/// `hello --port P --loops N`: GET / answers `Hello, world\n` (text/plain) through a router route
/// whose handler is async; `--sync` makes it a synchronous handler (run on the loop, no task).
/// SIGINT or SIGTERM stop it gracefully. (Signals are taken with sigwait, not a Dispatch signal
/// source, so the program also runs under valgrind, which Benchmarks/callgrind.py uses.)
@main
struct Hello: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "HTTP hello world on a Corral router.")

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on.")
    var port: UInt16 = 8080

    @Option(help: "Event loops (default: the CPUs this process may run on).")
    var loops = availableCPUCount()

    @Flag(help: "Answer with a synchronous handler (run on the loop, no task) instead of an async one.")
    var sync = false

    @Option(help: "Event-loop backend: \(EventLoopBackend.all.map(\.description).joined(separator: ", ")).")
    var backend = EventLoopBackend.default.description

    func validate() throws {
        guard loops >= 1 else { throw ValidationError("--loops must be at least 1") }
        guard EventLoopBackend(name: backend) != nil else {
            throw ValidationError("unknown backend '\(backend)' (choose from \(EventLoopBackend.all.map(\.description).joined(separator: ", ")))")
        }
    }

    func run() throws {
        TerminationSignals.block()
        var configuration = HTTPServerConfiguration()
        configuration.address = .ipv4(host: host, port: port)
        configuration.loops = loops
        configuration.backend = EventLoopBackend(name: backend)!
        // Constant fields are built once: an HTTPFields built per request allocates.
        let plainText: HTTPFields = [.contentType: "text/plain"]
        var router = Router()
        if sync {
            router.get("/") { _, _ in Response(headerFields: plainText, body: "Hello, world\n") }
        } else {
            router.get("/") { _, _ async in Response(headerFields: plainText, body: "Hello, world\n") }
        }
        let server = HTTPServer(configuration: configuration, router: router)
        let address = try server.start()
        print("listening on \(address) (\(loops) loops, \(sync ? "sync" : "async") handler)")
        fflush(nil)  // nil: every stream (and no touching the global `stdout`)
        _ = TerminationSignals.wait()
        server.stop(drainSeconds: 5)
    }
}
