import CorralRuntime
import Foundation
import Glibc

/// A memory cgroup the lab makes for one server process, so that the server's memory — its
/// user pages, and the kernel memory charged to it (sockets, files, epoll items, thread stacks,
/// page tables) — is counted apart from everything else the machine does.
///
/// Made as a child of the lab's own memory cgroup (cgroup v1 `memory` hierarchy, or cgroup v2
/// where the memory controller is enabled for children); a process moved in is charged there
/// for what it (and its threads and children) allocate from then on. `nil` where the lab may not
/// make one (not root, no memory controller): callers fall back to machine-wide figures.
final class MemoryCgroup {
    let path: String
    private let version: Int

    private init(path: String, version: Int) {
        self.path = path
        self.version = version
    }

    /// A new cgroup holding `pid`, or `nil`.
    static func create(holding pid: pid_t, label: String) -> MemoryCgroup? {
        guard let (parent, version) = ownMemoryCgroup() else { return nil }
        let path = "\(parent)/corral-\(label)-\(getpid())-\(pid)"
        guard (try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)) != nil else { return nil }
        let group = MemoryCgroup(path: path, version: version)
        guard ProcFile.write(path + "/cgroup.procs", "\(pid)"), group.usage() != nil else {
            group.remove()
            return nil
        }
        return group
    }

    /// User and kernel memory charged to the cgroup now, in bytes.
    func usage() -> (user: Double, kernel: Double)? {
        func number(_ file: String) -> Double? { ProcFile.read(path + "/" + file).flatMap { Double($0.split(separator: "\n").first ?? "") } }
        if version == 1 {
            guard let total = number("memory.usage_in_bytes"), let kernel = number("memory.kmem.usage_in_bytes") else { return nil }
            return (total - kernel, kernel)
        }
        guard let total = number("memory.current"), let stat = ProcFile.read(path + "/memory.stat") else { return nil }
        let fields = ProcFile.parseKeyValueLines(stat.replacingOccurrences(of: " ", with: ": "))
        guard let kernel = fields["kernel"].flatMap(Double.init) else { return nil }
        return (total - kernel, kernel)
    }

    /// Kills whatever is left inside (the server has been stopped and reaped by now) and
    /// removes the cgroup.
    func remove() {
        for _ in 0..<50 {
            let left = (ProcFile.read(path + "/cgroup.procs") ?? "").split(separator: "\n").compactMap { pid_t($0) }
            if left.isEmpty { break }
            // ESRCH (exited meanwhile) is fine; EPERM leaves it for rmdir's EBUSY below.
            for pid in left { _ = try? Processes.kill(pid, SIGKILL) }
            LabPause.microseconds(10_000)
        }
        _ = try? Files.removeDirectory(path)  // EBUSY if something would not die: the cgroup stays, empty of memory
    }

    /// The lab's own memory cgroup directory and the hierarchy's version, from /proc/self/cgroup
    /// and /proc/self/mountinfo.
    private static func ownMemoryCgroup() -> (String, Int)? {
        guard let cgroups = ProcFile.read("/proc/self/cgroup"), let mounts = ProcFile.read("/proc/self/mountinfo") else { return nil }
        var v1: String?, v2: String?
        for line in cgroups.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3 else { continue }
            if parts[1].split(separator: ",").contains("memory") { v1 = String(parts[2]) }
            if parts[0] == "0" && parts[1].isEmpty { v2 = String(parts[2]) }
        }
        // mountinfo: … MOUNTPOINT … - FSTYPE SOURCE OPTIONS
        for line in mounts.split(separator: "\n") {
            let halves = line.components(separatedBy: " - ")
            guard halves.count == 2 else { continue }
            let fields = halves[0].split(separator: " "), after = halves[1].split(separator: " ")
            guard fields.count >= 5, let type = after.first else { continue }
            let mountPoint = String(fields[4])
            if type == "cgroup", let v1, after.count >= 3, after[2].split(separator: ",").contains("memory") {
                return (mountPoint + (v1 == "/" ? "" : v1), 1)
            }
            if type == "cgroup2", v1 == nil, let v2,
               (ProcFile.read(mountPoint + (v2 == "/" ? "" : v2) + "/cgroup.subtree_control") ?? "").split(separator: " ").contains(where: { $0.hasPrefix("memory") }) {
                return (mountPoint + (v2 == "/" ? "" : v2), 2)
            }
        }
        return nil
    }
}
