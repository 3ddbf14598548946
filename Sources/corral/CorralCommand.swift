import ArgumentParser

/// The `corral` command: lists the subcommands and nothing else.
@main
struct CorralCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "corral",
        abstract: "A Linux-native networking runtime, HTTP/1.1 static-file server and scalability lab.",
        subcommands: [EchoCommand.self]
    )
}
