import Foundation
import Glibc
import Synchronization
import Testing
@_spi(Internals) @testable import CorralHTTP
@testable import CorralRuntime

@Suite struct HandoverTests {
    /// Load runs through a restart: the new server takes the listening sockets over a UNIX
    /// socket, the old one drains; no request fails and both servers answered some.
    @Test(arguments: [AcceptStrategy.reuseport, .exclusive])
    func aSuccessorTakesOverTheSocketsWithoutAFailedRequest(strategy: AcceptStrategy) throws {
        let old = try ServedTree { $0.acceptStrategy = strategy }
        let path = NSTemporaryDirectory() + "corral-handover-\(getpid())-\(strategy).sock"
        let takenOver = try OneShotSignal()
        try old.server.offerHandover(at: path) { takenOver.signal() }

        let stop = Atomic<Bool>(false)
        /// Requests still to make once the old server is gone (-1: not yet counting down).
        let remaining = Atomic<Int>(-1)
        let warmedUp = try OneShotSignal()
        let results = Locked<(ok: Int, failed: [String])>((0, []))
        let load = try Threads.spawn(name: "test-load") {
            // Bounded: at most 100 000 requests, and it stops when told.
            for _ in 0..<100_000 where !stop.load(ordering: .relaxed) {
                if remaining.load(ordering: .relaxed) == 0 { break }
                if remaining.load(ordering: .relaxed) > 0 { remaining.subtract(1, ordering: .relaxed) }
                do {
                    let client = try RawClient(old.address)  // a new connection per request
                    client.send("GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                    let response = client.response()
                    results.withLock {
                        if response?.text == "Hello, world\n" {
                            $0.ok += 1
                            if $0.ok == 50 { warmedUp.signal() }
                        } else { $0.failed.append("\(String(describing: response?.status))") }
                    }
                } catch {
                    results.withLock { $0.failed.append("\(error)") }
                }
            }
            warmedUp.signal()  // never leave the main thread waiting, whatever happened
        }
        warmedUp.wait()  // the old server is serving the load
        let before = results.withLock { $0.ok }
        let received = try Handover.receive(from: path)
        var configuration = HTTPServerConfiguration()
        configuration.root = old.root
        configuration.loops = 2
        configuration.acceptStrategy = strategy
        configuration.inheritedDescriptors = received.descriptors
        let successor = HTTPServer(configuration: configuration)
        let address = try successor.start()
        #expect(address == old.address)
        Handover.acknowledge(received.connection)
        takenOver.wait()
        old.server.stop(drainSeconds: 5)
        // 300 more requests against the successor alone, then the load thread ends.
        remaining.store(300, ordering: .relaxed)
        Threads.join(load)
        let final = results.withLock { $0 }
        #expect(final.failed.isEmpty, "failed requests: \(final.failed.prefix(5))")
        #expect(before >= 0 && final.ok > before)
        #expect(old.server.stats.requests > 0)
        #expect(successor.stats.requests > 0)
        successor.stop(drainSeconds: 2)
        try? FileManager.default.removeItem(atPath: old.root)
    }
}
