package import CCorral
import Glibc
import SystemPackage

/// Signals to, waits on and exit descriptors of child processes (the lab's workers and tools).
package enum Processes {
    /// kill(2). False if the process no longer exists (ESRCH, already reaped): not an error for
    /// a caller that only wants it gone.
    @discardableResult
    package static func kill(_ pid: pid_t, _ signal: CInt) throws(SystemError) -> Bool {
        if Glibc.kill(pid, signal) == 0 { return true }
        let code = ccorral_errno()
        if code == ESRCH { return false }
        throw SystemError("kill", errno: Errno(rawValue: code))
    }

    /// waitpid(2) for `pid` (-1: any child), EINTR retried. Returns the child reaped and its wait
    /// status, or nil when `noHang` is set and no such child has exited yet. ECHILD (no such
    /// child, or reaped already) throws.
    package static func waitpid(_ pid: pid_t, noHang: Bool = false) throws(SystemError) -> (pid: pid_t, status: CInt)? {
        var status: CInt = 0
        let reaped = try syscall("waitpid") { Glibc.waitpid(pid, &status, noHang ? WNOHANG : 0) }
        return reaped > 0 ? (reaped, status) : nil
    }

    /// fork(2). Only for a process that is single-threaded when it calls this (the lab's models
    /// server checks): the child runs Swift code, which is unsafe after forking a
    /// multi-threaded process. Returns 0 in the child, the child's pid in the parent.
    package static func fork() throws(SystemError) -> pid_t {
        try syscall("fork") { Glibc.fork() }
    }

    /// posix_spawn(3) of the program at `path` with `arguments` (argv: the first is its name)
    /// and this process's environment. `descriptors[i]`, where not -1, becomes descriptor i in
    /// the child (0–2 its standard streams, then 3, 4, …); the rest is inherited unless
    /// close-on-exec. The child starts with no signal blocked and SIGPIPE at its default (an
    /// ignored disposition would survive exec). Never fork: forking a multi-threaded process and
    /// running code in the child is unsafe; posix_spawn only calls async-signal-safe functions
    /// between its vfork/clone and the exec.
    package static func spawn(_ path: String, arguments: [String], descriptors: [CInt]) throws(SystemError) -> pid_t {
        let name = arguments.first ?? path
        var actions = posix_spawn_file_actions_t()
        try check(posix_spawn_file_actions_init(&actions), "posix_spawn_file_actions_init")
        defer { posix_spawn_file_actions_destroy(&actions) }
        // Two steps, so a source that happens to be one of the targets is not clobbered.
        let temporary = max(descriptors.max() ?? 0, 64) + 1
        for (i, fd) in descriptors.enumerated() where fd >= 0 {
            try check(posix_spawn_file_actions_adddup2(&actions, fd, temporary + CInt(i)), "posix_spawn_file_actions_adddup2")
        }
        for (i, fd) in descriptors.enumerated() where fd >= 0 {
            try check(posix_spawn_file_actions_adddup2(&actions, temporary + CInt(i), CInt(i)), "posix_spawn_file_actions_adddup2")
            try check(posix_spawn_file_actions_addclose(&actions, temporary + CInt(i)), "posix_spawn_file_actions_addclose")
        }
        var attributes = posix_spawnattr_t()
        try check(posix_spawnattr_init(&attributes), "posix_spawnattr_init")
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        try check(posix_spawnattr_setsigmask(&attributes, &empty), "posix_spawnattr_setsigmask")
        var pipeSignal = sigset_t()
        sigemptyset(&pipeSignal)
        sigaddset(&pipeSignal, SIGPIPE)
        try check(posix_spawnattr_setsigdefault(&attributes, &pipeSignal), "posix_spawnattr_setsigdefault")
        try check(posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)), "posix_spawnattr_setflags")
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var pid: pid_t = 0
        try check(posix_spawn(&pid, path, &actions, &attributes, argv, environ), "posix_spawn(\(name))")
        return pid
    }

    /// The posix_spawn family returns an error number instead of setting errno.
    private static func check(_ result: CInt, _ operation: String) throws(SystemError) {
        guard result == 0 else { throw SystemError(operation, errno: Errno(rawValue: result)) }
    }

    /// pidfd_open(2) (Linux 5.3): a descriptor, close-on-exec, that polls readable when `pid`
    /// exits. The caller owns it.
    package static func pidfdOpen(_ pid: pid_t) throws(SystemError) -> CInt {
        try syscall("pidfd_open") { ccorral_pidfd_open(pid) }
    }
}
