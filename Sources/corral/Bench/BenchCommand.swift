import ArgumentParser

/// `corral bench`: load generators.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Generate load against a server and report throughput and latency.",
        subcommands: [BenchRRCommand.self, BenchHTTPCommand.self]
    )
}
