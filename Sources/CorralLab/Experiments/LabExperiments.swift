/// Every experiment `corral lab` knows, in the order `corral lab all` runs them.
public enum LabExperiments {
    /// The experiments; those that take `--net` get `network` (the others always run in one
    /// host: wake-ups, hand-offs and message passing between local processes); `backends`
    /// the backends `--backend` asked for (nil: every one this build offers).
    public static func all(network: LabNetwork? = nil, backends: [String]? = nil) -> [any LabExperiment] {
        [
            HerdExperiment(),
            BalanceExperiment(network: network),
            NagleExperiment(network: network),
            YieldExperiment(),
            MeshExperiment(),
            ModelsExperiment(network: network),
            BackendsExperiment(backends: backends),
        ]
    }

    /// The names of the experiments that take `--net`.
    public static let networked: Set<String> = ["balance", "nagle", "models"]

    /// The experiment called `name`, or nil.
    public static func named(_ name: String, network: LabNetwork? = nil, backends: [String]? = nil) -> (any LabExperiment)? {
        all(network: network, backends: backends).first { $0.name == name }
    }
}
