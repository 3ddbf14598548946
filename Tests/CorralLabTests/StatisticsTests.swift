import Testing
@testable import CorralLab

@Suite struct StatisticsTests {
    @Test func medianOddAndEven() {
        #expect(Statistics.median([3, 1, 2]) == 2)
        #expect(Statistics.median([4, 1, 3, 2]) == 2.5)
        #expect(Statistics.median([]) == nil)
    }

    @Test func percentilesInterpolate() {
        let v = (1...100).map(Double.init)
        #expect(Statistics.percentile(v, 0) == 1)
        #expect(Statistics.percentile(v, 100) == 100)
        #expect(abs(Statistics.percentile(v, 99)! - 99.01) < 1e-9)
        #expect(Statistics.percentiles([5, 1, 3], [0, 50, 100]) == [1, 3, 5])
    }

    @Test func spreadMeanDeviation() {
        #expect(Statistics.spread([2, 9, 4]) == 2...9)
        #expect(Statistics.mean([1, 2, 3]) == 2)
        #expect(Statistics.standardDeviation([2, 4, 4, 4, 5, 5, 7, 9])! - 2.138 < 0.001)
        #expect(Statistics.coefficientOfVariation([10, 10, 10]) == 0)
        #expect(Statistics.coefficientOfVariation([0, 0]) == nil)
    }

    @Test func jainFairness() {
        #expect(Statistics.jainFairness([5, 5, 5, 5]) == 1)
        #expect(Statistics.jainFairness([10, 0, 0, 0]) == 0.25)
        // (1+2+3)^2 / (3 * 14) = 36/42
        #expect(abs(Statistics.jainFairness([1, 2, 3])! - 36.0 / 42.0) < 1e-12)
        #expect(Statistics.jainFairness([Int]()) == nil)
        #expect(Statistics.jainFairness([0, 0]) == 1)
    }

    @Test func maxMinRatio() {
        #expect(Statistics.maxMinRatio([2, 8, 4]) == 4)
        #expect(Statistics.maxMinRatio([0, 3]) == .infinity)
        #expect(Statistics.maxMinRatio([0, 0]) == 1)
    }

    @Test func figureSummaryIgnoresNonFinite() {
        let s = FigureSummary([3, .infinity, 1, 2])!
        #expect(s == FigureSummary(median: 2, min: 1, max: 3, count: 3))
        #expect(FigureSummary([.nan]) == nil)
        #expect(abs(s.relativeSpread - 0.5) < 1e-12)
    }

    @Test func latencyRecorderPercentilesAndMerge() {
        var a = LatencyRecorder()
        for us in 1...1000 { a.record(nanoseconds: UInt64(us) * 1000) }
        #expect(a.count == 1000)
        #expect(abs(Double(a.p50) - 500_000) / 500_000 < 0.002)
        #expect(abs(Double(a.p99) - 990_000) / 990_000 < 0.002)
        #expect(abs(Double(a.max) - 1_000_000) / 1_000_000 < 0.002)
        #expect(abs(a.mean - 500_500) / 500_500 < 0.002)
        var b = LatencyRecorder()
        b.record(.milliseconds(50))
        let m = LatencyRecorder.merged([a, b])
        #expect(m.count == 1001)
        #expect(abs(Double(m.max) - 50_000_000) / 50_000_000 < 0.002)
        let f = m.figures(prefix: "rt_")
        #expect(f["rt_count"] == 1001)
        #expect(f["rt_p50_us"]! > 490 && f["rt_p50_us"]! < 510)
        #expect(LatencyRecorder().p99 == 0)
    }

    @Test func coordinatedOmissionCorrectionAddsSamples() {
        var r = LatencyRecorder()
        r.recordCorrected(nanoseconds: 10_000_000, expectedIntervalNanoseconds: 1_000_000)
        #expect(r.count == 10)
    }
}
