import CorralRuntime
#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Where and how the runner shows progress.
public enum LabProgressStyle: Sendable {
    /// A live bar when stderr is a terminal, otherwise one line per finished point.
    case automatic
    /// Always the live bar (redrawn with `\r`).
    case bar
    /// One line per finished point.
    case lines
    /// Nothing.
    case none

    /// `.bar` if stderr is a terminal, else `.lines`; other styles unchanged.
    public var resolved: LabProgressStyle {
        guard case .automatic = self else { return self }
        return isatty(2) == 1 ? .bar : .lines
    }
}

/// Progress reporting on stderr, so that stdout carries only the table.
final class LabProgress: @unchecked Sendable {
    private let style: LabProgressStyle
    private let experiment: String
    private let totalRuns: Int
    private var doneRuns = 0
    private let start = Date()

    init(style: LabProgressStyle, experiment: String, totalRuns: Int) {
        self.style = style.resolved
        self.experiment = experiment
        self.totalRuns = max(1, totalRuns)
    }

    func willRun(point: LabPoint, index: Int, of count: Int, repetition: Int, of repetitions: Int) {
        doneRuns = index * repetitions + repetition
        guard case .bar = style else { return }
        let width = 24
        let filled = width * doneRuns / totalRuns
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        let elapsed = Date().timeIntervalSince(start)
        var eta = ""
        if doneRuns > 0 {
            eta = " eta " + LabFormat.duration(elapsed / Double(doneRuns) * Double(totalRuns - doneRuns))
        }
        var line = "\(experiment) [\(bar)] \(index + 1)/\(count) \(point) run \(repetition + 1)/\(repetitions)\(eta)"
        if line.count > 150 { line = String(line.prefix(149)) + "…" }
        write("\r\u{1B}[2K" + line)
    }

    func didFinish(point: LabPoint, index: Int, of count: Int, result: LabPointResult, seconds: Double) {
        guard case .lines = style else { return }
        let failed = result.errors.isEmpty ? "" : ", \(result.errors.count) failed"
        write("\(experiment) \(index + 1)/\(count) \(point): \(result.runs.count) runs in \(LabFormat.duration(seconds))\(failed)\n")
    }

    func finish() {
        if case .bar = style { write("\r\u{1B}[2K") }
    }

    private func write(_ s: String) {
        var bytes = Array(s.utf8)[...]
        while !bytes.isEmpty {
            // Progress is best effort: a closed or full standard error drops the line, never the run.
            guard let n = try? bytes.withUnsafeBytes({ (buffer) throws(SystemError) -> Int in try Posix.writeBlocking(2, buffer) }),
                  n > 0 else { return }
            bytes = bytes.dropFirst(n)
        }
    }
}
