import Testing
@testable import CorralHTTP

@Suite struct RequestParserTests {
    private func parse(_ text: String, limits: HTTPParserLimits = HTTPParserLimits()) -> RequestParser.Result {
        var parser = RequestParser(limits: limits)
        return Array(text.utf8).withUnsafeBytes { parser.parse($0) }
    }

    private func status(_ text: String, limits: HTTPParserLimits = HTTPParserLimits()) -> Int? {
        if case .error(let error) = parse(text, limits: limits) { return error.status }
        return nil
    }

    private func head(_ text: String) -> (RequestHead, Int)? {
        if case .request(let head, let consumed) = parse(text) { return (head, consumed) }
        return nil
    }

    static let valid = [
        "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        "HEAD /x?y=1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        "\r\nGET / HTTP/1.1\r\nhost: a\r\n\r\n",
        "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
        "POST /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nTrailer: x\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
        "GET / HTTP/1.1\r\nHost: a\r\nX: caf\u{e9} \t\r\n\r\n",
    ]

    @Test(arguments: valid)
    func validRequestsParseWholeAndAtEverySplit(_ text: String) throws {
        let bytes = Array(text.utf8)
        let (_, consumed) = try #require(head(text))
        #expect(consumed == bytes.count)
        for split in 0..<bytes.count {
            var parser = RequestParser()
            let prefix = Array(bytes[..<split])
            let early = prefix.withUnsafeBytes { parser.parse($0) }
            #expect(early == .needMore, "prefix of \(split) bytes")
            let full = bytes.withUnsafeBytes { parser.parse($0) }
            guard case .request(_, let total) = full else {
                Issue.record("split at \(split): \(full)")
                continue
            }
            #expect(total == bytes.count)
        }
    }

    @Test func keepAliveFollowsTheVersionAndConnectionRules() throws {
        #expect(try #require(head("GET / HTTP/1.1\r\nHost: a\r\n\r\n")).0.keepAlive)
        #expect(try !#require(head("GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, Close\r\n\r\n")).0.keepAlive)
        #expect(try !#require(head("GET / HTTP/1.0\r\n\r\n")).0.keepAlive)
        #expect(try #require(head("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")).0.keepAlive)
    }

    @Test func pipelinedRequestsComeOutOneAtATime() throws {
        let text = "GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n"
        let (first, consumed) = try #require(head(text))
        #expect(consumed == 28)
        let bytes = Array(text.utf8)
        #expect(String(decoding: bytes[first.target], as: UTF8.self) == "/a")
        var parser = RequestParser()
        let second = Array(bytes[consumed...]).withUnsafeBytes { parser.parse($0) }
        guard case .request(let head, let used) = second else { Issue.record("\(second)"); return }
        #expect(used == 28)
        #expect(head.method == .get)
    }

    @Test func methodsAreRecognisedAndUnknownTokensAreOther() throws {
        #expect(try #require(head("DELETE / HTTP/1.1\r\nHost: a\r\n\r\n")).0.method == .delete)
        #expect(try #require(head("BREW / HTTP/1.1\r\nHost: a\r\n\r\n")).0.method == .other)
    }

    static let rejected: [(String, Int)] = [
        ("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", 400),  // obs-fold
        ("GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", 400),  // bare CR
        ("GET / HTTP/1.1\nHost: a\r\n\r\n", 400),  // bare LF
        ("GET / HTTP/1.1\r\nHost: a\r\nX: a\u{1}b\r\n\r\n", 400),  // control character
        ("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400),  // space before colon
        ("GET / HTTP/1.1\r\n\r\n", 400),  // no Host
        ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000000\r\n", 400),  // overflow
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        ("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        ("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
        ("GET / HTTX/1.1\r\nHost: a\r\n\r\n", 400),
        ("G\u{0}T / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 70000\r\n\r\n", 413),
    ]

    @Test(arguments: rejected)
    func malformedAndSmugglingRequestsAreRejected(_ text: String, _ expected: Int) {
        #expect(status(text) == expected, "\(text.debugDescription)")
    }

    @Test func limitsGiveTheirOwnStatuses() {
        let longTarget = "GET /" + String(repeating: "a", count: 9000) + " HTTP/1.1\r\nHost: a\r\n\r\n"
        #expect(status(longTarget) == 414)
        let longTargetIncomplete = "GET /" + String(repeating: "a", count: 9000)
        #expect(status(longTargetIncomplete) == 414)
        let bigHeader = "GET / HTTP/1.1\r\nHost: a\r\nX: " + String(repeating: "b", count: 17000) + "\r\n\r\n"
        #expect(status(bigHeader) == 431)
        let bigHeaderIncomplete = "GET / HTTP/1.1\r\nHost: a\r\nX: " + String(repeating: "b", count: 17000)
        #expect(status(bigHeaderIncomplete) == 431)
        let many = "GET / HTTP/1.1\r\nHost: a\r\n" + String(repeating: "X: y\r\n", count: 101) + "\r\n"
        #expect(status(many) == 431)
        let chunkedTooBig = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n10001\r\n"
        #expect(status(chunkedTooBig) == 413)
    }
}
