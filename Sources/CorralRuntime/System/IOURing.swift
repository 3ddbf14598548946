package import CCorral
import Glibc
import SystemPackage

/// io_uring(7): one submission/completion ring pair, used by one event loop's thread.
///
/// Set up with SINGLE_ISSUER and DEFER_TASKRUN (Linux 6.1): completions are produced when the
/// loop enters the kernel to wait, on its own thread, never by interrupting it. The ring starts
/// disabled (`R_DISABLED`) so that it can be created on one thread and then owned by the loop's
/// thread, which `enable()`s it. Everything here goes through the C shim's raw syscalls.
package final class IOURing {
    /// The ring as the shim sees it (a stable address: the C helpers keep pointers into it).
    package let raw: UnsafeMutablePointer<ccorral_ring>
    /// Submission queue polling (SQPOLL): a kernel thread submits, so submitting costs no syscall.
    package let polled: Bool

    /// The kernel features this ring needs: multishot receive (6.0), DEFER_TASKRUN (6.1).
    package static var minimumKernel: String { "Linux 6.1" }

    /// Creates a ring with `entries` submission slots and `completionEntries` completion slots.
    /// Throws the setup's error: ENOSYS (no io_uring), EPERM (kernel.io_uring_disabled, a
    /// seccomp filter), EINVAL (a kernel older than 6.1 refusing the flags), ENOMEM.
    package init(entries: UInt32, completionEntries: UInt32, submissionPolling: Bool = false) throws(SystemError) {
        raw = .allocate(capacity: 1)
        polled = submissionPolling
        var flags = UInt32(CCORRAL_SETUP_SUBMIT_ALL | CCORRAL_SETUP_R_DISABLED | CCORRAL_SETUP_CLAMP)
        if submissionPolling {
            // The poller thread issues the requests: DEFER_TASKRUN needs the submitter to run them.
            flags |= UInt32(CCORRAL_SETUP_SQPOLL) | UInt32(CCORRAL_SETUP_SINGLE_ISSUER)
        } else {
            flags |= UInt32(CCORRAL_SETUP_SINGLE_ISSUER) | UInt32(CCORRAL_SETUP_DEFER_TASKRUN)
        }
        let result = Self.setUpOnThrowawayThread(raw, entries, completionEntries, flags)
        guard result == 0 else {
            raw.deallocate()
            throw SystemError("io_uring_setup", errno: Errno(rawValue: -result))
        }
    }

    /// io_uring_setup(2) registers the calling thread with the ring, and when the ring is torn
    /// down the kernel interrupts every registered thread (task work with TWA_SIGNAL) so that it
    /// lets go: a blocking call with a timeout on that thread (recv with SO_RCVTIMEO, say) then
    /// fails with EINTR. So the ring is set up on a thread that exits at once (its registration
    /// goes with it, before the join returns), and only the threads that use the ring — the
    /// loop's — are ever registered. Returns 0 or -errno.
    private static func setUpOnThrowawayThread(
        _ raw: UnsafeMutablePointer<ccorral_ring>, _ entries: UInt32, _ completionEntries: UInt32, _ flags: UInt32
    ) -> CInt {
        let outcome = UnsafeMutablePointer<CInt>.allocate(capacity: 1)
        defer { outcome.deallocate() }
        outcome.initialize(to: -EAGAIN)
        do throws(SystemError) {
            let thread = try Threads.spawn(name: "corral-uring") {
                outcome.pointee = ccorral_ring_setup(raw, entries, completionEntries, flags, 50)
            }
            Threads.join(thread)
        } catch {
            return -error.errno.rawValue
        }
        return outcome.pointee
    }

    deinit {
        ccorral_ring_close(raw)
        raw.deallocate()
    }

    /// The ring's descriptor (what another ring's MSG_RING names).
    package var fd: CInt { raw.pointee.fd }

    /// Starts the ring; the calling thread becomes its only submitter. Then registers the ring's
    /// descriptor for that thread (each io_uring_enter then skips a descriptor lookup).
    package func enable() throws(SystemError) {
        let result = ccorral_ring_enable(raw)
        guard result == 0 else { throw SystemError("io_uring_register(ENABLE_RINGS)", errno: Errno(rawValue: -result)) }
        // Optional (Linux 5.18): without it io_uring_enter looks the descriptor up each time.
        _ = ccorral_ring_register_ring_fd(raw)
    }

    /// Closes the ring now (the kernel cancels whatever is still in flight).
    package func close() { ccorral_ring_close(raw) }

    /// A free submission entry, zeroed. When the queue is full, what is in it is submitted first.
    @inline(__always)
    package func sqe() throws(SystemError) -> UnsafeMutablePointer<ccorral_sqe> {
        if let entry = ccorral_ring_get_sqe(raw) { return entry }
        try submit()
        while true {
            if let entry = ccorral_ring_get_sqe(raw) { return entry }
            // SQPOLL: the poller thread has not consumed the queue yet; wait until it has.
            let result = ccorral_ring_wait_for_room(raw)
            if result < 0 && result != -EINTR {
                throw SystemError("io_uring_enter(SQ_WAIT)", errno: Errno(rawValue: -result))
            }
        }
    }

    /// Makes room for `count` SQEs in a row (a link must not be split by a submission):
    /// submits what is queued when fewer slots are free.
    @inline(__always)
    package func reserve(_ count: UInt32) throws(SystemError) {
        if ccorral_ring_sq_space(raw) < count { try submit() }
    }

    /// Submits what is queued without waiting.
    package func submit() throws(SystemError) {
        while true {
            let result = ccorral_ring_submit_only(raw)
            if result >= 0 { return }
            if result == -EINTR { continue }
            throw SystemError("io_uring_enter", errno: Errno(rawValue: -result))
        }
    }

    /// Submits what is queued and waits until `count` completions are in the queue or
    /// `timeoutNanoseconds` (-1: none) passes. With `count` 0 it only collects what is ready
    /// (with DEFER_TASKRUN, completions are produced here). EINTR is an ordinary wake-up.
    package func submitAndWait(count: UInt32, timeoutNanoseconds: Int64) throws(SystemError) {
        let result = ccorral_ring_submit(raw, count, 1, timeoutNanoseconds)
        if result >= 0 || result == -EINTR { return }
        if result == -EBUSY || result == -EAGAIN {
            // The completion queue overflowed into the kernel's backlog: collect what is there.
            return
        }
        throw SystemError("io_uring_enter", errno: Errno(rawValue: -result))
    }

    /// Completions ready to be read.
    @inline(__always)
    package var readyCompletions: UInt32 { ccorral_ring_cq_ready(raw) }

    /// Whether completions overflowed into the kernel's backlog: an io_uring_enter moves them
    /// into the queue (`submitAndWait`) as room frees up.
    @inline(__always)
    package var overflowed: Bool { ccorral_ring_cq_overflowed(raw) != 0 }

    /// The i-th ready completion.
    @inline(__always)
    package func completion(_ i: UInt32) -> ccorral_cqe { ccorral_ring_cqe(raw, i).pointee }

    /// Marks `count` completions as read.
    @inline(__always)
    package func consumeCompletions(_ count: UInt32) { ccorral_ring_cq_advance(raw, count) }

    /// SQEs handed out and not yet submitted.
    package var pendingSubmissions: UInt32 { ccorral_ring_sq_pending(raw) }
}

/// A ring of `count` receive buffers of `size` bytes provided to the kernel (IORING_REGISTER_PBUF_RING):
/// multishot receives take one per read, the loop gives it back once the bytes are handled. A
/// connection holds no buffer between reads.
package final class ProvidedBuffers {
    package let group: UInt16
    package let count: Int
    package let size: Int
    private let ring: UnsafeMutablePointer<ccorral_buf_ring>
    private let memory: UnsafeMutableRawPointer
    /// Buffers given back since the last `publish()`.
    private var returned: UInt32 = 0

    package init(on uring: IOURing, group: UInt16, count: Int, size: Int) throws(SystemError) {
        precondition(count > 0 && count & (count - 1) == 0 && count <= 32768, "a power of two up to 32768")
        self.group = group
        self.count = count
        self.size = size
        ring = .allocate(capacity: 1)
        let result = ccorral_buf_ring_setup(uring.raw, ring, UInt32(count), group)
        guard result == 0 else {
            ring.deallocate()
            throw SystemError("io_uring_register(PBUF_RING)", errno: Errno(rawValue: -result))
        }
        memory = .allocate(byteCount: count * size, alignment: 4096)
        for id in 0..<count {
            ccorral_buf_ring_add(ring, memory + id * size, UInt32(size), UInt16(id), UInt32(id))
        }
        ccorral_buf_ring_advance(ring, UInt32(count))
    }

    /// The bytes the kernel put into buffer `id`.
    @inline(__always)
    package func bytes(id: UInt16, count: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: memory + Int(id) * size, count: count)
    }

    /// Gives buffer `id` back (visible to the kernel at the next `publish()`).
    @inline(__always)
    package func giveBack(id: UInt16) {
        ccorral_buf_ring_add(ring, memory + Int(id) * size, UInt32(size), id, returned)
        returned += 1
    }

    /// Makes the buffers given back visible to the kernel.
    @inline(__always)
    package func publish() {
        guard returned > 0 else { return }
        ccorral_buf_ring_advance(ring, returned)
        returned = 0
    }

    /// Unregisters the ring (before the io_uring closes) and frees the memory.
    package func close(on uring: IOURing) {
        ccorral_buf_ring_close(uring.raw, ring)
    }

    deinit {
        ring.deallocate()
        memory.deallocate()
    }
}
