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

/// Answers `GET /metrics` on the admin listener; everything else is 404.
final class MetricsHandler: ConnectionHandler {
    private let exporter: MetricsExporter
    private var parser = RequestParser()

    init(exporter: MetricsExporter) { self.exporter = exporter }

    func connection(_ connection: Connection, didRead buffer: UnsafeRawBufferPointer) -> Int {
        var offset = 0
        while offset < buffer.count {
            let rest = UnsafeRawBufferPointer(rebasing: buffer[offset...])
            switch parser.parse(rest) {
            case .needMore:
                connection.flush()
                return offset
            case .error(let error):
                reply(connection, status: error.status, body: Array("\(error)\n".utf8), close: true)
                connection.closeAfterFlush()
                return buffer.count
            case .request(let head, let consumed):
                let target = UnsafeRawBufferPointer(rebasing: rest[head.target])
                if head.method == .get && (target.elementsEqual("/metrics".utf8) || target.starts(with: "/metrics?".utf8)) {
                    reply(connection, status: 200, body: exporter.render(), close: !head.keepAlive)
                } else {
                    reply(connection, status: 404, body: Array("404 Not Found\n".utf8), close: !head.keepAlive)
                }
                offset += consumed
                if !head.keepAlive {
                    connection.closeAfterFlush()
                    return buffer.count
                }
            }
        }
        connection.flush()
        return offset
    }

    private func reply(_ connection: Connection, status: Int, body: [UInt8], close: Bool) {
        let head = "HTTP/1.1 \(status) \(Responses.reason(status))\r\n"
            + "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: \(body.count)\r\n"
            + (close ? "Connection: close\r\n" : "") + "\r\n"
        connection.write(Array(head.utf8))
        connection.write(body)
    }
}
