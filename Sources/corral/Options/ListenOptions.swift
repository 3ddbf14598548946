import ArgumentParser
import CorralRuntime

/// Flags shared by the servers: where to listen, how many loops, which accept strategy.
struct ListenOptions: ParsableArguments {
    @Option(help: "Address to listen on (IPv4 or IPv6 literal).")
    var host = "127.0.0.1"

    @Option(help: "TCP port (0 picks a free one).")
    var port: UInt16 = 8080

    @Option(help: "Event loops (default: the CPUs this process may run on).")
    var loops: Int?

    @Option(help: "Accept strategy: \(AcceptStrategy.all.map(\.description).joined(separator: ", ")).")
    var accept: String = "reuseport"

    @Option(help: "Threads for the blocking strategy (default: one per loop).")
    var acceptThreads: Int?

    @Flag(help: "Pin loop i to the i-th CPU the process may run on.")
    var pin = false

    @Option(help: "Event-loop backend: \(EventLoopBackend.all.map(\.description).joined(separator: ", ")) (default \(EventLoopBackend.default)). uring is experimental (io_uring: multishot accept and receive, provided buffers); where io_uring is unavailable it says so in one line and uses epoll.")
    var backend: String = EventLoopBackend.default.description

    func validate() throws {
        guard AcceptStrategy(name: accept) != nil else {
            throw ValidationError("unknown accept strategy '\(accept)' (choose from \(AcceptStrategy.all.map(\.description).joined(separator: ", ")))")
        }
        guard EventLoopBackend(name: backend) != nil else {
            throw ValidationError("unknown backend '\(backend)' (choose from \(EventLoopBackend.all.map(\.description).joined(separator: ", ")))")
        }
        if let loops, loops < 1 || loops > 4096 { throw ValidationError("--loops must be between 1 and 4096") }
        if let acceptThreads, acceptThreads < 1 || acceptThreads > 4096 {
            throw ValidationError("--accept-threads must be between 1 and 4096")
        }
    }

    var strategy: AcceptStrategy { AcceptStrategy(name: accept)! }
    var eventLoopBackend: EventLoopBackend { EventLoopBackend(name: backend)! }
    var loopCount: Int { loops ?? availableCPUCount() }

    func address() throws -> SocketAddress {
        do {
            return try SocketAddress(host: host, port: port)
        } catch {
            throw ValidationError(error.description)
        }
    }

    var listenerOptions: ListenerOptions {
        var options = ListenerOptions()
        options.blockingThreads = acceptThreads
        return options
    }
}
