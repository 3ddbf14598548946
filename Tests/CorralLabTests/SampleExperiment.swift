@testable import CorralLab

/// A fake herd-like experiment with deterministic figures, for runner, JSON and report tests.
struct SampleExperiment: LabExperiment {
    var name: String { "herd" }
    var seed: String { "002" }
    var title: String { "Thundering herd <on> accept() & friends" }
    var question: String { "How many waiters wake per connection, and how long until they settle?" }
    var method: String { "W threads wait on one listener; a client connects K times, one at a time." }
    var failStrategy: String? = nil

    enum Figure: String, LabFigureName {
        case wakeUps = "wakeups_per_conn", settle = "settle_us"
    }

    func grid(quick: Bool) -> [LabPoint] {
        LabGrid.product([("waiters", quick ? ["1", "10"] : ["1", "10", "100", "1000"]),
                         ("strategy", ["blocking", "shared", "exclusive"])])
    }

    var columns: [LabColumn] {
        [.parameter("waiters"), .parameter("strategy"),
         .figure(Figure.wakeUps, title: "wake-ups/conn", precision: 2),
         .figure(Figure.settle, title: "settle", unit: "µs")]
    }

    var charts: [LabChart] {
        [LabChart(title: "Wake-ups per connection", figure: Figure.wakeUps, x: "waiters", series: "strategy"),
         LabChart(title: "Settle time", figure: Figure.settle, x: "waiters", series: "strategy", unit: "µs", logScale: true, style: .lines)]
    }

    func run(point: LabPoint, in context: LabContext) throws -> LabFigures<Figure> {
        if point["strategy"] == failStrategy { throw LabSkip("needs EPOLLEXCLUSIVE") }
        let w = Double(point.int("waiters")!)
        let jitter = Double.random(in: 0.95...1.05)
        switch point["strategy"] {
        case "shared": return [.wakeUps: w * jitter, .settle: 40 * w * jitter]
        default: return [.wakeUps: 1, .settle: 20 * jitter]
        }
    }

    func notes(for points: [LabPointResult]) -> [String] { ["Shared epoll wakes every waiter <script>"] }

    func todayFigures(for points: [LabPointResult]) -> [SeedFigureID: String] {
        let p = points.first { $0.parameters["waiters"] == "100" && $0.parameters["strategy"] == "shared" }
        return p?.median(Figure.settle).map { [.settle100: LabFormat.number($0 / 1000) + " ms"] } ?? [:]
    }
}

/// A full-grid result of ``SampleExperiment`` with fixed machine and times.
func sampleResult(quick: Bool = false) -> LabResult {
    var r = LabRunner(options: LabRunOptions(quick: quick, repetitions: 3, progress: .none), output: { _ in })
        .measure(SampleExperiment())
    r.started = "2025-01-01T00:00:00Z"
    r.finished = "2025-01-01T00:01:00Z"
    r.machine = MachineInfo(kernel: "6.18.44", cpus: 2, model: "AMD EPYC", virtualised: true, clocksource: "tsc")
    return r
}
