import Testing
@testable import CorralHTTP

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

@Suite struct HTTPRequestParserTests {
    static func parse(_ bytes: [UInt8], limits: HTTPParserLimits = HTTPParserLimits()) -> HTTPParseResult {
        var parser = HTTPRequestParser(limits: limits)
        return bytes.withUnsafeBytes { parser.parse($0) }
    }

    static func parse(_ text: String, limits: HTTPParserLimits = HTTPParserLimits()) -> HTTPParseResult {
        parse(Array(text.utf8), limits: limits)
    }

    static func status(_ text: String, limits: HTTPParserLimits = HTTPParserLimits()) -> Int? {
        if case .error(let error) = parse(text, limits: limits) { return error.status }
        return nil
    }

    static func head(_ text: String) -> (HTTPRequestHead, Int)? {
        if case .request(let head, let consumed) = parse(text) { return (head, consumed) }
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
        let (head, consumed) = try #require(Self.head(expected.text))
        #expect(consumed == bytes.count)
        #expect(head.method == expected.method)
        #expect(Self.field(head.target, expected.text) == expected.target)
        #expect(head.minorVersion == expected.minorVersion)
        #expect(head.keepAlive == expected.keepAlive)
        #expect(head.bodyLength == expected.bodyLength)
    }

    /// Split at every offset: the prefix needs more, then the whole gives the same request.
    @Test(arguments: valid)
    func validRequestParsesAtEverySplit(_ expected: ExpectedRequest) {
        let bytes = Array(expected.text.utf8)
        let whole = Self.parse(bytes)
        for split in 0..<bytes.count {
            var parser = HTTPRequestParser()
            let early = Array(bytes[..<split]).withUnsafeBytes { parser.parse($0) }
            #expect(early == .needMore, "prefix of \(split) bytes")
            let full = bytes.withUnsafeBytes { parser.parse($0) }
            #expect(full == whole, "split at \(split)")
        }
    }

    /// Byte at a time with one parser: every prefix needs more, the last byte completes it.
    @Test(arguments: valid)
    func validRequestParsesByteAtATime(_ expected: ExpectedRequest) {
        let bytes = Array(expected.text.utf8)
        let whole = Self.parse(bytes)
        var parser = HTTPRequestParser()
        for end in 0..<bytes.count {
            let result = Array(bytes[..<end]).withUnsafeBytes { parser.parse($0) }
            #expect(result == .needMore, "prefix of \(end) bytes")
        }
        #expect(bytes.withUnsafeBytes { parser.parse($0) } == whole)
    }

    @Test func conditionalAndRangeFieldsAreReported() throws {
        let text = "GET /f HTTP/1.1\r\nHost: example.com:80\r\nIf-None-Match: \"a\", W/\"b\"\r\n"
            + "if-modified-since: Sun, 06 Nov 1994 08:49:37 GMT\r\nRANGE: bytes=0-9\r\nIf-Range:  \"a\" \r\n\r\n"
        let (head, _) = try #require(Self.head(text))
        #expect(Self.field(head.host, text) == "example.com:80")
        #expect(Self.field(head.ifNoneMatch, text) == "\"a\", W/\"b\"")
        #expect(Self.field(head.ifModifiedSince, text) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(Self.field(head.range, text) == "bytes=0-9")
        #expect(Self.field(head.ifRange, text) == "\"a\"")
        Array(text.utf8).withUnsafeBytes { buffer in
            #expect(HTTPRequestHead.string(head.target, in: buffer) == "/f")
            #expect(HTTPRequestHead.bytes(head.range!, in: buffer).elementsEqual("bytes=0-9".utf8))
        }
        let (plain, _) = try #require(Self.head("GET / HTTP/1.0\r\n\r\n"))
        #expect(plain.host == nil && plain.ifNoneMatch == nil && plain.range == nil && plain.ifRange == nil)
        #expect(plain.isHTTP10)
    }

    @Test func pipelinedRequestsComeOutOneAtATime() throws {
        let text = "GET /a HTTP/1.1\r\nHost: a\r\n\r\n"
            + "POST /b HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi"
            + "GET /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n"
            + "GET /d HTTP/1.1\r\nHost: a\r\n\r\nGET /e HT"
        let bytes = Array(text.utf8)
        var parser = HTTPRequestParser()
        var offset = 0
        var targets: [String] = []
        while true {
            let result = Array(bytes[offset...]).withUnsafeBytes { parser.parse($0) }
            guard case .request(let head, let consumed) = result else {
                #expect(result == .needMore)
                break
            }
            targets.append(String(decoding: bytes[offset...].dropFirst(head.target.lowerBound).prefix(head.target.count), as: UTF8.self))
            offset += consumed
        }
        #expect(targets == ["/a", "/b", "/c", "/d"])
        #expect(offset == bytes.count - 9)
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
        let bytes = Array(text.utf8)
        var parser = HTTPRequestParser()
        for end in 0...bytes.count {
            let result = Array(bytes[..<end]).withUnsafeBytes { parser.parse($0) }
            switch result {
            case .needMore: continue
            case .request: Issue.record("prefix \(end) of \(text.debugDescription) parsed as a request")
            case .error(let error): #expect(error.status == expected)
            }
            return
        }
    }

    @Test func limitsGiveTheirOwnStatuses() {
        let longTarget = "GET /" + String(repeating: "a", count: 9000) + " HTTP/1.1\r\nHost: a\r\n\r\n"
        #expect(Self.status(longTarget) == 414)
        #expect(Self.status("GET /" + String(repeating: "a", count: 9000)) == 414)
        let atTheLimit = "GET /" + String(repeating: "a", count: 8191) + " HTTP/1.1\r\nHost: a\r\n\r\n"
        if case .request = Self.parse(atTheLimit) {} else { Issue.record("8192-byte target refused") }
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
        if case .request = Self.parse(justEnough) {} else { Issue.record("100 fields refused") }
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

    @Test func aBodyIsConsumedEvenWhenItArrivesLate() {
        let head = Array("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n".utf8)
        var parser = HTTPRequestParser()
        #expect(head.withUnsafeBytes { parser.parse($0) } == .needMore)
        let partial = head + Array("12345".utf8)
        #expect(partial.withUnsafeBytes { parser.parse($0) } == .needMore)
        let full = partial + Array("67890GET".utf8)
        guard case .request(let request, let consumed) = full.withUnsafeBytes({ parser.parse($0) }) else {
            Issue.record("no request")
            return
        }
        #expect(consumed == head.count + 10)
        #expect(request.bodyLength == 10)
    }

    @Test func resetForgetsAPartialRequest() {
        var parser = HTTPRequestParser()
        #expect(Array("GET / HTTP/1.1\r\nHo".utf8).withUnsafeBytes { parser.parse($0) } == .needMore)
        parser.reset()
        let result = Array("GET /x HTTP/1.0\r\n\r\n".utf8).withUnsafeBytes { parser.parse($0) }
        guard case .request(let head, _) = result else { Issue.record("\(result)"); return }
        #expect(head.minorVersion == 0)
    }

    @Test func aHeadWaitingForItsBodyCanBeSeen() {
        let head = Array("PUT /u HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n".utf8)
        var parser = HTTPRequestParser()
        #expect(Array(head.prefix(20)).withUnsafeBytes { parser.parse($0) } == .needMore)
        #expect(parser.awaitingBody == nil)
        #expect(head.withUnsafeBytes { parser.parse($0) } == .needMore)
        #expect(parser.awaitingBody?.method == .put)
        #expect(parser.awaitingBody?.expectsContinue == true)
        guard case .request(let request, _) = (head + Array("abc".utf8)).withUnsafeBytes({ parser.parse($0) }) else {
            Issue.record("no request")
            return
        }
        #expect(request.expectsContinue && request.bodyLength == 3)
        #expect(parser.awaitingBody == nil)
    }

    /// A head near the size limit, one byte more per call, parses in linear time.
    @Test func byteAtATimeNearTheLimitStaysLinear() {
        var text = "GET / HTTP/1.1\r\nHost: a\r\n"
        while text.utf8.count < 16_000 { text += "X-Field: " + String(repeating: "v", count: 90) + "\r\n" }
        text += "\r\n"
        let bytes = Array(text.utf8)
        var parser = HTTPRequestParser(limits: HTTPParserLimits(maxHeaderCount: 1000))
        let clock = ContinuousClock()
        let start = clock.now
        bytes.withUnsafeBytes { buffer in
            for end in 0..<buffer.count {
                #expect(parser.parse(UnsafeRawBufferPointer(rebasing: buffer[..<end])) == .needMore)
            }
            guard case .request(_, let consumed) = parser.parse(buffer) else { Issue.record("no request"); return }
            #expect(consumed == buffer.count)
        }
        #expect(clock.now - start < .seconds(5))
    }

    /// Mutated requests, fed in random pieces: never a trap, never more consumed than given,
    /// and the same answer as when parsed whole.
    @Test func mutatedInputNeverBreaksTheParser() {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("\r\n :;,-0aA\t\u{0}\u{7f}\u{80}\"".utf8)
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
            let whole = Self.parse(bytes)
            if case .request(_, let consumed) = whole { #expect(consumed <= bytes.count) }
            var parser = HTTPRequestParser()
            var end = 0
            var result = HTTPParseResult.needMore
            bytes.withUnsafeBytes { buffer in
                while result == .needMore && end < buffer.count {
                    end = min(buffer.count, end + Int.random(in: 1...16, using: &generator))
                    result = parser.parse(UnsafeRawBufferPointer(rebasing: buffer[..<end]))
                }
            }
            switch (result, whole) {
            case (.request(let a, let n), .request(let b, let m)): #expect(a == b && n == m)
            case (.error(let a), .error(let b)): #expect(a.status == b.status)
            case (.needMore, .needMore): break
            default: Issue.record("pieces gave \(result), the whole \(whole): \(bytes)")
            }
        }
    }
}
