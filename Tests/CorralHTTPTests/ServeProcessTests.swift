import Foundation
import Glibc
import Testing
@_spi(Internals) @testable import CorralHTTP
@testable import CorralRuntime

/// Issue 8, as an operator sees `corral serve`: its descriptor limit, SIGHUP and SIGTERM.
@Suite struct ServeProcessTests {
    private static func get(_ path: String) -> String { "GET \(path) HTTP/1.1\r\nHost: t\r\n\r\n" }

    private static func temporaryDirectory(_ name: String) throws -> String {
        let path = NSTemporaryDirectory() + "corral-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// A crawler over more distinct large files than the descriptor limit used to fill the
    /// table with cached descriptors: then every file answered 404 and new clients got no
    /// answer. The cache keeps at most a quarter of the limit open and evicts the least
    /// recently used; everything is served.
    @Test func aCrawlerCannotExhaustTheDescriptorTable() throws {
        let root = try Self.temporaryDirectory("crawl")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let files = (0..<300).map { patternBytes(count: 20_000, seed: UInt32($0)) }
        for (i, bytes) in files.enumerated() { try Data(bytes).write(to: URL(fileURLWithPath: root + "/f\(i).bin")) }
        let server = try ServeProcess(root: root, shellPrefix: "ulimit -n 256")
        defer { _ = server.stop() }
        var intact = 0
        for round in 0..<2 {
            let clients = try (0..<3).map { _ in try Wire(server.address) }
            for i in 0..<files.count {
                let client = clients[(i + round) % clients.count]
                client.send(Self.get("/f\(i).bin"))
                if let response = client.response(), response.status == 200, sameBytes(response.body, files[i][...]) {
                    intact += 1
                }
            }
            let cached = server.openDescriptors.filter { $0.hasPrefix(root + "/") }.count
            #expect(cached <= 256 / 4, "\(cached) files held open")
        }
        #expect(intact == 2 * files.count)
        // New clients are still answered.
        for _ in 0..<20 {
            let client = try Wire(server.address)
            client.send(Self.get("/f0.bin"))
            #expect(client.response()?.status == 200)
        }
        #expect(server.openDescriptors.count < 256)
    }

    /// SIGHUP used to kill the server (exit 129) mid-download. It reloads: the root path is
    /// resolved again (a `current -> v2` switch is served from then on), the access log file is
    /// reopened (after a rotation), and a download in flight finishes from the file it started.
    @Test func sighupReloadsWithoutDroppingARequest() throws {
        let top = try Self.temporaryDirectory("deploy")
        defer { try? FileManager.default.removeItem(atPath: top) }
        let v1 = patternBytes(count: 4 << 20, seed: 1)
        for (version, body) in [("v1", v1), ("v2", Array("two\n".utf8))] {
            try FileManager.default.createDirectory(atPath: "\(top)/\(version)", withIntermediateDirectories: true)
            try Data(body).write(to: URL(fileURLWithPath: "\(top)/\(version)/file"))
        }
        try FileManager.default.createSymbolicLink(atPath: "\(top)/current", withDestinationPath: "v1")
        let log = "\(top)/access.log"
        // The download below stalls while the reload is polled for, which under a sanitizer on
        // a loaded machine has taken longer than the default 30 s write timeout.
        let server = try ServeProcess(root: "\(top)/current", ["--access-log-file", log, "--write-timeout", "600"])

        // A download the client does not read yet: most of it waits in the server.
        let download = try Wire(server.address, receiveBuffer: 16 * 1024)
        download.send(Self.get("/file"))
        let other = try Wire(server.address)
        other.send(Self.get("/file"))
        #expect(other.response().map { sameBytes($0.body, v1[...]) } == true)
        // One more exchange on that connection: once it is answered, the server has seen the
        // download's last byte taken and logged it (a log line is written at completion).
        other.send(Self.get("/missing"))
        #expect(other.response()?.status == 404)

        // Deploy v2, rotate the log, and reload.
        try FileManager.default.removeItem(atPath: "\(top)/current")
        try FileManager.default.createSymbolicLink(atPath: "\(top)/current", withDestinationPath: "v2")
        #expect(rename(log, log + ".1") == 0)
        server.signal(SIGHUP)
        // Reloads are done in order with the requests after them: poll until v2 is served.
        var served: String?
        for _ in 0..<200 where served != "two\n" {
            let client = try Wire(server.address)
            client.send(Self.get("/file"))
            served = client.response()?.text
        }
        #expect(served == "two\n")
        #expect(download.response().map { sameBytes($0.body, v1[...]) } == true, "the download in flight is intact")
        #expect(server.process.isRunning)
        let (status, _, _) = server.stop()
        #expect(status == 0)
        let rotated = (try? String(contentsOfFile: log + ".1", encoding: .utf8)) ?? ""
        let fresh = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(rotated.contains("\"GET /file HTTP/1.1\" 200 \(v1.count)"), "lines before the reload: \(rotated)")
        #expect(fresh.contains("\"GET /file HTTP/1.1\" 200 4 "), "lines after it go to the reopened file")
    }

    /// SIGTERM: a request in flight is finished with `Connection: close`, an idle connection is
    /// closed with a FIN (never a reset), and the server exits 0.
    @Test func sigtermFinishesRequestsInFlightAndClosesIdleOnesCleanly() throws {
        let root = try Self.temporaryDirectory("drain")
        defer { try? FileManager.default.removeItem(atPath: root) }
        try Data("hello\n".utf8).write(to: URL(fileURLWithPath: root + "/index.html"))
        // One loop: once the idle connection has seen its FIN, the loop is draining for sure.
        let server = try ServeProcess(root: root, ["--loops", "1"])
        let idle = try Wire(server.address)
        idle.send(Self.get("/"))
        #expect(idle.response()?.status == 200)
        // A request whose body has not arrived yet is in flight.
        let busy = try Wire(server.address)
        busy.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\n")
        server.signal(SIGTERM)
        #expect(idle.closedByPeer())
        #expect(idle.end == .eof, "closed with a FIN, not a reset (\(String(describing: idle.end)))")
        busy.send("hello")
        let response = busy.response()
        #expect(response?.status == 405)
        #expect(response?.headers["connection"] == "close")
        #expect(busy.closedByPeer() && busy.end == .eof)
        let (status, _, errors) = server.stop()
        #expect(status == 0, "\(errors)")
    }
}
