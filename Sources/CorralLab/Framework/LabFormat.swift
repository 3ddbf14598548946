import Foundation

/// Number formatting shared by the text table and the HTML report.
public enum LabFormat {
    /// `value` with `precision` decimals, or, when `precision` is `nil`, with as many as
    /// its magnitude deserves (0 from 1000 up, 1 from 100, 2 from 1, else 3 significant).
    /// Non-finite values print as `inf`, `-inf` or `nan`.
    public static func number(_ value: Double, precision: Int? = nil) -> String {
        guard value.isFinite else { return value.isNaN ? "nan" : (value > 0 ? "inf" : "-inf") }
        let digits: Int
        if let precision {
            digits = max(0, precision)
        } else {
            let a = abs(value)
            if a == 0 || a >= 1000 { digits = 0 } else if a >= 100 { digits = 1 } else if a >= 1 { digits = 2 } else {
                digits = min(9, max(0, 2 - Int(log10(a).rounded(.down))))
            }
        }
        return String(format: "%.\(digits)f", value)
    }

    /// Median followed by the min–max range: `12.3 (11.9–13.0)`; just the median when
    /// min equals max or there was a single run.
    public static func summary(_ s: FigureSummary, precision: Int? = nil) -> String {
        let m = number(s.median, precision: precision)
        if s.count < 2 || s.min == s.max { return m }
        return "\(m) (\(number(s.min, precision: precision))–\(number(s.max, precision: precision)))"
    }

    /// ISO-8601 UTC time with seconds, e.g. `2025-01-31T12:00:00Z`.
    public static func iso8601(_ date: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        f.timeZone = TimeZone(identifier: "UTC")
        return f.string(from: date)
    }

    /// Seconds as `4.2 s`, `1 min 03 s` for progress lines.
    public static func duration(_ seconds: Double) -> String {
        if seconds < 60 { return String(format: "%.1f s", seconds) }
        let s = Int(seconds.rounded())
        return String(format: "%d min %02d s", s / 60, s % 60)
    }
}
