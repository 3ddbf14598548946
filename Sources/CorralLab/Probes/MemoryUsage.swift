/// Memory of a process (`VmRSS` in `/proc/PID/status`, `Pss` in `/proc/PID/smaps_rollup`) and
/// of the machine (`MemAvailable` in `/proc/meminfo`).
///
/// The `models` experiment divides the growth of the server's private memory (user space) and of
/// the machine's kernel memory by the number of idle connections held.
public enum MemoryUsage {
    /// Parse `VmRSS` (reported in kB) out of the text of a `status` file, in bytes.
    /// `nil` if absent (kernel threads and zombies have no `VmRSS`).
    public static func parseRSSBytes(status text: String) -> UInt64? {
        field("VmRSS", in: text)
    }

    /// Proportional set size of `pid` in bytes (shared pages divided among their sharers);
    /// `nil` if the process is gone.
    public static func pssBytes(pid: Int32) -> UInt64? {
        ProcFile.read("/proc/\(pid)/smaps_rollup").flatMap { field("Pss", in: $0) }
    }

    /// Private memory of `pid` in bytes: `Private_Clean` + `Private_Dirty` of smaps_rollup, the
    /// pages no other process maps; `nil` if the process is gone.
    public static func privateBytes(pid: Int32) -> UInt64? {
        guard let text = ProcFile.read("/proc/\(pid)/smaps_rollup"),
              let clean = field("Private_Clean", in: text), let dirty = field("Private_Dirty", in: text) else { return nil }
        return clean + dirty
    }

    /// Kernel memory in use on the machine, in bytes: `KernelStack` + `PageTables` + `Slab` of
    /// /proc/meminfo (thread stacks, page tables, and the slab caches that hold sockets, files
    /// and epoll items). Machine-wide: other processes move it too.
    public static func kernelBytes() -> UInt64? {
        guard let text = ProcFile.read("/proc/meminfo"),
              let stacks = field("KernelStack", in: text), let tables = field("PageTables", in: text),
              let slab = field("Slab", in: text) else { return nil }
        return stacks + tables + slab
    }

    /// The machine's `MemAvailable` in bytes.
    public static func availableBytes() -> UInt64? {
        ProcFile.read("/proc/meminfo").flatMap { field("MemAvailable", in: $0) }
    }

    /// A `Key: N kB` field of a /proc file, in bytes.
    private static func field(_ key: String, in text: String) -> UInt64? {
        guard let value = ProcFile.parseKeyValueLines(text)[key] else { return nil }
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
