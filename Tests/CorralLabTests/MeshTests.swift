import Testing
@testable import CorralLab

/// Smoke runs of `lab mesh` at its smallest size: peer processes spawned, messages flowing.
@Suite(.serialized) struct MeshTests {
    private func point(_ impl: String, _ transport: String, messages: Int = 1, placement: String = "spread") -> LabPoint {
        ["peers": "3", "messages": "\(messages)", "pattern": "random", "transport": transport, "impl": impl,
         "placement": placement, "seconds": "0.25"]
    }

    @Test(arguments: ["poll", "runtime"], ["tcp", "unix"])
    func messagesFlowAndFiguresAreSane(impl: String, transport: String) throws {
        let f = try MeshExperiment().run(point: point(impl, transport, messages: 2))
        let rate = try #require(f[.messagesPerSecond])
        #expect(rate > 100, "\(impl) \(transport): \(rate) msgs/s")
        let busy = try #require(f[.cpuBusy])
        #expect(busy > 0 && busy <= 100)
        let switches = try #require(f[.switchesPerHop])
        #expect(switches > 0 && switches < 20)
        #expect((f[.hopLatency] ?? 0) > 0)
    }

    @Test func ringPinnedToOneCPU() throws {
        let p: LabPoint = ["peers": "3", "messages": "1", "pattern": "ring", "transport": "tcp", "impl": "poll",
             "placement": "one-cpu", "seconds": "0.25"]
        let f = try MeshExperiment().run(point: p)
        #expect((f[.messagesPerSecond] ?? 0) > 100)
        #expect((f[.switchesPerHop] ?? 0) > 0)
    }

    @Test func nextPeerIsNeverSelf() {
        var random: UInt64 = 42
        for peer in 0..<5 {
            for _ in 0..<200 {
                let n = MeshRun.next(peer, of: 5, ring: false, random: &random)
                #expect(n != peer && (0..<5).contains(n))
            }
            #expect(MeshRun.next(peer, of: 5, ring: true, random: &random) == (peer + 1) % 5)
        }
    }
}
