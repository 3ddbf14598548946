/// One lab experiment: a question from a seed document, a parameter grid, and a
/// function that measures one grid point once.
///
/// The runner (``LabRunner``) does everything else: repetitions, progress, medians
/// and spread, the table, JSON and the HTML page. An experiment only measures.
public protocol LabExperiment: Sendable {
    /// The names of the figures its runs return.
    associatedtype Figure: LabFigureName

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
    /// Measure `point` once. `context` holds what runs share (network namespaces, tracers)
    /// and is closed after the experiment's last point. Throwing marks this run failed
    /// (``LabSkip``: skipped, with its reason in the notes); the runner goes on.
    func run(point: LabPoint, in context: LabContext) throws -> LabFigures<Figure>
    /// Sentences for the report drawn from the results, e.g. "the 20 %-CPU effect does
    /// not appear on this kernel because …". Default: none.
    func notes(for points: [LabPointResult]) -> [String]
    /// Today's values for the seed's figures, shown next to the originals in the report's
    /// "the seed reported" box. Default: none.
    func todayFigures(for points: [LabPointResult]) -> [SeedFigureID: String]
    /// Rough wall time of a whole run (3 repetitions), for the CLI to announce; `nil` if unknown.
    func estimatedSeconds(quick: Bool) -> Double?
}

extension LabExperiment {
    public var charts: [LabChart] { LabExperimentDefaults.charts(for: columns) }
    public func notes(for points: [LabPointResult]) -> [String] { [] }
    public func todayFigures(for points: [LabPointResult]) -> [SeedFigureID: String] { [:] }
    public func estimatedSeconds(quick: Bool) -> Double? { nil }

    /// Measure `point` once with a context of its own, closed afterwards (for tests and
    /// single measurements).
    public func run(point: LabPoint) throws -> LabFigures<Figure> {
        let context = LabContext()
        defer { context.close() }
        return try run(point: point, in: context)
    }

    /// One run with its figures keyed by their JSON names, as the runner stores them.
    func measureOnce(point: LabPoint, in context: LabContext) throws -> [String: Double] {
        try run(point: point, in: context).byKey
    }

    /// The median of `figure` at the first point whose parameters include every pair of
    /// `parameters`, or `nil`: how notes and seed figures read results.
    public func median(_ points: [LabPointResult], _ figure: Figure, where parameters: [String: String]) -> Double? {
        points.first { p in parameters.allSatisfy { p.parameters[$0.key] == $0.value } }?.median(figure)
    }
}

/// Defaults derived from an experiment's declarations.
public enum LabExperimentDefaults {
    /// One bar chart per figure column against the first parameter column, grouped by
    /// the second parameter column if there is one.
    public static func charts(for columns: [LabColumn]) -> [LabChart] {
        let params = columns.filter { $0.kind == .parameter }
        guard let x = params.first else { return [] }
        return columns.filter { $0.kind == .figure }.map {
            LabChart(title: $0.title, figureKey: $0.key, x: x.key, series: params.dropFirst().first?.key, unit: $0.unit)
        }
    }
}

/// Thrown by `run(point:in:)` when a point cannot run here (no permission for a
/// namespace, too few CPUs …). The runner records it as a note rather than a failure.
public struct LabSkip: Error, Sendable, CustomStringConvertible {
    /// Why the point was skipped.
    public var reason: String
    /// Build a skip with its reason.
    public init(_ reason: String) { self.reason = reason }
    public var description: String { "skipped: \(reason)" }
}
