package import CCorral
import Glibc

/// epoll(7): the readiness poller behind every event loop.
package enum Epoll {
    // Literals (Linux ABI values, checked against <sys/epoll.h> by a test) rather than the C
    // constants: a Swift global initialised from C is lazily initialised, which costs a
    // swift_once check on every access in the hot path.
    package static var readable: UInt32 { 0x001 }
    package static var writable: UInt32 { 0x004 }
    package static var error: UInt32 { 0x008 }
    package static var hangup: UInt32 { 0x010 }
    package static var readHangup: UInt32 { 0x2000 }
    /// EPOLLEXCLUSIVE (Linux 4.5): of all epoll instances waiting on one fd with this flag,
    /// the kernel wakes one (or a few) instead of all. Only valid with EPOLL_CTL_ADD.
    package static var exclusive: UInt32 { 1 << 28 }
    /// EPOLLET: report a transition to ready once, instead of for as long as the fd is ready.
    package static var edgeTriggered: UInt32 { 1 << 31 }

    package static func create() throws(SystemError) -> CInt {
        try syscall("epoll_create1") { epoll_create1(ccorral_EPOLL_CLOEXEC) }
    }

    package static func add(_ epfd: CInt, _ fd: CInt, events: UInt32, data: UInt64) throws(SystemError) {
        try control(epfd, EPOLL_CTL_ADD, fd, events: events, data: data, operation: "epoll_ctl(ADD)")
    }

    package static func delete(_ epfd: CInt, _ fd: CInt) throws(SystemError) {
        var event = epoll_event()
        _ = try syscall("epoll_ctl(DEL)") { epoll_ctl(epfd, EPOLL_CTL_DEL, fd, &event) }
    }

    /// epoll_wait(2). `timeout` in milliseconds, -1 for none. EINTR is retried by the helper;
    /// the caller recomputes nothing because a retry only shortens no deadline that matters
    /// (timers are re-checked after every wake-up).
    package static func wait(
        _ epfd: CInt, _ events: UnsafeMutablePointer<epoll_event>, capacity: Int, timeout: CInt
    ) throws(SystemError) -> Int {
        Int(try syscall("epoll_wait") { ccorral_epoll_wait(epfd, events, CInt(capacity), timeout) })
    }

    private static func control(
        _ epfd: CInt, _ op: CInt, _ fd: CInt, events: UInt32, data: UInt64, operation: StaticString
    ) throws(SystemError) {
        var event = epoll_event()
        event.events = events
        event.data.u64 = data
        _ = try syscall(operation) { epoll_ctl(epfd, op, fd, &event) }
    }
}

/// eventfd(2): the counter another thread writes to wake a sleeping loop.
package enum EventFD {
    /// A new counter at 0, close-on-exec; non-blocking unless `blocking` (then `drain` sleeps
    /// until the counter is non-zero: a token passed between two threads).
    package static func create(blocking: Bool = false) throws(SystemError) -> CInt {
        let flags = ccorral_EFD_CLOEXEC | (blocking ? 0 : ccorral_EFD_NONBLOCK)
        return try syscall("eventfd") { eventfd(0, flags) }
    }

    /// Adds 1. EAGAIN would mean the counter is at its maximum (2^64-2), i.e. a wake-up is
    /// already pending, so it is fine to ignore.
    package static func signal(_ fd: CInt) throws(SystemError) {
        var one: UInt64 = 1
        _ = try nonBlockingSyscall("write(eventfd)") { Glibc.write(fd, &one, 8) }
    }

    /// Reads and resets the counter (on a blocking eventfd, waits until it is non-zero).
    package static func drain(_ fd: CInt) throws(SystemError) {
        var value: UInt64 = 0
        _ = try nonBlockingSyscall("read(eventfd)") { Glibc.read(fd, &value, 8) }
    }
}
