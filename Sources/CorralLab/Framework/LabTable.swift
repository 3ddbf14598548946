/// The fixed-width text table printed to stdout after an experiment.
public enum LabTable {
    /// The result's declared columns: parameters left-aligned, figures right-aligned as
    /// `median (min–max)`, a header with units, and the notes and errors below.
    public static func render(_ result: LabResult) -> String {
        let columns = result.columns.isEmpty ? defaultColumns(result) : result.columns
        var rows: [[String]] = [columns.map(\.header)]
        for point in result.points {
            rows.append(columns.map { column in
                switch column.kind {
                case .parameter: return point.parameters[column.key] ?? ""
                case .figure:
                    guard let s = point.summary[column.key] else { return point.runs.isEmpty ? "failed" : "–" }
                    if let key = column.uncertaintyKey, let u = point.summary[key] {
                        return LabFormat.number(s.median, precision: column.precision) + " ± " + LabFormat.number(u.median, precision: column.precision)
                            + (s.count < 2 || s.min == s.max ? "" : " (\(LabFormat.number(s.min, precision: column.precision))–\(LabFormat.number(s.max, precision: column.precision)))")
                    }
                    return LabFormat.summary(s, precision: column.precision)
                }
            })
        }
        let widths = columns.indices.map { i in rows.map { $0[i].count }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            zip(columns, zip(cells, widths)).map { column, cw in
                let pad = String(repeating: " ", count: cw.1 - cw.0.count)
                return column.kind == .parameter ? cw.0 + pad : pad + cw.0
            }.joined(separator: "  ")
        }
        var out = "\(result.experiment) (seed \(result.seed)): \(result.title)\n"
        out += "\(result.machine.kernel), \(result.machine.cpus) CPUs, \(result.machine.model)"
        out += result.machine.virtualised ? " (virtualised)" : ""
        out += "; median of \(result.repetitions) runs (min–max)\(result.quick ? ", quick" : "")\n\n"
        out += line(rows[0]) + "\n"
        out += widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ") + "\n"
        for row in rows.dropFirst() { out += line(row) + "\n" }
        for point in result.points where !point.errors.isEmpty {
            out += "\n\(LabPoint(point.orderedParameters(result.parameters))): \(point.errors.joined(separator: "; "))"
        }
        for note in result.notes { out += "\nnote: \(note)" }
        return out + "\n\n"
    }

    /// Every parameter axis, then every figure key seen, for results without columns.
    static func defaultColumns(_ result: LabResult) -> [LabColumn] {
        let figures = Set(result.points.flatMap { $0.summary.keys }).sorted()
        return result.parameters.map { LabColumn.parameter($0.name) } + figures.map { LabColumn(kind: .figure, key: $0, title: $0) }
    }
}
