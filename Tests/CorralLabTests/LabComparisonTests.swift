import Foundation
import Testing
@testable import CorralLab

/// `corral lab compare`: ratios, intervals and verdicts from two runs' repetitions.
@Suite struct LabComparisonTests {
    /// A one-experiment result whose point `waiters=W strategy=S` has `runs` as its settle times.
    private func result(_ runs: [String: [Double]], machine: String = "6.18") -> LabResult {
        var r = sampleResult(quick: true)
        r.points = runs.keys.sorted().map { key in
            let parts = key.split(separator: " ").map(String.init)
            let point: LabPoint = ["waiters": parts[0], "strategy": parts[1]]
            return LabPointResult(point: point, runs: runs[key]!.map { ["settle_us": $0, "wakeups_per_conn": 1] })
        }
        r.machine.kernel = machine
        return r
    }

    @Test func ratiosAndVerdicts() throws {
        let a = result(["1 blocking": [10, 11, 12], "1 shared": [10, 11, 12], "10 shared": [10, 11, 12], "10 blocking": [5]])
        let b = result(["1 blocking": [20, 21, 22], "1 shared": [8, 9, 10.5], "10 shared": [5, 6, 7], "10 blocking": [6]], machine: "6.19")
        let c = LabComparison(a: [a], b: [b], labelA: "old.json", labelB: "new.json")
        func row(_ w: String, _ s: String, _ figure: String = "settle_us") throws -> LabComparison.Row {
            try #require(c.rows.first { r in r.figure == figure && r.point.contains(LabParameter("waiters", w)) && r.point.contains(LabParameter("strategy", s)) })
        }
        let slower = try row("1", "blocking")
        #expect(slower.verdict == .higher)
        #expect(abs(slower.ratio! - 21.0 / 11) < 1e-9)
        let interval = try #require(slower.interval)
        #expect(interval.lowerBound >= 20.0 / 12 - 1e-9 && interval.upperBound <= 22.0 / 10 + 1e-9)
        #expect(try row("1", "shared").verdict == .withinSpread)  // 8–10.5 overlaps 10–12
        #expect(try row("10", "shared").verdict == .lower)
        #expect(try row("10", "blocking").verdict == .singleRun)
        #expect(try row("1", "blocking", "wakeups_per_conn").ratio == 1)
        #expect(c.changed.count == 2)
        #expect(c.summary.hasPrefix("8 figures compared: 1 higher and 1 lower"))
        let table = c.table(onlyChanged: true)
        #expect(table.contains("B higher") && table.contains("B lower") && !table.contains("within spread"))
        #expect(table.contains("6.18") && table.contains("6.19"))
        let html = c.html()
        #expect(html.contains("<tr class=\"higher\">") && html.contains("<tr class=\"lower\">"))
        #expect(html.contains("new.json against old.json"))
        #expect(!html.contains("<script"))
    }

    @Test func unmatchedPointsAndExperimentsAreListed() {
        let a = result(["1 blocking": [10, 11], "1 shared": [1, 2]])
        var other = result(["1 blocking": [1, 2]])
        other.experiment = "balance"
        let b = result(["1 blocking": [10, 11], "100 shared": [1, 2]])
        let c = LabComparison(a: [a, other], b: [b])
        #expect(c.unmatched.contains("herd waiters=1 strategy=shared: only in A"))
        #expect(c.unmatched.contains("herd waiters=100 strategy=shared: only in B"))
        #expect(c.unmatched.contains("balance: only in A"))
        #expect(c.rows.count == 2)
    }

    /// A parameter only one run has (a `net` column added later) does not stop points matching.
    @Test func parametersOnlyOneSideHasAreIgnored() {
        #expect(LabComparison.sameParameters(["waiters": "1"], ["waiters": "1", "net": "veth"]))
        #expect(!LabComparison.sameParameters(["waiters": "1", "net": "loopback"], ["waiters": "1", "net": "veth"]))
    }

    @Test func measuredDifferencesReportOnlyWhatIsAboveNoise() throws {
        let grew = try #require(MeasuredDifference(before: [100, 101, 99, 100, 100], after: [200, 201, 199, 200, 200], resolution: 1))
        #expect(grew.isMeasurable && grew.value == 100)
        #expect(grew.uncertainty > 1 && grew.uncertainty < 5)
        let noise = try #require(MeasuredDifference(before: [100, 140, 60, 100, 100], after: [110, 150, 70, 110, 110], resolution: 1))
        #expect(!noise.isMeasurable)  // +10 against a scatter of ±28
        let flat = try #require(MeasuredDifference(before: [4096, 4096], after: [4096, 8192], resolution: 4096))
        #expect(!flat.isMeasurable)  // one page either way: the resolution
    }
}
