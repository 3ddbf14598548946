import CCorral
import CorralRuntime
import Glibc

/// Child processes of the lab (`corral lab-worker …`, a hidden subcommand).
///
/// The lab never fork()s itself: a Swift process is multi-threaded, and running Swift code in a
/// forked child of it is unsafe. A child is the same binary started again with posix_spawn, its
/// descriptors handed over by the spawn's file actions (dup2 onto 3, 4, …).
public enum LabWorker {
    /// Entry point of `corral lab-worker ARGS…`; returns the exit status.
    public static func main(_ arguments: [String]) -> Int32 {
        signal(SIGPIPE, SIG_IGN)
        guard let kind = arguments.first else { return 2 }
        var options: [String: String] = [:]
        var i = 1
        while i + 1 < arguments.count {
            options[arguments[i].hasPrefix("--") ? String(arguments[i].dropFirst(2)) : arguments[i]] = arguments[i + 1]
            i += 2
        }
        switch kind {
        case "mesh": return MeshPeerProcess.run(options)
        case "models-server": return ModelsServerProcess.run(options)
        default: return 2
        }
    }

    /// The binary that understands `lab-worker`: `$CORRAL_LAB_WORKER`, else this process if it is
    /// `corral`, else a `corral` beside it (the test runner sits next to it in the build directory).
    static func executable() throws -> String {
        if let path = getenv("CORRAL_LAB_WORKER").map({ String(cString: $0) }), !path.isEmpty { return path }
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { throw LabSkip("cannot read /proc/self/exe") }
        let me = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let directory = me.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        if me.hasSuffix("/corral") { return "/proc/self/exe" }
        // The test bundle: .build/debug/CorralPackageTests.xctest (a file on Linux).
        var dir = directory
        for _ in 0..<3 {
            let candidate = dir + "/corral"
            if access(candidate, X_OK) == 0 { return candidate }
            dir = dir.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        }
        throw LabSkip("no corral binary for child processes (build it, or set CORRAL_LAB_WORKER)")
    }

    /// Starts `corral lab-worker ARGS` with `fds` moved onto 3, 4, … in the child.
    static func spawn(_ arguments: [String], fds: [CInt] = []) throws -> pid_t {
        try Subprocess.spawn(["corral", "lab-worker"] + arguments, fds: fds, executable: try executable())
    }
}
