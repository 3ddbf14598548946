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

    /// pidfd_open(2) (Linux 5.3): a descriptor, close-on-exec, that polls readable when `pid`
    /// exits. The caller owns it.
    package static func pidfdOpen(_ pid: pid_t) throws(SystemError) -> CInt {
        try syscall("pidfd_open") { ccorral_pidfd_open(pid) }
    }
}
