import Testing
@testable import CorralLab

@Suite struct ProbeParsingTests {
    @Test func processStatFields() throws {
        let s = try #require(ProcessStat.parse(ProbeFixtures.stat))
        #expect(s.pid == 7537)
        #expect(s.comm == "swift-build")
        #expect(s.state == "S")
        #expect(s.utimeTicks == 84)
        #expect(s.stimeTicks == 38)
        #expect(s.totalTicks == 122)
        #expect(s.threadCount == 8)
        #expect(s.processor == 1)
    }

    @Test func processStatCommWithSpacesAndParentheses() throws {
        let s = try #require(ProcessStat.parse(ProbeFixtures.statWeirdComm))
        #expect(s.pid == 7760)
        #expect(s.comm == "we ird) (x")
        #expect(s.state == "S")
        #expect(s.threadCount == 1)
        #expect(ProcessStat.parse("garbage") == nil)
        #expect(ProcessStat.parse("12 (x) S 1 2") == nil)
    }

    @Test func statusContextSwitchesAndRSS() throws {
        #expect(ContextSwitches.parse(status: ProbeFixtures.status) == ContextSwitches(voluntary: 1, involuntary: 0))
        // Unwrapped first: swift-testing's optional comparison of a UInt64? trips a (toolchain)
        // AddressSanitizer report in its AnyHashable conversion.
        let rss = try #require(MemoryUsage.parseRSSBytes(status: ProbeFixtures.status))
        #expect(rss == 1824 * 1024)
        #expect(ContextSwitches.parse(status: "Name:\tx\n") == nil)
        #expect(MemoryUsage.parseRSSBytes(status: "Name:\tkthreadd\n") == nil)
        let d = ContextSwitches(voluntary: 10, involuntary: 3) - ContextSwitches(voluntary: 4, involuntary: 5)
        #expect(d == ContextSwitches(voluntary: 6, involuntary: 0))
        #expect(ProcFile.parseKeyValueLines(ProbeFixtures.status)["Name"] == "we ird) (x")
    }

    @Test func systemCPU() throws {
        let s = try #require(CPUSample.parse(ProbeFixtures.procStat))
        #expect(s.aggregate.user == 13933)
        #expect(s.aggregate.steal == 425)
        #expect(s.aggregate.busy == 13933 + 0 + 5440 + 0 + 107 + 425)
        #expect(s.aggregate.total == s.aggregate.busy + 414205 + 1026)
        #expect(s.perCPU.count == 2)
        #expect(s.perCPU[1]?.iowait == 975)
        // One CPU fully busy for 100 ticks, the other idle: busy fraction 0.5, one core.
        var later = s
        later.aggregate.user += 100; later.aggregate.idle += 100
        later.perCPU[0]!.user += 100; later.perCPU[1]!.idle += 100
        let u = later - s
        #expect(u.busyFraction == 0.5)
        #expect(u.busyCores == 1.0)
        #expect(u.perCPUBusyFraction[0] == 1.0)
        #expect(u.perCPUBusyFraction[1] == 0.0)
        #expect(CPUSample.parse("intr 1 2 3\n") == nil)
    }

    @Test func tcpCounters() throws {
        let t = try #require(TCPCounters.parse(snmp: ProbeFixtures.snmp, netstat: ProbeFixtures.netstat))
        #expect(t.inSegments == 3195)
        #expect(t.outSegments == 2124)
        #expect(t.retransmittedSegments == 7)
        #expect(t.delayedACKs == 42) // not MPTcpExt's 999
        let tables = TCPCounters.parseHeaderValueTables(ProbeFixtures.snmp)
        #expect(tables["Tcp"]?["MaxConn"] == -1)
        #expect(tables["Udp"]?["OutDatagrams"] == 10)
        #expect(TCPCounters.parse(snmp: "Ip: a\nIp: 1\n", netstat: nil) == nil)
        let d = TCPCounters(inSegments: 10, outSegments: 20) - TCPCounters(inSegments: 4, outSegments: 25)
        #expect(d == TCPCounters(inSegments: 6, outSegments: 0))
    }

    @Test func cpuInfoAndCPUList() {
        let info = MachineInfo.parseCPUInfo(ProbeFixtures.cpuinfo)
        #expect(info.model == "AMD EPYC")
        #expect(info.virtualised)
        #expect(MachineInfo.parseCPUInfo("model name\t: X\nflags\t: fpu sse\n").virtualised == false)
        #expect(MachineInfo.parseCPUList("0-1") == 2)
        #expect(MachineInfo.parseCPUList("0-3,8,10-11") == 7)
        #expect(MachineInfo.parseCPUList("x") == nil)
    }
}
