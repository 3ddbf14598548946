import ArgumentParser
import CorralLab
import Glibc

/// `corral lab-worker KIND …`: a child process of the lab (mesh peers, server models), started by
/// re-executing this binary with posix_spawn. Not for people; hidden from the help.
struct LabWorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lab-worker", abstract: "A lab child process (internal).", shouldDisplay: false)

    @Argument(parsing: .captureForPassthrough) var arguments: [String] = []

    func run() throws {
        Glibc.exit(LabWorker.main(arguments))
    }
}
