/// What one call to `HTTPRequestParser.parse` found.
@_spi(Internals)
public enum HTTPParseResult: Sendable, Equatable {
    /// Nothing can be consumed yet: read more, then call again with the same unconsumed bytes
    /// and the new ones appended.
    case needMore
    /// A complete request head. `consumed` bytes (leading empty lines and the head) belong to
    /// it; the head's ranges point into the buffer of this call. When `head.framing` is not
    /// `.none`, the body follows as `.body` events and one `.end`.
    case head(HTTPRequestHead, consumed: Int)
    /// Part of the body: decoded bytes at `range` of this call's buffer (possibly empty, when
    /// only chunk framing was consumed). `consumed` counts framing and data.
    case body(Range<Int>, consumed: Int)
    /// The end of the body, with its last decoded bytes at `range` (empty for a chunked body,
    /// whose end is the last chunk and the trailer section). The request is complete.
    case end(Range<Int>, consumed: Int)
    /// A request that must be refused with `error.status`, then the connection closed.
    case error(HTTPParseError)
}

/// An incremental, strict HTTP/1.1 request parser (RFC 9112) over the caller's buffer: it never
/// copies and does not allocate.
///
/// Contract: each call gets the connection's unconsumed bytes, oldest first: the buffer starts
/// right after the bytes the previous results consumed. A head is consumed only once complete
/// (the parser remembers how far it has scanned, so a head arriving one byte at a time is
/// still scanned in linear time). A body is streamed: every result in the body consumes what
/// it reports, so the caller never holds more than one head, one chunk-size line or one
/// trailer line of a request, whatever the body's size. Call `reset()` to drop a partial
/// request.
///
/// Decisions where RFC 9112 leaves a choice:
/// - Lines must end in CRLF. A bare LF, even as a line terminator (§2.2 allows accepting it),
///   and a bare CR are 400: lenient line splitting is a classic request-smuggling vector.
/// - Any number of empty lines before the request line are skipped (§2.2), but they count
///   toward `maxHeaderSection`.
/// - HTTP/1.x with x > 1 is handled as HTTP/1.1; any other major version (HTTP/0.9, HTTP/2.0)
///   is 505; a version that is not `HTTP/DIGIT.DIGIT` is 400.
/// - Transfer-Encoding: `chunked` must be the final coding and appear once, else 400 (§6.3:
///   the length cannot be determined); a valid list with another coding before `chunked`
///   (`gzip, chunked`) is 501, since no other coding is decoded. Transfer-Encoding with
///   Content-Length, or in an HTTP/1.0 request, is 400.
/// - Content-Length must be a plain decimal; repeated fields must agree (else 400); a
///   comma-separated list value (`5, 5`) is 400.
/// - Host: HTTP/1.1 requires exactly one; more than one, or a value with characters outside
///   the authority syntax, is 400 (in HTTP/1.0 too).
/// - Chunk extensions must follow §7.1.1 (`;` name, a token, optionally `=` a token or a
///   quoted-string), else 400. Every byte of a chunked body (sizes, extensions, CRLFs and
///   data) counts toward `maxBody` (413); the trailer section toward `maxHeaderSection` (431).
/// - An unknown method is `.other`, not an error.
@_spi(Internals)
public struct HTTPRequestParser: Sendable {
    public typealias Result = HTTPParseResult

    public var limits: HTTPParserLimits
    private var head = HeadState()
    private var body: BodyState?

    public init(limits: HTTPParserLimits = HTTPParserLimits()) { self.limits = limits }

    /// True between a `.head` whose request has a body and that body's `.end`.
    public var isInBody: Bool { body != nil }

    /// Forgets any partial request.
    public mutating func reset() {
        head = HeadState()
        body = nil
    }

    private enum Phase: Sendable {
        case requestLine
        case fields
    }

    private struct HeadState: Sendable {
        var phase = Phase.requestLine
        /// Start of the line being read.
        var lineStart = 0
        /// Where to resume the search for the current line's LF.
        var scanned = 0
        var head: HTTPRequestHead?
        var fieldCount = 0
        var contentLength: Int?
        var sawTransferEncoding = false
        /// Transfer codings seen so far, across field lines: the last one, and whether chunked
        /// appeared before it or any non-chunked coding appeared.
        var lastCodingIsChunked = false
        var chunkedNotLast = false
        var otherCoding = false
        var hosts = 0
        var connectionClose = false
        var connectionKeepAlive = false
    }

    private enum BodyState: Sendable {
        case length(remaining: Int)
        case chunked(ChunkedBodyDecoder)
    }

    /// Parses as far as `buffer` allows. See the type's documentation for the contract.
    public mutating func parse(_ buffer: UnsafeRawBufferPointer) -> HTTPParseResult {
        if let state = body { return parseBody(buffer, state) }
        if buffer.count < head.scanned { head = HeadState() }  // not the buffer we were given before
        let result = parseHead(buffer)
        if result != .needMore { head = HeadState() }
        return result
    }

    // MARK: the body

    private mutating func parseBody(_ buffer: UnsafeRawBufferPointer, _ state: BodyState) -> HTTPParseResult {
        switch state {
        case .length(let remaining):
            let count = min(remaining, buffer.count)
            if count == remaining {
                body = nil
                return .end(0..<count, consumed: count)
            }
            if count == 0 { return .needMore }
            body = .length(remaining: remaining - count)
            return .body(0..<count, consumed: count)
        case .chunked(var decoder):
            let result = decoder.decode(buffer, maxBody: limits.maxBody, maxTrailers: limits.maxHeaderSection)
            switch result {
            case .end, .error: body = nil
            default: body = .chunked(decoder)
            }
            return result
        }
    }

    // MARK: the head

    private mutating func parseHead(_ buffer: UnsafeRawBufferPointer) -> HTTPParseResult {
        while true {
            guard let lf = ASCII.find(ASCII.lf, in: buffer, from: head.scanned) else {
                head.scanned = buffer.count
                if let error = incompleteLineError(buffer) { return .error(error) }
                return .needMore
            }
            head.scanned = lf + 1
            if head.phase == .requestLine, let error = requestLineLengthError(buffer, end: lf) { return .error(error) }
            if lf + 1 > limits.headLimit { return .error(withMethod(.headTooLarge)) }
            guard lf > head.lineStart, buffer[lf - 1] == ASCII.cr else { return .error(withMethod(.bad("bare LF"))) }
            let line = head.lineStart..<(lf - 1)
            head.lineStart = lf + 1
            switch head.phase {
            case .requestLine:
                if line.isEmpty { continue }  // RFC 9112 §2.2: empty lines before a request
                switch parseRequestLine(buffer, line) {
                case .failure(let error): return .error(error)
                case .success(let parsed): head.head = parsed
                }
                head.phase = .fields
            case .fields:
                if !line.isEmpty {
                    head.fieldCount += 1
                    if head.fieldCount > limits.maxHeaderCount { return .error(withMethod(.tooManyFields)) }
                    if let error = processField(buffer, line) { return .error(withMethod(error)) }
                    continue
                }
                switch finishHead() {
                case .failure(let error): return .error(withMethod(error))
                case .success(let complete):
                    switch complete.framing {
                    case .none: break
                    case .length(let length): body = .length(remaining: length)
                    case .chunked: body = .chunked(ChunkedBodyDecoder())
                    }
                    return .head(complete, consumed: lf + 1)
                }
            }
        }
    }

    /// The error, with the method of the request it belongs to when its line was read (so a
    /// HEAD request's error response is sent without content).
    private func withMethod(_ error: HTTPParseError) -> HTTPParseError {
        var error = error
        error.method = head.head?.method
        return error
    }

    // MARK: limits on incomplete input

    /// A line without its LF yet may already be refusable: too long, or (the request line)
    /// not starting with a method token (e.g. a TLS handshake sent to a plain-text port).
    private func incompleteLineError(_ buffer: UnsafeRawBufferPointer) -> HTTPParseError? {
        if head.phase == .requestLine {
            if let error = requestLineLengthError(buffer, end: buffer.count) { return error }
            if let error = methodPrefixError(buffer) { return error }
        }
        return buffer.count > limits.headLimit ? withMethod(.headTooLarge) : nil
    }

    /// Longest method we look at before deciding a request line is garbage.
    private static let methodScanLimit = 32

    private func methodPrefixError(_ buffer: UnsafeRawBufferPointer) -> HTTPParseError? {
        let start = head.lineStart
        let end = min(buffer.count, start + Self.methodScanLimit)
        var i = start
        while i < end {
            let byte = buffer[i]
            if byte == ASCII.sp { return i == start ? .bad("invalid method") : nil }
            if !ASCII.isToken(byte) {
                // A lone CR at the start may be an empty line whose LF is on its way.
                if byte == ASCII.cr && i == start && i + 1 == buffer.count { return nil }
                return .bad("invalid method")
            }
            i += 1
        }
        return nil
    }

    /// A request line longer than the target limit plus room for a method and version is 414,
    /// or 400 if it does not even start with a short method and a space.
    private func requestLineLengthError(_ buffer: UnsafeRawBufferPointer, end: Int) -> HTTPParseError? {
        guard end - head.lineStart > limits.maxRequestTarget + Self.methodScanLimit + 12 else { return nil }
        // A line that does not even start with a method is 400 however long, as it is when it
        // arrives in pieces (the same bytes get the same answer whatever the packets).
        if let error = methodPrefixError(buffer) { return error }
        let methodEnd = min(buffer.count, head.lineStart + Self.methodScanLimit + 1)
        guard let space = ASCII.find(ASCII.sp, in: buffer.slice(head.lineStart..<methodEnd), from: 0) else {
            return .bad("invalid method")
        }
        var error = HTTPParseError.targetTooLong
        error.method = HTTPMethod(buffer.slice(head.lineStart..<(head.lineStart + space)))
        return error
    }

    private func parseRequestLine(_ buffer: UnsafeRawBufferPointer, _ line: Range<Int>) -> Swift.Result<HTTPRequestHead, HTTPParseError> {
        // request-line = method SP request-target SP HTTP-version (single spaces, RFC 9112 §3)
        var i = line.lowerBound
        while i < line.upperBound, ASCII.isToken(buffer[i]) { i += 1 }
        guard i > line.lowerBound, i < line.upperBound, buffer[i] == ASCII.sp else {
            return .failure(.bad("invalid method"))
        }
        let method = HTTPMethod(buffer.slice(line.lowerBound..<i))
        func failure(_ error: HTTPParseError) -> Swift.Result<HTTPRequestHead, HTTPParseError> {
            var error = error
            error.method = method
            return .failure(error)
        }
        let targetStart = i + 1
        i = targetStart
        // Visible ASCII only (RFC 3986 characters are a subset); no controls, spaces or obs-text.
        while i < line.upperBound, buffer[i] > 0x20 && buffer[i] < 0x7F { i += 1 }
        let target = targetStart..<i
        if target.count > limits.maxRequestTarget { return failure(.targetTooLong) }
        guard !target.isEmpty, i < line.upperBound, buffer[i] == ASCII.sp else {
            return failure(.bad("invalid request-target"))
        }
        let version = buffer.slice((i + 1)..<line.upperBound)
        guard version.count == 8, version[0] == UInt8(ascii: "H"), version[1] == UInt8(ascii: "T"),
            version[2] == UInt8(ascii: "T"), version[3] == UInt8(ascii: "P"), version[4] == ASCII.slash,
            version[6] == UInt8(ascii: "."), ASCII.isDigit(version[5]), ASCII.isDigit(version[7])
        else {
            return failure(.bad("invalid HTTP version"))
        }
        guard version[5] == UInt8(ascii: "1") else { return failure(.versionNotSupported) }
        return .success(HTTPRequestHead(
            method: method, target: target, minorVersion: version[7] == UInt8(ascii: "0") ? 0 : 1))
    }

    private mutating func processField(_ buffer: UnsafeRawBufferPointer, _ line: Range<Int>) -> HTTPParseError? {
        let field: HeaderField
        switch HeaderField.parse(buffer, line) {
        case .failure(let error): return error
        case .success(let parsed): field = parsed
        }
        let name = buffer.slice(field.name)
        let value = field.value
        switch field.name.count {
        case 4 where name.caseInsensitiveEquals("host"):
            head.hosts += 1
            guard Self.isValidHost(buffer.slice(value)) else { return .bad("invalid Host") }
            head.head?.host = value
        case 5 where name.caseInsensitiveEquals("range"):
            head.head?.range = value
        case 6 where name.caseInsensitiveEquals("expect"):
            if buffer.slice(value).caseInsensitiveEquals("100-continue") { head.head?.expectsContinue = true }
        case 7 where name.caseInsensitiveEquals("referer"):
            head.head?.referer = value
        case 8 where name.caseInsensitiveEquals("if-match"):
            head.head?.ifMatch = value
        case 8 where name.caseInsensitiveEquals("if-range"):
            head.head?.ifRange = value
        case 10 where name.caseInsensitiveEquals("connection"):
            for token in CommaList(buffer, value) {
                let option = buffer.slice(token)
                if option.caseInsensitiveEquals("close") { head.connectionClose = true }
                if option.caseInsensitiveEquals("keep-alive") { head.connectionKeepAlive = true }
            }
        case 10 where name.caseInsensitiveEquals("user-agent"):
            head.head?.userAgent = value
        case 13 where name.caseInsensitiveEquals("if-none-match"):
            head.head?.ifNoneMatch = value
        case 14 where name.caseInsensitiveEquals("content-length"):
            guard let length = ASCII.decimal(buffer.slice(value)) else { return .bad("invalid Content-Length") }
            if let earlier = head.contentLength, earlier != length { return .bad("conflicting Content-Length fields") }
            head.contentLength = length
        case 17 where name.caseInsensitiveEquals("if-modified-since"):
            let earlier = head.head?.ifModifiedSince
            head.head?.ifModifiedSince = Self.singleDate(earlier, value)
        case 17 where name.caseInsensitiveEquals("transfer-encoding"):
            head.sawTransferEncoding = true
            for coding in CommaList(buffer, value) {
                // A coding may carry parameters (`gzip;q=1`): only its name matters here.
                var nameEnd = coding.lowerBound
                while nameEnd < coding.upperBound, ASCII.isToken(buffer[nameEnd]) { nameEnd += 1 }
                guard nameEnd > coding.lowerBound else { return .bad("invalid transfer coding") }
                if head.lastCodingIsChunked { head.chunkedNotLast = true }
                let isChunked = nameEnd == coding.upperBound && buffer.slice(coding).caseInsensitiveEquals("chunked")
                if !isChunked { head.otherCoding = true }
                head.lastCodingIsChunked = isChunked
            }
        case 19 where name.caseInsensitiveEquals("if-unmodified-since"):
            let earlier = head.head?.ifUnmodifiedSince
            head.head?.ifUnmodifiedSince = Self.singleDate(earlier, value)
        default:
            break
        }
        return nil
    }

    /// A date field seen twice has "more than one member" (RFC 9110 §13.1.3, §13.1.4): it must
    /// be ignored, which an empty range (never a valid HTTP-date) makes sure of.
    private static func singleDate(_ earlier: Range<Int>?, _ value: Range<Int>) -> Range<Int> {
        earlier == nil ? value : value.lowerBound..<value.lowerBound
    }

    /// Checks the head as a whole once its blank line has arrived, and decides the body framing.
    private func finishHead() -> Swift.Result<HTTPRequestHead, HTTPParseError> {
        guard var complete = head.head else { return .failure(.bad("internal: no head")) }
        if head.hosts > 1 { return .failure(.bad("duplicate Host")) }
        if complete.minorVersion == 1 && head.hosts == 0 { return .failure(.bad("missing Host")) }
        if head.sawTransferEncoding {
            // RFC 9112 §6.1 and §6.3: both fields present is how requests are smuggled past a proxy.
            if head.contentLength != nil { return .failure(.bad("Content-Length with Transfer-Encoding")) }
            if complete.minorVersion == 0 { return .failure(.bad("Transfer-Encoding in HTTP/1.0")) }
            if !head.lastCodingIsChunked || head.chunkedNotLast { return .failure(.bad("chunked is not the final coding")) }
            if head.otherCoding { return .failure(.unsupportedCoding) }
            complete.framing = .chunked
        } else if let length = head.contentLength, length > 0 {
            if length > limits.maxBody { return .failure(.bodyTooLarge) }
            complete.framing = .length(length)
        }
        complete.keepAlive = complete.minorVersion == 1
            ? !head.connectionClose : (head.connectionKeepAlive && !head.connectionClose)
        return .success(complete)
    }

    /// `uri-host [ ":" port ]` (RFC 9110 §7.2), loosely: the characters of a reg-name, an IPv4
    /// address or an IP-literal, and a port. Empty is allowed (RFC 9112 §3.2).
    static func isValidHost(_ value: UnsafeRawBufferPointer) -> Bool {
        for byte in value where !ASCII.isHostCharacter(byte) { return false }
        return true
    }
}
