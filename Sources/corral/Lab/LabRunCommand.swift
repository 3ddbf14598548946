import ArgumentParser
import CorralLab
import Foundation

/// `corral lab [run] [EXPERIMENT|all]`: reproduce the seeds' experiments on this kernel.
struct LabRunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the experiments (the default: `corral lab herd` is `corral lab run herd`).",
        discussion: "Experiments: \(LabExperiments.all().map(\.name).joined(separator: ", ")) (or `all`, the default). "
            + "Runs are bounded in time; each grid point is repeated (median reported, spread shown); a table goes to "
            + "stdout, JSON to --json, an HTML report to --report. "
            + "--net puts client and server of \(LabExperiments.networked.sorted().joined(separator: ", ")) in two network "
            + "namespaces (root only), joined by a veth pair or an emulated wire: wire:DELAY[,jitter=J][,loss=P][,rate=R], "
            + "DELAY the round trip added (e.g. wire:20ms,loss=1%,rate=10mbit); tc netem where the kernel has it, else "
            + "Corral's own wire (CORRAL_LAB_WIRE=corral forces it). Without --net, nagle sweeps loopback, veth and "
            + "wires of 0.2, 2 and 20 ms."
    )

    @Argument(help: "An experiment name, or `all`.")
    var experiment = "all"

    @Flag(help: "Smaller grids and shorter runs (`all --quick` takes under a minute on 2 CPUs).")
    var quick = false

    @Option(help: "Repetitions of each grid point.")
    var repeats = 3

    @Option(help: "loopback, veth, or wire:DELAY[,jitter=J][,loss=P][,rate=R] (for \(LabExperiments.networked.sorted().joined(separator: ", "))).")
    var net: String?

    @Option(help: "Backends for `backends`, comma-separated (\(BackendsExperiment.known.joined(separator: ", "))); default: every one this machine offers (uring where io_uring can be set up).")
    var backend: String?

    @Option(help: "Write the results as JSON (schema corral.lab/1) to this file.")
    var json: String?

    @Option(help: "Write the HTML report (index.html plus one page per experiment) into this directory.")
    var report = "lab-report"

    func validate() throws {
        guard experiment == "all" || LabExperiments.named(experiment) != nil else {
            let names = LabExperiments.all().map(\.name).joined(separator: ", ")
            throw ValidationError("unknown experiment '\(experiment)' (choose from \(names), all)")
        }
        guard repeats >= 1, repeats <= 50 else { throw ValidationError("--repeats must be 1…50") }
        if let backends = backendList {
            if let unknown = backends.first(where: { !BackendsExperiment.known.contains($0) }) {
                throw ValidationError("unknown backend '\(unknown)' (choose from \(BackendsExperiment.known.joined(separator: ", ")))")
            }
            if backends.isEmpty { throw ValidationError("--backend needs at least one backend") }
        }
        if let net {
            do {
                _ = try LabNetwork(parsing: net)
            } catch {
                throw ValidationError("\(error)")
            }
            if experiment != "all" && !LabExperiments.networked.contains(experiment) {
                throw ValidationError("\(experiment) does not take --net (it measures what happens inside one host); --net is for \(LabExperiments.networked.sorted().joined(separator: ", "))")
            }
        }
    }

    func run() throws {
        let network = try net.map { try LabNetwork(parsing: $0) }
        let backends = backendList
        var chosen = experiment == "all" ? LabExperiments.all(network: network, backends: backends)
            : [LabExperiments.named(experiment, network: network, backends: backends)!]
        if network != nil { chosen = chosen.filter { LabExperiments.networked.contains($0.name) } }
        let wantsNamespaces = network?.needsNamespaces ?? chosen.contains { $0.name == "nagle" }
        if wantsNamespaces, let reason = LabNetworkPath.namespacesUnavailable() {
            if let network {
                warn("corral lab: --net \(network) skipped: \(reason)")
                return
            }
            warn("corral lab: nagle's veth and wire points skipped: \(reason)")
        }
        let estimate = chosen.compactMap { $0.estimatedSeconds(quick: quick) }.reduce(0, +) * Double(repeats) / 3
        if estimate > 0 {
            let note = quick ? "" : " (add --quick for a shorter run)"
            warn("corral lab: about \(Int(estimate.rounded())) s\(note)")
        }
        let runner = LabRunner(options: LabRunOptions(quick: quick, repetitions: repeats))
        var results: [LabResult] = []
        for experiment in chosen {
            results.append(runner.run(experiment))
            // Write after each experiment: an interrupted `all` run keeps what it measured.
            try save(results, complete: results.count == chosen.count)
        }
    }

    private var backendList: [String]? {
        backend.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
    }

    private func warn(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    private func save(_ results: [LabResult], complete: Bool) throws {
        if let json {
            do { try LabJSON.write(results, to: json) } catch { throw CLIError("cannot write \(json): \(error)") }
        }
        do {
            let pages = try HTMLReport.write(results, to: report)
            if complete { printFlushed("report: \(report)/index.html (\(pages.count) pages)") }
        } catch {
            throw CLIError("cannot write the report to \(report): \(error)")
        }
    }
}
