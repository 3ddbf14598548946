import CorralRuntime
import Glibc
import Testing
@testable import CorralLab

/// The emulated networks, end to end: namespaces made by the lab, joined by veth or by Corral's
/// wire, with real datagrams and TCP connections crossing them. Needs root (network
/// namespaces); without it every test here is skipped with that reason.
@Suite(.serialized, .enabled(if: LabNetworkPath.namespacesUnavailable() == nil, "needs network namespaces (root, CAP_SYS_ADMIN)"))
struct NetworkTests {
    private static func wire(_ text: String) throws -> LabNetwork { try LabNetwork(parsing: "wire:" + text) }

    /// True in a ThreadSanitizer or AddressSanitizer build (their runtimes define these).
    static let sanitized = ["__tsan_init", "__asan_init"].contains { (name: String) in dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) != nil }

    /// The round trip through Corral's wire is the one asked for: never less, and the fastest
    /// of many pings not grossly more (under 1.5×: a delay applied twice, or once per direction
    /// instead of split, fails). How close it comes (within 5 % on a quiet machine) is a
    /// measurement, which the lab's reports print; as an assertion it failed whenever the
    /// machine was loaded (2.103 against 2.100 ms in a fresh-clone CI run). Under a sanitizer
    /// the wire's own code runs several times slower, so there only the lower bound is held.
    @Test func wireRoundTripIsTheOneAskedFor() throws {
        let context = LabContext()
        defer { context.close() }
        for (text, wanted, pings) in [("2ms", 2_000_000.0, 40), ("20ms", 20_000_000.0, 12)] {
            let path = try context.path(for: try Self.wire(text), pings: 0)
            #expect(path.emulator == .corralWire || path.emulator == .netem)
            let rtts = try path.measureRoundTrip(count: pings).map { Double($0) }
            #expect(rtts.count == pings, "\(text): \(pings - rtts.count) pings lost on a wire without loss")
            let fastest = try #require(rtts.min())
            #expect(fastest >= wanted * 0.99, "\(text): fastest round trip \(fastest / 1e6) ms")
            if !Self.sanitized { #expect(fastest <= wanted * 1.5, "\(text): fastest round trip \(fastest / 1e6) ms") }
        }
    }

    /// Of 3000 datagrams through a wire losing 10 % each way, the share that arrives is within
    /// the 99.9 % interval of the binomial, and the wire's own count of losses accounts for
    /// every missing one (nothing else on the path drops).
    @Test func wireLossIsWithinItsBinomialInterval() throws {
        let path = try LabNetworkPath.make(try Self.wire("0ms,loss=10%"))
        defer { path.close() }
        let (client, server) = try PathPing.udpPair(path)
        defer {
            close(client)
            close(server)
        }
        let sent = 3000
        var received = 0
        var datagram = [UInt8](repeating: 7, count: 64)
        for burst in 0..<(sent / 100) {
            for i in 0..<100 {
                datagram[0] = UInt8(truncatingIfNeeded: burst * 100 + i)
                _ = try datagram.withUnsafeBytes { try Posix.send(client, $0, flags: 0) }
            }
            // Drain until the wire has been quiet for 20 ms (it forwards at once: no delay).
            while waitReadable(server, until: deadline(afterMilliseconds: 20)) {
                while case .processed? = try? datagram.withUnsafeMutableBytes({ try Posix.read(server, $0) }) { received += 1 }
            }
        }
        // A busy machine may leave the last datagrams in flight: wait (bounded) until every
        // datagram is either here or counted lost by the wire.
        var stats = path.wireStatistics()
        let end = deadline(afterMilliseconds: 3000)
        while path.emulator == .corralWire, received + (stats.first?.lost ?? 0) < sent, waitReadable(server, until: end) {
            while case .processed? = try? datagram.withUnsafeMutableBytes({ try Posix.read(server, $0) }) { received += 1 }
            stats = path.wireStatistics()
        }
        let lost = Double(sent - received)
        let sigma = (Double(sent) * 0.1 * 0.9).squareRoot()
        #expect(abs(lost - 300) < 3.29 * sigma, "\(Int(lost)) of \(sent) lost")
        if path.emulator == .corralWire {
            #expect(stats[0].lost == sent - received, "wire counted \(stats[0].lost) losses, \(sent - received) missing")
            #expect(stats[0].queueDrops == 0)
        }
    }

    /// A rate-limited wire never carries more than its rate (it may carry less on a busy machine).
    @Test func wireRateIsAnUpperBound() throws {
        let path = try LabNetworkPath.make(try Self.wire("0ms,rate=8mbit"))  // 1 000 000 bytes/s
        defer { path.close() }
        let (client, server) = try PathPing.udpPair(path)
        defer {
            close(client)
            close(server)
        }
        let payload = [UInt8](repeating: 1, count: 958)  // + 8 UDP + 20 IP + 14 Ethernet = 1000 bytes a frame
        var buffer = [UInt8](repeating: 0, count: 2048)
        let count = 150
        var received = 0
        let start = monotonicNanoseconds()
        for _ in 0..<count { _ = try payload.withUnsafeBytes { try Posix.send(client, $0, flags: 0) } }
        while received < count, waitReadable(server, until: deadline(afterMilliseconds: 1000)) {
            while case .processed? = try? buffer.withUnsafeMutableBytes({ try Posix.read(server, $0) }) { received += 1 }
        }
        let seconds = Double(monotonicNanoseconds() - start) / 1e9
        #expect(received == count)
        let rate = Double(received * 1000) / seconds
        #expect(rate <= 1_000_000 * 1.05, "\(rate) bytes/s through an 8 mbit wire")
    }

    /// veth: TCP between the namespaces, TCP counters from both.
    @Test func vethCarriesTCPAndCountsBothEnds() throws {
        let context = LabContext()
        defer { context.close() }
        let nagle = NagleExperiment(network: .veth)
        let f = try nagle.run(point: ["mode": "cork", "net": "veth", "scale": "quick"], in: context)
        #expect(f[.rounds] == 300)
        // Cork: one 30-byte segment out, one 2-byte reply back (and their delayed ACKs ride on them).
        let segments = try #require(f[.segments])
        #expect(segments >= 2 && segments < 2.5, "\(segments) segments per message")
        #expect(f[.retransmits] == 0)
        #expect((f[.pathRTT] ?? 0) > 0)
    }

    /// The nagle sweep's point over a 2 ms wire: Nagle with delayed ACK costs a delayed-ACK
    /// timeout per message, writes of one segment cost one round trip.
    @Test func nagleOverAWire() throws {
        let context = LabContext()
        defer { context.close() }
        let nagle = NagleExperiment()
        let corral = try nagle.run(point: ["mode": "corral", "net": "wire:2ms", "scale": "quick"], in: context)
        let standard = try nagle.run(point: ["mode": "default", "net": "wire:2ms", "scale": "quick"], in: context)
        let fast = try #require(corral[.rttP50]), slow = try #require(standard[.rttP50])
        #expect(fast >= 2000, "corral over a 2 ms wire: \(fast) µs")
        #expect(slow > fast + 10_000, "default \(slow) µs vs corral \(fast) µs: no delayed-ACK stall?")
        #expect(context.notes.contains { $0.contains("wire") })
    }

    /// balance and models with --net veth: the server in one namespace, the clients in the other.
    @Test func balanceAndModelsRunOverVeth() throws {
        let context = LabContext()
        defer { context.close() }
        let balance = try BalanceExperiment(network: .veth).run(
            point: ["workers": "2", "load": "concurrent", "strategy": "reuseport", "scale": "quick", "net": "veth"], in: context)
        #expect(balance[.connections] == Double(4 * 25))
        #expect((balance[.pathRTT] ?? 0) > 0)
        let models = try ModelsExperiment(network: .veth).run(
            point: ["model": "loops", "workload": "keepalive", "clients": "2", "seconds": "0.1", "connections": "-", "net": "veth"],
            in: context)
        #expect((models[.requests] ?? 0) > 0, "the model answered over veth (how many in 0.1 s depends on the load)")
        #expect(models[.errors] == 0)
    }
}
