import Testing
import Foundation
@testable import CorralLab

@Suite struct FrameworkTests {
    @Test func pointsKeepOrderAndParse() {
        var p: LabPoint = ["waiters": "100", "strategy": "exclusive", "jitter": "yes"]
        #expect(p.description == "waiters=100 strategy=exclusive jitter=yes")
        #expect(p.int("waiters") == 100)
        #expect(p.double("waiters") == 100)
        #expect(p.bool("jitter") == true)
        #expect(p.int("strategy") == nil)
        p["seconds"] = "0.5"
        p["jitter"] = nil
        #expect(p.description == "waiters=100 strategy=exclusive seconds=0.5")
    }

    @Test func gridProductAndAxes() {
        let g = LabGrid.product([("w", ["1", "10"]), ("s", ["a", "b", "c"])])
        #expect(g.count == 6)
        #expect(g[0].description == "w=1 s=a")
        #expect(g[5].description == "w=10 s=c")
        #expect(LabGrid.axes(of: g) == [LabAxis(name: "w", values: ["1", "10"]), LabAxis(name: "s", values: ["a", "b", "c"])])
        #expect(LabGrid.product([]).isEmpty)
    }

    @Test func runnerRepeatsSummarisesAndPrintsTable() {
        final class Box: @unchecked Sendable { var text = "" }
        let box = Box()
        let runner = LabRunner(options: LabRunOptions(quick: true, repetitions: 3, progress: .none), output: { box.text += $0 })
        let r = runner.run(SampleExperiment())
        #expect(r.points.count == 6)
        #expect(r.points.allSatisfy { $0.runs.count == 3 })
        #expect(r.quick)
        let shared10 = r.points.first { $0.parameters == ["waiters": "10", "strategy": "shared"] }!
        let s = shared10.summary["wakeups_per_conn"]!
        #expect(s.count == 3 && s.min <= s.median && s.median <= s.max)
        #expect(s.median > 9 && s.median < 11)
        let lines = box.text.split(separator: "\n").map(String.init)
        let header = lines.first { $0.hasPrefix("waiters") }!
        #expect(header.contains("wake-ups/conn") && header.contains("settle (µs)"))
        let rows = lines.filter { $0.hasPrefix("1 ") || $0.hasPrefix("10 ") }
        #expect(rows.count == 6)
        #expect(Set(rows.map(\.count)).count == 1) // fixed width
        #expect(box.text.contains("note: Shared epoll wakes every waiter"))
    }

    @Test func skippedPointsBecomeNotes() {
        var e = SampleExperiment()
        e.failStrategy = "exclusive"
        let r = LabRunner(options: LabRunOptions(quick: true, repetitions: 2, progress: .none), output: { _ in }).measure(e)
        let skipped = r.points.filter { $0.parameters["strategy"] == "exclusive" }
        #expect(skipped.allSatisfy { $0.runs.isEmpty && $0.errors.count == 1 })
        // One note for the two points skipped for the same reason.
        #expect(r.notes.filter { $0.contains("needs EPOLLEXCLUSIVE") } == ["2 points skipped (waiters=1 strategy=exclusive …): needs EPOLLEXCLUSIVE"])
        #expect(LabTable.render(r).contains("failed"))
    }

    @Test func defaultChartsFollowColumns() {
        let charts = LabExperimentDefaults.charts(for: [.parameter("w"), .parameter("s"), .figure(SampleExperiment.Figure.settle, unit: "µs")])
        #expect(charts == [LabChart(title: "settle_us", figure: SampleExperiment.Figure.settle, x: "w", series: "s", unit: "µs")])
    }

    @Test func formatting() {
        #expect(LabFormat.number(1234.56) == "1235")
        #expect(LabFormat.number(12.345) == "12.35")
        #expect(LabFormat.number(0.012345) == "0.0123")
        #expect(LabFormat.number(3, precision: 2) == "3.00")
        #expect(LabFormat.number(.infinity) == "inf")
        #expect(LabFormat.summary(FigureSummary(median: 2, min: 1, max: 3, count: 3), precision: 1) == "2.0 (1.0–3.0)")
        #expect(SVGChart.compact(1500) == "1.5k" || SVGChart.compact(1500) == "1500")
        #expect(SVGChart.compact(25_000) == "25k")
        #expect(SVGChart.compact(2_000_000) == "2M")
    }
}
