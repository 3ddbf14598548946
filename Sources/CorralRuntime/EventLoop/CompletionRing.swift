internal import CCorral
import Glibc

/// The io_uring half of an event loop (`EventLoopBackend.uring`): the ring, the receive
/// buffers it provides to the kernel, and the sends of the current turn. Loop thread only
/// (from `start()` on).
///
/// One turn: the loop runs timers and tasks, `prepareSends()` turns every connection that
/// flushed into one send request, `wait` submits everything queued and sleeps in the same
/// io_uring_enter until something completes or the next timer is due, `dispatch` hands each
/// completion to the object that asked for it.
///
/// Sends are submitted with MSG_DONTWAIT, so each completes (fully, partly, or with EAGAIN)
/// while it is being submitted and posts its completion before io_uring_enter returns. The
/// send's memory (the connection's queue, the iovecs here) is therefore only read during that
/// io_uring_enter: nothing is in flight between turns.
///
/// A send is *quiet* when nothing need happen after it before the loop sleeps, provided it
/// sends everything: no close or shutdown after the last byte, no watermark to cross back, no
/// flush that had waited, no drain report asked for (`Connection.prepareSend`). A quiet send
/// posts no completion when it succeeds (IOSQE_CQE_SKIP_SUCCESS), so a turn whose sends are
/// all quiet submits them in the io_uring_enter that sleeps, waiting for one completion as if
/// there were no sends: a request/response costs one syscall (epoll: three) and one completion
/// (the request's). What if a quiet send does not send everything? It carries MSG_WAITALL, so
/// a send that falls short fails, and a failure always posts its completion (with the count it
/// did send as its result): that completion wakes the loop at once to wait for room. A quiet
/// send that posted nothing went out in full: `settleQuietSends()` tells its connection so once
/// the turn's completions are dispatched. A turn with a loud send only collects, and the next
/// turn's enter sleeps (two syscalls), as does every turn with SQPOLL (the poller thread
/// submits; `wait` then waits until every send has completed before anything else runs).
final class CompletionRing {
    let uring: IOURing
    let buffers: ProvidedBuffers
    /// The loop's eventfd: other threads still wake the loop through it (a read stays queued).
    private let wakeFD: CInt
    private let wakeValue: UnsafeMutablePointer<UInt64>

    /// Connections whose queued output is to be sent before the loop next sleeps.
    @exclusivity(unchecked) private var sendQueue: [Connection] = []
    /// Loud sends submitted whose completions have not been read yet (each must be acted on
    /// before the loop sleeps).
    @exclusivity(unchecked) private var unreadSends: UInt32 = 0
    /// Connections whose quiet send was submitted and not yet settled: a send that posted no
    /// completion went out in full.
    @exclusivity(unchecked) private var quietSends: [Connection] = []
    /// Scratch for gathered sends, valid until the next submission (the kernel copies them then).
    private let headers: UnsafeMutablePointer<msghdr>
    private let iovecs: UnsafeMutablePointer<iovec>
    @exclusivity(unchecked) private var headersUsed = 0
    @exclusivity(unchecked) private var iovecsUsed = 0

    static var headerCapacity: Int { 256 }
    static var iovecCapacity: Int { 4 * Int(ccorral_IOV_MAX) }

    /// User data of the eventfd read and of other loops' MSG_RING wake-ups (generation 0: never
    /// a live registration).
    static var wakeReadData: UInt64 { UInt64(RingOperation.wake.rawValue) }
    static var wakeMessageData: UInt64 { UInt64(RingOperation.wake.rawValue) | 1 << 8 }
    /// User data of requests whose success posts nothing.
    static var quietData: UInt64 { UInt64(RingOperation.quiet.rawValue) }
    /// A completion's flag bits: a receive buffer was used (its id in the upper 16 bits), and
    /// more completions will follow for the same request.
    static var bufferFlag: UInt32 { UInt32(CCORRAL_CQE_F_BUFFER) }
    static var moreFlag: UInt32 { UInt32(CCORRAL_CQE_F_MORE) }

    /// Receive buffers: 512 of 4 KiB (2 MiB per loop). A turn that takes more buffers than
    /// there are ends some receives with ENOBUFS; they are re-armed once buffers are back.
    static var receiveBufferCount: Int { 512 }
    static var receiveBufferSize: Int { 4096 }

    init(wakeFD: CInt, backend: EventLoopBackend) throws(SystemError) {
        uring = try IOURing(entries: backend.submissionEntries, completionEntries: backend.completionEntries,
                            submissionPolling: backend.submissionQueuePolling)
        buffers = try ProvidedBuffers(
            on: uring, group: 0, count: Self.receiveBufferCount, size: Self.receiveBufferSize)
        self.wakeFD = wakeFD
        wakeValue = .allocate(capacity: 1)
        headers = .allocate(capacity: Self.headerCapacity)
        iovecs = .allocate(capacity: Self.iovecCapacity)
    }

    deinit {
        wakeValue.deallocate()
        headers.deallocate()
        iovecs.deallocate()
    }

    /// The ring's descriptor, which other loops' MSG_RING requests name.
    var fd: CInt { uring.fd }

    /// Called on the loop's thread before its first turn: it becomes the ring's only submitter.
    func start() throws(SystemError) {
        try uring.enable()
        try armWakeRead()
    }

    private func armWakeRead() throws(SystemError) {
        let sqe = try uring.sqe()
        ccorral_prep_read(sqe, wakeFD, wakeValue, 8, Self.wakeReadData)
    }

    // MARK: sending

    /// `connection` has output to send: queued for this turn's submission.
    @inline(__always)
    func queueSend(_ connection: Connection) {
        sendQueue.append(connection)
    }

    /// Turns every queued connection's output into a send request (connections queued while
    /// this runs, e.g. by a handler a completed flush called, are included).
    func prepareSends() {
        guard !sendQueue.isEmpty else { return }
        var i = 0
        while i < sendQueue.count {
            sendQueue[i].prepareSend(on: self)
            i += 1
        }
        sendQueue.removeAll(keepingCapacity: true)
    }

    /// Scratch iovecs for one gathered send: at least IOV_MAX of them (what was handed out
    /// earlier this turn is submitted first when the scratch area is full).
    func sendScratch() throws(SystemError) -> (iovecs: UnsafeMutablePointer<iovec>, capacity: Int) {
        let capacity = Int(ccorral_IOV_MAX)
        if iovecsUsed + capacity > Self.iovecCapacity || headersUsed == Self.headerCapacity {
            try submitEarly()
        }
        return (iovecs + iovecsUsed, capacity)
    }

    /// Queues a send of the first `count` scratch iovecs returned by `sendScratch()` on
    /// `connection`'s socket (registered as `token`). `quiet`: a full send needs no reaction
    /// before the loop sleeps (see the type's notes); with SQPOLL every send is loud.
    func send(_ connection: Connection, token: RegistrationToken, count: Int, more: Bool, quiet: Bool) throws(SystemError) {
        let silent = quiet && !uring.polled
        let userData = token.userData(silent ? .quietSend : .send)
        let sqe = try uring.sqe()
        let flags = UInt32(ccorral_MSG_DONTWAIT | ccorral_MSG_NOSIGNAL | (more ? ccorral_MSG_MORE : 0)
                           | (silent ? ccorral_MSG_WAITALL : 0))
        let pieces = iovecs + iovecsUsed
        if count == 1 {
            ccorral_prep_send(sqe, connection.fd, pieces.pointee.iov_base,
                              UInt32(truncatingIfNeeded: pieces.pointee.iov_len), flags, userData)
        } else {
            let header = headers + headersUsed
            header.initialize(to: msghdr())
            header.pointee.msg_iov = pieces
            header.pointee.msg_iovlen = count
            headersUsed += 1
            ccorral_prep_sendmsg(sqe, connection.fd, header, flags, userData)
        }
        iovecsUsed += count
        if silent {
            sqe.pointee.flags |= UInt8(CCORRAL_SQE_CQE_SKIP_SUCCESS)
            quietSends.append(connection)
        } else {
            unreadSends += 1
        }
    }

    /// Settles the quiet sends that posted no completion: they went out in full. Called
    /// before the turn's completions are dispatched, where a send's completion would have been,
    /// unless one of them is a quiet send's (it fell short) or some overflowed into the
    /// kernel's backlog (a failure may be among them): then `afterDispatch`, once every
    /// completion, the backlog's included, has been dispatched.
    func settleQuietSends(afterDispatch: Bool) {
        guard !quietSends.isEmpty else { return }
        if !afterDispatch {
            if uring.overflowed { return }
            for i in 0..<uring.readyCompletions
            where UInt8(truncatingIfNeeded: uring.completion(i).user_data) == RingOperation.quietSend.rawValue {
                return
            }
        }
        for connection in quietSends { connection.quietSendSettled() }
        quietSends.removeAll(keepingCapacity: true)
    }

    /// Submits now so the scratch area can be reused (the kernel has read it once the sends
    /// are issued: at once, or with SQPOLL once they complete).
    private func submitEarly() throws(SystemError) {
        try uring.submit()
        if uring.polled { try settleSends() }
        headersUsed = 0
        iovecsUsed = 0
    }

    // MARK: waiting

    /// Submits everything queued and sleeps until something completes or `timeoutNanoseconds`
    /// (-1: no timer; 0: do not sleep) passes; with a loud send among it, only collects the
    /// sends' completions, without sleeping.
    func wait(timeoutNanoseconds: Int64) throws(SystemError) {
        if unreadSends > 0 {
            // A loud send: collect the completions without sleeping.
            try uring.submitAndWait(count: unreadSends, timeoutNanoseconds: -1)
        } else {
            // No send, or only quiet ones, which post nothing unless they fall short.
            try uring.submitAndWait(count: timeoutNanoseconds == 0 ? 0 : 1, timeoutNanoseconds: timeoutNanoseconds)
        }
        if uring.polled && unreadSends > 0 { try settleSends() }
        headersUsed = 0
        iovecsUsed = 0
    }

    /// SQPOLL: waits until every submitted send has completed (the poller thread issues them a
    /// little later; until then their memory must not change).
    private func settleSends() throws(SystemError) {
        while true {
            let ready = uring.readyCompletions
            var sends: UInt32 = 0
            for i in 0..<ready where UInt8(truncatingIfNeeded: uring.completion(i).user_data) == RingOperation.send.rawValue {
                sends += 1
            }
            if sends >= unreadSends { return }
            try uring.submitAndWait(count: ready + unreadSends - sends, timeoutNanoseconds: -1)
        }
    }

    // MARK: dispatching

    /// The first look at a completion: wake-ups re-arm the eventfd read and end here, as do
    /// failures of quiet requests (a cancel that found nothing, a message to a loop that has
    /// shut down); the rest go to their registration (the loop's `dispatch`).
    @inline(__always)
    func sort(_ completion: ccorral_cqe) -> RingOperation? {
        guard let operation = RingOperation(rawValue: UInt8(truncatingIfNeeded: completion.user_data)) else { return nil }
        switch operation {
        case .send:
            unreadSends -= 1
            return operation
        case .quietSend:
            return operation
        case .wake:
            if completion.user_data == Self.wakeReadData { try? armWakeRead() }
            return nil
        case .quiet:
            return nil
        default:
            return operation
        }
    }

    // MARK: requests

    /// Watches `fd` for `interest` (epoll bits): edge-triggered interest becomes a multishot
    /// poll, anything else (level-triggered, EPOLLEXCLUSIVE) a one-shot poll the loop re-arms
    /// after each report, which reports again while the descriptor stays ready.
    func poll(fd: CInt, interest: UInt32, token: RegistrationToken) throws(SystemError) {
        let exclusive = interest & Epoll.exclusive != 0
        let edge = interest & Epoll.edgeTriggered != 0
        let events = interest & ~(Epoll.edgeTriggered | Epoll.exclusive) | (exclusive ? Epoll.exclusive : 0)
        let sqe = try uring.sqe()
        ccorral_prep_poll(sqe, fd, events, edge && !exclusive ? 1 : 0, token.userData(.poll))
    }

    /// A multishot accept on a listening socket (accepted sockets are non-blocking, close-on-exec).
    func accept(fd: CInt, token: RegistrationToken) throws(SystemError) {
        let sqe = try uring.sqe()
        ccorral_prep_multishot_accept(sqe, fd, UInt32(ccorral_SOCK_NONBLOCK | ccorral_SOCK_CLOEXEC), token.userData(.accept))
    }

    /// A multishot receive into the provided buffers.
    func receive(fd: CInt, token: RegistrationToken) throws(SystemError) {
        let sqe = try uring.sqe()
        ccorral_prep_multishot_recv(sqe, fd, buffers.group, token.userData(.receive))
    }

    /// One report of `fd` becoming writable (POLLOUT), as `operation`.
    func whenWritable(fd: CInt, token: RegistrationToken, as operation: RingOperation) throws(SystemError) {
        let sqe = try uring.sqe()
        ccorral_prep_poll(sqe, fd, Epoll.writable, 0, token.userData(operation))
    }

    /// Cancels the request whose user data is `request` (a multishot receive, when reading
    /// pauses). With `submitNow` the cancellation has happened (and the request has let go of
    /// its descriptor) when this returns, so another thread may close the descriptor.
    func cancel(request: UInt64, submitNow: Bool = false) throws(SystemError) {
        let sqe = try uring.sqe()
        ccorral_prep_cancel(sqe, request, Self.quietData)
        sqe.pointee.flags |= UInt8(CCORRAL_SQE_CQE_SKIP_SUCCESS)
        if submitNow { try collectNow() }
    }

    /// Closes `fd` from the ring (no syscall of its own) after cancelling `requests` (user data,
    /// 0 for none): the requests known to be armed on it, which would hold it open until they
    /// end. Cancelling by user data finds each in its hash bucket; cancelling by descriptor
    /// (IORING_ASYNC_CANCEL_FD|ALL) would walk the whole cancel table, twice.
    func close(fd: CInt, cancellingRequests requests: (UInt64, UInt64)) throws(SystemError) {
        try uring.reserve(3)
        func cancelFirst(_ request: UInt64) throws(SystemError) {
            guard request != 0 else { return }
            let sqe = try uring.sqe()
            ccorral_prep_cancel(sqe, request, Self.quietData)
            // Hard link: the close follows even when the request had ended meanwhile.
            sqe.pointee.flags |= UInt8(CCORRAL_SQE_CQE_SKIP_SUCCESS | CCORRAL_SQE_IO_HARDLINK)
        }
        try cancelFirst(requests.0)
        try cancelFirst(requests.1)
        let sqe = try uring.sqe()
        ccorral_prep_close(sqe, fd, Self.quietData)
        sqe.pointee.flags |= UInt8(CCORRAL_SQE_CQE_SKIP_SUCCESS)
    }

    /// Wakes the loop of `target` with a message in its ring (sent with this turn's submission).
    func wake(_ target: CompletionRing) throws(SystemError) {
        let sqe = try uring.sqe()
        ccorral_prep_msg_ring(sqe, target.fd, 0, Self.wakeMessageData, Self.quietData)
        sqe.pointee.flags |= UInt8(CCORRAL_SQE_CQE_SKIP_SUCCESS)
    }

    /// Submits what is queued and runs what completed (without sleeping): requests are in the
    /// kernel's hands when this returns. Not while sends are being prepared.
    func collectNow() throws(SystemError) {
        try uring.submitAndWait(count: 0, timeoutNanoseconds: 0)
    }

    /// At shutdown: submits the last requests (cancellations, closes) and lets them run, then
    /// closes the ring.
    func finish() {
        sendQueue.removeAll()
        quietSends.removeAll()
        if let sqe = try? uring.sqe() {
            // Everything still in flight (the eventfd read, receives of connections that were
            // never closed) lets go of its descriptor.
            ccorral_prep_cancel_fd(sqe, -1, Self.quietData)
            sqe.pointee.op_flags = UInt32(CCORRAL_ASYNC_CANCEL_ANY | CCORRAL_ASYNC_CANCEL_ALL)
            sqe.pointee.flags |= UInt8(CCORRAL_SQE_CQE_SKIP_SUCCESS)
        }
        try? collectNow()
        buffers.close(on: uring)
        uring.close()
    }
}
