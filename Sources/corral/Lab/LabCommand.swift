import ArgumentParser
import CorralLab
import Foundation

/// `corral lab [EXPERIMENT|all]`: reproduce the seeds' experiments on this kernel.
struct LabCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lab",
        abstract: "Reproduce the classic Linux server-scalability experiments on this machine.",
        discussion: "Experiments: \(LabExperiments.all.map(\.name).joined(separator: ", ")) (or `all`, the default). "
            + "Everything runs on loopback, bounded in time. Each grid point is repeated (median reported, "
            + "spread shown); a table goes to stdout, JSON to --json, an HTML report to --report."
    )

    @Argument(help: "An experiment name, or `all`.")
    var experiment = "all"

    @Flag(help: "Smaller grids and shorter runs (`all --quick` takes about 3 minutes on 2 CPUs).")
    var quick = false

    @Option(help: "Repetitions of each grid point.")
    var repeats = 3

    @Option(help: "Write the results as JSON (schema corral.lab/1) to this file.")
    var json: String?

    @Option(help: "Write the HTML report (index.html plus one page per experiment) into this directory.")
    var report = "lab-report"

    func validate() throws {
        guard experiment == "all" || LabExperiments.named(experiment) != nil else {
            let names = LabExperiments.all.map(\.name).joined(separator: ", ")
            throw ValidationError("unknown experiment '\(experiment)' (choose from \(names), all)")
        }
        guard repeats >= 1, repeats <= 50 else { throw ValidationError("--repeats must be 1…50") }
    }

    func run() throws {
        let chosen = experiment == "all" ? LabExperiments.all : [LabExperiments.named(experiment)!]
        let estimate = chosen.compactMap { $0.estimatedSeconds(quick: quick) }.reduce(0, +) * Double(repeats) / 3
        if estimate > 0 {
            let note = quick ? "" : " (add --quick for a shorter run)"
            FileHandle.standardError.write(Data("corral lab: about \(Int(estimate.rounded())) s\(note)\n".utf8))
        }
        let runner = LabRunner(options: LabRunOptions(quick: quick, repetitions: repeats))
        var results: [LabResult] = []
        for experiment in chosen {
            results.append(runner.run(experiment))
            // Write after each experiment: an interrupted `all` run keeps what it measured.
            try save(results)
        }
    }

    private func save(_ results: [LabResult]) throws {
        if let json {
            do { try LabJSON.write(results, to: json) } catch { throw CLIError("cannot write \(json): \(error)") }
        }
        do {
            let pages = try HTMLReport.write(results, to: report)
            if results.count == (experiment == "all" ? LabExperiments.all.count : 1) {
                printFlushed("report: \(report)/index.html (\(pages.count) pages)")
            }
        } catch {
            throw CLIError("cannot write the report to \(report): \(error)")
        }
    }
}
