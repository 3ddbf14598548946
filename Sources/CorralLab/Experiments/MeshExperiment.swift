import CCorral
import CorralRuntime
import Glibc
import Synchronization

/// `corral lab mesh` (seed 000, Happe on LKML, 2005): P peers fully connected, M one-byte
/// messages forwarded peer to peer. Does the machine stay busy, and what does a hop cost?
public struct MeshExperiment: LabExperiment {
    public init() {}

    public enum Figure: String, LabFigureName {
        case messagesPerSecond = "messages_per_s", hops, busyCores = "busy_cores", cpuBusy = "cpu_busy_pct"
        case switchesPerHop = "cs_per_hop", voluntarySwitchesPerHop = "vcs_per_hop", cpuPerHop = "cpu_us_per_hop", hopLatency = "hop_latency_us"
    }

    public var name: String { "mesh" }
    public var seed: String { "000" }
    public var title: String { "Message passing over loopback: does the CPU go idle?" }
    public var question: String {
        "With P peers fully connected and M messages forwarded to random peers (or around a ring), does the machine stay busy as it should, or idle as Happe saw over INET sockets in 2005 — and what does a hop cost with the seed's poll() loop and with Corral's event loops?"
    }
    public var method: String {
        "P peer processes (each `corral lab-worker mesh`, started with posix_spawn and handed its descriptors), every pair joined by a TCP connection over 127.0.0.1 (TCP_NODELAY) or a UNIX socketpair, made by the parent before the peers start. "
            + "M one-byte messages start at the first M peers; a peer that receives a message forwards it to a random other peer (or the next one in the ring). "
            + "`poll` peers are the seed's loop: blocking sockets, poll(2) over the P−1 descriptors, one byte read per readable socket per poll; `runtime` peers are one Corral event loop per process, with a Connection per link. "
            + "Placement: `spread` leaves the processes to the scheduler on every CPU; `one-cpu` pins them all to one CPU with sched_setaffinity (the 2005 reports were uniprocessors). "
            + "Figures over one window: messages (hops) per second, the whole machine's busy fraction from /proc/stat (busy cores out of all CPUs; with M = 1 one core is the most that can be busy), context switches of the peer processes per hop, their CPU per hop, and hop latency = wall time × M ÷ hops (the mean time a message spends on one hop)."
    }

    public func grid(quick: Bool) -> [LabPoint] {
        if quick {
            return LabGrid.product([
                ("peers", ["8"]), ("messages", ["1", "16"]), ("pattern", ["random", "ring"]), ("transport", ["tcp"]),
                ("impl", ["poll", "runtime"]), ("placement", ["spread"]), ("seconds", ["0.3"]),
            ])
        }
        return LabGrid.product([
            ("peers", ["16"]), ("messages", ["1", "16"]), ("pattern", ["random", "ring"]), ("transport", ["tcp", "unix"]),
            ("impl", ["poll", "runtime"]), ("placement", ["spread", "one-cpu"]), ("seconds", ["1"]),
        ])
    }

    public var columns: [LabColumn] {
        [
            .parameter("peers", title: "P"), .parameter("messages", title: "M"), .parameter("pattern"),
            .parameter("transport"), .parameter("impl"), .parameter("placement"),
            .figure(Figure.messagesPerSecond, title: "msgs/s", precision: 0),
            .figure(Figure.busyCores, title: "busy cores", precision: 2),
            .figure(Figure.cpuBusy, title: "CPU busy", unit: "%", precision: 1),
            .figure(Figure.switchesPerHop, title: "cswitch/hop", precision: 2),
            .figure(Figure.cpuPerHop, title: "CPU/hop", unit: "µs", precision: 1),
            .figure(Figure.hopLatency, title: "hop latency", unit: "µs"),
        ]
    }

    public var charts: [LabChart] {
        [
            LabChart(title: "Messages per second", figure: Figure.messagesPerSecond, x: "pattern", series: "impl", logScale: true),
            LabChart(title: "Machine busy (all CPUs)", figure: Figure.cpuBusy, x: "pattern", series: "impl", unit: "%"),
            LabChart(title: "Hop latency", figure: Figure.hopLatency, x: "pattern", series: "impl", unit: "µs", logScale: true),
        ]
    }

    public func estimatedSeconds(quick: Bool) -> Double? { quick ? 10 : 115 }

    public func run(point: LabPoint, in context: LabContext) throws -> LabFigures<Figure> {
        guard let peers = point.int("peers"), peers >= 2, peers <= 30, let messages = point.int("messages"), messages >= 1,
              let pattern = point["pattern"], let transport = point["transport"], let impl = point["impl"],
              let placement = point["placement"], let seconds = point.double("seconds")
        else { throw LabSkip("bad point \(point)") }
        let cpu: Int? = placement == "one-cpu" ? Threads.allowedCPUs()[0] : nil
        let mesh = try MeshRun(peers: peers, messages: messages, ring: pattern == "ring", unix: transport == "unix",
                               cpu: cpu, seconds: seconds)
        return try mesh.run(runtime: impl == "runtime")
    }

    public func todayFigures(for points: [LabPointResult]) -> [SeedFigureID: String] {
        func busy(_ pattern: String, _ transport: String) -> String? {
            guard let p = points.first(where: {
                $0.parameters["messages"] == "1" && $0.parameters["pattern"] == pattern && $0.parameters["transport"] == transport
                    && $0.parameters["impl"] == "poll" && $0.parameters["placement"] == "spread"
            }), let cores = p.median(Figure.busyCores), let rate = p.median(Figure.messagesPerSecond) else { return nil }
            return String(format: "%.2f busy cores of %d, %.0f msgs/s (poll peers, 1 message)", cores, Threads.allowedCPUs().count, rate)
        }
        var today: [SeedFigureID: String] = [:]
        today[.randomInetCPU] = busy("random", "tcp")
        today[.ringOrUnixCPU] = busy("ring", "tcp") ?? busy("random", "unix")
        return today
    }

    public func notes(for points: [LabPointResult]) -> [String] {
        var notes = [
            "With one message in flight only one peer can run at a time, so at most one CPU can be busy: an idle second CPU is expected, not a stall. "
                + "Happe's 2005 effect (random forwarding over INET leaving a uniprocessor ~80% idle, ring and UNIX sockets fine) was TCP-specific; on this kernel random ≈ ring ≈ unix (compare the rows), and no delayed-ACK stall appears. "
                + "What remains is the cost of crossing CPUs: spread over both vCPUs the single token hops between them, so about one CPU idles and every hop pays a cross-CPU wake-up (tens of µs on this VM); pinned to one CPU the same mesh runs several times faster."
        ]
        func rate(_ pattern: String) -> Double? {
            points.first {
                $0.parameters["messages"] == "1" && $0.parameters["pattern"] == pattern && $0.parameters["transport"] == "tcp"
                    && $0.parameters["impl"] == "poll" && $0.parameters["placement"] == "spread"
            }?.median(Figure.messagesPerSecond)
        }
        if let random = rate("random"), let ring = rate("ring"), ring > 0 {
            notes.append(String(format: "One message over TCP, poll peers: random forwarding runs at %.2f× the ring's rate — the 2005 random-vs-ring gap (random idling the CPU) does not appear.", random / ring))
        }
        let one = points.filter { $0.parameters["messages"] == "1" && $0.parameters["impl"] == "poll" }
        if let spread = one.first(where: { $0.parameters["placement"] == "spread" })?.median(Figure.messagesPerSecond),
           let pinned = one.first(where: { $0.parameters["placement"] == "one-cpu" })?.median(Figure.messagesPerSecond), spread > 0 {
            notes.append(String(format: "One message, all peers pinned to one CPU: %.1f× the messages per second of the spread placement — each hop across CPUs pays a cross-CPU wake-up, which costs tens of µs on this VM.", pinned / spread))
        }
        return notes
    }
}

/// One mesh run: builds the connections, runs the peers until the deadline, measures.
struct MeshRun {
    let peers: Int
    let messages: Int
    let ring: Bool
    let unix: Bool
    let cpu: Int?
    let seconds: Double
    /// links[i][j]: peer i's descriptor for its connection to peer j (-1 on the diagonal).
    let links: [[CInt]]

    init(peers: Int, messages: Int, ring: Bool, unix: Bool, cpu: Int?, seconds: Double) throws {
        self.peers = peers
        self.messages = messages
        self.ring = ring
        self.unix = unix
        self.cpu = cpu
        self.seconds = seconds
        var links = Array(repeating: Array(repeating: CInt(-1), count: peers), count: peers)
        do {
            for i in 0..<peers {
                for j in (i + 1)..<peers {
                    let (a, b) = unix ? try Self.unixPair() : try Self.tcpPair()
                    links[i][j] = a
                    links[j][i] = b
                }
            }
        } catch {
            for row in links { for fd in row where fd >= 0 { Posix.close(fd) } }
            throw error
        }
        self.links = links
    }

    static func unixPair() throws -> (CInt, CInt) {
        try Posix.socketpair(domain: AF_UNIX, type: ccorral_SOCK_STREAM, blocking: true)
    }

    static func tcpPair() throws -> (CInt, CInt) {
        let listener = try Posix.socket(domain: AF_INET, type: ccorral_SOCK_STREAM, blocking: true)
        defer { Posix.close(listener) }
        try Posix.bind(listener, .ipv4(host: "127.0.0.1", port: 0))
        try Posix.listen(listener, backlog: 1)
        let address = try Posix.getsockname(listener)
        let a = try Posix.socket(domain: AF_INET, type: ccorral_SOCK_STREAM, blocking: true)
        var b: CInt = -1
        do {
            // Blocking: `.wouldBlock` stands for EINTR here, and the lab blocks its signals.
            guard case .processed = try Posix.connect(a, address) else { throw SystemError("connect", errno: .interrupted) }
            guard case .processed(let accepted) = try Posix.accept4(listener) else { throw SystemError("accept4", errno: .wouldBlock) }
            b = accepted
            try Posix.fcntlSetFlags(b, try Posix.fcntlGetFlags(b) & ~O_NONBLOCK)
            for fd in [a, b] { try Posix.setsockopt(fd, CInt(IPPROTO_TCP), ccorral_TCP_NODELAY, CInt(1)) }
        } catch {
            Posix.close(a)
            if b >= 0 { Posix.close(b) }
            throw error
        }
        return (a, b)
    }

    /// The next destination of a message at `peer`.
    static func next(_ peer: Int, of peers: Int, ring: Bool, random: inout UInt64) -> Int {
        if ring { return (peer + 1) % peers }
        random ^= random << 13
        random ^= random >> 7
        random ^= random << 17
        let pick = Int(random % UInt64(peers - 1))
        return pick >= peer ? pick + 1 : pick
    }

    private func closeLinks() {
        for row in links { for fd in row where fd >= 0 { Posix.close(fd) } }
    }

    /// Reads `count` bytes from `fd` within `milliseconds` (poll, then read); false on EOF (every
    /// writer gone: a peer died) or timeout.
    static func readBytes(_ fd: CInt, count: Int, milliseconds: Int) -> Bool {
        var got = 0
        var buffer = [UInt8](repeating: 0, count: 64)
        let end = deadline(afterMilliseconds: milliseconds)
        while got < count {
            guard waitReadable(fd, until: end) else { return false }
            // A read error counts as end of file: a peer is gone either way.
            guard let n = try? buffer.withUnsafeMutableBytes({ (bytes) throws(SystemError) -> Int in try Posix.readBlocking(fd, bytes) }),
                  n > 0 else { return false }
            got += n
        }
        return true
    }

    /// Spawns one process per peer (`lab-worker mesh`), runs them for `seconds`, measures.
    func run(runtime: Bool) throws -> LabFigures<MeshExperiment.Figure> {
        defer { closeLinks() }
        let page = try MeshSharedPage.create()
        defer { page.unmap() }
        // Three pipes (all close-on-exec; the spawn moves the children's ends to 4, 5, 6):
        // start (closing it starts every peer), ready (each peer writes one byte when set up) and
        // stop (closing it ends every peer). Nobody polls a flag.
        var pipes: [CInt] = []
        defer { for fd in pipes where fd >= 0 { Posix.close(fd) } }
        for _ in 0..<3 {
            let (r, w) = try Posix.pipe()
            pipes += [r, w]
        }
        let (startRead, startWrite, readyRead, readyWrite, stopRead, stopWrite) = (0, 1, 2, 3, 4, 5)
        var pids: [pid_t] = []
        defer {
            Posix.close(pipes[stopWrite])  // every peer sees EOF on its stop pipe and exits
            pipes[stopWrite] = -1
            for pid in pids { Subprocess.reap(pid, milliseconds: 1000) }
        }
        for peer in 0..<peers {
            let arguments = [
                "mesh", "--peer", "\(peer)", "--peers", "\(peers)", "--messages", "\(messages)",
                "--ring", ring ? "1" : "0", "--unix", unix ? "1" : "0", "--impl", runtime ? "runtime" : "poll",
                "--cpu", "\(cpu ?? -1)",
            ]
            let mine = links[peer].filter { $0 >= 0 }
            pids.append(try LabWorker.spawn(arguments, fds: [page.fd, pipes[startRead], pipes[readyWrite], pipes[stopRead]] + mine))
        }
        for i in [startRead, readyWrite, stopRead] {
            Posix.close(pipes[i])
            pipes[i] = -1
        }
        // Every peer set up (the binary started, links adopted) before the clock starts.
        guard Self.readBytes(pipes[readyRead], count: peers, milliseconds: 10_000) else {
            throw LabSkip("mesh peers did not all start within 10 s")
        }
        Posix.close(pipes[startWrite])
        pipes[startWrite] = -1
        // A 20 ms warm-up for the first messages to get going, then the measured window.
        LabPause.microseconds(20_000)
        let before = ProbeSnapshot.take(pids: pids)
        let hops0 = page.hops(peers: peers)
        LabPause.microseconds(Int(seconds * 1_000_000))
        let after = ProbeSnapshot.take(pids: pids)
        let hops = Double(page.hops(peers: peers) &- hops0)
        let delta = after - before
        let wall = delta.seconds
        var figures: LabFigures<MeshExperiment.Figure> = [.messagesPerSecond: hops / wall, .hops: hops]
        if let cpu = delta.cpu {
            figures[.busyCores] = cpu.busyCores
            figures[.cpuBusy] = cpu.busyFraction * 100
        }
        if hops > 0 {
            let switches = delta.totalContextSwitches
            figures[.switchesPerHop] = Double(switches.total) / hops
            figures[.voluntarySwitchesPerHop] = Double(switches.voluntary) / hops
            figures[.cpuPerHop] = delta.totalCPUSeconds / hops * 1e6
            figures[.hopLatency] = wall * Double(messages) / hops * 1e6
        }
        return figures
    }
}
