import Foundation

/// How the runner repeats points and reports progress.
public struct LabRunOptions: Sendable {
    /// Smaller grid and shorter runs (`--quick`).
    public var quick: Bool
    /// Runs per grid point; the median over them is reported.
    public var repetitions: Int
    /// Where progress goes.
    public var progress: LabProgressStyle

    /// Options with the defaults: full grid, 3 repetitions, automatic progress.
    public init(quick: Bool = false, repetitions: Int = 3, progress: LabProgressStyle = .automatic) {
        self.quick = quick
        self.repetitions = max(1, repetitions)
        self.progress = progress
    }
}

/// Runs experiments: every grid point `repetitions` times, with progress on stderr,
/// then a summary table on stdout; returns the ``LabResult`` for JSON and HTML.
public struct LabRunner: Sendable {
    /// The options in force.
    public var options: LabRunOptions
    /// Where the table goes (stdout by default).
    public var output: @Sendable (String) -> Void

    /// A runner; `output` receives the finished table (defaults to stdout).
    public init(options: LabRunOptions = LabRunOptions(),
                output: @escaping @Sendable (String) -> Void = { print($0, terminator: ""); fflush(nil) }) {
        self.options = options
        self.output = output
    }

    /// Run one experiment, print its table, and return the result.
    @discardableResult
    public func run(_ experiment: any LabExperiment) -> LabResult {
        let result = measure(experiment)
        output(LabTable.render(result))
        return result
    }

    /// Run several experiments in order.
    @discardableResult
    public func run(_ experiments: [any LabExperiment]) -> [LabResult] {
        experiments.map { run($0) }
    }

    /// Run one experiment without printing the table (progress is still shown).
    public func measure(_ experiment: any LabExperiment) -> LabResult {
        let started = Date()
        let grid = experiment.grid(quick: options.quick)
        let progress = LabProgress(style: options.progress, experiment: experiment.name,
                                   totalRuns: grid.count * options.repetitions)
        let context = LabContext()
        var points: [LabPointResult] = []
        var skips: [(reason: String, points: [LabPoint])] = []
        for (index, point) in grid.enumerated() {
            var runs: [[String: Double]] = []
            var errors: [String] = []
            let pointStart = Date()
            for rep in 0..<options.repetitions {
                progress.willRun(point: point, index: index, of: grid.count, repetition: rep, of: options.repetitions)
                do {
                    runs.append(try experiment.measureOnce(point: point, in: context))
                } catch let skip as LabSkip {
                    errors.append(skip.description)
                    if let i = skips.firstIndex(where: { $0.reason == skip.reason }) {
                        skips[i].points.append(point)
                    } else {
                        skips.append((skip.reason, [point]))
                    }
                    break
                } catch {
                    errors.append(String(describing: error))
                }
            }
            let result = LabPointResult(point: point, runs: runs, errors: errors)
            points.append(result)
            progress.didFinish(point: point, index: index, of: grid.count, result: result,
                               seconds: Date().timeIntervalSince(pointStart))
        }
        context.close()
        progress.finish()
        // One note per reason, not one per skipped point.
        var notes = skips.map { skip in
            skip.points.count == 1 ? "\(skip.points[0]): skipped: \(skip.reason)"
                : "\(skip.points.count) points skipped (\(skip.points[0]) …): \(skip.reason)"
        }
        notes += context.notes
        notes += experiment.notes(for: points)
        return LabResult(
            experiment: experiment.name, seed: experiment.seed, title: experiment.title,
            question: experiment.question, method: experiment.method,
            quick: options.quick, repetitions: options.repetitions,
            started: LabFormat.iso8601(started), finished: LabFormat.iso8601(Date()),
            machine: MachineInfo.current(), parameters: LabGrid.axes(of: grid),
            columns: experiment.columns, charts: experiment.charts, points: points, notes: notes,
            today: Dictionary(uniqueKeysWithValues: experiment.todayFigures(for: points).map { ($0.key.rawValue, $0.value) }))
    }
}
