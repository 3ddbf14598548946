import ArgumentParser
import CorralLab
import CorralRuntime
import Foundation

/// `corral bench http URL`: keep-alive HTTP/1.1 load, closed loop or constant rate.
struct BenchHTTPCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "http",
        abstract: "HTTP/1.1 GET load with HdrHistogram latencies.",
        discussion: "Closed loop by default. With --rate, requests leave on a fixed schedule and latency counts from the scheduled time (wrk2's coordinated-omission correction)."
    )

    @Argument(help: "http://HOST:PORT/PATH (literal IPv4 or [IPv6] host).")
    var url: String

    @Option(name: .shortAndLong, help: "Connections.")
    var connections = 10

    @Option(name: .shortAndLong, help: "Duration in seconds.")
    var duration = 5.0

    @Option(help: "Requests pipelined per connection.")
    var pipeline = 1

    @Option(help: "Total requests per second (constant-rate mode).")
    var rate: Double?

    @Option(help: "Client event loops.")
    var loops = 1

    @Option(help: "Write the figures as JSON to this file.")
    var json: String?

    func validate() throws {
        guard connections >= 1, connections <= 100_000 else { throw ValidationError("-c must be 1…100000") }
        guard duration > 0, duration <= 3600 else { throw ValidationError("-d must be in (0, 3600] seconds") }
        guard pipeline >= 1, pipeline <= 1024 else { throw ValidationError("--pipeline must be 1…1024") }
        if let rate { guard rate > 0, rate <= 10_000_000 else { throw ValidationError("--rate must be in (0, 1e7]") } }
        guard loops >= 1, loops <= 256 else { throw ValidationError("--loops must be 1…256") }
    }

    func run() throws {
        guard url.hasPrefix("http://") else { throw ValidationError("only http:// URLs are supported") }
        let rest = url.dropFirst(7)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = String(rest[..<slash])
        let path = slash == rest.endIndex ? "/" : String(rest[slash...])
        let address: SocketAddress
        do {
            address = try SocketAddress(parsing: authority.contains(":") && !authority.hasSuffix("]") ? authority : authority + ":80")
        } catch {
            throw ValidationError(error.description)
        }
        var load = HTTPLoad(target: address, host: authority, path: path)
        load.connections = connections
        load.durationSeconds = duration
        load.pipeline = pipeline
        load.rate = rate
        load.loops = loops
        let result = try load.run()
        if result.requests == 0 { throw CLIError("no response from \(url): \(result.errors.first ?? "nothing")") }
        let l = result.latency
        func ms(_ ns: UInt64) -> String { String(format: "%.3f", Double(ns) / 1e6) }
        let shares = result.perConnection.map(Double.init)
        let statuses = result.statusCounts.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: " ")
        printFlushed("""
            \(result.requests) responses in \(String(format: "%.2f", result.seconds)) s, \(connections) connections, pipeline \(pipeline)\(rate.map { ", rate \(Int($0))/s" } ?? "")
            requests/s  \(String(format: "%.0f", result.requestsPerSecond))
            latency ms  p50 \(ms(l.p50))  p99 \(ms(l.p99))  p99.9 \(ms(l.p999))  max \(ms(l.max))
            statuses    \(statuses)
            per-conn    min \(Int(shares.min() ?? 0))  max \(Int(shares.max() ?? 0))  Jain \(String(format: "%.3f", Statistics.jainFairness(shares) ?? 0))
            errors      \(result.errors.count)\(result.errors.first.map { " (first: \($0))" } ?? "")
            """)
        if let json {
            let document: [String: Any] = [
                "schema": "corral.bench.http/1", "url": url, "connections": connections, "pipeline": pipeline,
                "rate": rate as Any, "duration_s": result.seconds, "requests": result.requests,
                "requests_per_s": result.requestsPerSecond,
                "latency_ns": ["p50": l.p50, "p99": l.p99, "p99_9": l.p999, "max": l.max, "mean": l.mean],
                "statuses": Dictionary(uniqueKeysWithValues: result.statusCounts.map { (String($0.key), $0.value) }),
                "per_connection_requests": result.perConnection, "errors": result.errors,
            ]
            let data = try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys])
            do { try data.write(to: URL(fileURLWithPath: json)) } catch {
                throw CLIError("cannot write \(json): \(error.localizedDescription)")
            }
        }
    }
}
