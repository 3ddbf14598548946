import Foundation

/// Everything one experiment run produced; the JSON document (`"schema": "corral.lab/1"`)
/// and the input of the HTML report.
///
/// Stable and versioned: fields are only ever added within `corral.lab/1`; renaming or
/// removing one bumps the version. Reports can be re-rendered from the JSON alone,
/// which is why columns and charts are stored with the data.
public struct LabResult: Codable, Sendable, Equatable {
    /// The schema identifier written into every document.
    public static let schemaVersion = "corral.lab/1"

    /// Always ``schemaVersion`` when written by this code.
    public var schema: String
    /// Experiment name, e.g. `herd`.
    public var experiment: String
    /// Seed document number, e.g. `002`.
    public var seed: String
    /// Human title.
    public var title: String
    /// The question answered.
    public var question: String
    /// How it was measured.
    public var method: String
    /// Whether the quick grid was used.
    public var quick: Bool
    /// Runs per point.
    public var repetitions: Int
    /// Start time, ISO-8601 UTC.
    public var started: String
    /// End time, ISO-8601 UTC.
    public var finished: String
    /// The machine the figures come from.
    public var machine: MachineInfo
    /// The parameter grid as axes (name and values, in order).
    public var parameters: [LabAxis]
    /// Table columns.
    public var columns: [LabColumn]
    /// Charts for the HTML page.
    public var charts: [LabChart]
    /// One entry per grid point, in grid order.
    public var points: [LabPointResult]
    /// Sentences for the reader (skips, caveats, the experiment's conclusions).
    public var notes: [String]
    /// Today's values of the seed's figures, keyed by ``SeedFigure/id``.
    public var today: [String: String]

    /// Build a result; `schema` is set to ``schemaVersion``.
    public init(experiment: String, seed: String, title: String, question: String, method: String,
                quick: Bool, repetitions: Int, started: String, finished: String, machine: MachineInfo,
                parameters: [LabAxis], columns: [LabColumn], charts: [LabChart], points: [LabPointResult],
                notes: [String], today: [String: String] = [:]) {
        self.schema = Self.schemaVersion
        self.experiment = experiment
        self.seed = seed
        self.title = title
        self.question = question
        self.method = method
        self.quick = quick
        self.repetitions = repetitions
        self.started = started
        self.finished = finished
        self.machine = machine
        self.parameters = parameters
        self.columns = columns
        self.charts = charts
        self.points = points
        self.notes = notes
        self.today = today
    }
}

/// The runs of one grid point and their summary.
public struct LabPointResult: Codable, Sendable, Equatable {
    /// The point's parameters (JSON object; order is given by ``LabResult/parameters``).
    public var parameters: [String: String]
    /// Figures of each successful run, in run order.
    public var runs: [[String: Double]]
    /// Median, min and max of each figure over the runs (non-finite values ignored).
    public var summary: [String: FigureSummary]
    /// Errors of failed or skipped runs.
    public var errors: [String]

    /// Summarise the runs of `point`.
    public init(point: LabPoint, runs: [[String: Double]], errors: [String] = []) {
        self.parameters = point.dictionary
        self.runs = runs
        self.errors = errors
        var summary: [String: FigureSummary] = [:]
        for key in Set(runs.flatMap { $0.keys }) {
            if let s = FigureSummary(runs.compactMap { $0[key] }) { summary[key] = s }
        }
        self.summary = summary
    }

    /// The median of figure `key`, or `nil`.
    public func median(_ key: String) -> Double? { summary[key]?.median }

    /// Parameters ordered as the grid's axes (unknown ones last, by name).
    public func orderedParameters(_ axes: [LabAxis]) -> [LabParameter] {
        let known = axes.compactMap { a in parameters[a.name].map { LabParameter(a.name, $0) } }
        let rest = parameters.keys.filter { k in !axes.contains { $0.name == k } }.sorted()
        return known + rest.map { LabParameter($0, parameters[$0]!) }
    }
}

/// Encoding and decoding of ``LabResult`` documents.
public enum LabJSON {
    /// Pretty-printed, key-sorted JSON (stable diffs). Infinities and NaN, which JSON
    /// lacks, are written as the strings `"Infinity"`, `"-Infinity"` and `"NaN"`.
    public static func encode(_ result: LabResult) throws -> Data {
        try encoder().encode(result)
    }

    /// Several results as one JSON array (`corral lab all --json`).
    public static func encode(_ results: [LabResult]) throws -> Data {
        try encoder().encode(results)
    }

    /// Decode one document written by ``encode(_:)-(LabResult)``.
    public static func decode(_ data: Data) throws -> LabResult {
        try decoder().decode(LabResult.self, from: data)
    }

    /// Decode either one document or an array of them.
    public static func decodeAll(_ data: Data) throws -> [LabResult] {
        if let many = try? decoder().decode([LabResult].self, from: data) { return many }
        return [try decode(data)]
    }

    /// Write `results` to `path` (one object for one result, an array otherwise).
    public static func write(_ results: [LabResult], to path: String) throws {
        let data = results.count == 1 ? try encode(results[0]) : try encode(results)
        try data.write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    private static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return e
    }

    private static func decoder() -> JSONDecoder {
        let d = JSONDecoder()
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return d
    }
}
