import Foundation

/// A self-contained SVG bar or line chart: categories on x, one colour per series,
/// min–max whiskers, linear or logarithmic y axis.
///
/// Written by hand (no scripts, no fonts beyond the generic families) so the report
/// is one file that opens anywhere, offline.
public struct SVGChart: Sendable, Equatable {
    /// One coloured series: a value per category (nil = no data) with optional spread.
    public struct Series: Sendable, Equatable {
        /// Legend name.
        public var name: String
        /// One value per category.
        public var values: [Double?]
        /// Lower end of the whisker per category (nil = none).
        public var lows: [Double?]
        /// Upper end of the whisker per category (nil = none).
        public var highs: [Double?]

        /// Build a series; `lows` and `highs` default to no whiskers.
        public init(name: String, values: [Double?], lows: [Double?]? = nil, highs: [Double?]? = nil) {
            self.name = name
            self.values = values
            self.lows = lows ?? values.map { _ in nil }
            self.highs = highs ?? values.map { _ in nil }
        }
    }

    /// Title drawn above the plot.
    public var title: String
    /// Category labels along x.
    public var categories: [String]
    /// Label under the x axis (the parameter name).
    public var xLabel: String
    /// Label of the y axis (figure and unit).
    public var yLabel: String
    /// The series.
    public var series: [Series]
    /// Logarithmic y axis (non-positive values are not drawn).
    public var logScale: Bool
    /// Bars or lines.
    public var style: LabChart.Style
    /// Width in CSS pixels.
    public var width: Double = 560
    /// Height in CSS pixels.
    public var height: Double = 320

    /// Build a chart.
    public init(title: String, categories: [String], xLabel: String, yLabel: String, series: [Series],
                logScale: Bool = false, style: LabChart.Style = .bars) {
        self.title = title
        self.categories = categories
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
        self.logScale = logScale
        self.style = style
    }

    /// Colours for series, chosen to stay distinct for the colour-blind (Okabe–Ito).
    public static let palette = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]

    /// Whether any value can be drawn (finite, and positive on a log axis).
    public var hasData: Bool {
        series.contains { $0.values.contains { v in v.map { $0.isFinite && (!logScale || $0 > 0) } ?? false } }
    }

    /// The `<svg>` element. A chart without drawable data renders a labelled placeholder.
    public func render() -> String {
        let legendRows = series.count > 1 ? (series.count + 3) / 4 : 0
        let top = 34.0, left = 72.0, right = 16.0
        let bottom = 48.0 + Double(legendRows) * 18
        let plotW = width - left - right, plotH = height - top - bottom
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(f(width))\" height=\"\(f(height))\" viewBox=\"0 0 \(f(width)) \(f(height))\" role=\"img\" aria-label=\"\(HTML.escape(title))\" font-family=\"sans-serif\" font-size=\"11\">"
        svg += "<rect x=\"0\" y=\"0\" width=\"\(f(width))\" height=\"\(f(height))\" fill=\"#ffffff\"/>"
        svg += "<text x=\"\(f(width / 2))\" y=\"18\" text-anchor=\"middle\" font-size=\"13\" font-weight=\"bold\">\(HTML.escape(title))</text>"
        guard hasData, !categories.isEmpty else {
            svg += "<text x=\"\(f(width / 2))\" y=\"\(f(height / 2))\" text-anchor=\"middle\" fill=\"#666\">no data</text></svg>"
            return svg
        }
        let axis = YAxis(values: series.flatMap { s in (s.values + s.highs + s.lows).compactMap { $0 } }, log: logScale)
        func y(_ v: Double) -> Double { top + plotH * (1 - axis.position(v)) }

        // Grid lines and y tick labels.
        for tick in axis.ticks {
            let ty = y(tick)
            svg += "<line x1=\"\(f(left))\" y1=\"\(f(ty))\" x2=\"\(f(left + plotW))\" y2=\"\(f(ty))\" stroke=\"#e3e3e3\"/>"
            svg += "<text x=\"\(f(left - 6))\" y=\"\(f(ty + 4))\" text-anchor=\"end\" fill=\"#333\">\(HTML.escape(Self.compact(tick)))</text>"
        }
        svg += "<line x1=\"\(f(left))\" y1=\"\(f(top))\" x2=\"\(f(left))\" y2=\"\(f(top + plotH))\" stroke=\"#555\"/>"
        svg += "<line x1=\"\(f(left))\" y1=\"\(f(top + plotH))\" x2=\"\(f(left + plotW))\" y2=\"\(f(top + plotH))\" stroke=\"#555\"/>"
        let yl = yLabel + (logScale ? " (log scale)" : "")
        svg += "<text transform=\"translate(14 \(f(top + plotH / 2))) rotate(-90)\" text-anchor=\"middle\" fill=\"#333\">\(HTML.escape(yl))</text>"

        let groupW = plotW / Double(categories.count)
        for (i, c) in categories.enumerated() {
            svg += "<text x=\"\(f(left + groupW * (Double(i) + 0.5)))\" y=\"\(f(top + plotH + 15))\" text-anchor=\"middle\" fill=\"#333\">\(HTML.escape(c))</text>"
        }
        svg += "<text x=\"\(f(left + plotW / 2))\" y=\"\(f(top + plotH + 32))\" text-anchor=\"middle\" fill=\"#333\">\(HTML.escape(xLabel))</text>"

        let n = Double(max(1, series.count))
        let barW = groupW * 0.8 / n
        let showLabels = style == .bars && categories.count * series.count <= 16
        for (si, s) in series.enumerated() {
            let colour = Self.palette[si % Self.palette.count]
            var linePoints: [(Double, Double)] = []
            for i in categories.indices {
                guard i < s.values.count, let v = s.values[i], v.isFinite, !logScale || v > 0 else { continue }
                let cx: Double
                switch style {
                case .bars:
                    let x0 = left + groupW * Double(i) + groupW * 0.1 + barW * Double(si)
                    cx = x0 + barW / 2
                    let base = y(axis.lower), vy = y(v)
                    svg += "<rect x=\"\(f(x0))\" y=\"\(f(min(vy, base)))\" width=\"\(f(max(1, barW - 1)))\" height=\"\(f(max(1, abs(base - vy))))\" fill=\"\(colour)\"><title>\(HTML.escape("\(s.name) @ \(categories[i]): \(LabFormat.number(v))"))</title></rect>"
                    if showLabels {
                        svg += "<text x=\"\(f(cx))\" y=\"\(f(vy - 4))\" text-anchor=\"middle\" font-size=\"9\" fill=\"#222\">\(HTML.escape(Self.compact(v)))</text>"
                    }
                case .lines:
                    cx = left + groupW * (Double(i) + 0.5)
                    linePoints.append((cx, y(v)))
                    svg += "<circle cx=\"\(f(cx))\" cy=\"\(f(y(v)))\" r=\"3\" fill=\"\(colour)\"><title>\(HTML.escape("\(s.name) @ \(categories[i]): \(LabFormat.number(v))"))</title></circle>"
                }
                if i < s.lows.count, i < s.highs.count, let lo = s.lows[i], let hi = s.highs[i],
                   lo.isFinite, hi.isFinite, hi > lo, !logScale || lo > 0 {
                    svg += "<line x1=\"\(f(cx))\" y1=\"\(f(y(lo)))\" x2=\"\(f(cx))\" y2=\"\(f(y(hi)))\" stroke=\"#222\" stroke-width=\"1\"/>"
                    for e in [lo, hi] {
                        svg += "<line x1=\"\(f(cx - 3))\" y1=\"\(f(y(e)))\" x2=\"\(f(cx + 3))\" y2=\"\(f(y(e)))\" stroke=\"#222\"/>"
                    }
                }
            }
            if style == .lines, linePoints.count > 1 {
                let pts = linePoints.map { "\(f($0.0)),\(f($0.1))" }.joined(separator: " ")
                svg += "<polyline points=\"\(pts)\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\"/>"
            }
        }
        // Legend.
        if series.count > 1 {
            let colW = (width - left) / 4
            for (si, s) in series.enumerated() {
                let lx = left + colW * Double(si % 4)
                let ly = top + plotH + 44 + Double(si / 4) * 18
                svg += "<rect x=\"\(f(lx))\" y=\"\(f(ly - 9))\" width=\"10\" height=\"10\" fill=\"\(Self.palette[si % Self.palette.count])\"/>"
                svg += "<text x=\"\(f(lx + 14))\" y=\"\(f(ly))\" fill=\"#333\">\(HTML.escape(s.name))</text>"
            }
        }
        return svg + "</svg>"
    }

    /// Short tick label: 1500 → `1.5k`, 2e6 → `2M`, 0.004 → `0.004`.
    public static func compact(_ v: Double) -> String {
        let a = abs(v)
        func trim(_ s: String) -> String {
            s.contains(".") ? String(s.reversed().drop(while: { $0 == "0" }).drop(while: { $0 == "." }).reversed()) : s
        }
        if a >= 1e9 { return trim(String(format: "%.2f", v / 1e9)) + "G" }
        if a >= 1e6 { return trim(String(format: "%.2f", v / 1e6)) + "M" }
        if a >= 1e4 { return trim(String(format: "%.1f", v / 1e3)) + "k" }
        if a >= 100 || a == 0 { return String(format: "%.0f", v) }
        if a >= 1 { return trim(String(format: "%.2f", v)) }
        return trim(String(format: "%.4g", v))
    }

    private func f(_ v: Double) -> String { String(format: "%.1f", v) }
}

/// Maps values to 0…1 along the y axis and picks tick values.
struct YAxis {
    let lower: Double
    let upper: Double
    let log: Bool
    let ticks: [Double]

    init(values: [Double], log: Bool) {
        self.log = log
        if log {
            let positive = values.filter { $0 > 0 && $0.isFinite }
            let lo = Foundation.floor(Foundation.log10(positive.min() ?? 1))
            var hi = Foundation.ceil(Foundation.log10(positive.max() ?? 10))
            if hi <= lo { hi = lo + 1 }
            lower = Foundation.pow(10, lo)
            upper = Foundation.pow(10, hi)
            ticks = stride(from: lo, through: hi, by: 1).map { Foundation.pow(10, $0) }
        } else {
            let finite = values.filter { $0.isFinite }
            let lo = Swift.min(0, finite.min() ?? 0)
            let hi = Swift.max(finite.max() ?? 1, lo + 1e-9)
            let step = YAxis.niceStep((hi - lo) / 5)
            lower = lo < 0 ? Foundation.floor(lo / step) * step : 0
            upper = Swift.max(step, Foundation.ceil(hi / step) * step)
            ticks = stride(from: lower, through: upper + step / 2, by: step).map { $0 }
        }
    }

    func position(_ v: Double) -> Double {
        if log {
            let c = Swift.max(v, lower)
            return (Foundation.log10(c) - Foundation.log10(lower)) / (Foundation.log10(upper) - Foundation.log10(lower))
        }
        return upper == lower ? 0 : (v - lower) / (upper - lower)
    }

    /// 1, 2 or 5 times a power of ten, at least `raw`.
    static func niceStep(_ raw: Double) -> Double {
        guard raw > 0, raw.isFinite else { return 1 }
        let mag = Foundation.pow(10, Foundation.floor(Foundation.log10(raw)))
        for m in [1.0, 2, 5, 10] where m * mag >= raw { return m * mag }
        return 10 * mag
    }
}
