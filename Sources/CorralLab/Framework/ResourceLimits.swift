import CorralRuntime
import Glibc

/// The limits a run with thousands of connections or threads meets, raised where the lab may
/// and reported where it may not.
enum ResourceLimits {
    /// Raises this process's descriptor limit to at least `wanted`: the soft limit up to the
    /// hard one, and the hard one too when the process may (root, CAP_SYS_RESOURCE), up to
    /// fs.nr_open. Returns the soft limit in force afterwards.
    @discardableResult
    static func raiseDescriptors(to wanted: Int) -> Int {
        guard var limit = try? Posix.getrlimitNoFile() else { return 0 }
        let target = rlim_t(wanted)
        if limit.rlim_cur >= target { return Int(limit.rlim_cur) }
        if limit.rlim_max < target {
            let ceiling = ProcFile.read("/proc/sys/fs/nr_open").flatMap { rlim_t($0.split(separator: "\n").first ?? "") } ?? target
            var raised = limit
            raised.rlim_max = min(target, ceiling)
            raised.rlim_cur = raised.rlim_max
            if (try? Posix.setrlimitNoFile(raised)) != nil { return Int(raised.rlim_cur) }
        }
        limit.rlim_cur = min(target, limit.rlim_max)
        try? Posix.setrlimitNoFile(limit)
        return Int((try? Posix.getrlimitNoFile())?.rlim_cur ?? 0)
    }

    /// How many more tasks (threads or processes) the kernel will create: the smaller of what
    /// kernel.pid_max and kernel.threads-max leave over the tasks that exist now.
    static func tasksLeft() -> Int {
        func number(_ path: String) -> Int? { ProcFile.read(path).flatMap { Int($0.split(separator: "\n").first ?? "") } }
        let running = ProcFile.read("/proc/loadavg").flatMap { text -> Int? in
            // "0.45 0.81 0.39 1/80 10189": the fourth field is runnable/total tasks.
            let fields = text.split(separator: " ")
            guard fields.count >= 4 else { return nil }
            return fields[3].split(separator: "/").last.flatMap { Int($0) }
        } ?? 0
        let pidMax = number("/proc/sys/kernel/pid_max") ?? 32768
        let threadsMax = number("/proc/sys/kernel/threads-max") ?? Int.max
        return min(pidMax, threadsMax) - running
    }
}
