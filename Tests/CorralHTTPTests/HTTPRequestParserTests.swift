import Testing
@_spi(Internals) @testable import CorralHTTP

/// What a valid request should parse to.
struct ExpectedRequest: Sendable, CustomStringConvertible {
    var text: String
    var method: HTTPMethod = .get
    var target = "/"
    var minorVersion = 1
    var keepAlive = true
    var bodyLength = 0
    var description: String { text.debugDescription }
}

/// Drives the streaming parser as a connection does: keeps the unconsumed bytes, feeds what
/// arrives, and collects whole requests (head, bytes consumed, decoded body).
struct RequestStream {
    enum Outcome: Equatable {
        /// A complete request; the head's ranges are relative to the request's first byte.
        case request(HTTPRequestHead, consumed: Int, body: [UInt8])
        case error(HTTPParseError)
    }

    var parser: HTTPRequestParser
    /// Bytes not consumed yet.
    private(set) var pending: [UInt8] = []
    /// Most bytes ever left unconsumed: what a connection would have had to keep.
    private(set) var mostPending = 0
    private var head: HTTPRequestHead?
    private var consumed = 0
    private var body: [UInt8] = []
    private(set) var failed = false

    init(limits: HTTPParserLimits = HTTPParserLimits()) { parser = HTTPRequestParser(limits: limits) }

    mutating func feed(_ bytes: [UInt8]) -> [Outcome] {
        pending += bytes
        var outcomes: [Outcome] = []
        while !failed {
            let result = pending.withUnsafeBytes { parser.parse($0) }
            switch result {
            case .needMore:
                mostPending = max(mostPending, pending.count)
                return outcomes
            case .head(let parsed, let n):
                head = parsed
                consumed = n
                body = []
                pending.removeFirst(n)
                if !parsed.hasBody { outcomes.append(.request(parsed, consumed: n, body: [])) }
            case .body(let range, let n):
                body += pending[range]
                consumed += n
                pending.removeFirst(n)
            case .end(let range, let n):
                body += pending[range]
                consumed += n
                pending.removeFirst(n)
                outcomes.append(.request(head!, consumed: consumed, body: body))
            case .error(let error):
                failed = true
                outcomes.append(.error(error))
            }
        }
        return outcomes
    }

    mutating func feed(_ text: String) -> [Outcome] { feed(Array(text.utf8)) }
}

@Suite struct HTTPRequestParserTests {
    static func parse(_ bytes: [UInt8], limits: HTTPParserLimits = HTTPParserLimits()) -> RequestStream.Outcome? {
        var stream = RequestStream(limits: limits)
        return stream.feed(bytes).first
    }

    static func parse(_ text: String, limits: HTTPParserLimits = HTTPParserLimits()) -> RequestStream.Outcome? {
        parse(Array(text.utf8), limits: limits)
    }

    static func status(_ text: String, limits: HTTPParserLimits = HTTPParserLimits()) -> Int? {
        if case .error(let error) = parse(text, limits: limits) { return error.status }
        return nil
    }

    static func head(_ text: String) -> (HTTPRequestHead, Int, [UInt8])? {
        if case .request(let head, let consumed, let body) = parse(text) { return (head, consumed, body) }
        return nil
    }

    static func field(_ range: Range<Int>?, _ text: String) -> String? {
        range.map { String(decoding: Array(text.utf8)[$0], as: UTF8.self) }
    }

    static let valid: [ExpectedRequest] = [
        ExpectedRequest(text: "GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
        ExpectedRequest(text: "HEAD /x?y=1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
                        method: .head, target: "/x?y=1", keepAlive: false),
        ExpectedRequest(text: "GET /old HTTP/1.0\r\n\r\n", target: "/old", minorVersion: 0, keepAlive: false),
        ExpectedRequest(text: "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", minorVersion: 0),
        ExpectedRequest(text: "GET / HTTP/1.0\r\nConnection: Keep-Alive, close\r\n\r\n", minorVersion: 0, keepAlive: false),
        ExpectedRequest(text: "GET / HTTP/1.1\r\nHost: a\r\nConnection: foo,  CLOSE \r\n\r\n", keepAlive: false),
        ExpectedRequest(text: "\r\n\r\nGET / HTTP/1.1\r\nhost: a\r\n\r\n"),
        ExpectedRequest(text: "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
                        method: .post, target: "/p", bodyLength: 5),
        ExpectedRequest(text: "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", method: .post, target: "/p"),
        ExpectedRequest(text: "POST /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nTrailer: x\r\n\r\n",
                        method: .post, target: "/p", bodyLength: 5),
        ExpectedRequest(text: "PUT /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n"
                        + "3 ; a=b ; c=\"d\"\r\nabc\r\n00000000000000010\r\n0123456789abcdef\r\n0\r\nT1: a\r\nT2: b\r\n\r\n",
                        method: .put, target: "/c", bodyLength: 19),
        ExpectedRequest(text: "DELETE /d HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                        method: .delete, target: "/d"),
        ExpectedRequest(text: "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", bodyLength: 3),
        ExpectedRequest(text: "GET / HTTP/1.1\r\nHost: a\r\nX: caf\u{e9} \t\r\nEmpty:\r\n\r\n"),
        ExpectedRequest(text: "GET / HTTP/1.2\r\nHost: a\r\n\r\n"),
        ExpectedRequest(text: "GET / HTTP/1.1\r\nHost:\r\n\r\n"),
        ExpectedRequest(text: "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"),
        ExpectedRequest(text: "BREW /pot HTTP/1.1\r\nHost: a\r\n\r\n", method: .other, target: "/pot"),
        ExpectedRequest(text: "get / HTTP/1.1\r\nHost: a\r\n\r\n", method: .other),
        ExpectedRequest(text: "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", method: .options, target: "*"),
        ExpectedRequest(text: "GET http://a/b?c HTTP/1.1\r\nHost: a\r\n\r\n", target: "http://a/b?c"),
        ExpectedRequest(text: "GET /%7Efoo/a%20b HTTP/1.1\r\nHost: a\r\nUser-Agent: x/1 (y; z)\r\nAccept: */*\r\n\r\n",
                        target: "/%7Efoo/a%20b"),
    ]

    @Test(arguments: valid)
    func validRequestParses(_ expected: ExpectedRequest) throws {
        let bytes = Array(expected.text.utf8)
        let (head, consumed, body) = try #require(Self.head(expected.text))
        #expect(consumed == bytes.count)
        #expect(head.method == expected.method)
        #expect(Self.field(head.target, expected.text) == expected.target)
        #expect(head.minorVersion == expected.minorVersion)
        #expect(head.keepAlive == expected.keepAlive)
        #expect(body.count == expected.bodyLength)
    }

    /// Split at every offset: the prefix completes nothing, then the rest gives the same request.
    @Test(arguments: valid)
    func validRequestParsesAtEverySplit(_ expected: ExpectedRequest) {
        let bytes = Array(expected.text.utf8)
        let whole = Self.parse(bytes)
        for split in 0..<bytes.count {
            var stream = RequestStream()
            #expect(stream.feed(Array(bytes[..<split])).isEmpty, "prefix of \(split) bytes")
            #expect(stream.feed(Array(bytes[split...])).first == whole, "split at \(split)")
        }
    }

    /// Byte at a time: nothing completes before the last byte, which gives the same request.
    @Test(arguments: valid)
    func validRequestParsesByteAtATime(_ expected: ExpectedRequest) {
        let bytes = Array(expected.text.utf8)
        let whole = Self.parse(bytes)
        var stream = RequestStream()
        for byte in bytes.dropLast() {
            #expect(stream.feed([byte]).isEmpty)
        }
        #expect(stream.feed([bytes.last!]).first == whole)
    }

    @Test func conditionalRangeAndLogFieldsAreReported() throws {
        let text = "GET /f HTTP/1.1\r\nHost: example.com:80\r\nIf-None-Match: \"a\", W/\"b\"\r\n"
            + "if-modified-since: Sun, 06 Nov 1994 08:49:37 GMT\r\nRANGE: bytes=0-9\r\nIf-Range:  \"a\" \r\n"
            + "If-Match: \"m\"\r\nIf-Unmodified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\nReferer: /from\r\n"
            + "User-Agent: t/1\r\n\r\n"
        let (head, _, _) = try #require(Self.head(text))
        #expect(Self.field(head.host, text) == "example.com:80")
        #expect(Self.field(head.ifNoneMatch, text) == "\"a\", W/\"b\"")
        #expect(Self.field(head.ifModifiedSince, text) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(Self.field(head.range, text) == "bytes=0-9")
        #expect(Self.field(head.ifRange, text) == "\"a\"")
        #expect(Self.field(head.ifMatch, text) == "\"m\"")
        #expect(Self.field(head.ifUnmodifiedSince, text) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(Self.field(head.referer, text) == "/from")
        #expect(Self.field(head.userAgent, text) == "t/1")
        Array(text.utf8).withUnsafeBytes { buffer in
            #expect(HTTPRequestHead.string(head.target, in: buffer) == "/f")
            #expect(HTTPRequestHead.bytes(head.range!, in: buffer).elementsEqual("bytes=0-9".utf8))
        }
        let (plain, _, _) = try #require(Self.head("GET / HTTP/1.0\r\n\r\n"))
        #expect(plain.host == nil && plain.ifNoneMatch == nil && plain.range == nil && plain.ifRange == nil)
        #expect(plain.isHTTP10 && plain.framing == .none)
    }

    /// RFC 9110 §13.1.3/§13.1.4: a date field with more than one member is ignored; sent twice,
    /// it is reported as an empty range, which no date parser accepts.
    @Test func aDateFieldSentTwiceIsUnusable() throws {
        let text = "GET / HTTP/1.1\r\nHost: a\r\nIf-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
            + "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n"
        let (head, _, _) = try #require(Self.head(text))
        let range = try #require(head.ifModifiedSince)
        #expect(range.isEmpty)
        #expect(HTTPDate.parse([UInt8]()) == nil)
    }

    @Test func pipelinedRequestsComeOutOneAtATime() throws {
        let text = "GET /a HTTP/1.1\r\nHost: a\r\n\r\n"
            + "POST /b HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi"
            + "GET /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n"
            + "GET /d HTTP/1.1\r\nHost: a\r\n\r\nGET /e HT"
        let bytes = Array(text.utf8)
        var stream = RequestStream()
        var offset = 0
        var targets: [String] = []
        var bodies: [String] = []
        for outcome in stream.feed(bytes) {
            guard case .request(let head, let consumed, let body) = outcome else {
                Issue.record("\(outcome)")
                continue
            }
            targets.append(String(decoding: bytes[offset...].dropFirst(head.target.lowerBound).prefix(head.target.count), as: UTF8.self))
            bodies.append(String(decoding: body, as: UTF8.self))
            offset += consumed
        }
        #expect(targets == ["/a", "/b", "/c", "/d"])
        #expect(bodies == ["", "hi", "x", ""])
        #expect(offset == bytes.count - 9)
        #expect(stream.pending.count == 9)
    }

    static let rejected: [(String, Int)] = [
        // framing and smuggling
        ("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\nabc", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\nx", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunkedx\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", 501),
        ("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        // chunked bodies
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000000\r\n", 400),  // overflow
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3x\r\nabc\r\n0\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;a\u{1}\r\nabc\r\n0\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nBad Trailer: x\r\n\r\n", 400),
        // chunk extensions (RFC 9112 §7.1.1): a name is a token, a value a token or quoted-string
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2;\r\nab\r\n0\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2;=v\r\nab\r\n0\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2;a=\r\nab\r\n0\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2;a=\"x\r\nab\r\n0\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2;a=\"x\\\"\r\nab\r\n0\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2;a b\r\nab\r\n0\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2;a=b c\r\nab\r\n0\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2;a;\r\nab\r\n0\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2 \r\nab\r\n0\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2;a=(b)\r\nab\r\n0\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: x\n\r\n", 400),
        // line syntax
        ("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", 400),  // obs-fold
        ("GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400),  // whitespace before the first field
        ("GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", 400),  // bare CR
        ("GET / HTTP/1.1\r\nHost: a\r\nX: b\r\r\n\r\n", 400),  // bare CR before CRLF
        ("GET / HTTP/1.1\nHost: a\r\n\r\n", 400),  // bare LF
        ("GET / HTTP/1.1\r\nHost: a\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\n\n", 400),
        ("\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\nX: a\u{1}b\r\n\r\n", 400),  // control character
        ("GET / HTTP/1.1\r\nHost: a\r\nX: a\u{0}b\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\nX: a\u{7f}\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400),  // space before colon
        ("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\n: empty\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\nX(y): z\r\n\r\n", 400),
        // Host
        ("GET / HTTP/1.1\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400),
        ("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        // request line
        ("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
        ("GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505),
        ("GET / HTTP/3.0\r\n\r\n", 505),
        ("GET / HTTX/1.1\r\nHost: a\r\n\r\n", 400),
        ("GET / http/1.1\r\nHost: a\r\n\r\n", 400),
        ("GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400),
        ("GET / HTTP/1\r\nHost: a\r\n\r\n", 400),
        ("GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400),
        ("GET /\r\n\r\n", 400),
        ("GET\r\n\r\n", 400),
        ("G\u{0}T / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("GET /\tx HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("GET /a\u{7f} HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("GET /caf\u{e9} HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        (" GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("\u{16}\u{3}\u{1}\u{2}\u{0}\u{1}", 400),  // a TLS ClientHello, refused before any LF
        ("GE(T / HTTP/1.1\r\n", 400),
        // too long, but not a method to begin with: 400 whether the line arrives whole or not
        ("GE< /" + String(repeating: "a", count: 9000) + " HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        // limits
        ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1048577\r\n\r\n", 413),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n100001\r\n", 413),
    ]

    @Test(arguments: rejected)
    func malformedAndSmugglingRequestsAreRejected(_ text: String, _ expected: Int) {
        let result = Self.parse(text)
        guard case .error(let error) = result else {
            Issue.record("\(text.debugDescription): \(result)")
            return
        }
        #expect(error.status == expected, "\(text.debugDescription): \(error)")
        #expect(error.closesConnection)
    }

    /// No prefix of a rejected request is ever taken as a request; early answers agree.
    @Test(arguments: rejected)
    func prefixesOfRejectedRequestsNeverPass(_ text: String, _ expected: Int) {
        var stream = RequestStream()
        for byte in Array(text.utf8) {
            for outcome in stream.feed([byte]) {
                guard case .error(let error) = outcome else {
                    Issue.record("a prefix of \(text.debugDescription) parsed as a request")
                    return
                }
                #expect(error.status == expected)
                return
            }
        }
    }

    static let validExtensions = [
        "2;a", "2 ; a = b", "2;a=\"q\\\"x\"", "2;a=b;c=\"d e\"", "2\t;\ta\t=\tb", "2;a=\"\"", "2;a=\"caf\u{e9}\"",
    ]

    @Test(arguments: validExtensions)
    func wellFormedChunkExtensionsAreAccepted(_ line: String) throws {
        let text = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n\(line)\r\nab\r\n0\r\n\r\n"
        let (_, _, body) = try #require(Self.head(text), "\(line.debugDescription)")
        #expect(body == Array("ab".utf8))
    }

    /// A HEAD request's error carries its method, so the error response is sent without content.
    @Test func errorsNameTheMethodWhenItWasRead() {
        let cases: [(String, HTTPMethod?)] = [
            ("HEAD / HTTP/1.1\r\n\r\n", .head),  // missing Host
            ("HEAD / HTTP/1.1\r\nHost: a\r\nX : y\r\n\r\n", .head),
            ("HEAD /" + String(repeating: "a", count: 9000) + " HTTP/1.1\r\n\r\n", .head),
            ("HEAD /" + String(repeating: "a", count: 9000), .head),
            ("HEAD / HTTP/2.0\r\n\r\n", .head),
            ("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", .get),
            ("G(T / HTTP/1.1\r\n\r\n", nil),
        ]
        for (text, method) in cases {
            guard case .error(let error) = Self.parse(text) else {
                Issue.record("\(text.prefix(40).debugDescription) was not refused")
                continue
            }
            #expect(error.method == method, "\(text.prefix(40).debugDescription)")
        }
    }

    @Test func limitsGiveTheirOwnStatuses() {
        let longTarget = "GET /" + String(repeating: "a", count: 9000) + " HTTP/1.1\r\nHost: a\r\n\r\n"
        #expect(Self.status(longTarget) == 414)
        #expect(Self.status("GET /" + String(repeating: "a", count: 9000)) == 414)
        let atTheLimit = "GET /" + String(repeating: "a", count: 8191) + " HTTP/1.1\r\nHost: a\r\n\r\n"
        if case .request? = Self.parse(atTheLimit) {} else { Issue.record("8192-byte target refused") }
        let overTheLimit = "GET /" + String(repeating: "a", count: 8192) + " HTTP/1.1\r\nHost: a\r\n\r\n"
        #expect(Self.status(overTheLimit) == 414)
        #expect(Self.status(String(repeating: "A", count: 9000)) == 400)  // no method, no space

        let bigHeader = "GET / HTTP/1.1\r\nHost: a\r\nX: " + String(repeating: "b", count: 17000) + "\r\n\r\n"
        #expect(Self.status(bigHeader) == 431)
        #expect(Self.status("GET / HTTP/1.1\r\nHost: a\r\nX: " + String(repeating: "b", count: 17000)) == 431)
        #expect(Self.status(String(repeating: "\r\n", count: 9000)) == 431)  // endless empty lines
        let many = "GET / HTTP/1.1\r\nHost: a\r\n" + String(repeating: "X: y\r\n", count: 100) + "\r\n"
        #expect(Self.status(many) == 431)
        let justEnough = "GET / HTTP/1.1\r\nHost: a\r\n" + String(repeating: "X: y\r\n", count: 99) + "\r\n"
        if case .request? = Self.parse(justEnough) {} else { Issue.record("100 fields refused") }
        let trailers = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"
            + String(repeating: "T: " + String(repeating: "t", count: 100) + "\r\n", count: 200)
        #expect(Self.status(trailers) == 431)
        let longChunkLine = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1;" + String(repeating: "e", count: 5000)
        #expect(Self.status(longChunkLine) == 400)

        let secondChunkTooBig = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n80000\r\n"
            + String(repeating: "x", count: 0x80000) + "\r\n80001\r\n"
        #expect(Self.status(secondChunkTooBig) == 413)

        let small = HTTPParserLimits(maxRequestTarget: 16, maxHeaderSection: 64, maxHeaderCount: 2, maxBody: 4)
        #expect(Self.status("GET /" + String(repeating: "a", count: 16) + " HTTP/1.1\r\nHost: a\r\n\r\n", limits: small) == 414)
        #expect(Self.status("GET / HTTP/1.1\r\nHost: a\r\nA: b\r\nC: d\r\n\r\n", limits: small) == 431)
        #expect(Self.status("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n", limits: small) == 413)
        #expect(Self.status("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\n", limits: small) == 413)
        #expect(Self.status("GET / HTTP/1.1\r\nHost: a\r\nX: " + String(repeating: "b", count: 60) + "\r\n\r\n", limits: small) == 431)
    }

    @Test func aBodyIsStreamedAsItArrives() {
        let head = Array("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n".utf8)
        var parser = HTTPRequestParser()
        guard case .head(let request, let consumed) = head.withUnsafeBytes({ parser.parse($0) }) else {
            Issue.record("no head")
            return
        }
        #expect(consumed == head.count && request.framing == .length(10) && parser.isInBody)
        #expect([UInt8]().withUnsafeBytes { parser.parse($0) } == .needMore)
        #expect(Array("12345".utf8).withUnsafeBytes { parser.parse($0) } == .body(0..<5, consumed: 5))
        #expect(Array("67890GET".utf8).withUnsafeBytes { parser.parse($0) } == .end(0..<5, consumed: 5))
        #expect(!parser.isInBody)
    }

    /// However a chunked body is framed (1-byte chunks, long extensions, many trailers), the
    /// bytes a connection must keep never exceed one line.
    @Test func chunkedBodiesNeverMakeTheConnectionBuffer() throws {
        var body = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        let extensionText = ";e=" + String(repeating: "x", count: 3000)
        for _ in 0..<200 { body += "1\(extensionText)\r\nz\r\n" }
        body += "0\r\nT: 1\r\n\r\n"
        let bytes = Array(body.utf8)
        var stream = RequestStream(limits: HTTPParserLimits(maxBody: 1 << 20))
        var outcomes: [RequestStream.Outcome] = []
        var offset = 0
        while offset < bytes.count {
            let end = min(bytes.count, offset + 1000)
            outcomes += stream.feed(Array(bytes[offset..<end]))
            offset = end
        }
        guard case .request(_, let consumed, let decoded)? = outcomes.first else {
            Issue.record("\(outcomes)")
            return
        }
        #expect(consumed == bytes.count)
        #expect(decoded == Array(repeating: UInt8(ascii: "z"), count: 200))
        #expect(stream.mostPending <= ChunkedBodyDecoder.maxChunkLine + 1000)
    }

    /// Every byte of a chunked body counts toward maxBody, framing included.
    @Test func chunkFramingCountsTowardTheBodyLimit() {
        let limits = HTTPParserLimits(maxBody: 1000)
        var text = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        for _ in 0..<100 { text += "1;name=value\r\nz\r\n" }  // 100 decoded bytes, 1800 on the wire
        text += "0\r\n\r\n"
        #expect(Self.status(text, limits: limits) == 413)
    }

    @Test func resetForgetsAPartialRequest() {
        var parser = HTTPRequestParser()
        #expect(Array("GET / HTTP/1.1\r\nHo".utf8).withUnsafeBytes { parser.parse($0) } == .needMore)
        parser.reset()
        let result = Array("GET /x HTTP/1.0\r\n\r\n".utf8).withUnsafeBytes { parser.parse($0) }
        guard case .head(let head, _) = result else { Issue.record("\(result)"); return }
        #expect(head.minorVersion == 0)
    }

    /// The head of a request whose client waits for 100 Continue comes out before the body.
    @Test func aHeadAwaitingContinueComesBeforeItsBody() {
        let head = Array("PUT /u HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n".utf8)
        var parser = HTTPRequestParser()
        #expect(Array(head.prefix(20)).withUnsafeBytes { parser.parse($0) } == .needMore)
        guard case .head(let request, _) = head.withUnsafeBytes({ parser.parse($0) }) else {
            Issue.record("no head")
            return
        }
        #expect(request.method == .put && request.expectsContinue && request.awaitsContinue)
        #expect(Array("abc".utf8).withUnsafeBytes { parser.parse($0) } == .end(0..<3, consumed: 3))
        var http10 = HTTPRequestParser()
        let old = Array("PUT /u HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n".utf8)
        guard case .head(let ignored, _) = old.withUnsafeBytes({ http10.parse($0) }) else { return }
        #expect(!ignored.awaitsContinue, "an HTTP/1.0 client's expectation is ignored")
    }

    /// A head near the size limit, one byte more per call, is scanned once: the parser resumes
    /// where it stopped (the count of LF searches stays linear).
    @Test func byteAtATimeNearTheLimitStaysLinear() {
        var text = "GET / HTTP/1.1\r\nHost: a\r\n"
        while text.utf8.count < 16_000 { text += "X-Field: " + String(repeating: "v", count: 90) + "\r\n" }
        text += "\r\n"
        let bytes = Array(text.utf8)
        var parser = HTTPRequestParser(limits: HTTPParserLimits(maxHeaderCount: 1000))
        bytes.withUnsafeBytes { buffer in
            for end in 0..<buffer.count {
                #expect(parser.parse(UnsafeRawBufferPointer(rebasing: buffer[..<end])) == .needMore)
            }
            guard case .head(_, let consumed) = parser.parse(buffer) else { Issue.record("no request"); return }
            #expect(consumed == buffer.count)
        }
    }

    /// Mutated requests, fed in random pieces: never a trap, never more consumed than given,
    /// and the same answer as when parsed whole.
    @Test func mutatedInputNeverBreaksTheParser() {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("\r\n :;,-0aA\t\u{0}\u{7f}\u{80}\"=".utf8)
        let seeds = Self.valid.map { Array($0.text.utf8) }
        for _ in 0..<4000 {
            var bytes = seeds.randomElement(using: &generator)!
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                let at = Int.random(in: 0..<bytes.count, using: &generator)
                switch Int.random(in: 0..<3, using: &generator) {
                case 0: bytes[at] = alphabet.randomElement(using: &generator)!
                case 1: bytes.insert(alphabet.randomElement(using: &generator)!, at: at)
                default: bytes.remove(at: at)
                }
                if bytes.isEmpty { bytes = [0x47] }
            }
            var whole = RequestStream()
            let wholeOutcomes = whole.feed(bytes)
            for case .request(_, let consumed, _) in wholeOutcomes { #expect(consumed <= bytes.count) }
            var pieces = RequestStream()
            var outcomes: [RequestStream.Outcome] = []
            var offset = 0
            while offset < bytes.count {
                let end = min(bytes.count, offset + Int.random(in: 1...16, using: &generator))
                outcomes += pieces.feed(Array(bytes[offset..<end]))
                offset = end
            }
            #expect(outcomes.map(Self.summary) == wholeOutcomes.map(Self.summary), "\(bytes)")
        }
    }

    /// An outcome without the error's reason (pieces may be refused by an earlier check).
    private static func summary(_ outcome: RequestStream.Outcome) -> String {
        switch outcome {
        case .request(let head, let consumed, let body): "\(head) \(consumed) \(body)"
        case .error(let error): "error \(error.status)"
        }
    }
}
