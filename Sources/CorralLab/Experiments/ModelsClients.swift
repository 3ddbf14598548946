import CCorral
import CorralRuntime
import Glibc
import Synchronization

/// The lab's side of `corral lab models`: blocking client threads for the request workloads,
/// and a holder of many idle connections. Plain sockets, so the client's cost is the same
/// whatever the server model.
enum ModelsClients {
    /// What the request workloads did.
    struct Outcome {
        var requests = 0
        var errors = 0
        var seconds = 0.0
    }

    /// `clients` threads (pinned to `cpu` if given) send requests to `host`:`port` until
    /// `seconds` have passed: a new connection per request (`persistent` false, the server closes
    /// after answering) or one connection each for the whole run.
    static func requests(host: String, port: Int, clients: Int, seconds: Double, persistent: Bool, cpu: Int?) throws -> Outcome {
        // One result per thread, read after the joins: nothing shared while the clients run
        // (ThreadSanitizer does not see the futex inside a contended Mutex as ordering).
        let counts = (0..<clients).map { _ in ResultBox<(requests: Int, errors: Int)>() }
        let start = monotonicNanoseconds()
        let deadline = start + UInt64(seconds * 1e9)
        var threads: [pthread_t] = []
        defer { for thread in threads { Threads.join(thread) } }
        for (i, count) in counts.enumerated() {
            threads.append(try Threads.spawn(name: "models-client-\(i)") {
                if let cpu { try? Threads.pinCurrent(to: cpu) }
                count.result = .success(persistent
                    ? keepAliveClient(host: host, port: port, deadline: deadline) : oneShotClient(host: host, port: port, deadline: deadline))
            })
        }
        for thread in threads { Threads.join(thread) }
        threads.removeAll()
        let totals = counts.compactMap { try? $0.result?.get() }
        return Outcome(requests: totals.reduce(0) { $0 + $1.requests }, errors: totals.reduce(0) { $0 + $1.errors },
                       seconds: Double(monotonicNanoseconds() - start) / 1e9)
    }

    private static func keepAliveClient(host: String, port: Int, deadline: UInt64) -> (Int, Int) {
        guard let fd = connectBlocking(host: host, port: port) else { return (0, 1) }
        defer { Posix.close(fd) }
        var requests = 0
        var request = [UInt8](repeating: 7, count: ModelsProtocol.messageSize)
        var reply = [UInt8](repeating: 0, count: ModelsProtocol.messageSize)
        // At least one request, even when a loaded machine started this thread after the deadline.
        repeat {
            request[0] = UInt8(truncatingIfNeeded: requests)
            guard request.withUnsafeBytes({ ModelsProtocol.writeAll(fd, $0) }),
                  reply.withUnsafeMutableBytes({ ModelsProtocol.readExactly(fd, $0) }), reply == request
            else { return (requests, 1) }
            requests += 1
        } while monotonicNanoseconds() < deadline
        return (requests, 0)
    }

    private static func oneShotClient(host: String, port: Int, deadline: UInt64) -> (Int, Int) {
        var requests = 0
        var errors = 0
        let request = [UInt8](repeating: 9, count: ModelsProtocol.messageSize)
        var reply = [UInt8](repeating: 0, count: ModelsProtocol.messageSize)
        // At least one attempt, even when a loaded machine started this thread after the deadline.
        repeat {
            guard let fd = connectBlocking(host: host, port: port) else { errors += 1; continue }
            if request.withUnsafeBytes({ ModelsProtocol.writeAll(fd, $0) }),
               reply.withUnsafeMutableBytes({ ModelsProtocol.readExactly(fd, $0) }), reply == request {
                requests += 1
            } else {
                errors += 1
            }
            Posix.close(fd)
        } while monotonicNanoseconds() < deadline && errors < 100
        return (requests, errors)
    }

    /// A blocking connection with 2 s send and receive timeouts, so a stuck server cannot hang
    /// the lab; nil on failure.
    private static func connectBlocking(host: String, port: Int) -> CInt? {
        try? LabClient.connect(.ipv4(host: host, port: UInt16(port)), timeoutSeconds: 2)
    }

    /// Opens up to `count` connections in batches, sends one request on each and keeps those the
    /// server answered, open and idle. Stops early when a batch is not fully answered within
    /// `stallMilliseconds` of the last progress (the model holds no more); unanswered
    /// connections are closed. Returns the held descriptors.
    static func holdIdle(host: String, port: Int, count: Int, batch: Int = 500, stallMilliseconds: CInt = 500) -> [CInt] {
        var held: [CInt] = []
        held.reserveCapacity(count)
        let request = [UInt8](repeating: 5, count: ModelsProtocol.messageSize)
        while held.count < count {
            let size = min(batch, count - held.count)
            var pending: [CInt] = []
            for _ in 0..<size {
                guard let fd = try? Posix.socket(domain: AF_INET, type: ccorral_SOCK_STREAM) else { break }  // EMFILE: hold what we have
                if (try? Posix.connect(fd, .ipv4(host: host, port: UInt16(port)))) != nil {
                    pending.append(fd)  // connected or in progress
                } else {
                    Posix.close(fd)  // refused (the backlog is full): the batch comes up short
                }
            }
            let connected = waitAll(pending, events: Int16(POLLOUT), stallMilliseconds: stallMilliseconds) { fd -> Bool? in
                (try? Posix.getsockopt(fd, SOL_SOCKET, SO_ERROR)) == 0
            }
            var asked: [CInt] = []
            for fd in pending {
                if connected.contains(fd),
                   case .processed(request.count)? = try? request.withUnsafeBytes({ try Posix.send(fd, $0, flags: 0) }) {
                    asked.append(fd)
                } else {
                    Posix.close(fd)
                }
            }
            var received: [CInt: Int] = [:]
            var scratch = [UInt8](repeating: 0, count: ModelsProtocol.messageSize)
            let answered = waitAll(asked, events: Int16(POLLIN), stallMilliseconds: stallMilliseconds) { fd -> Bool? in
                let result = try? scratch.withUnsafeMutableBytes { try Posix.read(fd, $0) }
                guard case .processed(let n)? = result else { return result == nil ? false : nil }  // an error failed it; EAGAIN: not yet
                guard n > 0 else { return false }  // EOF: failed
                received[fd, default: 0] += n
                return received[fd, default: 0] >= ModelsProtocol.messageSize ? true : nil
            }
            for fd in asked {
                if answered.contains(fd) { held.append(fd) } else { Posix.close(fd) }
            }
            if answered.count < size { break }  // the model is full
        }
        return held
    }

    /// Polls `fds` for `events` until each is done (`step` returns true), failed (false), or
    /// nothing has progressed for `stallMilliseconds`; `step` returns nil for "not yet".
    /// Returns the done descriptors.
    private static func waitAll(
        _ fds: [CInt], events: Int16, stallMilliseconds: CInt, step: (CInt) -> Bool?
    ) -> Set<CInt> {
        var done = Set<CInt>()
        var waiting = fds.map { pollfd(fd: $0, events: events, revents: 0) }
        while !waiting.isEmpty {
            guard let ready = try? Posix.poll(&waiting, milliseconds: stallMilliseconds), ready > 0 else { break }  // stalled (or poll failed): the rest stay undone
            var still: [pollfd] = []
            still.reserveCapacity(waiting.count)
            for entry in waiting {
                if entry.revents == 0 {
                    still.append(entry)
                } else {
                    switch step(entry.fd) {
                    case true?: done.insert(entry.fd)
                    case nil: still.append(pollfd(fd: entry.fd, events: events, revents: 0))
                    case false?: break  // refused, reset or closed early: not done
                    }
                }
            }
            waiting = still
        }
        return done
    }
}

/// A process and its direct children, as the `idle` workload measures a server.
enum ProcessTree {
    /// Private memory (Private_Clean + Private_Dirty) summed over `pid` and its direct children,
    /// and how many tasks (threads of `pid` plus child processes) there are. Private memory is
    /// what each process costs beyond the pages it shares, so it does not move when other
    /// processes on the machine map the same libraries (Pss does).
    static func privateMemory(root pid: pid_t) -> (bytes: UInt64, tasks: Int) {
        var total = MemoryUsage.privateBytes(pid: pid) ?? 0
        var tasks = ProcessStat.read(pid: pid)?.threadCount ?? 1
        for name in ProcFile.list("/proc") {
            guard let child = pid_t(name), child != pid, ProcessStat.read(pid: child)?.parentPID == pid else { continue }
            total += MemoryUsage.privateBytes(pid: child) ?? 0
            tasks += 1
        }
        return (total, tasks)
    }
}
