internal import CCorral
import Glibc

/// Readiness interest for a registration, in epoll's bit layout (EPOLLIN, EPOLLOUT, ...).
/// A future io_uring backend translates these to poll masks, which share the same values.
package typealias Interest = UInt32

/// The kernel interface an event loop sleeps in. One implementation per mechanism
/// (epoll now; io_uring's multishot poll can slot in behind the same calls). Registrations are
/// never modified: connections register once, edge-triggered, for both directions.
package protocol Poller: AnyObject {
    func register(fd: CInt, interest: Interest, token: UInt64) throws(SystemError)
    func deregister(fd: CInt) throws(SystemError)
    /// Waits up to `timeoutMilliseconds` (-1: forever) and returns how many events are ready.
    func wait(timeoutMilliseconds: CInt) throws(SystemError) -> Int
    /// The i-th ready event of the last `wait`: the registration's token and the ready bits.
    func event(_ i: Int) -> (token: UInt64, events: UInt32)
    func close()
}

/// The epoll(7) poller. The registrant picks the trigger mode: listening sockets are
/// level-triggered (the herd strategies depend on it), connections edge-triggered.
package final class EpollPoller: Poller {
    let epfd: CInt
    private let events: UnsafeMutablePointer<epoll_event>
    private let capacity: Int

    package init(capacity: Int = 256) throws(SystemError) {
        epfd = try Epoll.create()
        self.capacity = capacity
        events = .allocate(capacity: capacity)
    }

    package func register(fd: CInt, interest: Interest, token: UInt64) throws(SystemError) {
        try Epoll.add(epfd, fd, events: interest, data: token)
    }

    package func deregister(fd: CInt) throws(SystemError) {
        try Epoll.delete(epfd, fd)
    }

    package func wait(timeoutMilliseconds: CInt) throws(SystemError) -> Int {
        try Epoll.wait(epfd, events, capacity: capacity, timeout: timeoutMilliseconds)
    }

    package func event(_ i: Int) -> (token: UInt64, events: UInt32) {
        (events[i].data.u64, events[i].events)
    }

    package func close() {
        Posix.close(epfd)
    }

    deinit { events.deallocate() }
}
