import ArgumentParser
import CorralLab
import CorralRuntime
import Foundation

/// `corral bench rr HOST:PORT`: closed-loop request/response against an echo server.
struct BenchRRCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rr",
        abstract: "Request/response load: send --size bytes, wait for them back, repeat.",
        discussion: "Every connection keeps one request in flight. Latencies go into an HdrHistogram."
    )

    @Argument(help: "Server address, HOST:PORT or [V6]:PORT.")
    var target: String

    @Option(name: .shortAndLong, help: "Connections.")
    var connections = 1

    @Option(name: .shortAndLong, help: "Duration in seconds.")
    var duration = 5.0

    @Option(help: "Request (and expected reply) size in bytes.")
    var size = 64

    @Option(help: "Client event loops.")
    var loops = 1

    @Option(help: "Write the figures as JSON to this file.")
    var json: String?

    func validate() throws {
        guard connections >= 1, connections <= 100_000 else { throw ValidationError("-c must be 1…100000") }
        guard duration > 0, duration <= 3600 else { throw ValidationError("-d must be in (0, 3600] seconds") }
        guard size >= 1, size <= 1 << 24 else { throw ValidationError("--size must be 1…16777216") }
        guard loops >= 1, loops <= 256 else { throw ValidationError("--loops must be 1…256") }
    }

    func run() throws {
        let address: SocketAddress
        do { address = try SocketAddress(parsing: target) } catch { throw ValidationError(error.description) }
        var load = RequestResponseLoad(target: address)
        load.connections = connections
        load.durationSeconds = duration
        load.size = size
        load.loops = loops
        let result = try load.run()
        if result.requests == 0 {
            throw CLIError("no request completed against \(address): \(result.errors.first ?? "no reply")")
        }
        let l = result.latency
        func us(_ ns: UInt64) -> String { String(format: "%.1f", Double(ns) / 1000) }
        printFlushed("""
            \(result.requests) requests in \(String(format: "%.2f", result.seconds)) s over \(connections) connections, \(size) B each
            requests/s  \(String(format: "%.0f", result.requestsPerSecond))
            latency µs  p50 \(us(l.p50))  p99 \(us(l.p99))  p99.9 \(us(l.p999))  max \(us(l.max))  mean \(String(format: "%.1f", l.mean / 1000))
            errors      \(result.errors.count)
            """)
        if let json {
            let document: [String: Any] = [
                "schema": "corral.bench.rr/1", "target": target, "connections": connections, "duration_s": result.seconds,
                "size": size, "requests": result.requests, "requests_per_s": result.requestsPerSecond,
                "latency_ns": ["p50": l.p50, "p99": l.p99, "p99_9": l.p999, "max": l.max, "mean": l.mean],
                "per_connection_requests": result.perConnection, "errors": result.errors,
            ]
            let data = try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys])
            do { try data.write(to: URL(fileURLWithPath: json)) } catch {
                throw CLIError("cannot write \(json): \(error.localizedDescription)")
            }
        }
    }
}
