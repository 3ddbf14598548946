import CCorral
import CorralRuntime
import Glibc
import Synchronization

/// `corral lab yield` (seed 004): two threads hand a token back and forth while a CPU-bound
/// bystander tries to get work done. How the waiting side waits decides both the hand-off
/// rate and what is left for the bystander.
public struct YieldExperiment: LabExperiment {
    public init() {}

    public enum Figure: String, LabFigureName {
        case handoffs, handoffsPerSecond = "handoffs_per_s", cpuPerHandoff = "cpu_us_per_handoff", handoffCPU = "handoff_cpu_pct"
        case switchesPerHandoff = "cswitch_per_handoff", bystanderProgress = "bystander_progress_pct"
    }

    public var name: String { "yield" }
    public var seed: String { "004" }
    public var title: String { "Waiting for another thread: sched_yield, spinning, condvars, eventfd" }
    public var question: String {
        "When a thread waits for another one, what do spinning on sched_yield, pure spinning, a mutex and condition variable, an eventfd, and the runtime's cross-loop submission cost in hand-offs per second, in CPU per hand-off, and in progress taken from a CPU-bound bystander?"
    }
    public var method: String {
        "Two threads pass a token back and forth for a fixed time (1 s; 0.3 s quick), bounded also by count; a third thread counts loop iterations meanwhile. "
            + "Waits: yield (check an atomic, call sched_yield, repeat), spin (check an atomic, repeat), condvar (pthread mutex + condition variable), "
            + "eventfd (blocking read on one eventfd each), runtime (EventLoop.execute ping-pong between two event loops: an eventfd written only when the other loop may be asleep). "
            + "Placement: all three threads pinned to CPU 0 (`one-cpu`), or left to the scheduler on both CPUs (`free`). "
            + "CPU per hand-off is the process's CPU time (getrusage utime+stime) minus the bystander thread's, over the hand-offs; hand-off CPU is the same time as a share of one CPU over the run (the seed's iperf went from 100 % to 9 %); "
            + "context switches are the process's voluntary + involuntary ones per hand-off. Bystander progress is its iteration rate relative to a run of the bystander alone with the same placement, measured just before in the same run. "
            + "Every wait is bounded by the deadline (spinners check the clock on every sched_yield, every 256 turns of a pure spin) and by a count (10 million hand-offs)."
    }

    static let waits = ["yield", "spin", "condvar", "eventfd", "runtime"]

    public func grid(quick: Bool) -> [LabPoint] {
        LabGrid.product([("placement", ["one-cpu", "free"]), ("wait", Self.waits), ("seconds", [quick ? "0.15" : "1"])])
    }

    public var columns: [LabColumn] {
        [
            .parameter("placement"), .parameter("wait"),
            .figure(Figure.handoffsPerSecond, title: "hand-offs/s", precision: 0),
            .figure(Figure.cpuPerHandoff, title: "CPU per hand-off", unit: "µs"),
            .figure(Figure.handoffCPU, title: "hand-off CPU", unit: "%", precision: 0),
            .figure(Figure.switchesPerHandoff, title: "cswitch/hand-off", precision: 2),
            .figure(Figure.bystanderProgress, title: "bystander progress", unit: "%", precision: 1),
        ]
    }

    public var charts: [LabChart] {
        [
            LabChart(title: "Hand-offs per second", figure: Figure.handoffsPerSecond, x: "wait", series: "placement", logScale: true),
            LabChart(title: "CPU per hand-off", figure: Figure.cpuPerHandoff, x: "wait", series: "placement", unit: "µs", logScale: true),
            LabChart(title: "Bystander progress vs alone", figure: Figure.bystanderProgress, x: "wait", series: "placement", unit: "%"),
        ]
    }

    // 10 points × (bystander alone ≤ 0.2 s + the run), three repetitions.
    public func estimatedSeconds(quick: Bool) -> Double? { quick ? 9 : 38 }

    public func run(point: LabPoint, in context: LabContext) throws -> LabFigures<Figure> {
        guard let wait = point["wait"], Self.waits.contains(wait), let seconds = point.double("seconds"),
              let placement = point["placement"] else { throw LabSkip("bad point \(point)") }
        let cpus = Threads.allowedCPUs()
        let pin: Int? = placement == "one-cpu" ? cpus[0] : nil
        if placement == "free" && cpus.count < 2 { throw LabSkip("one CPU only") }
        return try YieldRun(wait: wait, seconds: seconds, pin: pin).measure()
    }

    public func todayFigures(for points: [LabPointResult]) -> [SeedFigureID: String] {
        func find(_ wait: String) -> LabPointResult? {
            points.first { $0.parameters["wait"] == wait && $0.parameters["placement"] == "one-cpu" }
        }
        var today: [SeedFigureID: String] = [:]
        if let yield = find("yield")?.median(Figure.bystanderProgress),
           let eventfd = find("eventfd")?.median(Figure.bystanderProgress) {
            today[.yieldIperf] = String(format: "bystander keeps %.0f %% with sched_yield spinning vs %.0f %% with eventfd (one CPU)", yield, eventfd)
        }
        func free(_ wait: String) -> Double? {
            points.first { $0.parameters["wait"] == wait && $0.parameters["placement"] == "free" }?.median(Figure.cpuPerHandoff)
        }
        if let yield = free("yield"), let eventfd = free("eventfd") {
            today[.yieldCPU] = String(format: "CPU per hand-off %.1f µs → %.1f µs (sched_yield spin → eventfd, two CPUs)", yield, eventfd)
        }
        return today
    }

    public func notes(for points: [LabPointResult]) -> [String] {
        var notes: [String] = []
        func figure(_ placement: String, _ wait: String, _ name: Figure) -> Double? {
            median(points, name, where: ["wait": wait, "placement": placement])
        }
        for placement in ["one-cpu", "free"] {
            var parts: [String] = []
            for wait in Self.waits {
                guard let rate = figure(placement, wait, .handoffsPerSecond), let cpu = figure(placement, wait, .cpuPerHandoff),
                      let progress = figure(placement, wait, .bystanderProgress) else { continue }
                parts.append(String(format: "%@ %.0f/s, %.1f µs CPU each, bystander %.0f %%", wait, rate, cpu, progress))
            }
            if !parts.isEmpty { notes.append("\(placement): " + parts.joined(separator: "; ") + ".") }
        }
        if let spin = figure("one-cpu", "spin", .handoffsPerSecond), let eventfd = figure("one-cpu", "eventfd", .handoffsPerSecond), spin > 0 {
            notes.append(String(format: "On one CPU a pure spinner holds the CPU until its slice ends while the thread it waits for cannot run: eventfd hands off %.0f× as often.", eventfd / spin))
        }
        notes.append("sched_yield under EEVDF pushes the yielder behind the bystander, so on one CPU each hand-off waits for the bystander's slice (few hand-offs, little CPU); with two CPUs the result depends on where the scheduler puts the three threads, hence the spread. "
            + "Blocking hand-offs are themselves CPU-bound work (a hand-off every few µs), so the scheduler shares the CPU fairly between the pair and the bystander rather than leaving it to the bystander; what they do not do is burn CPU waiting.")
        return notes
    }
}

/// One measurement: token ping-pong plus a bystander, for a fixed time.
struct YieldRun {
    let wait: String
    let seconds: Double
    let pin: Int?
    /// Hand-offs after which the run stops even before its deadline.
    var limit = 10_000_000

    func measure() throws -> LabFigures<YieldExperiment.Figure> {
        let alone = try bystanderAlone()
        let stop = Atomic<Bool>(false)
        let iterations = Atomic<Int>(0)
        let ready = try OneShotSignal()
        let pin = self.pin
        let bystander = try Threads.spawn(name: "lab-bystander") {
            if let pin { try? Threads.pinCurrent(to: pin) }
            ready.signal()
            iterations.store(Self.bystanderWork { stop.load(ordering: .relaxed) }, ordering: .relaxed)
        }
        ready.wait()
        let before = ResourceUsage.current()
        let start = monotonicNanoseconds()
        let (handoffs, cpu) = try pingPong(deadline: start + UInt64(seconds * 1e9))
        let elapsed = Double(monotonicNanoseconds() - start) / 1e9
        stop.store(true, ordering: .relaxed)
        Threads.join(bystander)
        let usage = ResourceUsage.current() - before
        let switches = Double(usage.contextSwitches.voluntary + usage.contextSwitches.involuntary)
        let rate = Double(iterations.load(ordering: .relaxed)) / elapsed
        return [
            .handoffs: Double(handoffs),
            .handoffsPerSecond: Double(handoffs) / elapsed,
            .cpuPerHandoff: handoffs > 0 ? cpu * 1e6 / Double(handoffs) : 0,
            .handoffCPU: 100 * cpu / elapsed,
            .switchesPerHandoff: handoffs > 0 ? switches / Double(handoffs) : 0,
            .bystanderProgress: alone > 0 ? 100 * rate / alone : 0,
        ]
    }

    /// The bystander's iterations per second with nothing else running (same placement).
    private func bystanderAlone() throws -> Double {
        let result = Atomic<Int>(0)
        let duration = min(seconds, 0.2)
        let pin = self.pin
        let thread = try Threads.spawn(name: "lab-bystander") {
            if let pin { try? Threads.pinCurrent(to: pin) }
            let deadline = monotonicNanoseconds() + UInt64(duration * 1e9)
            result.store(Self.bystanderWork { monotonicNanoseconds() >= deadline }, ordering: .relaxed)
        }
        Threads.join(thread)
        return Double(result.load(ordering: .relaxed)) / duration
    }

    /// The bystander's CPU-bound work: counts until `shouldStop` (asked every 4096 iterations)
    /// says so. One function for the run alone and the run beside the hand-offs, so the two
    /// rates compare the same machine code.
    @inline(never)
    static func bystanderWork(until shouldStop: () -> Bool) -> Int {
        var count = 0
        while true {
            count &+= 1
            if count & 0xFFF == 0 && shouldStop() { return count }
        }
    }

    /// Hands a token back and forth until `deadline` (or `limit` hand-offs); returns how many, and the CPU seconds the two passing threads used
    /// (each thread's own RUSAGE_THREAD, so the bystander's far larger time never enters it).
    private func pingPong(deadline: UInt64) throws -> (handoffs: Int, cpuSeconds: Double) {
        switch wait {
        case "runtime": return try runtimePingPong(deadline: deadline)
        case "condvar": return try threadPingPong(deadline: deadline, waiter: CondvarToken())
        case "eventfd": return try threadPingPong(deadline: deadline, waiter: try EventFDToken())
        default: return try threadPingPong(deadline: deadline, waiter: SpinToken(yields: wait == "yield"))
        }
    }

    private func threadPingPong(deadline: UInt64, waiter: any TokenPassing) throws -> (handoffs: Int, cpuSeconds: Double) {
        let limit = self.limit
        let counts = Atomic<Int>(0)
        let cpuNanoseconds = Atomic<Int>(0)
        let pin = self.pin
        var threads: [pthread_t] = []
        for side in 0..<2 {
            threads.append(try Threads.spawn(name: "lab-token-\(side)") {
                if let pin { try? Threads.pinCurrent(to: pin) }
                let cpuAtStart = ResourceUsage.currentThread().cpuSeconds
                defer {
                    let used = ResourceUsage.currentThread().cpuSeconds - cpuAtStart
                    cpuNanoseconds.add(Int(used * 1e9), ordering: .relaxed)
                }
                var passes = 0
                while passes < limit / 2 {
                    guard waiter.waitForTurn(side, deadline: deadline) else {
                        // Out of time: release the other side wherever it waits. (Reaching the
                        // count needs no release: the other side's last turn is already passed.)
                        waiter.giveUp()
                        break
                    }
                    passes += 1
                    waiter.pass(to: 1 - side)
                }
                counts.add(passes, ordering: .relaxed)
            })
        }
        for thread in threads { Threads.join(thread) }
        return (counts.load(ordering: .relaxed), Double(cpuNanoseconds.load(ordering: .relaxed)) / 1e9)
    }

    private func runtimePingPong(deadline: UInt64) throws -> (handoffs: Int, cpuSeconds: Double) {
        let loops = try [EventLoop(index: 0, cpu: pin), EventLoop(index: 1, cpu: pin)]
        for loop in loops { try loop.start() }
        defer { for loop in loops { loop.shutdown() } }
        // Each loop thread's own CPU time, read on that thread before and after.
        let cpuNanoseconds = Atomic<Int>(0)
        func readLoopCPU(sign: Int) throws {
            for loop in loops {
                let read = try OneShotSignal()
                loop.execute {
                    cpuNanoseconds.add(sign * Int(ResourceUsage.currentThread().cpuSeconds * 1e9), ordering: .relaxed)
                    read.signal()
                }
                read.wait()
            }
        }
        try readLoopCPU(sign: -1)
        let done = try OneShotSignal()
        let count = Atomic<Int>(0)
        let limit = self.limit
        @Sendable func bounce(_ side: Int) {
            let n = count.add(1, ordering: .relaxed).newValue
            if n >= limit || monotonicNanoseconds() >= deadline {
                done.signal()
                return
            }
            loops[1 - side].execute { bounce(1 - side) }
        }
        loops[0].execute { bounce(0) }
        done.wait()
        try readLoopCPU(sign: 1)
        return (count.load(ordering: .relaxed), Double(cpuNanoseconds.load(ordering: .relaxed)) / 1e9)
    }
}

/// A token two threads pass back and forth.
protocol TokenPassing: Sendable {
    /// Waits until it is `side`'s turn; false once the deadline passed or the other side gave up.
    func waitForTurn(_ side: Int, deadline: UInt64) -> Bool
    func pass(to side: Int)
    func giveUp()
}

/// Spinning on an atomic, with or without sched_yield between checks (the measured anti-pattern).
final class SpinToken: TokenPassing {
    private let turn = Atomic<Int>(0)
    private let over = Atomic<Bool>(false)
    private let yields: Bool
    init(yields: Bool) { self.yields = yields }

    func waitForTurn(_ side: Int, deadline: UInt64) -> Bool {
        var checks = 0
        while turn.load(ordering: .acquiring) != side {
            checks &+= 1
            // Bounded in time: the deadline is checked on every yield (one can cost a whole time
            // slice of the bystander) and every 256 turns of the pure spin.
            if (yields || checks & 255 == 0) && (monotonicNanoseconds() >= deadline || over.load(ordering: .relaxed)) { return false }
            if yields { _ = ccorral_sched_yield() }
        }
        return !over.load(ordering: .relaxed) && monotonicNanoseconds() < deadline
    }

    func pass(to side: Int) { turn.store(side, ordering: .releasing) }
    func giveUp() { over.store(true, ordering: .relaxed) }
}

/// A pthread mutex and condition variable.
final class CondvarToken: TokenPassing, @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var turn = 0
    private var over = false

    init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    func waitForTurn(_ side: Int, deadline: UInt64) -> Bool {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while turn != side && !over { pthread_cond_wait(condition, mutex) }
        return !over && monotonicNanoseconds() < deadline
    }

    func pass(to side: Int) {
        pthread_mutex_lock(mutex)
        turn = side
        pthread_cond_broadcast(condition)
        pthread_mutex_unlock(mutex)
    }

    func giveUp() {
        pthread_mutex_lock(mutex)
        over = true
        pthread_cond_broadcast(condition)
        pthread_mutex_unlock(mutex)
    }
}

/// One blocking eventfd per side: a write wakes exactly the waiting thread.
final class EventFDToken: TokenPassing {
    private let fds: [CInt]
    private let over = Atomic<Bool>(false)

    init() throws {
        fds = try (0..<2).map { _ in try EventFD.create(blocking: true) }
        try EventFD.signal(fds[0])  // side 0 starts with the token
    }

    deinit { for fd in fds { Posix.close(fd) } }

    func waitForTurn(_ side: Int, deadline: UInt64) -> Bool {
        // A failed read (none is expected on an eventfd) ends the run like the deadline.
        guard (try? EventFD.drain(fds[side])) != nil else { return false }
        return !over.load(ordering: .relaxed) && monotonicNanoseconds() < deadline
    }

    // EventFD.signal cannot fail here: EAGAIN (the counter at its maximum) is a wake-up
    // already pending, and it maps that to success.
    func pass(to side: Int) {
        _ = try? EventFD.signal(fds[side])
    }

    func giveUp() {
        over.store(true, ordering: .relaxed)
        for fd in fds { _ = try? EventFD.signal(fd) }  // release whoever is blocked
    }
}
