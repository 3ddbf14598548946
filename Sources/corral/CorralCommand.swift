import ArgumentParser
import CorralRuntime
import Glibc

/// The `corral` command: lists the subcommands and nothing else.
@main
struct CorralCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "corral",
        abstract: "A Linux-native networking runtime, HTTP/1.1 static-file server and scalability lab.",
        subcommands: [ServeCommand.self, EchoCommand.self, BenchCommand.self, LabCommand.self, LabWorkerCommand.self]
    )

    /// Like the default entry point, but a bad flag or a failure prints one line, not the usage.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            let code = exitCode(for: error)
            if code == .success { exit(withError: error) }  // --help, --version
            var standardError = StandardError()
            print("corral: \(message(for: error))", to: &standardError)
            Glibc.exit(code.rawValue)
        }
    }
}

private struct StandardError: TextOutputStream {
    /// Best effort: a closed or full standard error loses the message, nothing else can report it.
    mutating func write(_ string: String) {
        var bytes = Array(string.utf8)[...]
        while !bytes.isEmpty,
              let n = try? bytes.withUnsafeBytes({ (buffer) throws(SystemError) -> Int in try Posix.writeBlocking(2, buffer) }), n > 0 {
            bytes = bytes.dropFirst(n)
        }
    }
}
