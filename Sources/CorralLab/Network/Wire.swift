import CorralRuntime
import Glibc

/// Corral's emulated wire: two TAP devices (one in each namespace) joined by a program that
/// forwards every Ethernet frame from one to the other after the delay, with jitter, loss and
/// a rate limit (``WireSettings``, modelled by ``WireLink``). It stands in for tc netem, which
/// this kind of kernel may lack.
///
/// The program is one Corral event loop on its own thread (`corral-wire`). Both TAP descriptors
/// and a timerfd are registered with it. A frame that arrives is read into a slot of its
/// direction's queue and stamped with its departure time; the timerfd is armed at the earliest
/// departure of either direction, and when it fires every frame that is due is written to the
/// other TAP. The loop's own timers are not used for this: they wake at millisecond steps
/// (epoll_wait's timeout), too coarse for a 0.2 ms link; a timerfd is nanosecond-exact.
///
/// The loop's thread runs SCHED_FIFO (priority 1) where the lab may (root): like netem's
/// timers, which fire in softirq context, the wire then does not wait behind the programs whose
/// traffic it carries. How late each frame leaves against its departure time (timer and
/// wake-up latency) is recorded, so a run can say how faithful the wire was.
final class Wire: @unchecked Sendable {
    /// The two directions: 0 carries frames from end A to end B, 1 from B to A.
    private var directions: [WireDirection]
    private let loop: EventLoop
    private var thread: pthread_t?
    private var ends: [WireEnd] = []
    private var clock: WireClock?
    private var armedFor: UInt64?
    /// Whether the wire's thread got real-time scheduling.
    private(set) var isRealtime = false

    /// A wire with `settings` in both directions; `seed` fixes its losses and jitter.
    init(settings: WireSettings, seed: UInt64 = 0x636f_7272_616c) throws {
        guard settings.queueLimit >= 1, settings.queueLimit <= WireQueue.capacity else {
            throw LabNetworkError("wire: the queue limit must be 1…\(WireQueue.capacity) frames")
        }
        directions = [WireDirection(settings: settings, seed: seed), WireDirection(settings: settings, seed: seed ^ 0x5555)]
        loop = try EventLoop(index: 0, readBufferSize: 64)
    }

    /// Starts forwarding between the TAP descriptors `a` and `b` (the wire owns and closes them).
    func start(a: CInt, b: CInt) throws {
        let timer: CInt
        do {
            timer = try TimerFD.create()
        } catch {
            Posix.close(a)
            Posix.close(b)
            throw error
        }
        let registered = try OneShotSignal()
        let failure = ResultBox<Void>()
        let realtime = ResultBox<Void>()
        thread = try Threads.spawn(name: "corral-wire") { [loop] in
            realtime.result = Result { try makeCurrentThreadRealtime(priority: 1) }
            loop.run()
        }
        loop.execute { [self] in
            failure.result = Result {
                ends = [WireEnd(fd: a, index: 0, wire: self), WireEnd(fd: b, index: 1, wire: self)]
                let clock = WireClock(fd: timer, wire: self)
                self.clock = clock
                for end in ends { end.token = try loop.register(end, fd: end.fd, interest: Epoll.readable) }
                clock.token = try loop.register(clock, fd: timer, interest: Epoll.readable)
            }
            registered.signal()
        }
        registered.wait()
        if case .success? = realtime.result { isRealtime = true }
        if case .failure(let error)? = failure.result {
            stop()
            throw error
        }
    }

    /// Changes delay, jitter, loss and rate for frames that arrive from now on.
    func update(_ settings: WireSettings) {
        loop.execute { [self] in
            for i in directions.indices { directions[i].link.settings.update(to: settings) }
        }
    }

    /// What crossed the wire so far, per direction.
    func statistics() -> [WireStatistics] {
        let box = ResultBox<[WireStatistics]>()
        guard let done = try? OneShotSignal() else { return [] }
        loop.execute { [self] in
            box.result = .success(directions.map(\.statistics))
            done.signal()
        }
        guard done.wait(timeoutMilliseconds: 5000), case .success(let stats)? = box.result else { return [] }
        return stats
    }

    /// Stops the program and closes both TAP descriptors (which removes the devices).
    func stop() {
        loop.shutdown()
        if let thread {
            Threads.join(thread)
            self.thread = nil
        }
    }

    deinit { stop() }

    // MARK: on the loop

    /// Reads every frame waiting at end `index` (at most 64 per turn, so the other direction
    /// and the timer are served too) and queues it in that end's outgoing direction. Frames are
    /// stamped with the moment the loop woke (they were waiting by then), not the moment each
    /// is read, so the wire's own work does not lengthen the delay.
    fileprivate func receive(at index: Int) {
        let fd = ends[index].fd
        let earliest = nextDeparture()
        let arrived = loop.now
        var frames = 0
        while frames < 64, directions[index].receive(from: fd, now: arrived) != nil { frames += 1 }
        if nextDeparture() != earliest { arm() }
    }

    /// Writes every frame that is due to the far end, then re-arms the timer.
    fileprivate func deliverDue() {
        armedFor = nil
        let now = monotonicNanoseconds()
        for index in directions.indices {
            directions[index].deliver(upTo: now, to: ends[1 - index].fd)
        }
        arm()
    }

    private func nextDeparture() -> UInt64? {
        directions.compactMap(\.queue.firstDeparture).min()
    }

    private func arm() {
        let next = nextDeparture()
        guard next != armedFor, let clock else { return }
        armedFor = next
        try? TimerFD.arm(clock.fd, at: next)
    }
}

/// What one direction of a wire did.
struct WireStatistics: Sendable, Equatable {
    /// Frames that entered.
    var frames = 0
    /// Bytes of the frames that entered.
    var bytes = 0
    /// Frames dropped by the loss setting.
    var lost = 0
    /// Frames dropped because the queue was full.
    var queueDrops = 0
    /// Frames written to the far end.
    var delivered = 0
    /// Frames the far end refused (write errors).
    var writeErrors = 0
    /// How late frames left against their departure time: median, 99th percentile and maximum, in nanoseconds.
    var latenessP50 = 0
    var latenessP99 = 0
    var latenessMax = 0
}

/// One direction: its link model, its queue and its counters.
struct WireDirection {
    var link: WireLink
    let queue = WireQueue()
    private var counters = WireStatistics()
    private var lateness = LatencyRecorder()

    init(settings: WireSettings, seed: UInt64) {
        link = WireLink(settings: settings, seed: seed)
    }

    /// Reads one frame from `fd`: true if it was queued, false if it was dropped, nil if there was none.
    mutating func receive(from fd: CInt, now: UInt64) -> Bool? {
        let slot = queue.nextFreeSlot() ?? queue.scratch
        let length: Int
        do {
            guard case .processed(let n) = try Posix.read(fd, slot) else { return nil }
            length = n
        } catch {
            return nil  // EIO: the device went down
        }
        counters.frames += 1
        counters.bytes += length
        switch link.admit(size: length, now: now, waiting: queue.count) {
        case .deliver(let departure):
            guard queue.nextFreeSlot() != nil else {
                counters.queueDrops += 1
                return false
            }
            queue.commit(length: length, departure: departure)
            return true
        case .lost:
            counters.lost += 1
            return false
        case .queueFull:
            counters.queueDrops += 1
            return false
        }
    }

    /// Writes the frames due at `now` to `fd`, recording how late each one is.
    mutating func deliver(upTo now: UInt64, to fd: CInt) {
        while let departure = queue.firstDeparture, departure <= now {
            let frame = queue.popFirst()
            if case .processed? = try? Posix.write(fd, frame) { counters.delivered += 1 } else { counters.writeErrors += 1 }
            lateness.record(nanoseconds: now - departure)
        }
    }

    var statistics: WireStatistics {
        var s = counters
        s.latenessP50 = Int(lateness.p50)
        s.latenessP99 = Int(lateness.p99)
        s.latenessMax = Int(lateness.max)
        return s
    }
}

/// The frames waiting in one direction, in departure order: a ring of fixed slots allocated
/// once, so forwarding allocates nothing.
final class WireQueue {
    /// Slots per direction (netem's default limit is 1000 frames).
    static let capacity = 1024
    /// Bytes per slot: an Ethernet frame at MTU 1500 is 1514; larger frames are cut short.
    static let slotSize = 2048
    private let storage: UnsafeMutableRawPointer
    private var lengths = [Int](repeating: 0, count: WireQueue.capacity)
    private var departures = [UInt64](repeating: 0, count: WireQueue.capacity)
    private var head = 0
    private(set) var count = 0
    /// Where a frame that will be dropped anyway is read to.
    let scratch: UnsafeMutableRawBufferPointer

    init() {
        storage = .allocate(byteCount: Self.capacity * Self.slotSize, alignment: 64)
        scratch = .allocate(byteCount: Self.slotSize, alignment: 64)
    }

    deinit {
        storage.deallocate()
        scratch.deallocate()
    }

    func nextFreeSlot() -> UnsafeMutableRawBufferPointer? {
        guard count < Self.capacity else { return nil }
        return slot((head + count) % Self.capacity)
    }

    /// Keeps the frame just read into `nextFreeSlot()`.
    func commit(length: Int, departure: UInt64) {
        let i = (head + count) % Self.capacity
        lengths[i] = length
        departures[i] = departure
        count += 1
    }

    var firstDeparture: UInt64? { count > 0 ? departures[head] : nil }

    /// Removes the first frame and returns its bytes (valid until the slot is reused).
    func popFirst() -> UnsafeRawBufferPointer {
        let frame = UnsafeRawBufferPointer(rebasing: slot(head)[0..<lengths[head]])
        head = (head + 1) % Self.capacity
        count -= 1
        return frame
    }

    private func slot(_ i: Int) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: storage + i * Self.slotSize, count: Self.slotSize)
    }
}

/// A TAP descriptor registered with the wire's loop.
private final class WireEnd: Selectable {
    let fd: CInt
    let index: Int
    unowned let wire: Wire
    var token: RegistrationToken?

    init(fd: CInt, index: Int, wire: Wire) {
        self.fd = fd
        self.index = index
        self.wire = wire
    }

    func handle(events: UInt32) { wire.receive(at: index) }
    func loopIsClosing() { close() }

    private func close() {
        guard let token else { return }
        self.token = nil
        wire.loopDeregister(token, fd: fd)
        Posix.close(fd)
    }
}

/// The timerfd armed at the earliest departure.
private final class WireClock: Selectable {
    let fd: CInt
    unowned let wire: Wire
    var token: RegistrationToken?

    init(fd: CInt, wire: Wire) {
        self.fd = fd
        self.wire = wire
    }

    func handle(events: UInt32) {
        _ = try? TimerFD.acknowledge(fd)
        wire.deliverDue()
    }

    func loopIsClosing() {
        guard let token else { return }
        self.token = nil
        wire.loopDeregister(token, fd: fd)
        Posix.close(fd)
    }
}

extension Wire {
    fileprivate func loopDeregister(_ token: RegistrationToken, fd: CInt) {
        loop.deregister(token, fd: fd, armed: .poll)
    }
}

extension WireSettings {
    /// Takes every setting of `other`, the queue limit capped at the queues' allocated size.
    mutating func update(to other: WireSettings) {
        self = other
        queueLimit = min(max(1, other.queueLimit), WireQueue.capacity)
    }
}

/// A result handed from one thread to another through a signal.
final class ResultBox<T>: @unchecked Sendable {
    var result: Result<T, any Error>?
}
