import Testing
import Foundation
@testable import CorralLab

@Suite struct HTMLReportTests {
    @Test func escaping() {
        #expect(HTML.escape("<a href=\"x\">Tom & Jerry's</a>") == "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;")
    }

    @Test func pageIsSelfContainedWithRealCharts() {
        let r = sampleResult()
        let html = HTMLReport.page(for: r)
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(!html.contains("<script"))
        #expect(!html.contains("src="))
        #expect(!html.contains("@import") && !html.contains("url("))
        #expect(html.contains("&lt;script&gt;")) // the note was escaped
        #expect(html.contains("Thundering herd &lt;on&gt; accept() &amp; friends"))
        #expect(html.contains("The seed reported"))
        #expect(html.contains("177 ms"))
        #expect(html.contains("4.7 ms"))
        let svgs = html.components(separatedBy: "<svg").count - 1
        #expect(svgs == 2)
        #expect(html.components(separatedBy: "<rect").count > 12) // bars drawn
        #expect(html.contains("<polyline"))
        #expect(!html.contains("no data"))
    }

    @Test func chartsFacetOverExtraParametersAndSkipEmpty() {
        var r = sampleResult(quick: true)
        r.charts.append(LabChart(title: "missing", figureKey: "nope", x: "waiters"))
        r.charts.append(LabChart(title: "by strategy", figure: SampleExperiment.Figure.settle, x: "strategy"))
        let charts = HTMLReport.charts(for: r)
        #expect(charts.count == 2 + 2) // "by strategy" is split by waiters ∈ {1, 10}; "missing" left out
        #expect(charts.contains { $0.title == "by strategy — waiters=10" })
    }

    @Test func logAxisTicksAreDecades() {
        let a = YAxis(values: [15, 4200], log: true)
        #expect(a.ticks == [10, 100, 1000, 10000])
        #expect(a.position(10) == 0 && a.position(10000) == 1)
        let l = YAxis(values: [0, 87], log: false)
        #expect(l.lower == 0 && l.upper == 100 && l.ticks.count == 6)
    }

    /// Writes a sample report (index + herd page) for `Scripts/render-report.sh`;
    /// the directory is `$CORRAL_SAMPLE_REPORT_DIR` or a temporary one.
    @Test func writesSampleReport() throws {
        let dir = ProcessInfo.processInfo.environment["CORRAL_SAMPLE_REPORT_DIR"]
            ?? NSTemporaryDirectory() + "corral-sample-report-\(getpid())"
        var second = sampleResult()
        second.experiment = "balance"
        second.seed = "003"
        second.title = "Load-balancing accept()"
        let paths = try HTMLReport.write([sampleResult(), second], to: dir)
        #expect(paths.count == 3)
        let index = try String(contentsOfFile: paths[0], encoding: .utf8)
        #expect(index.contains("href=\"herd.html\"") && index.contains("href=\"balance.html\""))
        #expect(FileManager.default.fileExists(atPath: dir + "/herd.html"))
        try LabJSON.write([sampleResult()], to: dir + "/herd.json")
    }
}
