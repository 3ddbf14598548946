/// Every experiment `corral lab` knows, in the order `corral lab all` runs them.
public enum LabExperiments {
    public static let all: [any LabExperiment] = [
        HerdExperiment(),
        BalanceExperiment(),
        NagleExperiment(),
        YieldExperiment(),
        MeshExperiment(),
        ModelsExperiment(),
    ]

    /// The experiment called `name`, or nil.
    public static func named(_ name: String) -> (any LabExperiment)? {
        all.first { $0.name == name }
    }
}
