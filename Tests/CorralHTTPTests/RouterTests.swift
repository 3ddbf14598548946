import Foundation
import Logging
import MetricsTestKit
import Testing
@_spi(Internals) @testable import CorralHTTP
@testable import CorralRuntime
import CorralTestSupport

/// Routes, handlers (sync and async), request bodies, streamed responses and middleware, over
/// real sockets on loopback.
@Suite struct RouterTests {
    static let plain: HTTPFields = [.contentType: "text/plain"]

    /// A router with a bit of everything, and `root` mounted at /static.
    static func router(root: String) -> Router {
        var router = Router()
        router.get("/hello") { _, _ in Response(headerFields: plain, body: "Hello, world\n") }
        router.get("/async") { _, _ async in Response(headerFields: plain, body: "async\n") }
        router.get("/users/:id") { _, context async throws in
            let id = try context.parameters.require("id", as: Int.self)
            return Response(headerFields: plain, body: ResponseBody(string: "user \(id)\n"))
        }
        router.get("/users/:id/posts/*") { _, context in
            Response(body: ResponseBody(string: context.parameters.values.joined(separator: ",")))
        }
        router.get("/users/me") { _, _ in Response(body: "me") }
        router.get("/tree/**") { _, context in Response(body: ResponseBody(string: "rest=" + (context.parameters.catchAll ?? "nil"))) }
        router.post("/echo") { request, _ async throws in
            let bytes = try await request.body.collect(upTo: 1 << 20)
            return Response(status: .created, headerFields: plain, body: ResponseBody(bytes: bytes))
        }
        router.post("/count") { request, _ async throws in
            var total = 0
            for try await chunk in request.body { total += chunk.count }
            return Response(body: ResponseBody(string: "\(total)"))
        }
        router.post("/ignore") { _, _ async in Response(body: "ignored") }
        router.post("/sync-ignore") { _, _ in Response(body: "sync-ignored") }
        router.get("/fields") { request, _ in
            let fields = request.headerFields
            return Response(body: ResponseBody(string: "\(request.method) \(request.path) \(request.query ?? "-") "
                + "\(fields[.userAgent] ?? "-") \(request.head.authority ?? "-")"))
        }
        router.get("/stream") { _, _ in
            Response(headerFields: plain, body: .stream { writer in
                for i in 0..<3 { try await writer.write("part \(i)\n") }
            })
        }
        router.get("/stream-length") { _, _ in
            Response(body: .stream(length: 5) { writer in try await writer.write("12345") })
        }
        router.get("/teapot") { _, _ in throw HTTPError(.init(code: 418, reasonPhrase: "I'm a teapot"), message: "short and stout") }
        router.get("/broken") { _, _ async throws -> Response in throw CancellationError() }
        router.get("/own-length") { _, _ in
            Response(headerFields: [.contentLength: "999", .connection: "keep-alive", .init("X-Kept")!: "yes"], body: "abc")
        }
        router.on(HTTPRequest.Method("PURGE")!, "/cache") { _, _ in Response(body: "purged") }
        router.files("/static", root: root)
        return router
    }

    private func exchange(_ request: String, bodyExpected: Bool = true, on tree: ServedTree) throws -> RawClient.Response {
        let client = try RawClient(tree.address)
        client.send(request)
        return try #require(client.response(bodyExpected: bodyExpected))
    }

    private func get(_ path: String, on tree: ServedTree) throws -> RawClient.Response {
        try exchange("GET \(path) HTTP/1.1\r\nHost: t\r\n\r\n", on: tree)
    }

    @Test func routesMatchWithParametersAndPriorities() throws {
        let tree = try ServedTree(router: Self.router)
        defer { tree.stop() }
        let hello = try get("/hello", on: tree)
        #expect(hello.status == 200 && hello.text == "Hello, world\n")
        #expect(hello.headers["content-type"] == "text/plain" && hello.headers["content-length"] == "13")
        #expect(try get("/async", on: tree).text == "async\n")
        #expect(try get("/users/42", on: tree).text == "user 42\n")
        #expect(try get("/users/%34%32/", on: tree).text == "user 42\n", "decoded, and a trailing slash is no segment")
        #expect(try get("/users/x", on: tree).status == 400, "require(as: Int) refuses")
        #expect(try get("/users/me", on: tree).text == "me", "a literal wins over :id")
        #expect(try get("/users/7/posts/abc", on: tree).text == "7,abc")
        #expect(try get("/tree/a/b/c", on: tree).text == "rest=a/b/c")
        #expect(try get("/tree", on: tree).text == "rest=")
        #expect(try get("/nothing", on: tree).status == 404)
        #expect(try get("/users/1/../me", on: tree).text == "me", "dot segments are resolved before routing")
    }

    /// Async handlers run on the loop's few worker tasks, not on a task per connection: a
    /// handler that suspends must hold up neither other connections nor the pipelined requests
    /// behind it, however many suspend at once (more than the idle workers the loop keeps).
    @Test(arguments: testedBackends) func suspendedHandlersHoldUpNoOtherConnection(backend: EventLoopBackend) throws {
        // The handlers wait on another loop: a continuation resumed from this thread would go
        // on on the global pool, whose threads the parallel tests may all be blocking.
        let group = try EventLoopGroup(loopCount: 1)
        try group.start()
        defer { group.shutdown() }
        let elsewhere = group.loops[0]
        let suspended = 3 + LoopWorkers.maximumIdle
        let waiting = Locked<[CheckedContinuation<Void, Never>]>([])
        let entered = DispatchSemaphore(value: 0)
        let tree = try ServedTree(backend: backend, router: { _ in
            var router = Router()
            router.get("/wait") { _, _ async in
                await withTaskExecutorPreference(elsewhere) {
                    await withCheckedContinuation { continuation in
                        waiting.withLock { $0.append(continuation) }
                        entered.signal()
                    }
                }
                return Response(body: "waited")
            }
            router.get("/async") { _, _ async in Response(body: "async") }
            return router
        })
        defer { tree.stop() }
        let held = try (0..<suspended).map { _ in
            let client = try RawClient(tree.address)
            client.send("GET /wait HTTP/1.1\r\nHost: t\r\n\r\nGET /async HTTP/1.1\r\nHost: t\r\n\r\n")
            return client
        }
        for _ in 0..<suspended {
            #expect(entered.wait(timeout: .now() + 20) == .success, "every /wait handler runs, each on a worker of its own")
        }
        for _ in 0..<5 {
            #expect(try get("/async", on: tree).text == "async", "answered while the /wait handlers are suspended")
        }
        let continuations = waiting.withLock { $0 }
        elsewhere.execute { for continuation in continuations { continuation.resume() } }
        for client in held {
            #expect(client.response()?.text == "waited")
            #expect(client.response()?.text == "async", "the pipelined request behind the suspended one")
        }
        // The workers went back to the loop's pool and serve again.
        #expect(try get("/async", on: tree).text == "async")
    }

    @Test func methodsHeadAndRefusals() throws {
        let tree = try ServedTree(router: Self.router)
        defer { tree.stop() }
        let notAllowed = try exchange("DELETE /hello HTTP/1.1\r\nHost: t\r\n\r\n", on: tree)
        #expect(notAllowed.status == 405 && notAllowed.headers["allow"] == "GET, HEAD")
        #expect(try exchange("BREW /hello HTTP/1.1\r\nHost: t\r\n\r\n", on: tree).status == 501)
        #expect(try exchange("PURGE /cache HTTP/1.1\r\nHost: t\r\n\r\n", on: tree).text == "purged")
        // HEAD goes to the GET handler and gets its head (Content-Length included), no body.
        let client = try RawClient(tree.address)
        client.send("HEAD /async HTTP/1.1\r\nHost: t\r\n\r\nGET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
        let head = try #require(client.response(bodyExpected: false))
        #expect(head.status == 200 && head.headers["content-length"] == "6")
        #expect(client.response()?.text == "Hello, world\n", "nothing of the HEAD's body went out before the next response")
    }

    @Test func fieldsAreMaterialisedAtTheBoundary() throws {
        let tree = try ServedTree(router: Self.router)
        defer { tree.stop() }
        let response = try exchange("GET /fields?a=1 HTTP/1.1\r\nHost: example\r\nUser-Agent: probe/1\r\n\r\n", on: tree)
        #expect(response.text == "GET /fields a=1 probe/1 example")
        // Framing and Connection are the server's, whatever the handler says; other fields stay.
        let own = try get("/own-length", on: tree)
        #expect(own.headers["content-length"] == "3" && own.text == "abc" && own.headers["x-kept"] == "yes")
        #expect(own.headers["connection"] == nil)
    }

    /// A `@concurrent` function: it runs on the task's preferred executor, or the global pool.
    @concurrent static func collectElsewhere(_ body: RequestBody) async throws -> (bytes: [UInt8], onLoop: Bool) {
        (try await body.collect(upTo: 1 << 20), EventLoop.current != nil)
    }

    /// A body read from a function that runs off the connection's loop (on another loop here,
    /// rather than on the global pool, which other suites in this process may keep busy) still
    /// arrives (each read moves to the connection's loop), and the handler, and a stream, are
    /// back on the connection's loop after such a call.
    @Test func bodiesReadOffTheLoopStillArrive() throws {
        let group = try EventLoopGroup(loopCount: 1)
        try group.start()
        defer { group.shutdown() }
        let elsewhere = group.loops[0]
        let tree = try ServedTree(router: { root in
            var router = Self.router(root: root)
            router.post("/echo-elsewhere") { request, _ async throws in
                let read = try await withTaskExecutorPreference(elsewhere) { try await Self.collectElsewhere(request.body) }
                guard read.onLoop, !elsewhere.inLoop, EventLoop.current != nil else { throw HTTPError(.internalServerError) }
                return Response(body: .stream { writer in
                    for byte in read.bytes { try await writer.write([byte]) }
                })
            }
            return router
        })
        defer { tree.stop() }
        let client = try RawClient(tree.address)
        for _ in 0..<3 {
            client.send("POST /echo-elsewhere HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
            #expect(client.response()?.text == "abcde")
        }
        client.send("GET /async HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(client.response()?.text == "async\n")
    }

    @Test func requestBodiesStreamToAsyncHandlers() throws {
        let tree = try ServedTree(configure: { $0.parserLimits.maxBody = 100_000 }, router: Self.router)
        defer { tree.stop() }
        let client = try RawClient(tree.address)
        client.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello")
        let echoed = try #require(client.response())
        #expect(echoed.status == 201 && echoed.text == "hello")
        // Chunked, on the same connection, then a pipelined GET.
        client.send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n"
            + "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(client.response()?.text == "abcde")
        #expect(client.response()?.text == "Hello, world\n")
        // A large body in pieces: every byte arrives, whatever the handler's pace.
        let big = [UInt8](repeating: 0x61, count: 90_000)
        client.send("POST /count HTTP/1.1\r\nHost: t\r\nContent-Length: \(big.count)\r\n\r\n")
        client.send(big)
        #expect(client.response()?.text == "90000")
        // Beyond the limit: 413, and the connection closes.
        client.send("POST /count HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
        client.send("186a0\r\n" + String(repeating: "b", count: 100_000) + "\r\n0\r\n\r\n")
        #expect(client.response()?.status == 413)
        #expect(client.closedByPeer())
    }

    @Test func unreadBodiesAreDiscardedAndTheConnectionReused() throws {
        let tree = try ServedTree(router: Self.router)
        defer { tree.stop() }
        let client = try RawClient(tree.address)
        for path in ["/ignore", "/sync-ignore"] {
            client.send("POST \(path) HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n0123456789")
            let response = try #require(client.response())
            #expect(response.status == 200 && response.headers["connection"] == nil)
        }
        client.send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(client.response()?.text == "Hello, world\n")
    }

    @Test func expectContinueIsAnsweredWhenTheHandlerReads() throws {
        let tree = try ServedTree(router: Self.router)
        defer { tree.stop() }
        let client = try RawClient(tree.address)
        client.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        let interim = try #require(client.response(bodyExpected: false))
        #expect(interim.status == 100)
        client.send("ping")
        let final = try #require(client.response())
        #expect(final.status == 201 && final.text == "ping" && final.headers["connection"] == nil)
        // A handler that does not read: the final status at once, then close (the body may or
        // may not come).
        client.send("POST /ignore HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        let refused = try #require(client.response())
        #expect(refused.status == 200 && refused.headers["connection"] == "close")
    }

    @Test func responsesStreamChunkedOrDelimitedByTheClose() throws {
        let tree = try ServedTree(router: Self.router)
        defer { tree.stop() }
        let client = try RawClient(tree.address)
        client.send("GET /stream HTTP/1.1\r\nHost: t\r\n\r\nGET /stream-length HTTP/1.1\r\nHost: t\r\n\r\n")
        let chunked = try #require(client.response())
        #expect(chunked.headers["transfer-encoding"] == "chunked" && chunked.text == "part 0\npart 1\npart 2\n")
        let sized = try #require(client.response())
        #expect(sized.headers["content-length"] == "5" && sized.text == "12345")
        let old = try exchange("GET /stream HTTP/1.0\r\n\r\n", on: tree)
        #expect(old.headers["transfer-encoding"] == nil && old.headers["connection"] == "close")
        #expect(old.text == "part 0\npart 1\npart 2\n")
        let head = try exchange("HEAD /stream HTTP/1.1\r\nHost: t\r\n\r\n", bodyExpected: false, on: tree)
        #expect(head.status == 200 && head.headers["transfer-encoding"] == nil)
    }

    @Test func errorsBecomeStatuses() throws {
        let tree = try ServedTree(router: Self.router)
        defer { tree.stop() }
        let teapot = try get("/teapot", on: tree)
        #expect(teapot.status == 418 && teapot.text == "short and stout\n")
        let broken = try get("/broken", on: tree)
        #expect(broken.status == 500 && broken.text == "500 Internal Server Error\n")
    }

    @Test func staticFilesMountUnderAPrefix() throws {
        let tree = try ServedTree(router: Self.router)
        defer { tree.stop() }
        #expect(try get("/static/index.html", on: tree).text == "Hello, world\n")
        #expect(try get("/static/", on: tree).text == "Hello, world\n")
        let mount = try get("/static?x=1", on: tree)
        #expect(mount.status == 301 && mount.headers["location"] == "/static/?x=1")
        let dir = try get("/static/dir", on: tree)
        #expect(dir.status == 301 && dir.headers["location"] == "/static/dir/")
        #expect(try get("/static/big.bin", on: tree).body == ServedTree.big)
        #expect(try get("/static/../../etc/passwd", on: tree).status == 404)
        let post = try exchange("POST /static/index.html HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n", on: tree)
        #expect(post.status == 405 && post.headers["allow"] == "GET, HEAD")
    }

    struct Stamp: Middleware {
        func willHandle(_ request: inout Request, context: RequestContext) throws -> Response? {
            request.path == "/blocked" ? Response(status: .forbidden, body: "no") : nil
        }

        func didHandle(_ request: Request, context: RequestContext, response: inout Response) throws {
            response.headerFields[.init("X-Stamp")!] = "\(response.status.code)"
        }
    }

    @Test func middlewareWrapsEveryRequest() throws {
        let tree = try ServedTree(router: { root in
            var router = Self.router(root: root)
            router.add(middleware: Stamp())
            return router
        })
        defer { tree.stop() }
        #expect(try get("/hello", on: tree).headers["x-stamp"] == "200")
        #expect(try get("/async", on: tree).headers["x-stamp"] == "200")
        #expect(try get("/nowhere", on: tree).headers["x-stamp"] == "404")
        let file = try get("/static/index.html", on: tree)
        #expect(file.headers["x-stamp"] == "200" && file.text == "Hello, world\n" && file.headers["etag"] != nil)
        let blocked = try get("/blocked", on: tree)
        #expect(blocked.status == 403 && blocked.headers["x-stamp"] == "403")
    }

    @Test func pipelinedSyncAndAsyncRequestsAreAnsweredInOrder() throws {
        let tree = try ServedTree(router: Self.router)
        defer { tree.stop() }
        let client = try RawClient(tree.address)
        let paths = (0..<200).map { ["/hello", "/async", "/users/\($0)", "/static/index.html"][$0 % 4] }
        client.send(paths.map { "GET \($0) HTTP/1.1\r\nHost: t\r\n\r\n" }.joined())
        for (i, path) in paths.enumerated() {
            let response = try #require(client.response())
            let expected = path.hasPrefix("/users/") ? "user \(i)\n" : path == "/async" ? "async\n" : "Hello, world\n"
            #expect(response.text == expected)
        }
    }

    /// What a handler says of its request: method, path, query, the `:id` capture, a field, the
    /// authority, and whether a body is there.
    @Sendable static func describe(_ request: Request, _ context: RequestContext) -> Response {
        Response(body: ResponseBody(string: "\(request.method) \(request.path) \(request.query ?? "-") "
            + "\(context.parameters["id"] ?? "-") \(request.headerFields[.userAgent] ?? "-") "
            + "\(request.head.authority ?? "-") \(request.headerFields[.init("X-Seen")!] ?? "-")"))
    }

    /// Adds a field to every request before its handler runs.
    struct MarkRequest: Middleware {
        func willHandle(_ request: inout Request, context: RequestContext) throws -> Response? {
            request.headerFields[.init("X-Seen")!] = "yes"
            return nil
        }
    }

    /// An async handler's `Request` is made by its worker from the connection's head storage
    /// (`exchangeRequest`), after the parse buffer is gone and the next head may have been
    /// read: it must be the request a synchronous handler gets, for each of many pipelined
    /// requests (the storage is reused between them), with an extension method, a decoded path,
    /// a capture, a query and fields; behind middleware, it is the request as the middleware
    /// left it.
    @Test(arguments: [false, true]) func asyncHandlersSeeTheRequestSyncHandlersSee(middleware: Bool) throws {
        let tree = try ServedTree(router: { _ in
            var router = Router()
            for method in [HTTPRequest.Method.get, HTTPRequest.Method("PURGE")!] {
                router.on(method, "/sync/:id") { request, context in Self.describe(request, context) }
                router.on(method, "/async/:id") { request, context async in Self.describe(request, context) }
            }
            if middleware { router.add(middleware: MarkRequest()) }
            return router
        })
        defer { tree.stop() }
        let client = try RawClient(tree.address)
        var expected: [String] = []
        var requests = ""
        for i in 0..<40 {
            let kind = i % 2 == 0 ? "async" : "sync"
            let method = i % 3 == 0 ? "PURGE" : "GET"
            // Heads of different lengths, so a stale offset into reused storage would show.
            let agent = "agent-" + String(repeating: "x", count: i % 7)
            requests += "\(method) /\(kind)/%34\(i)?n=\(i) HTTP/1.1\r\nHost: h\(i)\r\nUser-Agent: \(agent)\r\n\r\n"
            expected.append("\(method) /\(kind)/4\(i) n=\(i) 4\(i) \(agent) h\(i) \(middleware ? "yes" : "-")")
        }
        client.send(requests)
        for line in expected {
            #expect(try #require(client.response()).text == line)
        }
    }

    @Test func aClosedConnectionCancelsItsHandler() throws {
        let started = try OneShotSignal()
        let cancelled = try OneShotSignal()
        let tree = try ServedTree(router: { _ in
            var router = Router()
            router.get("/slow") { _, _ async in
                started.signal()
                await withTaskCancellationHandler {
                    while !Task.isCancelled { try? await Task.sleep(for: .seconds(10)) }
                } onCancel: {
                    cancelled.signal()
                }
                return Response(body: "late")
            }
            return router
        })
        defer { tree.stop() }
        do {
            let client = try RawClient(tree.address)
            client.send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(started.wait(timeoutMilliseconds: 10_000))
        }  // the client closes
        #expect(cancelled.wait(timeoutMilliseconds: 10_000))
    }
}

/// The server's counters reach the swift-metrics backend it is given.
@Suite struct MetricsFactoryTests {
    @Test func countersGoToTheConfiguredFactory() throws {
        let metrics = TestMetrics()
        let tree = try ServedTree(configure: { $0.metricsFactory = metrics })
        defer { tree.stop() }
        let client = try RawClient(tree.address)
        for path in ["/", "/missing", "/"] {
            client.send("GET \(path) HTTP/1.1\r\nHost: t\r\n\r\n")
            _ = client.response()
        }
        tree.server.reportMetrics()
        #expect(try metrics.expectCounter("corral_http_responses_total", [("code", "2xx")]).totalValue == 2)
        #expect(try metrics.expectCounter("corral_http_responses_total", [("code", "4xx")]).totalValue == 1)
        #expect(try metrics.expectGauge("corral_http_open_connections").lastValue == 1)
        client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        _ = client.response()
        tree.server.reportMetrics()
        #expect(try metrics.expectCounter("corral_http_responses_total", [("code", "2xx")]).totalValue == 3,
                "only what changed is added")
    }
}

/// A log handler that blocks (a full pipe, a stalled terminal) blocks no loop.
@Suite struct LoggingTests {
    struct BlockingHandler: LogHandler {
        let gate: OneShotSignal
        let logged: OneShotSignal
        var logLevel: Logger.Level = .info
        var metadata: Logger.Metadata = [:]
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            logged.signal()
            gate.wait()  // stalls until the test lets go
        }
    }

    @Test func aBlockingLogHandlerStallsNoLoop() throws {
        let gate = try OneShotSignal()
        let logged = try OneShotSignal()
        let tree = try ServedTree(configure: {
            $0.loops = 1
            $0.logger = Logger(label: "test") { _ in BlockingHandler(gate: gate, logged: logged) }
        }, router: { _ in
            var router = Router()
            router.get("/fail") { _, _ in throw CancellationError() }  // logged as an error
            router.get("/ok") { _, _ in Response(body: "ok") }
            return router
        })
        defer {
            gate.signal()
            tree.stop()
        }
        let client = try RawClient(tree.address)
        client.send("GET /fail HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(client.response()?.status == 500)
        #expect(logged.wait(timeoutMilliseconds: 10_000), "the error reached the handler")
        // The handler is stuck in log(event:); the one loop still answers.
        client.send("GET /ok HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(client.response()?.text == "ok")
    }
}
