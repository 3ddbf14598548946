internal import CCorral
import Glibc

/// Network namespaces and TAP devices, for putting a client and a server on two emulated hosts
/// (the lab's `--net`). Namespaces belong to threads: every call here affects the calling
/// thread only, and threads it starts afterwards inherit its namespace.
package enum NetworkNamespaces {
    /// Moves the calling thread into a new network namespace and brings its loopback up
    /// (unshare(2) with CLONE_NEWNET; needs CAP_SYS_ADMIN, so EPERM means "not root").
    package static func unshareForThread() throws(SystemError) {
        _ = try syscall("unshare(CLONE_NEWNET)") { ccorral_private_network_for_thread() }
    }

    /// Moves the calling thread into the namespace `fd` refers to (setns(2)).
    package static func enter(_ fd: CInt) throws(SystemError) {
        _ = try syscall("setns(CLONE_NEWNET)") { ccorral_enter_network_namespace(fd) }
    }

    /// A descriptor for the calling thread's network namespace. While it is open the namespace
    /// lives on, even with no thread inside; closing the last one removes the namespace and
    /// every device in it.
    package static func openCurrent() throws(SystemError) -> CInt {
        try Posix.openReadOnly("/proc/thread-self/ns/net")
    }

    /// A TAP device called `name` in the calling thread's namespace, as a non-blocking
    /// descriptor that reads and writes whole Ethernet frames; the device goes when it closes.
    package static func openTap(named name: String) throws(SystemError) -> CInt {
        try syscall("open(/dev/net/tun)+TUNSETIFF") { ccorral_tap_open(name) }
    }
}

/// timerfd(2) on CLOCK_MONOTONIC: a descriptor that turns readable at a deadline given in
/// nanoseconds, for programs whose deadlines need finer steps than epoll_wait's milliseconds.
package enum TimerFD {
    /// A disarmed, non-blocking, close-on-exec timer.
    package static func create() throws(SystemError) -> CInt {
        try syscall("timerfd_create") { timerfd_create(CLOCK_MONOTONIC, CInt(TFD_NONBLOCK) | CInt(TFD_CLOEXEC)) }
    }

    /// Arms the timer to expire once at `deadline` (CLOCK_MONOTONIC nanoseconds, as
    /// `monotonicNanoseconds()`); a deadline already past expires at once. `nil` disarms.
    package static func arm(_ fd: CInt, at deadline: UInt64?) throws(SystemError) {
        var spec = itimerspec()
        if let deadline {
            let at = max(deadline, 1)  // an all-zero value would disarm
            spec.it_value = timespec(tv_sec: Int(at / 1_000_000_000), tv_nsec: Int(at % 1_000_000_000))
        }
        _ = try syscall("timerfd_settime") { timerfd_settime(fd, CInt(TFD_TIMER_ABSTIME), &spec, nil) }
    }

    /// Reads and resets the expiry count: how often the timer expired since the last read
    /// (0 when it has not).
    package static func acknowledge(_ fd: CInt) throws(SystemError) -> UInt64 {
        var expirations: UInt64 = 0
        switch try nonBlockingSyscall("read(timerfd)", { Glibc.read(fd, &expirations, 8) }) {
        case .processed: return expirations
        case .wouldBlock: return 0
        }
    }
}

/// Marks the end of a measured interval for the tracer `cookie` (a prctl(2) that does nothing;
/// see `ccorral_trace_marker`).
package func traceMarker(cookie: UInt, sequence: UInt) {
    ccorral_trace_marker(cookie, sequence)
}

/// Makes the calling thread SCHED_FIFO at `priority`: it then runs as soon as it wakes, ahead
/// of every ordinary thread. Throws EPERM without CAP_SYS_NICE.
package func makeCurrentThreadRealtime(priority: CInt) throws(SystemError) {
    _ = try syscall("sched_setscheduler(SCHED_FIFO)") { ccorral_realtime_thread(priority) }
}

/// ICMP echo through a ping socket (socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP)): the kernel at
/// the far end answers, so no program's scheduling is in the round trip, and the reply is
/// stamped by the kernel as it arrives. Needs the caller's group in net.ipv4.ping_group_range.
package enum PingSocket {
    /// A non-blocking, close-on-exec ping socket with receive timestamps (SO_TIMESTAMPNS) on.
    package static func open() throws(SystemError) -> CInt {
        let fd = try syscall("socket(IPPROTO_ICMP)") {
            Glibc.socket(AF_INET, CInt(SOCK_DGRAM.rawValue) | ccorral_SOCK_NONBLOCK | ccorral_SOCK_CLOEXEC, CInt(IPPROTO_ICMP))
        }
        do {
            try Posix.setsockopt(fd, SOL_SOCKET, ccorral_SO_TIMESTAMPNS, CInt(1))
        } catch {
            Posix.close(fd)
            throw error
        }
        return fd
    }

    /// One datagram into `buffer` and the kernel's CLOCK_REALTIME receive time in nanoseconds.
    package static func receive(_ fd: CInt, _ buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> IOResult<(length: Int, stamp: Int64)> {
        var stamp: Int64 = 0
        switch try nonBlockingSyscall("recvmsg", { ccorral_recv_timestamped(fd, buffer.baseAddress, UInt(buffer.count), &stamp) }) {
        case .processed(let n): return .processed((n, stamp))
        case .wouldBlock: return .wouldBlock
        }
    }
}
