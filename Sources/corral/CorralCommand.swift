import ArgumentParser
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
    mutating func write(_ string: String) { _ = string.withCString { Glibc.write(2, $0, strlen($0)) } }
}
