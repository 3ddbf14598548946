/// HTML text helpers for the report.
public enum HTML {
    /// Escape `&`, `<`, `>`, `"` and `'` so any text (experiment names, error messages,
    /// parameter values) is safe in element content and attribute values.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for ch in text {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(ch)
            }
        }
        return out
    }
}
