import CCorral
import CorralRuntime
import Glibc
import Synchronization

// Helpers shared by the `herd` and `balance` experiments: a blocking loopback client, a
// signal with a timeout, and per-thread readings from /proc for the server's threads.

/// A run of `herd` or `balance` that could not complete (a connect failed, a reply never came).
struct AcceptLabError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Blocking TCP client calls with bounded waits (SO_RCVTIMEO/SO_SNDTIMEO), so no run can hang.
enum LabClient {
    /// socket + connect (blocking, loopback); the caller closes the descriptor.
    static func connect(_ address: SocketAddress, timeoutSeconds: Int = 5) throws -> CInt {
        let fd = try Posix.socket(domain: AF_INET, type: ccorral_SOCK_STREAM, blocking: true)
        do {
            let timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
            try Posix.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, timeout)
            try Posix.setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, timeout)
            try Posix.setsockopt(fd, CInt(IPPROTO_TCP), TCP_NODELAY, CInt(1))
            // On a blocking socket, EINPROGRESS (`.wouldBlock`) means SO_SNDTIMEO ran out.
            guard case .processed = try Posix.connect(fd, address) else {
                throw AcceptLabError("connect: no answer within \(timeoutSeconds) s")
            }
        } catch {
            Posix.close(fd)
            throw error
        }
        return fd
    }

    /// Sends one byte and waits for one byte back (a request/response round trip).
    /// `.wouldBlock` on these blocking calls means SO_SNDTIMEO/SO_RCVTIMEO ran out.
    static func roundTrip(_ fd: CInt) throws {
        var byte: UInt8 = 0x2a
        guard case .processed(1) = try withUnsafeBytes(of: &byte, { try Posix.send(fd, $0, flags: 0) }) else {
            throw AcceptLabError("send: timed out")
        }
        guard case .processed(1) = try withUnsafeMutableBytes(of: &byte, { try Posix.read(fd, $0) }) else {
            throw AcceptLabError("no reply (timed out or closed)")
        }
    }

    /// Sends `GET /` and reads nginx's whole answer: the head, then the one-byte body.
    static func httpRoundTrip(_ fd: CInt) throws {
        guard case .processed(NginxServer.request.count) = try NginxServer.request.withUnsafeBytes({ try Posix.send(fd, $0, flags: 0) }) else {
            throw AcceptLabError("send: timed out or short")
        }
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1024)
        let separator = Array("\r\n\r\n".utf8)
        while true {
            guard case .processed(let n) = try chunk.withUnsafeMutableBytes({ try Posix.read(fd, $0) }), n > 0 else {
                throw AcceptLabError("no reply (timed out or closed)")
            }
            response += chunk[0..<n]
            if let end = response.firstRange(of: separator), response.count > end.upperBound { return }
        }
    }
}

/// A counter another thread bumps and a client thread waits on with a timeout (an eventfd).
final class LabSignal: Sendable {
    private let fd: CInt

    init() throws { fd = try EventFD.create() }
    deinit { Posix.close(fd) }

    func signal() { try? EventFD.signal(fd) }

    /// Waits until signalled (consuming every signal so far); false on timeout.
    func wait(timeoutMilliseconds: Int32) -> Bool {
        guard waitReadable(fd, until: deadline(afterMilliseconds: Int(timeoutMilliseconds))) else { return false }
        try? EventFD.drain(fd)
        return true
    }
}

/// A gate many threads wait at until one thread opens it (an eventfd left readable), so
/// client threads start together instead of in the order they were spawned.
final class LabGate: Sendable {
    private let fd: CInt
    init() throws { fd = try EventFD.create() }
    deinit { Posix.close(fd) }
    func open() { try? EventFD.signal(fd) }
    /// The eventfd, readable once the gate is open (for a poll(2) over several descriptors).
    var descriptor: CInt { fd }
    /// Blocks until the gate is open; false after `timeoutMilliseconds`.
    func wait(timeoutMilliseconds: Int32 = 5000) -> Bool {
        waitReadable(fd, until: deadline(afterMilliseconds: Int(timeoutMilliseconds)))
    }
}

/// The server threads of one run: threads of this process that appeared while the server
/// started and whose name starts with `corral-` (loops and accept threads) or a prefix given by
/// the experiment, or the worker processes of a server the lab started (nginx). Read from /proc.
struct ServerThreads {
    /// Each thread as (process id, thread id).
    let tasks: [(pid: Int32, tid: Int32)]

    /// Threads of this process.
    init(tids: [Int32]) { tasks = tids.map { (getpid(), $0) } }

    /// Single-threaded processes (nginx's workers): each one's thread id is its pid.
    init(processes: [Int32]) { tasks = processes.map { ($0, $0) } }

    var tids: [Int32] { tasks.map(\.tid) }

    static func currentTIDs() -> Set<Int32> {
        Set(ProcFile.list("/proc/self/task").compactMap(Int32.init))
    }

    /// Threads created since `before` whose name begins with one of `prefixes`.
    static func new(since before: Set<Int32>, prefixes: [String]) -> ServerThreads {
        let tids = currentTIDs().subtracting(before).filter { tid in
            guard let comm = ProcFile.read("/proc/self/task/\(tid)/comm") else { return false }
            return prefixes.contains { comm.hasPrefix($0) }
        }
        return ServerThreads(tids: tids.sorted())
    }

    private func path(_ task: (pid: Int32, tid: Int32), _ file: String) -> String { "/proc/\(task.pid)/task/\(task.tid)/\(file)" }

    /// Sum of the threads' voluntary context switches: each one is the thread going to sleep,
    /// so between two readings it counts how often the threads were woken (and slept again).
    func voluntarySwitches() -> UInt64 {
        tasks.reduce(0) { $0 + (ContextSwitches.read(pid: $1.pid, tid: $1.tid)?.voluntary ?? 0) }
    }

    /// The fields of each thread's schedstat: time on a CPU (ns), time waiting for one (ns),
    /// and how many times it was put on a CPU.
    private func schedstat(field: Int) -> UInt64 {
        tasks.reduce(0) { total, task in
            let fields = (ProcFile.read(path(task, "schedstat")) ?? "").split(whereSeparator: { $0 == " " || $0 == "\n" })
            return total + (field < fields.count ? UInt64(fields[field]) ?? 0 : 0)
        }
    }

    /// Sum of the threads' time on a CPU in nanoseconds (first field of schedstat): what waking
    /// them cost, in the kernel and out of it.
    func cpuNanoseconds() -> UInt64 { schedstat(field: 0) }

    /// How many times the threads were put on a CPU (third field of schedstat): every wake-up
    /// that ran, plus resumptions after preemption. The fallback when no tracer counts wake-ups.
    func runCount() -> UInt64 { schedstat(field: 2) }

    /// True when every thread is asleep (state S in its stat).
    func allSleeping() -> Bool {
        tasks.allSatisfy { task in
            guard let stat = ProcFile.read(path(task, "stat")),
                  let close = stat.lastIndex(of: ")") else { return true }  // gone: not running
            let rest = stat[stat.index(after: close)...].drop { $0 == " " }
            return rest.first != "R"
        }
    }

    /// Polls (every 200 µs) until every thread sleeps; false after `timeoutMilliseconds`.
    @discardableResult
    func waitUntilAllSleeping(timeoutMilliseconds: UInt64 = 2000) -> Bool {
        let deadline = monotonicNanoseconds() + timeoutMilliseconds * 1_000_000
        while monotonicNanoseconds() < deadline {
            if allSleeping() { return true }
            LabPause.microseconds(200)
        }
        return false
    }

    /// Wake-ups of these threads in one interval of `tracer` (sched_wakeup events), or, without
    /// a tracer, nil.
    func wakeUps(in counts: [Int32: UInt64]) -> UInt64 {
        tids.reduce(0) { $0 + (counts[$1] ?? 0) }
    }
}

enum LabPause {
    /// nanosleep for polling a measurement's end (never used to order events).
    static func microseconds(_ us: Int) {
        var ts = timespec(tv_sec: us / 1_000_000, tv_nsec: (us % 1_000_000) * 1000)
        _ = nanosleep(&ts, nil)
    }
}

/// Runs `body` on every loop and returns once all have run it (a fence behind earlier tasks,
/// such as a listener's registrations, submitted from this thread).
func runOnEveryLoop(_ loops: [EventLoop], timeoutMilliseconds: Int32 = 5000, _ body: @escaping @Sendable (EventLoop) -> Void = { _ in }) throws {
    let signal = try LabSignal()
    let leftBox = AtomicBox(left: loops.count)
    for loop in loops {
        loop.execute {
            body(loop)
            if leftBox.decrement() == 0 { signal.signal() }
        }
    }
    guard signal.wait(timeoutMilliseconds: timeoutMilliseconds) else {
        throw AcceptLabError("loops did not answer within \(timeoutMilliseconds) ms")
    }
}

final class AtomicBox: Sendable {
    private let value: Atomic<Int>
    init(left: Int) { value = Atomic(left) }
    func decrement() -> Int { value.subtract(1, ordering: .acquiringAndReleasing).newValue }
}

/// One counter per worker, bumped on the worker's own thread, read at the end.
final class WorkerCounters: Sendable {
    private let counts: [Counter]
    final class Counter: Sendable {
        let value = Atomic<Int>(0)
    }
    init(workers: Int) { counts = (0..<workers).map { _ in Counter() } }
    func add(_ n: Int, worker: Int) { counts[worker].value.add(n, ordering: .relaxed) }
    var values: [Int] { counts.map { $0.value.load(ordering: .relaxed) } }
}
