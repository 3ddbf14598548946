import Testing
@testable import CorralLab

/// The wire's settings and its model of one direction, without sockets or clocks.
@Suite struct WireModelTests {
    @Test func settingsParseTheNetemVocabulary() throws {
        let s = try WireSettings(parsing: "20ms,jitter=2ms,loss=1%,rate=10mbit")
        #expect(s.roundTripNanoseconds == 20_000_000 && s.oneWayNanoseconds == 10_000_000)
        #expect(s.jitterNanoseconds == 2_000_000)
        #expect(abs(s.loss - 0.01) < 1e-12)
        #expect(s.bytesPerSecond == 1_250_000)
        #expect(s.description == "20ms,jitter=2ms,loss=1%,rate=10mbit")
        #expect(try WireSettings(parsing: "200us").description == "0.2ms")
        #expect(try WireSettings(parsing: "0.2ms,loss=0.5").loss == 0.005)  // a bare number is percent, as in netem
        #expect(try WireSettings(parsing: "1ms,rate=1mbps").bytesPerSecond == 1_000_000)  // bytes, as in tc
        #expect(try LabNetwork(parsing: "wire:2ms,loss=1%").description == "wire:2ms,loss=1%")
        #expect(try LabNetwork(parsing: "veth") == .veth)
        #expect(try LabNetwork(parsing: "loopback") == .loopback)
    }

    @Test(arguments: ["wire:", "wire:2", "wire:2ms,loss=200%", "wire:2ms,rate=10", "wire:2ms,jitter=3ms",
                      "wire:2ms,delay=1ms", "wire:2ms,loss", "ethernet", "wire:-1ms"])
    func badSettingsSayWhatIsWrong(text: String) {
        #expect(throws: LabNetworkError.self) { try LabNetwork(parsing: text) }
    }

    @Test func delayIsHalfTheRoundTripAndFramesKeepTheirOrder() {
        var link = WireLink(settings: WireSettings(roundTripNanoseconds: 4_000_000, jitterNanoseconds: 2_000_000), seed: 7)
        var last: UInt64 = 0
        for i in 0..<1000 {
            let now = UInt64(i) * 10_000
            guard case .deliver(let at) = link.admit(size: 100, now: now, waiting: 0) else {
                Issue.record("dropped without loss")
                return
            }
            // One way: 2 ms ± 1 ms, never before the frame ahead of it.
            #expect(at >= now + 1_000_000 && at <= max(now + 3_000_000, last))
            #expect(at >= last)
            last = at
        }
    }

    @Test func rateSpacesFramesByTheirSerialisationTime() {
        // 1 000 000 bytes/s: a 1000-byte frame takes 1 ms on the wire.
        var link = WireLink(settings: WireSettings(roundTripNanoseconds: 0, bytesPerSecond: 1_000_000), seed: 1)
        var departures: [UInt64] = []
        for _ in 0..<10 {
            if case .deliver(let at) = link.admit(size: 1000, now: 0, waiting: departures.count) { departures.append(at) }
        }
        #expect(departures == (1...10).map { UInt64($0) * 1_000_000 })
    }

    @Test func lossFollowsTheBinomialAndTheQueueHasALimit() {
        var link = WireLink(settings: WireSettings(roundTripNanoseconds: 1_000_000, loss: 0.1), seed: 42)
        let n = 20_000
        var lost = 0
        for i in 0..<n where link.admit(size: 60, now: UInt64(i), waiting: 0) == .lost { lost += 1 }
        // 99.9 % interval of Binomial(20 000, 0.1): 2000 ± 3.29 σ, σ = 42.4.
        #expect(abs(Double(lost) - 2000) < 3.29 * (Double(n) * 0.1 * 0.9).squareRoot(), "\(lost) lost")
        var full = WireLink(settings: WireSettings(roundTripNanoseconds: 1_000_000, queueLimit: 5), seed: 1)
        #expect(full.admit(size: 60, now: 0, waiting: 4) != .queueFull)
        #expect(full.admit(size: 60, now: 0, waiting: 5) == .queueFull)
    }
}
