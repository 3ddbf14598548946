import CoreMetrics
import CorralRuntime
import Prometheus

/// The server's figures reported through swift-metrics: responses by status class, body bytes,
/// timeouts, shed connections, dropped access-log lines, open connections, and per acceptor and
/// per loop the runtime's wake-up and accept counters.
///
/// The request path pays nothing for it: the server counts in relaxed atomics (`ServerStats`,
/// the runtime's stats), and this reporter adds what has changed since it last looked to
/// swift-metrics `Counter`s and `Gauge`s, once a second (the first loop's tick) and before every
/// scrape. The metrics go to the factory it is given: the server's own Prometheus registry when
/// `HTTPServerConfiguration.metricsAddress` serves /metrics, or whatever backend the
/// application bootstrapped (`MetricsSystem.factory`).
final class MetricsReporter: Sendable {
    private struct State {
        /// The last value reported for each metric (counters only grow; swift-metrics counters
        /// only increment).
        var reported: [String: Int] = [:]
        var counters: [String: CoreMetrics.Counter] = [:]
        var gauges: [String: CoreMetrics.Gauge] = [:]
    }

    private let factory: any MetricsFactory
    private let state = Locked(State())
    private unowned let server: HTTPServer

    init(server: HTTPServer, factory: any MetricsFactory) {
        self.server = server
        self.factory = factory
    }

    /// Brings every metric up to date (any thread).
    func update() {
        let stats = server.stats
        let acceptors = server.acceptorStats
        let loops = server.loopStats
        let dropped = server.droppedLogLines
        state.withLock { state in
            for (code, statusClass) in [("2xx", 2), ("3xx", 3), ("4xx", 4), ("5xx", 5)] {
                count(&state, "corral_http_responses_total", [("code", code)], stats.responses(statusClass: statusClass))
            }
            count(&state, "corral_http_body_bytes_total", [], stats.bodyBytesSent)
            count(&state, "corral_http_timeouts_total", [], stats.timeouts)
            count(&state, "corral_http_shed_connections_total", [], stats.shedConnections)
            count(&state, "corral_access_log_dropped_lines_total", [], dropped)
            gauge(&state, "corral_http_open_connections", [], stats.openConnections)
            for acceptor in acceptors {
                let labels = [("acceptor", acceptor.name)]
                count(&state, "corral_accept_wakeups_total", labels, acceptor.wakeUps)
                count(&state, "corral_accept_empty_wakeups_total", labels, acceptor.emptyWakeUps)
                count(&state, "corral_accepted_connections_total", labels, acceptor.accepted)
                count(&state, "corral_accept_errors_total", labels, acceptor.errors)
            }
            for (index, loop) in loops.enumerated() {
                let labels = [("loop", String(index))]
                count(&state, "corral_loop_wakeups_total", labels, loop.wakeUps)
                count(&state, "corral_loop_connections_accepted_total", labels, loop.acceptedConnections)
                gauge(&state, "corral_loop_open_connections", labels, loop.openConnections)
            }
        }
    }

    private func count(_ state: inout State, _ label: String, _ dimensions: [(String, String)], _ value: Int) {
        let key = Self.key(label, dimensions)
        let counter = state.counters[key] ?? {
            let made = CoreMetrics.Counter(label: label, dimensions: dimensions, factory: factory)
            state.counters[key] = made
            return made
        }()
        let delta = value - (state.reported[key] ?? 0)
        state.reported[key] = value
        if delta > 0 { counter.increment(by: delta) }
    }

    private func gauge(_ state: inout State, _ label: String, _ dimensions: [(String, String)], _ value: Int) {
        let key = Self.key(label, dimensions)
        let gauge = state.gauges[key] ?? {
            let made = CoreMetrics.Gauge(label: label, dimensions: dimensions, factory: factory)
            state.gauges[key] = made
            return made
        }()
        gauge.record(value)
    }

    private static func key(_ label: String, _ dimensions: [(String, String)]) -> String {
        dimensions.reduce(label) { $0 + "|" + $1.0 + "=" + $1.1 }
    }
}

/// Answers `GET /metrics` (and HEAD) on the admin listener with the registry in the Prometheus
/// text format (swift-prometheus); other paths are 404, other methods 405. Served by
/// `HTTPConnectionHandler`, so the admin port has the main port's parser limits, timeouts and
/// lingering close, and a connection cap of its own.
final class MetricsResponder: HTTPResponder {
    private let reporter: MetricsReporter
    private let registry: PrometheusCollectorRegistry
    private static let fields = Array("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n".utf8)

    init(reporter: MetricsReporter, registry: PrometheusCollectorRegistry) {
        self.reporter = reporter
        self.registry = registry
    }

    func respond(to head: HTTPRequestHead, in buffer: UnsafeRawBufferPointer, on exchange: HTTPConnectionHandler) -> ResponsePlan? {
        if let refused = StaticFileResponder.refuse(head.method) { return refused }
        let target = buffer.slice(head.target)
        guard target.elementsEqual("/metrics".utf8) || target.starts(with: "/metrics?".utf8) else {
            return .error(.notFound)
        }
        reporter.update()
        let body = registry.emitToBuffer()
        return ResponsePlan(
            status: .ok, fields: Self.fields + Array("Content-Length: \(body.count)\r\n".utf8), body: .bytes(body))
    }
}
