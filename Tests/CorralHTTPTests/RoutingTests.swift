import Logging
import Testing
@_spi(Internals) @testable import CorralHTTP
@_spi(Internals) @testable import CorralRuntime

/// The pure parts of routes and connections, without sockets: patterns, the route tree, the
/// connection's timeout state machine (clock passed in), the head renderer.
@Suite struct RoutingTests {
    // MARK: patterns and the tree

    @Test func patternsParseIntoSegments() {
        #expect(RoutePattern("/users/:id/*/**").segments == [
            .literal(Array("users".utf8)), .parameter("id"), .wildcard, .catchAll,
        ])
        #expect(RoutePattern("//a///b/").segments == [.literal(Array("a".utf8)), .literal(Array("b".utf8))])
        #expect(RoutePattern("/").segments.isEmpty)
        #expect(RoutePattern("/a/:x/*/:y").parameterNames == ["x", "", "y"])
    }

    static func tree() -> RouteNode {
        var router = Router()
        for pattern in ["/", "/users", "/users/:id", "/users/me", "/users/:id/posts/*", "/files/**", "/*/edit"] {
            router.get(pattern) { _, _ in Response(body: ResponseBody(string: pattern)) }
        }
        router.post("/users") { _, _ in Response() }
        router.on(HTTPRequest.Method("PURGE")!, "/cache") { _, _ in Response() }
        router.files("/static", root: "/nowhere")
        return RouteNode(router.definitions)
    }

    /// The pattern of the route `path` matches (GET), its captures and remainder, or nil.
    static func match(_ path: String, _ method: HTTPMethod = .get, token: String = "GET", in tree: RouteNode)
        -> (pattern: String, captures: [String], remainder: String?)?
    {
        Array(path.utf8).withUnsafeBytes { bytes in
            var captures: [Range<Int>] = []
            guard let (entry, remainder) = tree.match(bytes, from: 0, captures: &captures) else { return nil }
            let tokenBytes = Array(token.utf8)
            guard case .route(let route) = tokenBytes.withUnsafeBytes({ t in entry.takeUnretainedValue().route(for: method) { t } }) else {
                return nil
            }
            func text(_ range: Range<Int>) -> String { String(decoding: bytes.slice(range), as: UTF8.self) }
            return (route.pattern, captures.map(text), remainder.map(text))
        }
    }

    @Test func literalsWinOverParametersOverWildcardsOverCatchAll() {
        let tree = Self.tree()
        #expect(Self.match("", in: tree)?.pattern == "/")
        #expect(Self.match("users", in: tree)?.pattern == "/users")
        #expect(Self.match("users/", in: tree)?.pattern == "/users", "a trailing slash is no segment")
        #expect(Self.match("users/me", in: tree)?.pattern == "/users/me")
        let user = Self.match("users/42", in: tree)
        #expect(user?.pattern == "/users/:id" && user?.captures == ["42"])
        let post = Self.match("users/42/posts/7", in: tree)
        #expect(post?.pattern == "/users/:id/posts/*" && post?.captures == ["42", "7"])
        // Backtracking: "users/edit" is not /users/:id/..., but it is /*/edit.
        let edit = Self.match("users/edit", in: tree)
        #expect(edit?.pattern == "/users/:id", "a literal path beats the wildcard route, one level down")
        #expect(Self.match("pages/edit", in: tree)?.pattern == "/*/edit")
        let files = Self.match("files/a/b/c.txt", in: tree)
        #expect(files?.pattern == "/files/**" && files?.remainder == "a/b/c.txt")
        #expect(Self.match("files", in: tree)?.remainder == "")
        #expect(Self.match("nothing/here/at/all", in: tree) == nil)
    }

    @Test func methodsHeadAndMounts() {
        let tree = Self.tree()
        #expect(Self.match("users", .head, token: "HEAD", in: tree)?.pattern == "/users", "HEAD uses GET's route")
        #expect(Self.match("users", .post, token: "POST", in: tree)?.pattern == "/users")
        #expect(Self.match("cache", .other, token: "PURGE", in: tree)?.pattern == "/cache")
        #expect(Self.match("static/a.css", .post, token: "POST", in: tree)?.pattern == "/static",
                "a mount takes every method (and refuses all but GET and HEAD itself)")
        Array("users/1".utf8).withUnsafeBytes { bytes in
            var captures: [Range<Int>] = []
            guard let entry = tree.match(bytes, from: 0, captures: &captures)?.0.takeUnretainedValue() else {
                Issue.record("no match")
                return
            }
            let delete = Array("DELETE".utf8).withUnsafeBytes { t in entry.route(for: .delete) { t } }
            let brew = Array("BREW".utf8).withUnsafeBytes { t in entry.route(for: .other) { t } }
            guard case .notAllowed = delete, case .notImplemented = brew else {
                Issue.record("DELETE should be 405, BREW 501")
                return
            }
            #expect(String(decoding: entry.allowField, as: UTF8.self) == "Allow: GET, HEAD\r\n")
        }
    }

    // MARK: the connection's timeouts

    static let limits = ConnectionTimer.Limits(headerSeconds: 10, keepAliveSeconds: 60, bodySeconds: 30,
                                               writeSeconds: 20, lingerSeconds: 5)
    static func seconds(_ s: UInt64) -> UInt64 { s * 1_000_000_000 }

    @Test func headsBodiesAndIdleConnectionsTimeOut() {
        var timer = ConnectionTimer(now: 0)
        #expect(timer.expiry(now: Self.seconds(9), pendingWriteBytes: 0, limits: Self.limits) == nil)
        #expect(timer.expiry(now: Self.seconds(10), pendingWriteBytes: 0, limits: Self.limits) == .idle,
                "a new connection that sends nothing is closed quietly")
        timer = ConnectionTimer(now: 0)
        timer.headStarted(now: Self.seconds(1))
        #expect(timer.expiry(now: Self.seconds(11), pendingWriteBytes: 0, limits: Self.limits) == .header)
        timer.headCompleted(now: Self.seconds(2), hasBody: true)
        #expect(timer.expiry(now: Self.seconds(31), pendingWriteBytes: 0, limits: Self.limits) == nil)
        #expect(timer.expiry(now: Self.seconds(32), pendingWriteBytes: 0, limits: Self.limits) == .body)
        timer.bodyProgressed(now: Self.seconds(30))
        #expect(timer.expiry(now: Self.seconds(59), pendingWriteBytes: 0, limits: Self.limits) == nil,
                "progress restarts the body timeout")
        timer.requestCompleted(now: Self.seconds(60))
        #expect(timer.isIdle(pendingWriteBytes: 0) && !timer.isIdle(pendingWriteBytes: 1))
        #expect(timer.expiry(now: Self.seconds(120), pendingWriteBytes: 0, limits: Self.limits) == .idle)
    }

    @Test func aRunningHandlerIsExemptFromAllButTheWriteTimeout() {
        var timer = ConnectionTimer(now: 0)
        timer.headCompleted(now: 0, hasBody: false)
        timer.handling(now: 0)
        #expect(timer.expiry(now: Self.seconds(3600), pendingWriteBytes: 0, limits: Self.limits) == nil)
        #expect(!timer.isIdle(pendingWriteBytes: 0), "a drain must not close a connection whose handler runs")
        // A handler waiting for body bytes: the body timeout runs until some arrive.
        timer.awaitingBody(now: Self.seconds(3600))
        #expect(timer.expiry(now: Self.seconds(3629), pendingWriteBytes: 0, limits: Self.limits) == nil)
        #expect(timer.expiry(now: Self.seconds(3630), pendingWriteBytes: 0, limits: Self.limits) == .body)
        timer.handling(now: Self.seconds(3630))
        // A response the client does not read stalls: the write timeout, whatever the phase.
        #expect(timer.expiry(now: Self.seconds(4000), pendingWriteBytes: 100, limits: Self.limits) == nil)
        #expect(timer.expiry(now: Self.seconds(4019), pendingWriteBytes: 100, limits: Self.limits) == nil)
        #expect(timer.expiry(now: Self.seconds(4020), pendingWriteBytes: 100, limits: Self.limits) == .write)
        #expect(timer.expiry(now: Self.seconds(4030), pendingWriteBytes: 50, limits: Self.limits) == nil,
                "a moving queue never times out")
        timer.closingStarted(now: Self.seconds(5000))
        timer.handling(now: Self.seconds(5000))
        #expect(timer.phase == .closing, "closing is final")
    }

    // MARK: the head renderer

    @Test func handlerHeadsCarryTheirFieldsButNotTheServersOwn() throws {
        let loop = try EventLoop()
        let context = LoopContext(loop: loop, configuration: HTTPServerConfiguration(), accessLog: nil,
                                  logger: Logger(label: "test"))
        let fields: HTTPFields = [
            .contentType: "text/plain", .contentLength: "999", .connection: "keep-alive", .date: "yesterday",
            .transferEncoding: "gzip", HTTPField.Name("X-Kept")!: "yes",
        ]
        func render(_ status: HTTPResponse.Status, keepAlive: Bool = true, minor: Int = 1) -> String {
            var out = GrowableBytes()
            defer { out.deallocate() }
            context.renderHead(status: status, headerFields: fields, framing: .length(3), keepAlive: keepAlive,
                               minorVersion: minor, into: &out)
            return String(decoding: out.bytes, as: UTF8.self)
        }
        for _ in 0..<3 {  // rendered, then a candidate, then from the cache: the same bytes each time
            let head = render(.ok)
            #expect(head.hasPrefix("HTTP/1.1 200 OK\r\nServer: corral\r\nDate: "))
            #expect(head.hasSuffix("Content-Type: text/plain\r\nX-Kept: yes\r\nContent-Length: 3\r\n\r\n"))
            #expect(!head.contains("999") && !head.contains("gzip") && !head.contains("yesterday"))
        }
        #expect(render(.ok, keepAlive: false).hasSuffix("Content-Length: 3\r\nConnection: close\r\n\r\n"))
        #expect(render(.ok, minor: 0).hasSuffix("Content-Length: 3\r\nConnection: keep-alive\r\n\r\n"))
        #expect(render(.init(code: 418, reasonPhrase: "I'm a teapot")).hasPrefix("HTTP/1.1 418 I'm a teapot\r\n"))
        #expect(render(404).hasPrefix("HTTP/1.1 404 Not Found\r\n"), "a bare code gets the standard phrase")
        #expect(render(.init(code: 200, reasonPhrase: "Fine")).hasPrefix("HTTP/1.1 200 Fine\r\n"))
        #expect(render(.ok).hasPrefix("HTTP/1.1 200 OK\r\n"), "a custom phrase does not replace the cached one")
        _ = loop  // not started: rendering needs none of its threads
    }

    /// Heads are rendered straight into a connection's outbound staging, after whatever it
    /// already holds (earlier responses not yet sent): each head is appended whole, and the
    /// field lines kept for reuse are the head's own, not the bytes before it.
    @Test func headsAppendAfterStagedBytes() throws {
        let loop = try EventLoop()
        let context = LoopContext(loop: loop, configuration: HTTPServerConfiguration(), accessLog: nil,
                                  logger: Logger(label: "test"))
        let fields: HTTPFields = [.contentType: "text/plain", HTTPField.Name("X-Kept")!: "yes"]
        var out = GrowableBytes()
        defer { out.deallocate() }
        var heads: [Range<Int>] = []
        for round in 0..<4 {  // rendered, a candidate, then twice from the cache
            let filler = Array("earlier response \(round)\r\n".utf8)
            filler.withUnsafeBytes { out.append($0) }
            let start = out.count
            context.renderHead(status: .ok, headerFields: fields, framing: .length(5), keepAlive: true,
                               minorVersion: 1, into: &out)
            heads.append(start..<out.count)
        }
        context.renderHead(code: 404, fields: Array("Content-Length: 0\r\n".utf8), keepAlive: false, minorVersion: 1,
                           into: &out)
        let all = out.bytes
        for (round, range) in heads.enumerated() {
            let head = String(decoding: all[range], as: UTF8.self)
            #expect(head.hasPrefix("HTTP/1.1 200 OK\r\nServer: corral\r\nDate: "), "round \(round)")
            #expect(head.hasSuffix("\r\nContent-Type: text/plain\r\nX-Kept: yes\r\nContent-Length: 5\r\n\r\n"),
                    "round \(round)")
            #expect(!head.contains("earlier"), "round \(round)")
            let before = String(decoding: all[(range.lowerBound - 20)..<range.lowerBound], as: UTF8.self)
            #expect(before == "earlier response \(round)\r\n")
        }
        let last = String(decoding: all[heads[3].upperBound...], as: UTF8.self)
        #expect(last.hasPrefix("HTTP/1.1 404 Not Found\r\nServer: corral\r\nDate: "))
        #expect(last.hasSuffix("\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
        _ = loop
    }
}
