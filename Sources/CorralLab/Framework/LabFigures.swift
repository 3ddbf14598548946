/// The name of a figure an experiment measures, checked by the compiler wherever the figure is
/// produced (a run), shown (columns, charts) or read back (notes, the seed box).
///
/// Each experiment declares its names as a `String` enum whose raw values are the keys in
/// JSON, e.g. `case wakeupsPerConnection = "wakeups_per_conn"`; a misspelt name does not build.
public protocol LabFigureName: RawRepresentable, Hashable, Sendable where RawValue == String {}

/// The figures of one run, by name.
public struct LabFigures<Name: LabFigureName>: Sendable, Equatable, ExpressibleByDictionaryLiteral {
    /// Every figure measured.
    public private(set) var values: [Name: Double]

    /// No figures yet.
    public init() { values = [:] }

    /// Figures from a literal: `[.requests: 10, .errors: 0]`.
    public init(dictionaryLiteral elements: (Name, Double)...) {
        values = Dictionary(elements, uniquingKeysWith: { _, last in last })
    }

    /// The figure `name`, or `nil` when the run did not measure it; assigning `nil` removes it.
    public subscript(name: Name) -> Double? {
        get { values[name] }
        set { values[name] = newValue }
    }

    /// Adds every figure of `other` (its values win).
    public mutating func merge(_ other: LabFigures<Name>) {
        values.merge(other.values) { _, new in new }
    }

    /// The figures keyed by their JSON names, as a ``LabPointResult`` stores them.
    public var byKey: [String: Double] {
        Dictionary(uniqueKeysWithValues: values.map { ($0.key.rawValue, $0.value) })
    }
}

extension LabPointResult {
    /// The median of figure `name` over the runs, or `nil`.
    public func median(_ name: some LabFigureName) -> Double? { summary[name.rawValue]?.median }

    /// The summary (median, min, max) of figure `name`, or `nil`.
    public func summary(_ name: some LabFigureName) -> FigureSummary? { summary[name.rawValue] }
}
