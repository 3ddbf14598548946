import Foundation
import Glibc
@testable import CorralRuntime

/// `corral serve` run as a child process (for what only a process shows: signals, its
/// descriptor limit, its exit status). Started through `/bin/sh` so a test can set limits
/// (`ulimit`) first; stdout and stderr are kept apart.
final class ServeProcess: @unchecked Sendable {
    let process = Process()
    private let output = Pipe()
    private let errors = Pipe()
    private var buffered = Data()
    let address: SocketAddress

    /// The `corral` binary built next to the test bundle.
    static var binary: String {
        URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("corral").path
    }

    /// Runs `shellPrefix; exec corral serve ROOT --port 0 ARGUMENTS` and waits for its
    /// "listening on" line.
    init(root: String, _ arguments: [String] = [], shellPrefix: String = "") throws {
        let loops = arguments.contains("--loops") ? [] : ["--loops", "2"]
        let quoted = ([Self.binary, "serve", root, "--port", "0"] + loops + arguments)
            .map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", (shellPrefix.isEmpty ? "" : shellPrefix + "; ") + "exec " + quoted]
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        var line = ""
        while true {
            if let newline = buffered.firstIndex(of: 10) {
                line = String(decoding: buffered[..<newline], as: UTF8.self)
                buffered.removeSubrange(...newline)
                break
            }
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            buffered += chunk
        }
        let words = line.split(separator: " ")
        guard words.count > 2, words[0] == "listening", let parsed = try? SocketAddress(parsing: String(words[2])) else {
            process.terminate()
            throw SystemError("corral serve did not start: '\(line)'", errno: .ioError)
        }
        address = parsed
    }

    var pid: Int32 { process.processIdentifier }

    func signal(_ number: CInt) { kill(pid, number) }

    /// Sends SIGTERM, waits for the exit; returns its status, stdout after the first line, stderr.
    func stop() -> (status: Int32, output: String, errors: String) {
        if process.isRunning { signal(SIGTERM) }
        let rest = output.fileHandleForReading.readDataToEndOfFile()
        let errorText = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: buffered + rest, as: UTF8.self),
                String(decoding: errorText, as: UTF8.self))
    }

    /// The targets of the process's open descriptors (from /proc/PID/fd).
    var openDescriptors: [String] {
        let directory = "/proc/\(pid)/fd"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.compactMap { try? FileManager.default.destinationOfSymbolicLink(atPath: directory + "/" + $0) }
    }
}
