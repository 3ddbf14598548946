/// Two lab runs side by side (two kernels, machines or commits): for every figure of every
/// point both runs measured, B's median over A's, a bootstrap interval for that ratio, and
/// whether the difference is beyond the run-to-run spread.
///
/// "Beyond the spread" means the two runs' min–max ranges do not overlap: every repetition of
/// B is above (or below) every repetition of A. With fewer than two repetitions on a side there
/// is no spread to compare against, and the row says so.
public struct LabComparison: Sendable {
    /// How B's figure relates to A's.
    public enum Verdict: String, Sendable {
        case higher = "B higher"
        case lower = "B lower"
        case withinSpread = "within spread"
        case singleRun = "one run: no spread"
    }

    /// One figure of one point in both runs.
    public struct Row: Sendable {
        public var experiment: String
        /// The point's parameters in grid order.
        public var point: [LabParameter]
        /// The figure's key and its header (title and unit).
        public var figure: String
        public var header: String
        public var precision: Int?
        public var a: FigureSummary
        public var b: FigureSummary
        /// B's median over A's; `nil` when A's median is 0.
        public var ratio: Double?
        /// 95 % bootstrap interval of the ratio of medians (resampling each side's runs).
        public var interval: ClosedRange<Double>?
        public var verdict: Verdict
    }

    public var labelA: String
    public var labelB: String
    public var machineA: MachineInfo?
    public var machineB: MachineInfo?
    public var rows: [Row]
    /// Experiments or points only one run has, as text.
    public var unmatched: [String]

    /// Compares every experiment both runs hold.
    public init(a: [LabResult], b: [LabResult], labelA: String = "A", labelB: String = "B") {
        self.labelA = labelA
        self.labelB = labelB
        machineA = a.first?.machine
        machineB = b.first?.machine
        rows = []
        unmatched = []
        var random = SplitMix64(seed: 0x636f_6d70)
        for ra in a {
            guard let rb = b.first(where: { $0.experiment == ra.experiment }) else {
                unmatched.append("\(ra.experiment): only in \(labelA)")
                continue
            }
            let columns = (ra.columns.isEmpty ? LabTable.defaultColumns(ra) : ra.columns).filter { $0.kind == .figure }
            var matchedB = Set<Int>()
            for pa in ra.points {
                let candidates = rb.points.indices.filter { Self.sameParameters(pa.parameters, rb.points[$0].parameters) }
                guard candidates.count == 1, let ib = candidates.first else {
                    unmatched.append("\(ra.experiment) \(LabPoint(pa.orderedParameters(ra.parameters))): \(candidates.isEmpty ? "only in \(labelA)" : "matches several points of \(labelB)")")
                    continue
                }
                matchedB.insert(ib)
                let pb = rb.points[ib]
                for column in columns {
                    guard let sa = pa.summary[column.key], let sb = pb.summary[column.key] else { continue }
                    let runsA = pa.runs.compactMap { $0[column.key] }.filter(\.isFinite)
                    let runsB = pb.runs.compactMap { $0[column.key] }.filter(\.isFinite)
                    rows.append(Row(
                        experiment: ra.experiment, point: pa.orderedParameters(ra.parameters), figure: column.key,
                        header: column.header, precision: column.precision, a: sa, b: sb,
                        ratio: sa.median != 0 ? sb.median / sa.median : nil,
                        interval: Self.bootstrap(runsA, runsB, random: &random),
                        verdict: Self.verdict(sa, sb)))
                }
            }
            for (i, pb) in rb.points.enumerated() where !matchedB.contains(i) {
                unmatched.append("\(rb.experiment) \(LabPoint(pb.orderedParameters(rb.parameters))): only in \(labelB)")
            }
        }
        for rb in b where !a.contains(where: { $0.experiment == rb.experiment }) {
            unmatched.append("\(rb.experiment): only in \(labelB)")
        }
    }

    /// Points match when they agree on every parameter both have (a parameter only one run
    /// has, such as a `net` column added later, does not split them).
    static func sameParameters(_ a: [String: String], _ b: [String: String]) -> Bool {
        a.allSatisfy { key, value in b[key].map { $0 == value } ?? true }
    }

    /// Non-overlapping min–max ranges, else within the spread.
    static func verdict(_ a: FigureSummary, _ b: FigureSummary) -> Verdict {
        guard a.count >= 2, b.count >= 2 else { return .singleRun }
        if b.min > a.max { return .higher }
        if b.max < a.min { return .lower }
        return .withinSpread
    }

    /// The 2.5th and 97.5th percentiles of median(B*)/median(A*) over 2000 resamples (with
    /// replacement) of each side's runs; `nil` with fewer than two runs a side or a zero median.
    static func bootstrap(_ a: [Double], _ b: [Double], random: inout SplitMix64) -> ClosedRange<Double>? {
        guard a.count >= 2, b.count >= 2 else { return nil }
        var ratios: [Double] = []
        ratios.reserveCapacity(2000)
        func resample(_ values: [Double]) -> Double {
            Statistics.median((0..<values.count).map { _ in values[Int(random.next() % UInt64(values.count))] })!
        }
        for _ in 0..<2000 {
            let ma = resample(a)
            if ma != 0 { ratios.append(resample(b) / ma) }
        }
        guard let p = Statistics.percentiles(ratios, [2.5, 97.5]) else { return nil }
        return p[0]...p[1]
    }

    /// Rows whose difference is beyond the spread.
    public var changed: [Row] { rows.filter { $0.verdict == .higher || $0.verdict == .lower } }

    /// One line: how many figures were compared and how many moved.
    public var summary: String {
        let higher = rows.filter { $0.verdict == .higher }.count, lower = rows.filter { $0.verdict == .lower }.count
        let single = rows.filter { $0.verdict == .singleRun }.count
        var text = "\(rows.count) figures compared: \(higher) higher and \(lower) lower in \(labelB) beyond the run-to-run spread (min–max ranges apart), \(rows.count - higher - lower - single) within it"
        if single > 0 { text += ", \(single) with a single run (no spread)" }
        return text + "."
    }

    // MARK: rendering

    private static func ratioText(_ r: Row) -> String { r.ratio.map { LabFormat.number($0, precision: 3) } ?? "–" }
    private static func intervalText(_ r: Row) -> String {
        r.interval.map { "\(LabFormat.number($0.lowerBound, precision: 3))–\(LabFormat.number($0.upperBound, precision: 3))" } ?? "–"
    }

    /// The text table: per experiment, one row per point and figure (only the changed ones
    /// with `onlyChanged`).
    public func table(onlyChanged: Bool = false) -> String {
        var out = "A = \(labelA)\(machineA.map { ": " + Self.machineText($0) } ?? "")\n"
        out += "B = \(labelB)\(machineB.map { ": " + Self.machineText($0) } ?? "")\n\(summary)\n"
        for experiment in rows.map(\.experiment).reduce(into: [String](), { if !$0.contains($1) { $0.append($1) } }) {
            let selected = rows.filter { $0.experiment == experiment && (!onlyChanged || $0.verdict == .higher || $0.verdict == .lower) }
            guard !selected.isEmpty else { continue }
            var lines: [[String]] = [["point", "figure", "A", "B", "B/A", "95 % interval", "verdict"]]
            for r in selected {
                lines.append([LabPoint(r.point).description, r.header, LabFormat.summary(r.a, precision: r.precision),
                              LabFormat.summary(r.b, precision: r.precision), Self.ratioText(r), Self.intervalText(r), r.verdict.rawValue])
            }
            let widths = (0..<7).map { i in lines.map { $0[i].count }.max() ?? 0 }
            out += "\n\(experiment)\n"
            for (n, line) in lines.enumerated() {
                out += zip(line, widths).enumerated().map { i, cell in
                    let pad = String(repeating: " ", count: cell.1 - cell.0.count)
                    return i < 2 || i == 6 ? cell.0 + pad : pad + cell.0
                }.joined(separator: "  ") + "\n"
                if n == 0 { out += widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ") + "\n" }
            }
        }
        for line in unmatched { out += "\nnot compared: \(line)" }
        return out + "\n"
    }

    /// A self-contained HTML page with the same table, changed rows highlighted.
    public func html() -> String {
        var body = "<h1>Corral lab: \(HTML.escape(labelB)) against \(HTML.escape(labelA))</h1>"
        for (label, machine) in [(labelA, machineA), (labelB, machineB)] {
            body += "<p class=\"machine\"><b>\(HTML.escape(label))</b>\(machine.map { ": " + HTML.escape(Self.machineText($0)) } ?? "")</p>"
        }
        body += "<p>\(HTML.escape(summary)) Ratios are B's median over A's; the interval is a 95 % bootstrap interval of that ratio over the repetitions.</p>"
        for experiment in rows.map(\.experiment).reduce(into: [String](), { if !$0.contains($1) { $0.append($1) } }) {
            body += "<h2>\(HTML.escape(experiment))</h2><div class=\"scroll\"><table class=\"results\"><thead><tr>"
            body += ["point", "figure", HTML.escape(labelA), HTML.escape(labelB), "B/A", "95 % interval", "verdict"].map { "<th>\($0)</th>" }.joined()
            body += "</tr></thead><tbody>"
            for r in rows where r.experiment == experiment {
                let style = r.verdict == .higher ? " class=\"higher\"" : r.verdict == .lower ? " class=\"lower\"" : ""
                body += "<tr\(style)><td>\(HTML.escape(LabPoint(r.point).description))</td><td>\(HTML.escape(r.header))</td>"
                body += "<td class=\"num\">\(HTML.escape(LabFormat.summary(r.a, precision: r.precision)))</td>"
                body += "<td class=\"num\">\(HTML.escape(LabFormat.summary(r.b, precision: r.precision)))</td>"
                body += "<td class=\"num\">\(Self.ratioText(r))</td><td class=\"num\">\(Self.intervalText(r))</td><td>\(r.verdict.rawValue)</td></tr>"
            }
            body += "</tbody></table></div>"
        }
        if !unmatched.isEmpty {
            body += "<h3>Not compared</h3><ul class=\"small\">" + unmatched.map { "<li>\(HTML.escape($0))</li>" }.joined() + "</ul>"
        }
        return HTMLReport.document(title: "Corral lab comparison", body: body)
    }

    private static func machineText(_ m: MachineInfo) -> String {
        "Linux \(m.kernel), \(m.cpus) CPUs, \(m.model)\(m.virtualised ? " (virtualised)" : "")"
    }
}
