import CorralRuntime
import CorralTestSupport
import Testing
@testable import CorralLab

/// Smoke runs of `lab backends` at its smallest size, and the syscall probe's parsing.
@Suite(.serialized) struct BackendsTests {
    /// Each workload against each tested backend: a `uring` point is measured through io_uring
    /// (its syscalls are io_uring_enter, not epoll's).
    @Test(arguments: testedBackends, ["keepalive", "close"])
    func eachWorkloadIsAnsweredAndMeasured(backend: EventLoopBackend, workload: String) throws {
        let point: LabPoint = ["backend": "\(backend)", "workload": workload, "connections": "4", "seconds": "0.2"]
        let context = LabContext()
        defer { context.close() }
        let f = try BackendsExperiment().run(point: point, in: context)
        #expect((f[.requests] ?? 0) >= 4)
        #expect(f[.errors] == 0)
        let cpu = try #require(f[.serverCPU])
        #expect(cpu > 0 && cpu < 100_000, "\(cpu) µs per request")
        #expect(f[.serverSwitches] != nil)
        guard context.syscallCounterUnavailable() == nil else { return }
        let syscalls = try #require(f[.syscalls])
        if backend == .uring {
            #expect((f[.uringEnter] ?? 0) > 0, "io_uring_enter per request: \(f[.uringEnter] ?? -1)")
            #expect((f[.epollWait] ?? 0) == 0, "epoll_wait per request: \(f[.epollWait] ?? -1)")
            return
        }
        #expect(syscalls >= 2, "at least a read and a send per request: \(syscalls)")
        if workload == "close" {
            #expect((f[.accept4] ?? 0) >= 1, "every request is a new connection")
            // corral serve defers accept and reads at once: a connection answered and closed
            // in its first read is never registered with epoll.
            #expect((f[.epollCtl] ?? 1) < 0.5, "epoll_ctl per request: \(f[.epollCtl] ?? -1)")
        }
    }

    /// One client, one request per connection: connections arrive one at a time, so the
    /// acceptor takes one per wake-up instead of asking again for one that is not there
    /// (about 2 accept4 per request before; 1 + 1/8 for the periodic batch since).
    @Test func connectionsArrivingOneAtATimeCostOneAccept4Each() throws {
        let context = LabContext()
        defer { context.close() }
        guard context.syscallCounterUnavailable() == nil else { return }
        let point: LabPoint = ["backend": "epoll", "workload": "close", "connections": "1", "seconds": "0.3"]
        let f = try BackendsExperiment().run(point: point, in: context)
        let accepts = try #require(f[.accept4])
        #expect(accepts >= 1 && accepts < 1.5, "accept4 per request: \(accepts)")
    }

    /// By default the experiment measures every backend this machine offers; a uring point is
    /// skipped, never measured on the epoll fallback, where io_uring does not work (where it
    /// works, `eachWorkloadIsAnsweredAndMeasured` measures it).
    @Test func everyOfferedBackendIsMeasuredAndOthersAreSkipped() throws {
        let offered = BackendsExperiment.offered.map(\.name)
        #expect(offered.first == "epoll")
        #expect(BackendsExperiment().backends == offered)
        #expect(offered.contains("uring") == EventLoopBackend.available.contains(.uring))
        guard !offered.contains("uring") else { return }
        let point: LabPoint = ["backend": "uring", "workload": "keepalive", "connections": "4", "seconds": "0.2"]
        #expect(throws: LabSkip.self) { try BackendsExperiment(backends: ["uring"]).run(point: point) }
    }

    @Test func perfStatCSVIsParsed() throws {
        let text = """
        # started on Tue Dec  1 06:33:00 2026

        1200,,raw_syscalls:sys_enter,152268,100.00,,
        300,,syscalls:sys_enter_accept4,152268,100.00,,
        <not counted>,,syscalls:sys_enter_io_uring_enter,0,0.00,,
        """
        let counts = try #require(SyscallCounter.parse(text))
        #expect(counts["total"] == 1200)
        #expect(counts["accept4"] == 300)
        #expect(counts["io_uring_enter"] == nil)
        #expect(SyscallCounter.parse("<not supported>,,raw_syscalls:sys_enter,0,0.00,,") == nil)
    }
}
