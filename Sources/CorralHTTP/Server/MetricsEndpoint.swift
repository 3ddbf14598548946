import CorralRuntime
import Prometheus
import Synchronization

/// The `/metrics` endpoint (Prometheus text format) on the admin port: responses by status
/// class, body bytes, open connections, timeouts, shed connections, and per acceptor and per
/// loop the runtime's own wake-up and accept counters. Rendered by swift-prometheus from the
/// server's atomics at scrape time, so the request path pays nothing for it.
final class MetricsExporter: Sendable {
    private let registry = PrometheusCollectorRegistry()
    private let seen = Mutex<[String: Int]>([:])
    private let server: HTTPServer

    init(server: HTTPServer) { self.server = server }

    /// The current figures, in the Prometheus exposition format.
    func render() -> [UInt8] {
        let stats = server.stats
        for (code, statusClass) in [("2xx", 2), ("3xx", 3), ("4xx", 4), ("5xx", 5)] {
            count("corral_http_responses_total", [("code", code)], stats.responses(statusClass: statusClass))
        }
        count("corral_http_body_bytes_total", [], stats.bodyBytesSent)
        count("corral_http_timeouts_total", [], stats.timeouts)
        count("corral_http_shed_connections_total", [], stats.shedConnections)
        count("corral_access_log_dropped_lines_total", [], server.droppedLogLines)
        registry.makeGauge(name: "corral_http_open_connections").set(Int64(stats.openConnections))
        for acceptor in server.acceptorStats {
            let labels = [("acceptor", acceptor.name)]
            count("corral_accept_wakeups_total", labels, acceptor.wakeUps)
            count("corral_accept_empty_wakeups_total", labels, acceptor.emptyWakeUps)
            count("corral_accepted_connections_total", labels, acceptor.accepted)
            count("corral_accept_errors_total", labels, acceptor.errors)
        }
        for (index, loop) in server.loopStats.enumerated() {
            let labels = [("loop", String(index))]
            count("corral_loop_wakeups_total", labels, loop.wakeUps)
            count("corral_loop_connections_accepted_total", labels, loop.acceptedConnections)
            registry.makeGauge(name: "corral_loop_open_connections", labels: labels).set(Int64(loop.openConnections))
        }
        return registry.emitToBuffer()
    }

    /// Advances a Prometheus counter to `value` (our counters only grow; the registry's only
    /// increment).
    private func count(_ name: String, _ labels: [(String, String)], _ value: Int) {
        let key = name + labels.map { "|\($0.0)=\($0.1)" }.joined()
        let delta = seen.withLock { seen -> Int in
            let delta = value - (seen[key] ?? 0)
            seen[key] = value
            return delta
        }
        let counter = labels.isEmpty ? registry.makeCounter(name: name) : registry.makeCounter(name: name, labels: labels)
        if delta > 0 { counter.increment(by: Int64(delta)) }
    }
}

/// Answers `GET /metrics` (and HEAD) on the admin listener; other paths are 404, other
/// methods 405. Served by `HTTPConnectionHandler`, so the admin port has the main port's
/// parser limits, timeouts and lingering close, and a connection cap of its own.
final class MetricsResponder: HTTPResponder {
    private let exporter: MetricsExporter
    private static let fields = Array("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n".utf8)

    init(exporter: MetricsExporter) { self.exporter = exporter }

    func respond(to head: HTTPRequestHead, in buffer: UnsafeRawBufferPointer, on exchange: HTTPConnectionHandler) -> ResponsePlan? {
        if let refused = StaticFileResponder.refuse(head.method) { return refused }
        let target = buffer.slice(head.target)
        guard target.elementsEqual("/metrics".utf8) || target.starts(with: "/metrics?".utf8) else {
            return .error(.notFound)
        }
        let body = exporter.render()
        return ResponsePlan(
            status: .ok, fields: Self.fields + Array("Content-Length: \(body.count)\r\n".utf8), body: .bytes(body))
    }
}
