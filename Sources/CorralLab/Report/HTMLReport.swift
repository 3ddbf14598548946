import Foundation

/// Renders lab results as a self-contained HTML report: an index page and one page
/// per experiment, each with inline CSS and inline SVG only (no scripts, fonts or
/// images), so the files can be mailed, archived or opened offline.
public enum HTMLReport {
    /// File name of an experiment's page, e.g. `herd.html`.
    public static func fileName(for result: LabResult) -> String {
        let safe = result.experiment.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "_" }
        return String(safe) + ".html"
    }

    /// Write `index.html` and one page per result into `directory` (created if needed).
    /// Returns the paths written, index first.
    @discardableResult
    public static func write(_ results: [LabResult], to directory: String) throws -> [String] {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var paths: [String] = []
        let indexPath = (directory as NSString).appendingPathComponent("index.html")
        try Data(index(results).utf8).write(to: URL(fileURLWithPath: indexPath), options: .atomic)
        paths.append(indexPath)
        for r in results {
            let path = (directory as NSString).appendingPathComponent(fileName(for: r))
            try Data(page(for: r).utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
            paths.append(path)
        }
        return paths
    }

    /// The index page: machine, and one row per experiment linking to its page.
    public static func index(_ results: [LabResult]) -> String {
        var body = "<h1>Corral lab report</h1>"
        if let m = results.first?.machine { body += machineLine(m, results.first) }
        body += "<div class=\"scroll\"><table class=\"index\"><thead><tr><th>experiment</th><th>seed</th><th>question</th><th>points</th><th>finished</th></tr></thead><tbody>"
        for r in results {
            body += "<tr><td><a href=\"\(HTML.escape(fileName(for: r)))\">\(HTML.escape(r.experiment))</a></td>"
            body += "<td>\(HTML.escape(r.seed))</td><td>\(HTML.escape(r.question))</td>"
            body += "<td class=\"num\">\(r.points.count)</td><td>\(HTML.escape(r.finished))</td></tr>"
        }
        body += "</tbody></table></div>"
        body += "<p class=\"small\">Each page stands alone. Values are medians of the repeated runs; the range in parentheses and the whiskers on the charts are min–max.</p>"
        return document(title: "Corral lab report", body: body)
    }

    /// A standalone page for one experiment.
    public static func page(for result: LabResult) -> String {
        document(title: "Corral lab: \(result.experiment)",
                 body: "<p class=\"small\"><a href=\"index.html\">← all experiments</a></p>" + section(for: result))
    }

    /// The `<section>` for one experiment: question, method, table, charts, seed box, notes.
    public static func section(for result: LabResult) -> String {
        var s = "<section id=\"\(HTML.escape(result.experiment))\">"
        s += "<h2>\(HTML.escape(result.experiment)) — \(HTML.escape(result.title)) <span class=\"seed\">seed \(HTML.escape(result.seed))</span></h2>"
        s += machineLine(result.machine, result)
        s += "<h3>Question</h3><p>\(HTML.escape(result.question))</p>"
        s += "<h3>Method</h3><p>\(HTML.escape(result.method))</p>"
        s += seedBox(result)
        s += "<h3>Results</h3><div class=\"scroll\">" + table(result) + "</div>"
        let charts = self.charts(for: result)
        if !charts.isEmpty {
            s += "<div class=\"charts\">" + charts.map { "<figure>\($0.render())</figure>" }.joined() + "</div>"
        }
        if !result.notes.isEmpty {
            s += "<h3>Notes</h3><ul>" + result.notes.map { "<li>\(HTML.escape($0))</li>" }.joined() + "</ul>"
        }
        let failed = result.points.filter { !$0.errors.isEmpty }
        if !failed.isEmpty {
            s += "<h3>Failed runs</h3><ul class=\"small\">"
            for p in failed {
                s += "<li>\(HTML.escape(LabPoint(p.orderedParameters(result.parameters)).description)): \(HTML.escape(p.errors.joined(separator: "; ")))</li>"
            }
            s += "</ul>"
        }
        return s + "</section>"
    }

    /// The "the seed reported" box: the seed's figures beside today's where the
    /// experiment supplied them.
    public static func seedBox(_ result: LabResult) -> String {
        guard let seed = SeedFigures.report(for: result.seed) else { return "" }
        var s = "<aside class=\"seedbox\"><h3>The seed reported</h3>"
        s += "<p><b>\(HTML.escape(seed.source))</b><br><span class=\"small\">\(HTML.escape(seed.setting))</span></p>"
        s += "<p>\(HTML.escape(seed.finding))</p>"
        s += "<table><thead><tr><th>figure</th><th>then</th><th>today, this machine</th></tr></thead><tbody>"
        for f in seed.figures {
            let today = result.today[f.id.rawValue].map(HTML.escape) ?? "<span class=\"small\">—</span>"
            s += "<tr><td>\(HTML.escape(f.label))</td><td class=\"num\">\(HTML.escape(f.value))</td><td class=\"num\">\(today)</td></tr>"
        }
        return s + "</tbody></table></aside>"
    }

    /// The table of medians with min–max spread, using the result's columns.
    public static func table(_ result: LabResult) -> String {
        let columns = result.columns.isEmpty ? LabTable.defaultColumns(result) : result.columns
        var s = "<table class=\"results\"><thead><tr>"
        s += columns.map { "<th>\(HTML.escape($0.header))</th>" }.joined() + "</tr></thead><tbody>"
        for p in result.points {
            s += "<tr>"
            for c in columns {
                switch c.kind {
                case .parameter:
                    s += "<td>\(HTML.escape(p.parameters[c.key] ?? ""))</td>"
                case .figure:
                    if let sum = p.summary[c.key] {
                        s += "<td class=\"num\">\(HTML.escape(LabFormat.number(sum.median, precision: c.precision)))"
                        if let key = c.uncertaintyKey, let u = p.summary[key] {
                            s += " ± \(HTML.escape(LabFormat.number(u.median, precision: c.precision)))"
                        }
                        if sum.count > 1 && sum.min != sum.max {
                            s += "<span class=\"spread\"> (\(HTML.escape(LabFormat.number(sum.min, precision: c.precision)))–\(HTML.escape(LabFormat.number(sum.max, precision: c.precision))))</span>"
                        }
                        s += "</td>"
                    } else {
                        s += "<td class=\"num\">\(p.runs.isEmpty ? "failed" : "–")</td>"
                    }
                }
            }
            s += "</tr>"
        }
        return s + "</tbody></table>"
    }

    /// Charts for a result: each declared ``LabChart``, split into one chart per
    /// combination of the parameters that are neither x nor series and that vary.
    /// Charts with nothing to draw are left out.
    public static func charts(for result: LabResult) -> [SVGChart] {
        var out: [SVGChart] = []
        for spec in result.charts {
            let facetAxes = result.parameters.filter { $0.name != spec.x && $0.name != spec.series && $0.values.count > 1 }
            var facets: [[LabParameter]] = [[]]
            for axis in facetAxes {
                facets = facets.flatMap { f in axis.values.map { f + [LabParameter(axis.name, $0)] } }
            }
            let xs = result.parameters.first { $0.name == spec.x }?.values ?? []
            let seriesNames = spec.series.flatMap { s in result.parameters.first { $0.name == s }?.values } ?? [""]
            for facet in facets {
                let points = result.points.filter { p in facet.allSatisfy { p.parameters[$0.name] == $0.value } }
                var series: [SVGChart.Series] = []
                for name in seriesNames {
                    func cell(_ x: String) -> FigureSummary? {
                        points.first { p in p.parameters[spec.x] == x && (spec.series == nil || p.parameters[spec.series!] == name) }?
                            .summary[spec.figure]
                    }
                    let cells = xs.map(cell)
                    guard cells.contains(where: { $0 != nil }) else { continue }
                    series.append(SVGChart.Series(name: spec.series.map { "\($0)=\(name)" } ?? spec.figure,
                                                  values: cells.map { $0?.median }, lows: cells.map { $0?.min },
                                                  highs: cells.map { $0?.max }))
                }
                var title = spec.title
                if !facet.isEmpty { title += " — " + facet.map { "\($0.name)=\($0.value)" }.joined(separator: ", ") }
                let chart = SVGChart(title: title, categories: xs, xLabel: spec.x,
                                     yLabel: spec.unit.isEmpty ? spec.figure : "\(spec.figure) (\(spec.unit))",
                                     series: series, logScale: spec.logScale, style: spec.style)
                if chart.hasData { out.append(chart) }
            }
        }
        return out
    }

    static func machineLine(_ m: MachineInfo, _ r: LabResult?) -> String {
        var s = "<p class=\"machine\">Linux \(HTML.escape(m.kernel)) · \(m.cpus) CPU\(m.cpus == 1 ? "" : "s") · \(HTML.escape(m.model))"
        s += m.virtualised ? " · virtualised" : " · bare metal"
        s += " · clocksource \(HTML.escape(m.clocksource))"
        if let r {
            s += " · \(r.repetitions) run\(r.repetitions == 1 ? "" : "s") per point\(r.quick ? " · quick" : "") · \(HTML.escape(r.started)) → \(HTML.escape(r.finished))"
        }
        return s + "</p>"
    }

    static func document(title: String, body: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(HTML.escape(title))</title>
        <style>\(css)</style></head>
        <body>\(body)
        <footer class="small">Generated by corral lab · schema \(LabResult.schemaVersion)</footer>
        </body></html>

        """
    }

    static let css = """
    body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em auto;max-width:1200px;padding:0 1em;color:#1b1b1b;background:#fafafa;line-height:1.45}
    h1{font-size:1.7em;margin-bottom:.2em}h2{border-bottom:2px solid #0072B2;padding-bottom:.2em;margin-top:1.6em}h3{margin-bottom:.3em}
    .seed{font-size:.6em;background:#0072B2;color:#fff;border-radius:4px;padding:.1em .5em;vertical-align:middle}
    .machine,.small{color:#555;font-size:.88em}
    table{border-collapse:collapse;margin:.5em 0;background:#fff}
    th,td{border:1px solid #d0d0d0;padding:.25em .6em;text-align:left;vertical-align:top}
    th{background:#eef3f8}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
    .spread{color:#777;font-size:.85em}
    .seedbox{border:2px solid #E69F00;background:#fff8e8;border-radius:6px;padding:.4em 1em;margin:1em 0}
    .seedbox table{background:#fffdf6}.seedbox td.num{white-space:normal;text-align:left}
    .scroll{overflow-x:auto;max-width:100%}
    tr.higher td{background:#fde9d0}tr.lower td{background:#dcebf7}
    .charts{display:flex;flex-wrap:wrap;gap:1em}.charts figure{margin:0;border:1px solid #ddd;background:#fff}
    footer{margin-top:3em}
    """
}
