/// One lab experiment: a question from a seed document, a parameter grid, and a
/// function that measures one grid point once.
///
/// The runner (``LabRunner``) does everything else: repetitions, progress, medians
/// and spread, the table, JSON and the HTML page. An experiment only measures.
public protocol LabExperiment: Sendable {
    /// Command-line name, e.g. `herd`.
    var name: String { get }
    /// The seed document's number, e.g. `002` (see ``SeedFigures``).
    var seed: String { get }
    /// A short human title, e.g. `Thundering herd on accept()`.
    var title: String { get }
    /// The question the experiment answers, one or two sentences.
    var question: String { get }
    /// How it is measured, a short paragraph for the report.
    var method: String { get }
    /// The grid to run. `quick` asks for a smaller grid and shorter runs (put run
    /// lengths in the points, e.g. `"seconds": "0.5"`, so they are recorded).
    func grid(quick: Bool) -> [LabPoint]
    /// Table columns in order (parameters first, then figures).
    var columns: [LabColumn] { get }
    /// Charts for the HTML page. Default: one bar chart per figure column, x = first
    /// parameter column, series = second parameter column.
    var charts: [LabChart] { get }
    /// Measure `point` once and return its figures keyed by name (e.g.
    /// `"wakeups_per_conn": 1.0`). Throwing marks this run failed; the runner records
    /// the error and goes on.
    func run(point: LabPoint) throws -> [String: Double]
    /// Sentences for the report drawn from the results, e.g. "the 20 %-CPU effect does
    /// not appear on this kernel because …". Default: none.
    func notes(for points: [LabPointResult]) -> [String]
    /// Today's values for the seed's figures, keyed by ``SeedFigure/id``, shown next to
    /// the originals in the report's "the seed reported" box. Default: none.
    func todayFigures(for points: [LabPointResult]) -> [String: String]
    /// Rough wall time of a whole run, for the CLI to announce; `nil` if unknown.
    func estimatedSeconds(quick: Bool) -> Double?
}

extension LabExperiment {
    public var charts: [LabChart] { LabExperimentDefaults.charts(for: columns) }
    public func notes(for points: [LabPointResult]) -> [String] { [] }
    public func todayFigures(for points: [LabPointResult]) -> [String: String] { [:] }
    public func estimatedSeconds(quick: Bool) -> Double? { nil }
}

/// Defaults derived from an experiment's declarations.
public enum LabExperimentDefaults {
    /// One bar chart per figure column against the first parameter column, grouped by
    /// the second parameter column if there is one.
    public static func charts(for columns: [LabColumn]) -> [LabChart] {
        let params = columns.filter { $0.kind == .parameter }
        guard let x = params.first else { return [] }
        return columns.filter { $0.kind == .figure }.map {
            LabChart(title: $0.title, figure: $0.key, x: x.key, series: params.dropFirst().first?.key, unit: $0.unit)
        }
    }
}

/// Thrown by `run(point:)` when a point cannot run here (no permission for a
/// namespace, too few CPUs …). The runner records it as a note rather than a failure.
public struct LabSkip: Error, Sendable, CustomStringConvertible {
    /// Why the point was skipped.
    public var reason: String
    /// Build a skip with its reason.
    public init(_ reason: String) { self.reason = reason }
    public var description: String { "skipped: \(reason)" }
}
