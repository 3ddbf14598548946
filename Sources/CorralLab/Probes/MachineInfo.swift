#if canImport(Glibc)
import Glibc
#endif

/// The facts about this machine that every report prints next to its figures.
///
/// Results from a 2-CPU VM with a `kvm-clock` clocksource and from bare metal are not
/// comparable; the report says which one produced them.
public struct MachineInfo: Codable, Sendable, Equatable {
    /// Kernel release (`uname -r`), e.g. `6.8.0-45-generic`.
    public var kernel: String
    /// CPUs this process may run on (its affinity mask), which is what experiments can use.
    public var cpus: Int
    /// CPU model name from `/proc/cpuinfo` (`unknown` if absent, e.g. on some ARM kernels).
    public var model: String
    /// Whether `/proc/cpuinfo` carries the `hypervisor` flag (running in a VM).
    public var virtualised: Bool
    /// Current clocksource (`tsc`, `kvm-clock`, …), or `unknown`.
    public var clocksource: String

    /// Build machine info directly.
    public init(kernel: String, cpus: Int, model: String, virtualised: Bool, clocksource: String) {
        self.kernel = kernel
        self.cpus = cpus
        self.model = model
        self.virtualised = virtualised
        self.clocksource = clocksource
    }

    /// Read everything from the running system.
    public static func current() -> MachineInfo {
        let cpuinfo = ProcFile.read("/proc/cpuinfo") ?? ""
        let parsed = parseCPUInfo(cpuinfo)
        let clock = ProcFile.read("/sys/devices/system/clocksource/clocksource0/current_clocksource")?
            .split(separator: "\n").first.map(String.init) ?? "unknown"
        return MachineInfo(kernel: kernelRelease(), cpus: affinityCPUCount(), model: parsed.model,
                           virtualised: parsed.virtualised, clocksource: clock)
    }

    /// Model name (first `model name` line) and whether any `flags` line holds `hypervisor`.
    public static func parseCPUInfo(_ text: String) -> (model: String, virtualised: Bool) {
        var model: String?
        var virtualised = false
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon].trimmingWhitespace()
            let value = line[line.index(after: colon)...]
            if key == "model name", model == nil {
                model = value.trimmingWhitespace()
            } else if key == "flags", value.split(separator: " ").contains("hypervisor") {
                virtualised = true
            }
        }
        return (model ?? "unknown", virtualised)
    }

    /// `uname -r`.
    public static func kernelRelease() -> String {
        var u = utsname()
        guard uname(&u) == 0 else { return "unknown" }
        return withUnsafePointer(to: u.release) {
            $0.withMemoryRebound(to: CChar.self, capacity: MemoryLayout.size(ofValue: u.release)) { String(cString: $0) }
        }
    }

    /// Number of CPUs in this process's affinity mask, from `Cpus_allowed_list` in
    /// `/proc/self/status` (falls back to online CPUs).
    public static func affinityCPUCount() -> Int {
        if let status = ProcFile.read("/proc/self/status"),
           let list = ProcFile.parseKeyValueLines(status)["Cpus_allowed_list"],
           let count = parseCPUList(list), count > 0 {
            return count
        }
        return max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
    }

    /// Count the CPUs in a kernel CPU list such as `0-3,8,10-11`; `nil` if malformed.
    public static func parseCPUList(_ list: String) -> Int? {
        var count = 0
        for part in list.split(separator: ",") {
            let bounds = part.split(separator: "-")
            guard let lo = bounds.first.flatMap({ Int($0.trimmingWhitespace()) }) else { return nil }
            let hi = bounds.count > 1 ? Int(bounds[1].trimmingWhitespace()) : lo
            guard let hi, hi >= lo else { return nil }
            count += hi - lo + 1
        }
        return count
    }
}
