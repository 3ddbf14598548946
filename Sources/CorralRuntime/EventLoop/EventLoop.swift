package import CCorral
import Glibc
import Synchronization

/// One thread, one epoll instance or io_uring (its `backend`): the unit everything in Corral
/// runs on.
///
/// Every object registered with a loop (connections, listeners) is touched only by the loop's
/// thread, so none of them needs a lock. Other threads reach a loop only through `execute`
/// (or `submit`, or as an executor), which pushes onto a lock-free inbox and wakes the loop
/// only when it may be asleep (a busy loop finds the task on its next turn without a syscall):
/// by writing its eventfd, or, from another `uring` loop to a `uring` loop, by an
/// IORING_OP_MSG_RING message that travels with the sender's next submission. Work submitted
/// from the loop's own thread goes to a plain array instead: no atomic operation, no
/// allocation, no wake-up.
///
/// A loop is a Swift concurrency executor, both `SerialExecutor` (an actor can run on it) and
/// `TaskExecutor` (`Task(executorPreference: loop)`, `withTaskExecutorPreference(loop)`): async
/// code that prefers the loop runs on its thread, next to the connections it uses, with no
/// thread hop between a read and the code that handles it.
///
/// One turn of the loop, in order: run due timers → run submitted work (closures and jobs, in
/// submission order) → (uring: turn the flushes of the turn into send requests) → sleep in
/// epoll_wait or io_uring_enter until the next deadline → dispatch ready events or completions.
public final class EventLoop: @unchecked Sendable {
    /// The loop's position in its group (0-based), used in counters and logs.
    public let index: Int
    /// The CPU the loop's thread is pinned to, if any.
    public let cpu: Int?

    /// The kernel interface this loop uses (`uring` only if io_uring could be set up).
    public let backend: EventLoopBackend
    private let poller: EpollPoller?
    /// The io_uring half of a `uring` loop; nil for epoll.
    let ring: CompletionRing?
    private let wakeFD: CInt
    /// The eventfd as other threads may write it: -1 once closed, so a late `execute` or a
    /// second `shutdown` never writes into a descriptor number the process has since reused.
    /// Taken only on the wake-up path, which makes a syscall anyway.
    private let wakeWriter = Locked<CInt>(-1)
    // Exclusivity: the state below is touched only by the loop's thread, once or a few times
    // per turn, and no access spans a call out (a task, a timer, a handler): unchecked, so a
    // turn costs no dynamic exclusivity check (see Connection).
    @exclusivity(unchecked) var registrations = RegistrationTable()
    @exclusivity(unchecked) private var timers = TimerQueue()
    private let inbox = TaskInbox()
    /// Work submitted from the loop's own thread, for the next turn.
    @exclusivity(unchecked) private var pendingWork: [LoopWork] = []
    /// The work of the current turn (swapped with `pendingWork`, so neither array reallocates).
    @exclusivity(unchecked) private var runningWork: [LoopWork] = []
    @exclusivity(unchecked) private var dueTimers: [TimerHandle] = []

    /// True while the loop is (about to be) inside epoll_wait; producers then signal the eventfd.
    private let mayBeSleeping = Atomic<Bool>(false)
    private let started = Atomic<Bool>(false)
    private let stopRequested = Atomic<Bool>(false)
    @usableFromInline let finished = Atomic<Bool>(false)
    private var thread: pthread_t?
    /// The pthread running the loop (0 before it starts), compared by `inLoop`.
    @usableFromInline let threadID = Atomic<UInt>(0)

    // `now`, `inLoop` and `hasFinished` are read by the HTTP layer several times per request:
    // inlinable, so that a read is a load or two, not a call across modules with a retain and a
    // release of the loop around it (callgrind: ~40 instructions each).

    /// The monotonic time (ns) at which the loop last woke up: cheap "now" for handlers.
    @inlinable public var now: UInt64 { clock.pointee }
    /// Where `now` is kept: behind a `let` pointer, because handlers in other modules read it on
    /// every request, and a stored `var` read across modules keeps its dynamic exclusivity check
    /// whatever `@exclusivity(unchecked)` says (Benchmarks/callgrind.py --http).
    @usableFromInline let clock: UnsafeMutablePointer<UInt64> = {
        let pointer = UnsafeMutablePointer<UInt64>.allocate(capacity: 1)
        pointer.initialize(to: monotonicNanoseconds())
        return pointer
    }()

    /// Scratch receive buffer shared by every connection of this loop: a connection holds no
    /// receive memory while it is idle (only leftovers of a partial request are copied out).
    package let readBuffer: UnsafeMutableRawBufferPointer
    /// Recycled storage for the chunks async connections hand out (loop thread only).
    @exclusivity(unchecked) var inboundPool = InboundStoragePool()
    /// Scratch iovec array for gathered writes, IOV_MAX long.
    package let iovecs: UnsafeMutablePointer<iovec>
    package let iovecCapacity = Int(ccorral_IOV_MAX)

    /// Counters of the loop itself, readable from any thread.
    public let stats = EventLoopStats()

    private static let wakeToken: UInt64 = 0

    /// sendfile(2) has no MSG_NOSIGNAL: a peer that resets mid-file would raise SIGPIPE and kill
    /// the process. Like nginx, the runtime ignores SIGPIPE process-wide (the write then fails
    /// with EPIPE, which the connection handles); done once, when the first loop is created.
    private static let brokenPipeIgnored: Bool = {
        signal(SIGPIPE, SIG_IGN)
        return true
    }()

    /// Creates a loop; `start()` spawns its thread. `cpu` pins that thread. `backend` says
    /// which kernel interface it uses: a `uring` loop throws the io_uring set-up error where
    /// io_uring is unavailable (`EventLoopGroup` then falls back to epoll and says so).
    public init(
        index: Int = 0, cpu: Int? = nil, readBufferSize: Int = 64 * 1024, backend: EventLoopBackend = .default
    ) throws(SystemError) {
        self.index = index
        self.cpu = cpu
        self.backend = backend
        _ = Self.brokenPipeIgnored
        wakeFD = try EventFD.create()
        switch backend.kind {
        case .epoll:
            ring = nil
            do throws(SystemError) {
                let poller = try EpollPoller()
                self.poller = poller
                do throws(SystemError) {
                    try poller.register(fd: wakeFD, interest: Epoll.readable, token: Self.wakeToken)
                } catch {
                    poller.close()
                    throw error
                }
            } catch {
                Posix.close(wakeFD)
                throw error
            }
        case .uring:
            poller = nil
            do throws(SystemError) {
                ring = try CompletionRing(wakeFD: wakeFD, backend: backend)
            } catch {
                Posix.close(wakeFD)
                throw error
            }
        }
        wakeWriter.withLock { [wakeFD] in $0 = wakeFD }
        readBuffer = .allocate(byteCount: readBufferSize, alignment: 16)
        iovecs = .allocate(capacity: Int(ccorral_IOV_MAX))
    }

    deinit {
        clock.deallocate()
        readBuffer.deallocate()
        iovecs.deallocate()
    }

    /// Spawns the loop's thread; does nothing if the loop was started already.
    public func start() throws(SystemError) {
        guard !started.exchange(true, ordering: .relaxed) else { return }
        thread = try Threads.spawn(name: "corral-loop-\(index)") { [self] in
            if let cpu { try? Threads.pinCurrent(to: cpu) }
            self.run()
        }
    }

    /// Runs the loop on the calling thread until `shutdown()` is called.
    public func run() {
        threadID.store(pthread_self(), ordering: .releasing)
        pthread_setspecific(Self.currentKey, Unmanaged.passUnretained(self).toOpaque())
        clock.pointee = monotonicNanoseconds()
        if let ring {
            runCompletions(ring)
        } else if let poller {
            runReadiness(poller)
        }
        closeEverything()
        pthread_setspecific(Self.currentKey, nil)
    }

    /// The epoll loop.
    private func runReadiness(_ poller: EpollPoller) {
        while !stopRequested.load(ordering: .relaxed) {
            runTimers()
            runTasks()
            if stopRequested.load(ordering: .relaxed) { break }
            var timeout = timeoutUntilNextTimer()
            mayBeSleeping.store(true, ordering: .sequentiallyConsistent)
            if !inbox.isEmpty || !pendingWork.isEmpty { timeout = 0 }
            let ready: Int
            do {
                ready = try poller.wait(timeoutMilliseconds: timeout)
            } catch {
                fatalError("\(error)")  // only EINVAL/ENOMEM remain after EINTR: both bugs or fatal
            }
            mayBeSleeping.store(false, ordering: .relaxed)
            clock.pointee = monotonicNanoseconds()
            stats.countTurn(events: ready)
            for i in 0..<ready {
                let (token, events) = poller.event(i)
                if token == Self.wakeToken {
                    try? EventFD.drain(wakeFD)
                    continue
                }
                registrations.lookup(RegistrationToken(userData: token))?.handle(events: events)
            }
        }
    }

    /// The io_uring loop: one io_uring_enter per turn submits the turn's requests and sleeps.
    private func runCompletions(_ ring: CompletionRing) {
        do {
            try ring.start()
        } catch {
            fatalError("io_uring: \(error)")  // the ring was set up on another thread and cannot start here
        }
        ccorral_set_current_loop(Unmanaged.passUnretained(self).toOpaque())
        defer { ccorral_set_current_loop(nil) }
        while !stopRequested.load(ordering: .relaxed) {
            runTimers()
            runTasks()
            if stopRequested.load(ordering: .relaxed) { break }
            ring.prepareSends()
            var timeout = nanosecondsUntilNextTimer()
            mayBeSleeping.store(true, ordering: .sequentiallyConsistent)
            if !inbox.isEmpty || !pendingWork.isEmpty { timeout = 0 }
            do {
                try ring.wait(timeoutNanoseconds: timeout)
            } catch {
                fatalError("\(error)")  // EFAULT/EINVAL/EBADR: a runtime bug
            }
            mayBeSleeping.store(false, ordering: .relaxed)
            clock.pointee = monotonicNanoseconds()
            ring.settleQuietSends(afterDispatch: false)
            let completions = dispatchCompletions(ring)
            ring.settleQuietSends(afterDispatch: true)
            stats.countTurn(events: completions)
        }
    }

    /// Hands each ready completion to the registration that asked for it.
    private func dispatchCompletions(_ ring: CompletionRing) -> Int {
        let uring = ring.uring
        var total = 0
        while true {
            let ready = uring.readyCompletions
            guard ready > 0 else {
                // Completions that overflowed wait in the kernel: an enter moves them in.
                guard uring.overflowed else { break }
                stats.countOverflow()
                guard (try? ring.collectNow()) != nil, uring.readyCompletions > 0 else { break }
                continue
            }
            for i in 0..<ready { dispatch(uring.completion(i), ring) }
            uring.consumeCompletions(ready)
            total += Int(ready)
        }
        ring.buffers.publish()
        return total
    }

    @inline(__always)
    private func dispatch(_ completion: ccorral_cqe, _ ring: CompletionRing) {
        guard let operation = ring.sort(completion) else { return }
        let token = RegistrationToken(userData: completion.user_data)
        let object = registrations.lookup(token)
        let flags = completion.flags
        if flags & CompletionRing.bufferFlag != 0 {
            // A receive used a provided buffer: hand the bytes over (if anyone is left to take
            // them), then give the buffer back.
            let id = UInt16(truncatingIfNeeded: flags >> 16)
            object?.complete(operation, result: completion.res, flags: flags,
                             bytes: ring.buffers.bytes(id: id, count: max(0, Int(completion.res))))
            ring.buffers.giveBack(id: id)
            return
        }
        guard let object else { return }
        guard operation == .poll else {
            object.complete(operation, result: completion.res, flags: flags, bytes: UnsafeRawBufferPointer(start: nil, count: 0))
            return
        }
        if completion.res >= 0 { object.handle(events: UInt32(bitPattern: completion.res)) }
        // A one-shot poll (level-triggered interest) or a multishot one the kernel ended: poll
        // again while the registration lives (not after a cancellation).
        if flags & CompletionRing.moreFlag == 0, completion.res != -ECANCELED,
           let (fd, interest) = registrations.polled(token) {
            try? ring.poll(fd: fd, interest: interest, token: token)
        }
    }

    // MARK: tasks

    /// True when called on this loop's thread.
    @inlinable public var inLoop: Bool { threadID.load(ordering: .relaxed) == pthread_self() }

    /// Stops the process unless called on this loop's thread.
    public func preconditionInLoop(file: StaticString = #fileID, line: UInt = #line) {
        precondition(inLoop, "not on event loop \(index)'s thread", file: file, line: line)
    }

    /// The loop-thread check of loop-bound objects: on in debug builds, compiled out in release.
    @inline(__always)
    package func assertInLoop(file: StaticString = #fileID, line: UInt = #line) {
        assert(inLoop, "not on event loop \(index)'s thread", file: file, line: line)
    }

    /// Runs `task` on the loop's thread, soon. Safe from any thread, in submission order per producer.
    /// A task submitted after the loop has shut down is dropped (see `submitUnlessFinished`).
    public func execute(_ task: @escaping @Sendable () -> Void) {
        _ = enqueue(.task(task))
    }

    /// Submits `task` and reports whether it will run: false when the loop has already shut down.
    public func submitUnlessFinished(_ task: @escaping @Sendable () -> Void) -> Bool {
        enqueue(.task(task))
    }

    /// Runs `body` on the loop's thread and returns its result. Callable from any thread or task;
    /// throws `EventLoopError.shutDown` if the loop has shut down (then `body` never runs).
    ///
    /// Called from a task running on another loop, the result goes back through that loop's
    /// queue and the task is resumed on its own thread, after it has suspended: a continuation
    /// resumed from a foreign thread can race the task's last steps before suspending in a way
    /// only the concurrency runtime's (uninstrumented) atomics order, which ThreadSanitizer reports.
    public func submit<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        let caller = Self.current
        let result: Result<T, any Error> = await withUnsafeContinuation { continuation in
            let accepted = enqueue(.task {
                let result = Result(catching: body)
                if let caller, caller !== self, caller.submitUnlessFinished({ continuation.resume(returning: result) }) {
                    return
                }
                continuation.resume(returning: result)
            })
            if !accepted { continuation.resume(returning: .failure(EventLoopError.shutDown)) }
        }
        return try result.get()
    }

    /// The loop whose thread is the calling thread, if any.
    static var current: EventLoop? {
        guard let raw = pthread_getspecific(currentKey) else { return nil }
        return Unmanaged<EventLoop>.fromOpaque(raw).takeUnretainedValue()
    }

    /// The thread-specific slot `run()` fills with its loop (unretained: `run` is the loop's own method).
    private static let currentKey: pthread_key_t = {
        var key = pthread_key_t()
        precondition(pthread_key_create(&key, nil) == 0, "pthread_key_create failed")
        return key
    }()

    private func enqueue(_ work: LoopWork) -> Bool {
        if inLoop {
            if finished.load(ordering: .relaxed) { return false }
            pendingWork.append(work)
            return true
        }
        guard inbox.push(work) else { return false }
        // Publishing the task (above) and then reading the flag, against the loop setting the
        // flag and then reading the inbox: with both sequentially consistent, one of the two
        // sides sees the other, so a task is never left behind a sleeping loop.
        if mayBeSleeping.exchange(false, ordering: .sequentiallyConsistent) {
            stats.countWakeWrite()
            wakeUp()
        }
        return true
    }

    /// Wakes the sleeping loop: from another `uring` loop's thread with a MSG_RING message in
    /// that loop's next submission (no syscall of its own), otherwise through the eventfd.
    private func wakeUp() {
        if let ring, let current = ccorral_current_loop() {
            let sender = Unmanaged<EventLoop>.fromOpaque(current).takeUnretainedValue()
            if let senderRing = sender.ring, (try? senderRing.wake(ring)) != nil { return }
        }
        signalWake()
    }

    private func signalWake() {
        wakeWriter.withLock { fd in
            if fd >= 0 { try? EventFD.signal(fd) }
        }
    }

    /// Runs the work queued so far: first what the loop queued itself, then what other threads
    /// did (each producer's work stays in its order). Work queued while these run waits for the
    /// next turn, so a task that re-queues itself cannot starve I/O.
    private func runTasks() {
        swap(&pendingWork, &runningWork)
        inbox.drain(into: &runningWork)
        guard !runningWork.isEmpty else { return }
        for work in runningWork {
            switch work {
            case .task(let task): task()
            case .job(let job): job.runSynchronously(on: asUnownedTaskExecutor())
            case .actorJob(let job): job.runSynchronously(on: asUnownedSerialExecutor())
            }
        }
        // Emptied from the end (the capacity stays): removeAll(keepingCapacity:) goes through the
        // generic replaceSubrange and swift_arrayDestroy, ~120 instructions even for the single
        // job of a worker task's wake-up (callgrind, Examples' hello with one connection).
        while runningWork.popLast() != nil {}
    }

    // MARK: timers

    /// Calls `body` on this loop after `nanoseconds`. Loop thread only.
    @discardableResult
    public func schedule(afterNanoseconds nanoseconds: UInt64, _ body: @escaping () -> Void) -> TimerHandle {
        schedule(atNanoseconds: monotonicNanoseconds() &+ nanoseconds, body)
    }

    /// Calls `body` on this loop once the monotonic clock (`monotonicNanoseconds()`) reaches
    /// `deadline`; timers with equal deadlines fire in the order they were scheduled. Loop thread only.
    @discardableResult
    public func schedule(atNanoseconds deadline: UInt64, _ body: @escaping () -> Void) -> TimerHandle {
        precondition(inLoop, "schedule must be called on the loop's thread")
        return timers.schedule(at: deadline, body)
    }

    /// Runs the timers due at `now` (the time of the last wake-up: one clock read per turn).
    private func runTimers() {
        guard !timers.isEmpty else { return }
        timers.popExpired(now: now, into: &dueTimers)
        guard !dueTimers.isEmpty else { return }
        let due = dueTimers
        dueTimers.removeAll(keepingCapacity: true)
        for timer in due { timer.fire() }
    }

    /// Nanoseconds until the next deadline (-1: none), for io_uring's wait, which takes them as they are.
    private func nanosecondsUntilNextTimer() -> Int64 {
        guard let deadline = timers.nextDeadline() else { return -1 }
        let current = monotonicNanoseconds()
        if deadline <= current { return 0 }
        return Int64(min(deadline - current, UInt64(Int64.max)))
    }

    /// Milliseconds until the next deadline, rounded up so the loop never wakes just before it.
    private func timeoutUntilNextTimer() -> CInt {
        guard let deadline = timers.nextDeadline() else { return -1 }
        let current = now
        if deadline <= current { return 0 }
        let milliseconds = (deadline - current + 999_999) / 1_000_000
        return CInt(min(milliseconds, UInt64(CInt.max)))
    }

    // MARK: registrations

    /// Registers `object`'s descriptor for readiness `interest` (epoll bits). Loop thread only.
    /// epoll: EPOLL_CTL_ADD. uring: a poll request (multishot for edge-triggered interest, one-shot
    /// re-armed after each report otherwise, which is level-triggered).
    package func register(_ object: any Selectable, fd: CInt, interest: Interest) throws(SystemError) -> RegistrationToken {
        assertInLoop()
        let token = registrations.insert(object)
        do {
            if let ring {
                registrations.setPolled(token, fd: fd, interest: interest)
                try ring.poll(fd: fd, interest: interest, token: token)
            } else {
                try poller!.register(fd: fd, interest: interest, token: token.userData)
            }
        } catch {
            registrations.remove(token)
            throw error
        }
        return token
    }

    /// Registers an object that submits its own io_uring requests (no readiness is watched):
    /// completions for `token.userData(operation)` reach its `complete`. Loop thread only.
    package func registerForCompletions(_ object: any Selectable) -> RegistrationToken {
        assertInLoop()
        return registrations.insert(object)
    }

    /// Removes the registration; the descriptor stays open (the caller closes it). uring: the
    /// request armed on it (`armed`: the readiness poll for a `register`ed descriptor, nil for
    /// none) is cancelled by its user data before this returns, so another thread may close it
    /// at once.
    package func deregister(_ token: RegistrationToken, fd: CInt, armed operation: RingOperation?) {
        registrations.remove(token)
        if let ring {
            if let operation { try? ring.cancel(request: token.userData(operation), submitNow: true) }
            return
        }
        do {
            try poller!.deregister(fd: fd)
        } catch {
            // ENOENT: never added or already removed by close(2) of the last reference; harmless.
        }
    }

    /// Removes the registration and closes its descriptor. epoll: close(2) (which also removes
    /// it from epoll: no EPOLL_CTL_DEL). uring: the ring cancels the requests armed on `fd`
    /// (their user data, 0 for none; at most two), each found by its user data, and closes it
    /// with the turn's submission.
    package func close(_ fd: CInt, registration token: RegistrationToken?, armed requests: (UInt64, UInt64)) {
        if let token { registrations.remove(token) }
        if let ring, (try? ring.close(fd: fd, cancellingRequests: requests)) != nil { return }
        Posix.close(fd)
    }

    func forgetRegistration(_ token: RegistrationToken) { registrations.remove(token) }

    /// How many objects are registered (connections, listeners).
    public var registrationCount: Int { registrations.count }

    // MARK: shutdown

    /// Stops the loop: closes every registered descriptor, then its own, and ends the thread.
    /// Safe from any thread; waits for the loop's thread when called from elsewhere.
    public func shutdown() {
        stopRequested.store(true, ordering: .sequentiallyConsistent)
        if inLoop { return }
        signalWake()
        if let thread {
            Threads.join(thread)
            self.thread = nil
        }
    }

    private func closeEverything() {
        closeRegistrations()
        // From here on `execute` drops tasks and `submitUnlessFinished` reports false; work that
        // got in before runs now.
        inbox.close(into: &pendingWork)
        var rounds = 0
        while !pendingWork.isEmpty && rounds < 4 {  // work the last ones queued, a few rounds deep
            runTasks()
            rounds += 1
        }
        finished.store(true, ordering: .sequentiallyConsistent)
        for work in pendingWork {  // never strand a task
            switch work {
            case .job(let job), .actorJob(let job): Self.runElsewhere(job)
            case .task: break
            }
        }
        pendingWork.removeAll()
        closeRegistrations()  // those tasks may have adopted connections
        timers.removeAll()
        if let ring {
            ring.finish()  // the closes just queued, then the ring itself
        } else {
            try? poller?.deregister(fd: wakeFD)
        }
        wakeWriter.withLock { fd in
            Posix.close(fd)
            fd = -1
        }
        poller?.close()
    }

    private func closeRegistrations() {
        // A closing object may close others (never register new ones); a few rounds suffice.
        var rounds = 0
        while registrations.count > 0 && rounds < 4 {
            for object in registrations.all { object.loopIsClosing() }
            rounds += 1
        }
    }

    /// True once the loop has shut down and closed its descriptors; tasks submitted after that never run.
    @inlinable public var hasFinished: Bool { finished.load(ordering: .acquiring) }
}

// MARK: - the loop as an executor

extension EventLoop: SerialExecutor, TaskExecutor {
    // The runtime enqueues two kinds of job here, through the two protocols' witness tables:
    // jobs of tasks that prefer the loop (TaskExecutor) and jobs of actors whose executor is the
    // loop (SerialExecutor). They must run differently: an actor's job runs isolated to the
    // loop's serial executor; a task's job must not, because every nonisolated async function
    // the task then calls would see a custom serial executor as the current one and hop (one
    // more trip through the loop's queue per call). `@_implements` gives each protocol its own
    // method; `enqueue(_:)` itself (the base `Executor` requirement) is the task path.

    /// Runs a job of a task that prefers this loop: on the next turn, without a wake-up, when
    /// enqueued from the loop itself (a task resuming after a read); through the inbox otherwise.
    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        if !enqueue(.job(job)) { Self.runElsewhere(job) }
    }

    @_implements(TaskExecutor, enqueue(_:))
    public func enqueueTaskJob(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        if !enqueue(.job(job)) { Self.runElsewhere(job) }
    }

    /// Runs a job of an actor whose executor is this loop, isolated to the loop.
    @_implements(SerialExecutor, enqueue(_:))
    public func enqueueActorJob(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        if !enqueue(.actorJob(job)) { Self.runElsewhere(job) }
    }

    public func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    /// True on the loop's thread: lets `assumeIsolated` and actors whose executor is this loop
    /// recognise code that is already running there.
    public func isIsolatingCurrentContext() -> Bool? { inLoop }

    public func checkIsolated() { preconditionInLoop() }

    /// A job for a loop that has shut down runs on the global executor rather than never, so
    /// its task can finish (the loop's connections are closed by then and report it).
    fileprivate static func runElsewhere(_ job: UnownedJob) {
        globalConcurrentExecutor.enqueue(ExecutorJob(job))
    }
}

/// Errors of the loop itself.
public struct EventLoopError: Error, Sendable, Hashable, CustomStringConvertible {
    private let message: String
    /// The loop has shut down: submitted work can no longer run on it.
    public static let shutDown = EventLoopError(message: "the event loop has shut down")
    public var description: String { message }
}

/// Counters of one loop, updated by its thread, readable anywhere.
public final class EventLoopStats: Sendable {
    private let _wakeUps = Atomic<Int>(0)
    private let _events = Atomic<Int>(0)
    private let _wakeWrites = Atomic<Int>(0)
    private let _openConnections = Atomic<Int>(0)
    private let _acceptedConnections = Atomic<Int>(0)
    private let _completionQueueOverflows = Atomic<Int>(0)

    /// Returns from the wait (epoll_wait, or io_uring_enter).
    public var wakeUps: Int { _wakeUps.load(ordering: .relaxed) }
    /// Ready events (epoll) or completions (uring) dispatched.
    public var events: Int { _events.load(ordering: .relaxed) }
    /// Wake-ups other threads sent this loop: eventfd writes, or MSG_RING messages from `uring` loops.
    public var wakeWrites: Int { _wakeWrites.load(ordering: .relaxed) }

    /// Connections currently open on the loop (read by the `dispatch` strategy's fewest-connections choice).
    public var openConnections: Int { _openConnections.load(ordering: .relaxed) }
    /// Connections this loop has taken over since it started (whatever strategy accepted them).
    public var acceptedConnections: Int { _acceptedConnections.load(ordering: .relaxed) }

    func connectionOpened() {
        _openConnections.add(1, ordering: .relaxed)
        _acceptedConnections.add(1, ordering: .relaxed)
    }

    func connectionClosed() { _openConnections.subtract(1, ordering: .relaxed) }

    /// One return from the wait, which dispatched `events`. Loop thread only: the one writer
    /// loads and stores, sparing the loop two locked read-modify-writes per turn.
    func countTurn(events: Int) {
        _wakeUps.store(_wakeUps.load(ordering: .relaxed) + 1, ordering: .relaxed)
        if events != 0 { _events.store(_events.load(ordering: .relaxed) + events, ordering: .relaxed) }
    }

    /// A wake-up sent to the loop, from any thread.
    func countWakeWrite() { _wakeWrites.add(1, ordering: .relaxed) }

    /// uring: times the loop found completions waiting in the kernel's overflow backlog (the
    /// completion queue was full). Loop thread writes.
    package var completionQueueOverflows: Int { _completionQueueOverflows.load(ordering: .relaxed) }

    func countOverflow() {
        _completionQueueOverflows.store(_completionQueueOverflows.load(ordering: .relaxed) + 1, ordering: .relaxed)
    }
}

extension EventLoop {
    /// Drops a registration whose descriptor is about to be closed with close(2) (which removes
    /// it from epoll, so no EPOLL_CTL_DEL syscall is needed). uring: use `close(_:registration:)`,
    /// which also ends the requests that hold the descriptor open.
    package func forget(_ token: RegistrationToken) {
        forgetRegistration(token)
    }
}
