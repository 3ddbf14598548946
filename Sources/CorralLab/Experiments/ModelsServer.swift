import CCorral
import CorralRuntime
import Glibc
import Synchronization

/// The server of `corral lab models`, one process per run (`corral lab-worker models-server`),
/// so its CPU time, context switches and memory are its own and nothing of the lab's.
///
/// Every model runs the same service: read a `ModelsProtocol.messageSize`-byte request, write it
/// back; with `--once 1` close after the first answer (one request per connection). The models:
/// - `fork`: the seed's fork-per-connection. The process stays single-threaded so fork(2) is safe;
///   the parent polls the listener and the control socket, forks a child per connection and
///   reaps exited children (their CPU time then counts in RUSAGE_CHILDREN).
/// - `prefork`: `workers` processes forked up front, each blocking in accept(2) (Apache's
///   prefork MPM); a connection holds its process until it closes.
/// - `threads`: one detached thread per connection (small stacks), an acceptor thread blocking
///   in accept(2).
/// - `pool`: `workers` threads, each blocking in accept(2) on the shared listener and serving one
///   connection at a time: the thread version of prefork.
/// - `loops`: Corral's event loops, one per CPU the process may use.
///
/// Control (descriptor 3, a socketpair with the lab): with `--wait 1` the server first waits for
/// the line `start` (the lab puts it in a memory cgroup meanwhile); it writes `ready PORT` once
/// it listens with every worker started, and its resource usage since then (`usage …`) after the
/// lab shuts its end down, then exits.
enum ModelsServerProcess {
    static func run(_ options: [String: String]) -> Int32 {
        let control: CInt = 3
        do {
            try Posix.fcntlSetFlags(control, try Posix.fcntlGetFlags(control) & ~O_NONBLOCK)  // the server blocks on it
        } catch {
            return fail(control, "\(error)")
        }
        guard let model = options["model"].flatMap(ServerModel.init(rawValue:)) else { return fail(control, "unknown --model") }
        let once = options["once"] == "1"
        let workers = max(1, Int(options["workers"] ?? "") ?? 16)
        let host = options["host"] ?? "127.0.0.1"
        let connections = Int(options["connections"] ?? "") ?? 0
        if let cpu = Int(options["cpu"] ?? ""), cpu >= 0 {
            do { try Threads.pinCurrent(to: cpu) } catch { return fail(control, "\(error)") }
        }
        ResourceLimits.raiseDescriptors(to: connections + 256)
        // `--wait 1`: the lab first moves this process into a cgroup of its own, then says start.
        if options["wait"] == "1", ModelsProtocol.readLine(control) != "start" { return 1 }
        do {
            let server = try ModelsServer(model: model, once: once, workers: workers, host: host)
            let baseline = ResourceUsage.processAndChildren()
            guard ModelsProtocol.writeLine(control, "ready \(server.port)") else { return 1 }
            server.serve(until: control)
            let usage = ResourceUsage.processAndChildren() - baseline
            _ = ModelsProtocol.writeLine(control, "usage \(usage.modelsLine)")
            return 0
        } catch {
            return fail(control, "\(error)")
        }
    }

    private static func fail(_ control: CInt, _ message: String) -> Int32 {
        _ = ModelsProtocol.writeLine(control, "error \(message)")
        return 1
    }

}

/// The five server designs of seed 001.
enum ServerModel: String, CaseIterable, Sendable {
    case fork, prefork, threads, pool, loops
}

/// The lab–server wire conventions.
enum ModelsProtocol {
    /// Request and response size: small, so the figures are the model's cost, not copying.
    static let messageSize = 64

    /// Writes `text` and a newline; false if the lab has gone.
    static func writeLine(_ fd: CInt, _ text: String) -> Bool {
        let bytes = Array((text + "\n").utf8)
        return bytes.withUnsafeBytes { writeAll(fd, $0) }
    }

    /// Reads one line (without the newline), or nil at EOF or on error.
    static func readLine(_ fd: CInt) -> String? {
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while true {
            // The control socket is blocking: `.wouldBlock` cannot happen, and counts as an error.
            guard case .processed(1)? = try? withUnsafeMutableBytes(of: &byte, { try Posix.read(fd, $0) }) else { return nil }
            if byte == UInt8(ascii: "\n") { return String(decoding: line, as: UTF8.self) }
            line.append(byte)
        }
    }

    /// send(2) until everything is sent; false on error, or when a send timeout
    /// (SO_SNDTIMEO, `.wouldBlock` on these blocking sockets) ran out.
    static func writeAll(_ fd: CInt, _ buffer: UnsafeRawBufferPointer) -> Bool {
        var offset = 0
        while offset < buffer.count {
            guard case .processed(let n)? = try? Posix.send(fd, UnsafeRawBufferPointer(rebasing: buffer[offset...]), flags: 0), n > 0
            else { return false }
            offset += n
        }
        return true
    }

    /// read(2) until `buffer` is full; false at EOF, on error, or when a receive timeout
    /// (SO_RCVTIMEO, `.wouldBlock`) ran out.
    static func readExactly(_ fd: CInt, _ buffer: UnsafeMutableRawBufferPointer) -> Bool {
        var offset = 0
        while offset < buffer.count {
            guard case .processed(let n)? = try? Posix.read(fd, UnsafeMutableRawBufferPointer(rebasing: buffer[offset...])), n > 0
            else { return false }
            offset += n
        }
        return true
    }

    /// The blocking models' connection handler: echo requests until EOF (or after one, `once`).
    static func serveBlocking(_ fd: CInt, once: Bool) {
        withUnsafeTemporaryAllocation(byteCount: messageSize, alignment: 8) { buffer in
            while readExactly(fd, buffer) {
                guard writeAll(fd, UnsafeRawBufferPointer(buffer)), !once else { break }
            }
        }
        Posix.close(fd)
    }
}

/// The server's usage as it reports it to the lab: one line of integers (user and system CPU in
/// µs, voluntary and involuntary context switches).
extension ResourceUsage {
    /// This process (every thread, live or exited) plus its waited-for children.
    static func processAndChildren() -> ResourceUsage { current() + children() }

    var modelsLine: String {
        "\(Int((userSeconds * 1e6).rounded())) \(Int((systemSeconds * 1e6).rounded())) "
            + "\(contextSwitches.voluntary) \(contextSwitches.involuntary)"
    }

    /// Parses `modelsLine`; nil if malformed.
    init?(modelsLine line: String) {
        let parts = line.split(separator: " ").compactMap { Int($0) }
        guard parts.count == 4, parts.allSatisfy({ $0 >= 0 }) else { return nil }
        self.init(
            userSeconds: Double(parts[0]) / 1e6, systemSeconds: Double(parts[1]) / 1e6,
            contextSwitches: ContextSwitches(voluntary: UInt64(parts[2]), involuntary: UInt64(parts[3])), maxRSSBytes: 0)
    }
}

/// One server of one model, listening on `host` (an ephemeral port).
final class ModelsServer {
    let model: ServerModel
    let once: Bool
    let port: Int
    private let listenFD: CInt
    private var children = Set<pid_t>()
    private var group: EventLoopGroup?
    private var listener: Listener?

    init(model: ServerModel, once: Bool, workers: Int, host: String) throws {
        self.model = model
        self.once = once
        if model == .loops {
            let group = try EventLoopGroup()
            let listener = Listener(group: group, address: .ipv4(host: host, port: 0), strategy: .reuseport) { _ in
                ModelsLoopHandler(once: once)
            }
            try group.start()
            port = Int(try listener.start().port ?? 0)
            self.group = group
            self.listener = listener
            listenFD = -1
            return
        }
        listenFD = try Self.listeningSocket(host: host)
        port = Int(try Posix.getsockname(listenFD).port ?? 0)
        switch model {
        case .fork:
            // fork(2) copies only the calling thread: the process must have no other.
            guard Self.threadCount() == 1 else { throw LabSkip("the fork model needs a single-threaded server") }
        case .loops:
            preconditionFailure("loops returned above")
        case .prefork:
            guard Self.threadCount() == 1 else { throw LabSkip("the prefork model needs a single-threaded server") }
            for _ in 0..<workers {
                let pid = try Processes.fork()
                if pid == 0 { Self.preforkWorker(listenFD: listenFD, once: once) }
                children.insert(pid)
            }
        case .threads:
            try Threads.spawn(name: "accept", detached: true) { [listenFD, once] in
                Self.acceptLoop(listenFD) { fd in
                    do {
                        try Threads.spawn(name: "conn", detached: true, stackSize: 128 * 1024) {
                            ModelsProtocol.serveBlocking(fd, once: once)
                        }
                    } catch {
                        Posix.close(fd)  // EAGAIN: out of threads; the client sees the close
                    }
                }
            }
        case .pool:
            for i in 0..<workers {
                try Threads.spawn(name: "pool-\(i)", detached: true, stackSize: 128 * 1024) { [listenFD, once] in
                    Self.acceptLoop(listenFD) { ModelsProtocol.serveBlocking($0, once: once) }
                }
            }
        }
    }

    /// Serves until the lab shuts the control socket down, then stops every worker (killing
    /// and reaping child processes, so their usage is counted).
    func serve(until control: CInt) {
        if model == .fork {
            forkLoop(control: control)
        } else {
            while ModelsProtocol.readLine(control) != nil {}
        }
        if let listener, let group {
            listener.stop()
            group.shutdown()
        }
        // Wakes the threads blocked in accept (the process exits next, which ends them anyway).
        if listenFD >= 0 { _ = try? Posix.shutdown(listenFD, how: CInt(SHUT_RDWR)) }
        // ESRCH/ECHILD: a child that already ended (and was reaped) has nothing left to count.
        for pid in children { _ = try? Processes.kill(pid, SIGKILL) }
        for pid in children { _ = try? Processes.waitpid(pid) }
        children.removeAll()
    }

    /// fork per connection: poll the listener and the control socket; fork a child per
    /// accepted connection; reap children as they exit.
    private func forkLoop(control: CInt) {
        var fds = [pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0), pollfd(fd: control, events: Int16(POLLIN), revents: 0)]
        while true {
            guard (try? Posix.poll(&fds, milliseconds: -1)) != nil else { return }
            if fds[1].revents != 0 {
                if ModelsProtocol.readLine(control) == nil { return }
            }
            if fds[0].revents & Int16(POLLIN) != 0 {
                do throws(SystemError) {
                    let fd = try Posix.acceptBlocking(listenFD)  // the server never execs, so no CLOEXEC is needed
                    // A failed fork (EAGAIN, ENOMEM) closes the connection: the client sees the close.
                    if let pid = try? Processes.fork() {
                        if pid == 0 {
                            // The child of this single-threaded process may run Swift code.
                            Posix.close(listenFD)
                            Posix.close(control)
                            ModelsProtocol.serveBlocking(fd, once: once)
                            _exit(0)
                        }
                        children.insert(pid)
                    }
                    Posix.close(fd)
                } catch where error.errno == .tooManyOpenFiles || error.errno == .tooManyOpenFilesInSystem {
                    reap(blocking: true)  // wait for a child to end before accepting again
                } catch {
                    // ECONNABORTED and the like: that connection is gone, the next one is not.
                }
            }
            reap(blocking: false)
        }
    }

    private func reap(blocking: Bool) {
        var noHang = !blocking
        while !children.isEmpty {
            // nil: none has exited yet; an error (ECHILD): none is left to wait for.
            guard let reaped = try? Processes.waitpid(-1, noHang: noHang) else { return }
            children.remove(reaped.pid)
            noHang = true
        }
    }

    private static func preforkWorker(listenFD: CInt, once: Bool) -> Never {
        acceptLoop(listenFD) { ModelsProtocol.serveBlocking($0, once: once) }
        _exit(0)
    }

    /// Blocking accept(2) until the listener is shut down.
    private static func acceptLoop(_ listenFD: CInt, _ handle: (CInt) -> Void) {
        while true {
            do throws(SystemError) {
                handle(try Posix.acceptBlocking(listenFD))  // the server never execs, so no CLOEXEC is needed
            } catch {
                switch error.errno {
                case .connectionAbort, .protocolError: continue
                case .tooManyOpenFiles, .tooManyOpenFilesInSystem, .noBufferSpace, .noMemory:
                    var none: [pollfd] = []
                    _ = try? Posix.poll(&none, milliseconds: 10)  // out of resources: back off instead of spinning
                default: return  // EINVAL: the listener was shut down
                }
            }
        }
    }

    private static func listeningSocket(host: String) throws -> CInt {
        let fd = try Posix.socket(domain: AF_INET, type: CInt(SOCK_STREAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue))
        do {
            try Posix.fcntlSetFlags(fd, try Posix.fcntlGetFlags(fd) & ~O_NONBLOCK)  // the models block in accept(2)
            try Posix.setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, CInt(1))
            try Posix.bind(fd, .ipv4(host: host, port: 0))
            try Posix.listen(fd, backlog: SOMAXCONN)
        } catch {
            Posix.close(fd)
            throw error
        }
        return fd
    }

    /// Threads of this process, from /proc/self/status.
    static func threadCount() -> Int {
        guard let status = ProcFile.read("/proc/self/status") else { return -1 }
        return ProcFile.parseKeyValueLines(status)["Threads"].flatMap { Int($0) } ?? -1
    }
}

/// The `loops` model's handler: answer each whole request; close after one if `once`.
final class ModelsLoopHandler: ConnectionHandler {
    let once: Bool
    init(once: Bool) { self.once = once }

    func connection(_ connection: Connection, didRead buffer: UnsafeRawBufferPointer) -> Int {
        let size = ModelsProtocol.messageSize
        var consumed = 0
        while buffer.count - consumed >= size {
            connection.write(UnsafeRawBufferPointer(rebasing: buffer[consumed..<(consumed + size)]))
            consumed += size
            if once {
                connection.closeAfterFlush()
                return buffer.count
            }
        }
        connection.flush()
        return consumed
    }
}
