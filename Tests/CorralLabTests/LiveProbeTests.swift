import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import CorralLab

/// Reads the real /proc files of the test process itself.
@Suite struct LiveProbeTests {
    /// Spin until this thread has used `milliseconds` of CPU (not wall) time, so the
    /// test holds on a loaded shared machine; gives up after 10 s of wall time.
    private func burnCPU(milliseconds: Double) -> UInt64 {
        let start = ResourceUsage.currentThread().cpuSeconds
        let deadline = ProbeSnapshot.monotonicNow() + 10_000_000_000
        var x: UInt64 = 1
        while ResourceUsage.currentThread().cpuSeconds - start < milliseconds / 1000, ProbeSnapshot.monotonicNow() < deadline {
            for i in 0..<10_000 { x = x &* 6364136223846793005 &+ UInt64(i) }
        }
        return x
    }

    @Test func ownStatStatusAndThreads() throws {
        let pid = getpid()
        let stat = try #require(ProcessStat.read(pid: pid))
        #expect(stat.pid == pid)
        #expect(stat.threadCount >= 1)
        let threads = ProcessStat.threads(pid: pid)
        #expect(threads.count >= 1)
        #expect(threads.contains { $0.pid == pid })
        let tid = try #require(CurrentProcess.tid)
        #expect(ProcessStat.read(pid: pid, tid: tid) != nil)
        #expect(ContextSwitches.read(pid: pid) != nil)
        #expect(ContextSwitches.readProcess(pid: pid)!.total >= ContextSwitches.read(pid: pid)!.total)
        #expect(MemoryUsage.rssBytes(pid: pid)! > 1_000_000)
        #expect(ClockTicks.perSecond > 0)
    }

    @Test func busyLoopShowsUpInCPUTimeAndRusage() {
        let before = ProbeSnapshot.take()
        let ruBefore = ResourceUsage.current()
        let threadBefore = ResourceUsage.currentThread()
        _ = burnCPU(milliseconds: 200)
        usleep(20_000) // a voluntary context switch
        let delta = ProbeSnapshot.take() - before
        let ru = ResourceUsage.current() - ruBefore
        let thread = ResourceUsage.currentThread() - threadBefore
        #expect(delta.seconds >= 0.2)
        #expect(delta.totalCPUSeconds >= 0.15) // /proc ticks are 10 ms
        #expect(ru.cpuSeconds >= 0.19)
        #expect(thread.cpuSeconds >= 0.19)
        #expect(thread.contextSwitches.voluntary >= 1)
        #expect(ru.maxRSSBytes > 1_000_000)
        let cpu = try! #require(delta.cpu)
        #expect(cpu.busyCores > 0.05)
        #expect(cpu.busyFraction <= 1)
        let f = delta.figures()
        #expect(f["proc_cpu_seconds"] != nil && f["cpu_busy_cores"] != nil && f["seconds"] != nil)
    }

    @Test func systemCountersAndMachine() throws {
        let s = try #require(CPUSample.read())
        #expect(s.perCPU.count >= 1)
        #expect(s.aggregate.total > 0)
        let t = try #require(TCPCounters.read())
        #expect(t.outSegments >= 0)
        let m = MachineInfo.current()
        #expect(!m.kernel.isEmpty && m.kernel != "unknown")
        #expect(m.cpus >= 1)
        #expect(!m.clocksource.isEmpty)
    }
}
