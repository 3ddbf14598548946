import ArgumentParser
import CorralLab
import Foundation

/// `corral lab compare A.json B.json`: two lab runs side by side.
struct LabCompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Compare two lab runs (JSON from --json): B/A per figure, and whether it is beyond the run-to-run spread.",
        discussion: "Points are matched by their parameters; a figure differs when the min–max ranges of its repetitions "
            + "in A and B do not overlap. Prints a table and writes an HTML page."
    )

    @Argument(help: "The baseline run's JSON.")
    var a: String

    @Argument(help: "The run to compare with it.")
    var b: String

    @Option(help: "Write the HTML page here.")
    var html = "lab-compare.html"

    @Flag(help: "Print only the figures that differ beyond the spread.")
    var changed = false

    func run() throws {
        let comparison = LabComparison(a: try load(a), b: try load(b), labelA: a, labelB: b)
        print(comparison.table(onlyChanged: changed), terminator: "")
        do {
            try Data(comparison.html().utf8).write(to: URL(fileURLWithPath: html), options: .atomic)
        } catch {
            throw CLIError("cannot write \(html): \(error)")
        }
        printFlushed("comparison: \(html)")
    }

    private func load(_ path: String) throws -> [LabResult] {
        guard let data = FileManager.default.contents(atPath: path) else { throw CLIError("cannot read \(path)") }
        do {
            return try LabJSON.decodeAll(data)
        } catch {
            throw CLIError("\(path) is not lab JSON (corral.lab/1): \(error)")
        }
    }
}
