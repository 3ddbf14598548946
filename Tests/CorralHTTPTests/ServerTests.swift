import Foundation
import Testing
@_spi(Internals) @testable import CorralHTTP
@testable import CorralRuntime
import CorralTestSupport

/// The server over real sockets on loopback: raw requests in, exact responses out.
@Suite struct ServerTests {
    private func get(_ path: String, _ extra: String = "", on tree: ServedTree) throws -> RawClient.Response {
        let client = try RawClient(tree.address)
        client.send("GET \(path) HTTP/1.1\r\nHost: t\r\n\(extra)\r\n")
        return try #require(client.response())
    }

    @Test(arguments: testedBackends)
    func servesFilesWithTheirHeaders(backend: EventLoopBackend) throws {
        let tree = try ServedTree(backend: backend)
        defer { tree.stop() }
        let index = try get("/", on: tree)
        #expect(index.status == 200)
        #expect(index.text == "Hello, world\n")
        #expect(index.headers["content-type"] == "text/html; charset=utf-8")
        #expect(index.headers["content-length"] == "13")
        #expect(index.headers["etag"] != nil)
        #expect(index.headers["last-modified"].flatMap { HTTPDate.parse(Array($0.utf8)) } != nil)
        #expect(index.headers["date"].flatMap { HTTPDate.parse(Array($0.utf8)) } != nil)
        let big = try get("/big.bin", on: tree)
        #expect(big.body == ServedTree.big)  // sendfile path
        #expect(try get("/dir/", on: tree).text == "inner\n")
        // A directory named without its slash redirects, so relative links resolve against it
        // (nginx's 301); a file named with one is not found; a directory without an index is 403.
        let redirect = try get("/dir?x=1", on: tree)
        #expect(redirect.status == 301 && redirect.headers["location"] == "/dir/?x=1")
        #expect(try get("/index.html/", on: tree).status == 404)
        #expect(try get("/a%20b.txt", on: tree).text == "spaces\n")
        #expect(try get("/inside", on: tree).text == "Hello, world\n")
        #expect(try get("/noindex/", on: tree).status == 403)
        #expect(try get("/missing", on: tree).status == 404)
    }

    @Test(arguments: testedBackends)
    func nothingOutsideTheRootIsEverServed(backend: EventLoopBackend) throws {
        let tree = try ServedTree(backend: backend)
        defer { tree.stop() }
        let passwd = (try? String(contentsOfFile: "/etc/passwd", encoding: .utf8)) ?? "root:"
        for path in ["/../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2fetc/passwd", "/escape", "/dir/up/",
                     "/dir/up/index.html", "/a%00b", "http://x/../../etc/passwd", "/proc/self/environ"] {
            let response = try get(path, on: tree)
            #expect([400, 404].contains(response.status), "\(path) → \(response.status)")
            #expect(!response.text.contains("root:"), "\(path) leaked")
            #expect(response.text != passwd)
        }
    }

    @Test(arguments: testedBackends)
    func conditionalAndRangeRequests(backend: EventLoopBackend) throws {
        let tree = try ServedTree(backend: backend)
        defer { tree.stop() }
        let first = try get("/big.bin", on: tree)
        let etag = try #require(first.headers["etag"])
        let lastModified = try #require(first.headers["last-modified"])
        let client = try RawClient(tree.address)
        client.send("GET /big.bin HTTP/1.1\r\nHost: t\r\nIf-None-Match: \(etag)\r\n\r\n")
        let notModified = try #require(client.response(bodyExpected: false))
        #expect(notModified.status == 304)
        #expect(notModified.headers["etag"] == etag)
        client.send("GET /big.bin HTTP/1.1\r\nHost: t\r\nIf-Modified-Since: \(lastModified)\r\n\r\n")
        #expect(client.response(bodyExpected: false)?.status == 304)
        let range = try get("/big.bin", "Range: bytes=100-199\r\n", on: tree)
        #expect(range.status == 206)
        #expect(range.headers["content-range"] == "bytes 100-199/\(ServedTree.big.count)")
        #expect(range.body == Array(ServedTree.big[100..<200]))
        let small = try get("/index.html", "Range: bytes=-6\r\n", on: tree)
        #expect(small.status == 206)
        #expect(small.text == "world\n")
        let unsatisfiable = try get("/index.html", "Range: bytes=999-\r\n", on: tree)
        #expect(unsatisfiable.status == 416)
        #expect(unsatisfiable.headers["content-range"] == "bytes */13")
        let staleIfRange = try get("/big.bin", "Range: bytes=0-9\r\nIf-Range: \"stale\"\r\n", on: tree)
        #expect(staleIfRange.status == 200)
        #expect(staleIfRange.body.count == ServedTree.big.count)
    }

    @Test(arguments: testedBackends)
    func methodsVersionsAndHead(backend: EventLoopBackend) throws {
        let tree = try ServedTree(backend: backend)
        defer { tree.stop() }
        let client = try RawClient(tree.address)
        client.send("HEAD / HTTP/1.1\r\nHost: t\r\n\r\n")
        let head = try #require(client.response(bodyExpected: false))
        #expect(head.status == 200)
        #expect(head.headers["content-length"] == "13")
        client.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc")
        let post = try #require(client.response())
        #expect(post.status == 405)
        #expect(post.headers["allow"] == "GET, HEAD")
        client.send("BREW / HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(client.response()?.status == 501)
        client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")  // the connection is still usable
        #expect(client.response()?.text == "Hello, world\n")
        let old = try RawClient(tree.address)
        old.send("GET / HTTP/1.0\r\n\r\n")
        #expect(old.response()?.status == 200)
        #expect(old.closedByPeer())
        let oldKeepAlive = try RawClient(tree.address)
        oldKeepAlive.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        #expect(oldKeepAlive.response()?.headers["connection"] == "keep-alive")
        oldKeepAlive.send("GET / HTTP/1.0\r\n\r\n")
        #expect(oldKeepAlive.response()?.status == 200)
        #expect(oldKeepAlive.closedByPeer())
    }

    @Test(arguments: testedBackends)
    func rejectionsAnswerThenCloseAndTheServerStaysHealthy(backend: EventLoopBackend) throws {
        let tree = try ServedTree(backend: backend)
        defer { tree.stop() }
        let cases: [(String, Int)] = [
            ("GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: t\r\n folded\r\n\r\n", 400),
            ("GET /" + String(repeating: "a", count: 9000) + " HTTP/1.1\r\nHost: t\r\n\r\n", 414),
            ("GET / HTTP/1.1\r\nHost: t\r\nX: " + String(repeating: "b", count: 20000) + "\r\n\r\n", 431),
            ("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 999999\r\n\r\n", 413),
            ("GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505),
            ("GET /%zz HTTP/1.1\r\nHost: t\r\n\r\n", 400),
        ]
        for (request, status) in cases {
            let client = try RawClient(tree.address)
            client.send(request)
            let response = client.response()
            #expect(response?.status == status, "\(request.prefix(60).debugDescription)")
            if status != 400 || request.contains("%zz") == false {
                #expect(response?.headers["connection"] == "close")
                #expect(client.closedByPeer())
            }
        }
        #expect(try get("/", on: tree).status == 200)
    }

    @Test(arguments: testedBackends)
    func pipelinedRequestsAreAnsweredInOrderOnOneConnection(backend: EventLoopBackend) throws {
        let tree = try ServedTree(backend: backend)
        defer { tree.stop() }
        let client = try RawClient(tree.address)
        let paths = (0..<200).map { ["/", "/dir/", "/a%20b.txt", "/missing", "/big.bin"][$0 % 5] }
        client.send(paths.map { "GET \($0) HTTP/1.1\r\nHost: t\r\n\r\n" }.joined())
        for path in paths {
            let response = try #require(client.response())
            switch path {
            case "/": #expect(response.text == "Hello, world\n")
            case "/dir/": #expect(response.text == "inner\n")
            case "/a%20b.txt": #expect(response.text == "spaces\n")
            case "/missing": #expect(response.status == 404)
            default: #expect(response.body == ServedTree.big)
            }
        }
    }

    @Test(arguments: testedBackends)
    func slowHeadersTimeOutWith408(backend: EventLoopBackend) throws {
        let tree = try ServedTree(backend: backend) { $0.headerTimeout = 1 }
        defer { tree.stop() }
        let client = try RawClient(tree.address)
        client.send("GET / HTTP/1.1\r\nHo")
        // The sweep runs once a second: within two ticks the server answers 408 and closes.
        let response = client.response()
        #expect(response?.status == 408)
        #expect(client.closedByPeer())
        #expect(tree.server.stats.timeouts >= 1)
    }

    @Test(arguments: testedBackends)
    func connectionsBeyondTheLimitGet503(backend: EventLoopBackend) throws {
        let tree = try ServedTree(backend: backend) { $0.maxConnections = 2; $0.loops = 1 }
        defer { tree.stop() }
        let a = try RawClient(tree.address)
        let b = try RawClient(tree.address)
        a.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        b.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(a.response()?.status == 200)
        #expect(b.response()?.status == 200)
        let c = try RawClient(tree.address)
        #expect(c.response()?.status == 503)
        #expect(c.closedByPeer())
        #expect(tree.server.stats.shedConnections == 1)
    }
}

@Suite struct MetricsTests {
    @Test(arguments: testedBackends)
    func metricsEndpointCountsResponsesAndAccepts(backend: EventLoopBackend) throws {
        let tree = try ServedTree(backend: backend) { $0.metricsAddress = .ipv4(host: "127.0.0.1", port: 0) }
        defer { tree.stop() }
        let client = try RawClient(tree.address)
        for path in ["/", "/", "/missing"] {
            client.send("GET \(path) HTTP/1.1\r\nHost: t\r\n\r\n")
            _ = client.response()
        }
        let admin = try RawClient(try #require(tree.server.metricsAddress))
        admin.send("GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n")
        let metrics = try #require(admin.response())
        #expect(metrics.status == 200)
        #expect(metrics.text.contains("corral_http_responses_total{code=\"2xx\"} 2"))
        #expect(metrics.text.contains("corral_http_responses_total{code=\"4xx\"} 1"))
        let accepted = metrics.text.split(separator: "\n").filter { $0.hasPrefix("corral_accepted_connections_total") }
            .compactMap { $0.split(separator: " ").last.flatMap { Int($0) } }.reduce(0, +)
        #expect(accepted == 1)
        admin.send("GET /other HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(admin.response()?.status == 404)
    }
}
