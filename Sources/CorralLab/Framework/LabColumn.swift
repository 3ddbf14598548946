/// One column of an experiment's result table: a grid parameter or a measured figure.
///
/// Experiments declare their columns so that every table, JSON file and HTML page
/// shows the same figures in the same order, with units.
public struct LabColumn: Codable, Sendable, Equatable {
    /// Whether the column shows a parameter of the point or a figure of the runs.
    public enum Kind: String, Codable, Sendable { case parameter, figure }

    /// What the column shows.
    public var kind: Kind
    /// Parameter name or figure key (as returned by `run(point:)`).
    public var key: String
    /// Header text, e.g. `wake-ups/conn`.
    public var title: String
    /// Unit shown after the header, e.g. `µs`; empty for none.
    public var unit: String
    /// Digits after the decimal point; `nil` picks by magnitude.
    public var precision: Int?
    /// The figure holding this figure's uncertainty (shown as `value ± u`), if it has one.
    public var uncertaintyKey: String?

    /// Build a column directly.
    public init(kind: Kind, key: String, title: String, unit: String = "", precision: Int? = nil, uncertaintyKey: String? = nil) {
        self.kind = kind
        self.key = key
        self.title = title
        self.unit = unit
        self.precision = precision
        self.uncertaintyKey = uncertaintyKey
    }

    /// A column showing the grid parameter `key` (header defaults to the key).
    public static func parameter(_ key: String, title: String? = nil) -> LabColumn {
        LabColumn(kind: .parameter, key: key, title: title ?? key)
    }

    /// A column showing the median (and min–max) of figure `name`; with `uncertainty`, the
    /// median of that figure follows as `± u` (for figures measured against noise).
    public static func figure<Name: LabFigureName>(_ name: Name, title: String? = nil, unit: String = "", precision: Int? = nil,
                                                   uncertainty: Name? = nil) -> LabColumn {
        LabColumn(kind: .figure, key: name.rawValue, title: title ?? name.rawValue, unit: unit, precision: precision,
                  uncertaintyKey: uncertainty?.rawValue)
    }

    /// Header text with the unit in parentheses when there is one.
    public var header: String { unit.isEmpty ? title : "\(title) (\(unit))" }
}

/// A chart an experiment wants in its HTML page: one figure against one parameter,
/// with one bar (or line) per value of a second parameter.
///
/// Points that differ in other parameters are drawn as separate charts (one per
/// combination), so a 3-axis grid still gives readable 2-D charts.
public struct LabChart: Codable, Sendable, Equatable {
    /// How the values are drawn.
    public enum Style: String, Codable, Sendable { case bars, lines }

    /// Chart title.
    public var title: String
    /// Figure key plotted on the y axis.
    public var figure: String
    /// Parameter on the x axis (categories in grid order).
    public var x: String
    /// Parameter giving the series (one colour each); `nil` for a single series.
    public var series: String?
    /// Unit of the y axis.
    public var unit: String
    /// Logarithmic y axis, for latencies spanning decades.
    public var logScale: Bool
    /// Bars (grouped per x value) or lines.
    public var style: Style

    /// A chart of figure `name`.
    public init(title: String, figure name: some LabFigureName, x: String, series: String? = nil, unit: String = "",
                logScale: Bool = false, style: Style = .bars) {
        self.init(title: title, figureKey: name.rawValue, x: x, series: series, unit: unit, logScale: logScale, style: style)
    }

    /// A chart of the figure stored under `figureKey` (for results read back from JSON).
    public init(title: String, figureKey: String, x: String, series: String? = nil, unit: String = "",
                logScale: Bool = false, style: Style = .bars) {
        self.title = title
        self.figure = figureKey
        self.x = x
        self.series = series
        self.unit = unit
        self.logScale = logScale
        self.style = style
    }
}
