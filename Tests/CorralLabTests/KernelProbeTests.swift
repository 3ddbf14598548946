import CorralRuntime
import Glibc
import Testing
@testable import CorralLab

/// The probes that ask the kernel: tcp_diag for accept queues, the sched_wakeup tracepoint.
@Suite(.serialized) struct KernelProbeTests {
    /// A listener nobody accepts on: tcp_diag sees the queued connections and the backlog, as
    /// `ss -lt` shows them as Recv-Q and Send-Q.
    @Test func acceptQueueDepthFromTcpDiag() throws {
        let listener = try Posix.socket(domain: AF_INET, type: CInt(SOCK_STREAM.rawValue))
        defer { close(listener) }
        try Posix.bind(listener, .ipv4(host: "127.0.0.1", port: 0))
        try Posix.listen(listener, backlog: 16)
        let address = try Posix.getsockname(listener)
        let diag = try SockDiag.open()
        defer { close(diag) }
        let idle = try SockDiag.listeners(diag, port: address.port)
        #expect(idle.map(\.queued) == [0] && idle.map(\.backlog) == [16])
        var clients: [CInt] = []
        defer { for fd in clients { close(fd) } }
        for _ in 0..<3 { clients.append(try LabClient.connect(address)) }
        #expect(try SockDiag.listeners(diag, port: address.port).first?.queued == 3)
        // The sampler sees the same depth while it runs.
        let sampler = try AcceptQueueSampler(diag: diag, port: address.port!)
        LabPause.microseconds(5000)
        #expect(sampler.stop() == 3)
    }

    /// A thread woken 20 times through an eventfd shows at least 20 wake-ups in one interval.
    @Test(.enabled(if: getuid() == 0 && Subprocess.find("bpftrace") != nil, "needs bpftrace and root"))
    func schedulerWakeUpsFromTheTracepoint() throws {
        let tracer = try WakeupTracer.start().get()
        defer { tracer.stop() }
        let signal = try LabSignal()
        let done = try LabSignal()
        let tid = ResultBox<Int32>()
        let ready = try OneShotSignal()
        let thread = try Threads.spawn(name: "lab-woken") {
            tid.result = .success(Int32(Threads.currentTID()))
            ready.signal()
            for _ in 0..<20 {
                _ = signal.wait(timeoutMilliseconds: 5000)
                done.signal()
            }
        }
        ready.wait()
        let woken = ServerThreads(tids: [try tid.result!.get()])
        _ = tracer.interval()
        for _ in 0..<20 {
            // Asleep in poll(2) first, so each signal is a wake-up (not a ready descriptor found running).
            woken.waitUntilAllSleeping()
            signal.signal()
            _ = done.wait(timeoutMilliseconds: 5000)
        }
        Threads.join(thread)
        let counts = try #require(tracer.interval())
        let traced = counts[try tid.result!.get()] ?? 0
        #expect(traced >= 20, "\(traced) wake-ups traced")
    }
}

/// nginx as a subject (skipped where nginx is not installed).
@Suite(.serialized, .enabled(if: Subprocess.find("nginx") != nil, "needs nginx (Scripts/setup.sh installs it)"))
struct NginxSubjectTests {
    @Test func balanceCountsEveryWorkersShareFromItsLog() throws {
        let balance = BalanceExperiment()
        let sequential = try balance.run(point: ["workers": "2", "load": "sequential", "strategy": "nginx-reuseport", "scale": "quick"])
        #expect(sequential[.connections] == 100)
        #expect(sequential[.requests] == 100)
        let keepalive = try balance.run(point: ["workers": "2", "load": "keepalive", "strategy": "nginx-mutex", "scale": "quick"])
        #expect(keepalive[.connections] == 4)
        #expect(keepalive[.requests] == 400)
        #expect((keepalive[.reqJain] ?? 0) > 0.4)
    }

    @Test func herdMeasuresTheWorkersWakeUps() throws {
        let f = try HerdExperiment().run(point: ["waiters": "4", "strategy": "nginx", "connections": "20"])
        let wakeUps = try #require(f[.schedWakeUps])
        // EPOLLEXCLUSIVE: about one worker per connection (a few more when the machine is busy).
        #expect(wakeUps >= 0.9 && wakeUps < 4, "\(wakeUps) wake-ups per connection")
        #expect((f[.serverCPU] ?? 0) > 0)
        #expect(f[.accept] == nil)  // nginx has no handler the lab can time
    }

    @Test func configurationSaysWhatTheVariantIs() {
        let config = NginxServer.configuration(directory: "/tmp/x", workers: 3, settings: NginxSettings(acceptMutex: true, reusePort: true, multiAccept: true),
                                               host: "127.0.0.1", port: 8080)
        #expect(config.contains("worker_processes 3;"))
        #expect(config.contains("accept_mutex on;") && config.contains("multi_accept on;"))
        #expect(config.contains("listen 127.0.0.1:8080 backlog=1024 reuseport;"))
        #expect(NginxSettings.named("nginx") == NginxSettings())
        #expect(NginxSettings.named("blocking") == nil)
    }
}
