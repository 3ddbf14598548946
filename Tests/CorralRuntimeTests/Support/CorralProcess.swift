import Foundation

/// The `corral` executable built next to the test bundle, run as a child process.
final class CorralProcess: @unchecked Sendable {
    let process = Process()
    private let output = Pipe()
    private var buffered = Data()
    private(set) var port: UInt16 = 0

    /// The built `corral` binary: a sibling of the running test executable.
    static var binary: URL {
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        return exe.deletingLastPathComponent().appendingPathComponent("corral")
    }

    /// Starts `prefix + [corral] + arguments` and waits for its "listening on HOST:PORT" line.
    init(_ arguments: [String], prefix: [String] = []) throws {
        if prefix.isEmpty {
            process.executableURL = Self.binary
            process.arguments = arguments
        } else {
            process.executableURL = URL(fileURLWithPath: prefix[0])
            process.arguments = Array(prefix.dropFirst()) + [Self.binary.path] + arguments
        }
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let line = try readLine()
        guard line.hasPrefix("listening on "), let colon = line.split(separator: " ")[2].lastIndex(of: ":"),
            let port = UInt16(line.split(separator: " ")[2][line.split(separator: " ")[2].index(after: colon)...])
        else {
            process.terminate()
            throw CocoaError(.fileReadCorruptFile, userInfo: [NSLocalizedDescriptionKey: "unexpected first line: \(line)"])
        }
        self.port = port
    }

    private func readLine() throws -> String {
        while true {
            if let newline = buffered.firstIndex(of: 10) {
                let line = String(decoding: buffered[..<newline], as: UTF8.self)
                buffered.removeSubrange(...newline)
                return line
            }
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { return String(decoding: buffered, as: UTF8.self) }
            buffered += chunk
        }
    }

    /// Sends SIGTERM, waits for exit and returns (status, everything printed after the first line).
    func terminate() -> (Int32, String) {
        process.terminate()
        let rest = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: buffered + rest, as: UTF8.self))
    }

    var pid: Int32 { process.processIdentifier }
}

/// Open descriptors of a process, from /proc/PID/fd.
func openDescriptorCount(pid: Int32) -> Int {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
}
