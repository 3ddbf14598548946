/// An object that owns a descriptor registered with an event loop.
///
/// Readiness: the loop calls `handle(events:)` with the epoll event bits (also for readiness
/// watched through io_uring's poll, whose bits are the same). Completions (the `uring` backend):
/// the loop calls `complete(_:result:flags:bytes:)` for each request the object submitted.
/// `loopIsClosing()` comes once when the loop shuts down, so that every descriptor gets closed.
package protocol Selectable: AnyObject {
    func handle(events: UInt32)
    func loopIsClosing()
    /// A completion of one of this object's io_uring requests: `result` is the request's return
    /// value (-errno on failure), `flags` the CQE's flags, `bytes` what a receive read (in a
    /// provided buffer that is only valid during the call).
    func complete(_ operation: RingOperation, result: Int32, flags: UInt32, bytes: UnsafeRawBufferPointer)
}

extension Selectable {
    package func complete(_ operation: RingOperation, result: Int32, flags: UInt32, bytes: UnsafeRawBufferPointer) {}
}

/// What an io_uring request was for, kept in the low byte of its user data.
package enum RingOperation: UInt8 {
    /// A loop wake-up: the eventfd read, or another loop's MSG_RING.
    case wake = 1
    /// Readiness of a registered descriptor (POLL_ADD): reported to `handle(events:)`.
    case poll
    /// A connection accepted by a multishot accept.
    case accept
    /// Bytes (or the end, or an error) from a multishot receive.
    case receive
    /// A send (MSG_DONTWAIT: it completes while being submitted).
    case send
    /// A quiet send (IOSQE_CQE_SKIP_SUCCESS): only a send that fell short, or failed, posts.
    case quietSend
    /// A connection's socket has room again (one-shot POLLOUT).
    case writable
    /// An outgoing connect finished (one-shot POLLOUT).
    case connected
    /// Requests whose success posts nothing (cancel, close, MSG_RING): only a failure shows.
    case quiet
}

/// Identifies one registration: a slot index plus the slot's generation, packed into the 64-bit
/// user data of epoll events and io_uring requests (generation in the high half, the index
/// above the low byte, which io_uring requests use for the `RingOperation`). A slot's
/// generation changes when it is freed, so an event still queued for a closed descriptor (or
/// one whose number was reused) is recognised and dropped.
package struct RegistrationToken: Hashable {
    package let index: UInt32
    package let generation: UInt32

    /// Registrations a loop can hold at once (the index has 24 bits).
    static var capacity: Int { 1 << 24 }

    var userData: UInt64 { UInt64(generation) << 32 | UInt64(index) << 8 }

    /// The user data of a request for `operation` made on behalf of this registration.
    @inline(__always)
    func userData(_ operation: RingOperation) -> UInt64 { userData | UInt64(operation.rawValue) }

    init(index: UInt32, generation: UInt32) {
        self.index = index
        self.generation = generation
    }

    init(userData: UInt64) {
        self.index = UInt32(truncatingIfNeeded: userData >> 8) & 0xFF_FFFF
        self.generation = UInt32(truncatingIfNeeded: userData >> 32)
    }
}

/// The loop's table of live registrations.
struct RegistrationTable {
    private struct Slot {
        var generation: UInt32 = 1
        var object: (any Selectable)?
        /// io_uring readiness registrations: the descriptor and interest to poll again with
        /// after a one-shot poll (level-triggered) or a multishot one that ended; -1 otherwise.
        var polledFD: CInt = -1
        var interest: UInt32 = 0
    }

    private var slots: [Slot] = []
    private var free: [UInt32] = []
    private(set) var count = 0

    mutating func insert(_ object: any Selectable) -> RegistrationToken {
        let index: UInt32
        if let reused = free.popLast() {
            index = reused
        } else {
            precondition(slots.count < RegistrationToken.capacity, "more than 2^24 registrations on one loop")
            index = UInt32(slots.count)
            slots.append(Slot())
        }
        slots[Int(index)].object = object
        count += 1
        return RegistrationToken(index: index, generation: slots[Int(index)].generation)
    }

    mutating func remove(_ token: RegistrationToken) {
        let i = Int(token.index)
        guard i < slots.count, slots[i].generation == token.generation, slots[i].object != nil else { return }
        slots[i].object = nil
        slots[i].polledFD = -1
        slots[i].generation &+= 1
        if slots[i].generation == 0 { slots[i].generation = 1 }  // 0 is never a live generation
        free.append(token.index)
        count -= 1
    }

    func lookup(_ token: RegistrationToken) -> (any Selectable)? {
        let i = Int(token.index)
        guard i < slots.count, slots[i].generation == token.generation else { return nil }
        return slots[i].object
    }

    /// Records the descriptor and interest a readiness registration polls with (io_uring).
    mutating func setPolled(_ token: RegistrationToken, fd: CInt, interest: UInt32) {
        slots[Int(token.index)].polledFD = fd
        slots[Int(token.index)].interest = interest
    }

    /// The descriptor and interest of a live readiness registration, or nil.
    func polled(_ token: RegistrationToken) -> (fd: CInt, interest: UInt32)? {
        let i = Int(token.index)
        guard i < slots.count, slots[i].generation == token.generation, slots[i].object != nil,
              slots[i].polledFD >= 0 else { return nil }
        return (slots[i].polledFD, slots[i].interest)
    }

    var all: [any Selectable] { slots.compactMap(\.object) }
}
