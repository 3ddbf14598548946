import Foundation
import Testing
@testable import CorralRuntime
import CorralTestSupport

/// Runs `corral echo` in a child process with a lowered RLIMIT_NOFILE (via prlimit(1)), so the
/// limit does not disturb the tests running in this process.
@Suite struct DescriptorExhaustionTests {
    @Test(arguments: ["exclusive", "blocking"], testedBackends)
    func acceptDoesNotSpinWhenOutOfDescriptorsAndRecovers(strategy: String, backend: EventLoopBackend) throws {
        let server = try CorralProcess(
            ["echo", "--port", "0", "--loops", "1", "--accept", strategy, "--backend", "\(backend)"],
            prefix: ["/usr/bin/prlimit", "--nofile=24:24", "--"])
        let address = SocketAddress.ipv4(host: "127.0.0.1", port: server.port)
        // Three times more connections than the server has descriptors for.
        var clients: [BlockingClient] = []
        for _ in 0..<60 { clients.append(try BlockingClient(address, receiveTimeoutSeconds: 30)) }
        // The first connections were accepted and work.
        #expect(try roundTrip(clients[0], seed: 1))
        // Free the server's descriptors: close every client that got through, in order,
        // and check each later one either echoes (accepted once room appeared) or was shed
        // (the blocking strategy closes what it cannot hold: EOF, never a hang).
        var served = 0
        var shed = 0
        while !clients.isEmpty {
            let client = clients.removeFirst()
            let payload = pattern(32, seed: UInt64(clients.count))
            try? client.send(payload)
            let echoed = (try? client.receive(exactly: 32)) ?? []
            if echoed == payload { served += 1 } else { shed += 1 }
        }
        // Fresh connections after the flood are served: the server recovered. (The server
        // closes its side of the clients closed above asynchronously; until it has, the blocking
        // strategy may still shed a newcomer, so each gets a bounded number of attempts.)
        for i in 0..<5 {
            var attempts = 0
            while try !roundTrip(BlockingClient(address), seed: UInt64(100 + i)) {
                attempts += 1
                try #require(attempts < 200, "the server never recovered")
            }
        }
        let (status, report) = server.terminate()
        #expect(status == 0)
        let total = try #require(report.split(separator: "\n").first { $0.hasPrefix("total") })
        let figures = total.split(separator: " ").dropFirst().compactMap { Int($0) }
        let wakeUps = figures[0]
        let pauses = figures[4]
        #expect(pauses > 0, "the limit was never hit: \(report)")
        #expect(served + shed == 60)
        #expect(served >= 10)
        if strategy == "exclusive" {
            // Pausing leaves the connections queued in the kernel: every one is served in the end.
            #expect(shed == 0)
        }
        // A spinning acceptor wakes up hundreds of thousands of times in the time this takes;
        // pausing (or shedding) keeps the count near the number of connections.
        #expect(wakeUps < 1_000, "accept woke \(wakeUps) times for 65 connections: it spun")
    }

    /// True when the payload came back; false when the server closed the connection instead.
    @discardableResult
    private func roundTrip(_ client: BlockingClient, seed: UInt64) throws -> Bool {
        let payload = pattern(100, seed: seed)
        guard (try? client.send(payload)) != nil else { return false }
        return ((try? client.receive(exactly: payload.count)) ?? []) == payload
    }
}
