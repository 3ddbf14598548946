package import CCorral
import Glibc

/// A one-time "done" flag another thread can block on: a blocking eventfd read.
/// Used where a caller outside any loop must wait for work submitted to a loop (start, stop).
package final class OneShotSignal: Sendable {
    private let fd: CInt

    package init() throws(SystemError) {
        fd = try syscall("eventfd") { eventfd(0, ccorral_EFD_CLOEXEC) }
    }

    package func signal() {
        var one: UInt64 = 1
        _ = try? syscall("write(eventfd)") { write(fd, &one, 8) }
    }

    /// Blocks until `signal()` has been called or `milliseconds` pass; true if signalled.
    package func wait(timeoutMilliseconds milliseconds: Int) -> Bool {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ready = (try? syscall("poll") { poll(&entry, 1, CInt(milliseconds)) }) ?? 0
        guard ready > 0 else { return false }
        wait()
        return true
    }

    /// Blocks until `signal()` has been called.
    package func wait() {
        var value: UInt64 = 0
        _ = try? syscall("read(eventfd)") { read(fd, &value, 8) }
    }

    deinit { Posix.close(fd) }
}
