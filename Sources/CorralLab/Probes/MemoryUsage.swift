/// Resident memory of a process, from `VmRSS` in `/proc/PID/status`.
///
/// The `models` experiment divides the growth of this figure by the number of idle
/// connections held to get memory per idle connection.
public enum MemoryUsage {
    /// Parse `VmRSS` (reported in kB) out of the text of a `status` file, in bytes.
    /// `nil` if absent (kernel threads and zombies have no `VmRSS`).
    public static func parseRSSBytes(status text: String) -> UInt64? {
        guard let value = ProcFile.parseKeyValueLines(text)["VmRSS"] else { return nil }
        let parts = value.split(separator: " ")
        guard let number = parts.first.flatMap({ UInt64($0) }) else { return nil }
        let unit = parts.count > 1 ? parts[1].lowercased() : "kb"
        switch unit {
        case "kb": return number * 1024
        case "mb": return number * 1024 * 1024
        default: return number
        }
    }

    /// Resident set size of `pid` in bytes; `nil` if the process is gone.
    public static func rssBytes(pid: Int32) -> UInt64? {
        ProcFile.read("/proc/\(pid)/status").flatMap { parseRSSBytes(status: $0) }
    }
}
