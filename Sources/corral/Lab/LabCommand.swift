import ArgumentParser

/// `corral lab`: the experiments (`corral lab [EXPERIMENT|all]`, the default) and the comparison
/// of two runs (`corral lab compare A.json B.json`).
struct LabCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lab",
        abstract: "Reproduce the classic Linux server-scalability experiments on this machine, and compare runs.",
        subcommands: [LabRunCommand.self, LabCompareCommand.self],
        defaultSubcommand: LabRunCommand.self
    )
}
