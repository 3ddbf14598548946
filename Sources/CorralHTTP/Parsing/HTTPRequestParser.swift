/// What one call to `HTTPRequestParser.parse` found.
public enum HTTPParseResult: Sendable, Equatable {
    /// The request (head and body) is not complete yet: read more, then call again with the
    /// same unconsumed bytes and the new ones appended.
    case needMore
    /// A complete request. `consumed` bytes (leading empty lines, head and framed body) belong
    /// to it; the next request starts right after. The head's ranges point into the buffer.
    case request(HTTPRequestHead, consumed: Int)
    /// A request that must be refused with `error.status`, then the connection closed.
    case error(HTTPParseError)
}

/// An incremental, strict HTTP/1.1 request parser (RFC 9112) over the caller's buffer: it never
/// copies and does not allocate on the success path.
///
/// Contract: each call gets every unconsumed byte of the connection, oldest first, i.e. a buffer
/// that starts at the same byte as on the previous call until a `.request` or `.error` is
/// returned. The parser keeps its place (the line it was in, the head fields seen so far, the
/// body framing and the last complete chunk), so a request arriving one byte at a time is still
/// scanned in linear time. After `.request` or `.error` it is ready for the next request
/// (whose buffer starts after `consumed`). Call `reset()` if the buffer's start changes any
/// other way.
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
/// - An unknown method is `.other`, not an error.
public struct HTTPRequestParser: Sendable {
    public typealias Result = HTTPParseResult

    public var limits: HTTPParserLimits
    private var state = State()

    public init(limits: HTTPParserLimits = HTTPParserLimits()) { self.limits = limits }

    /// The head of the request whose body is still arriving (after a `.needMore`), or nil.
    /// Lets the server answer `Expect: 100-continue` with `100 Continue`, or refuse a request
    /// it will not serve (then close) without waiting for a body it would discard.
    public var awaitingBody: HTTPRequestHead? { state.phase == .body ? state.head : nil }

    /// Forgets any partial request.
    public mutating func reset() { state = State() }

    private enum Phase: Sendable {
        case requestLine
        case fields
        case body
    }

    private enum Framing: Sendable {
        case none
        case length(Int)
        case chunked(ChunkedBodyScanner)
    }

    private struct State: Sendable {
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
        var bodyStart = 0
        var framing = Framing.none
    }

    /// Parses as far as `buffer` allows. See the type's documentation for the contract.
    public mutating func parse(_ buffer: UnsafeRawBufferPointer) -> HTTPParseResult {
        if buffer.count < state.scanned || buffer.count < state.bodyStart {
            state = State()  // not the buffer we were given before: start over
        }
        let result = step(buffer)
        if result != .needMore { state = State() }
        return result
    }

    private mutating func step(_ buffer: UnsafeRawBufferPointer) -> HTTPParseResult {
        while state.phase != .body {
            guard let lf = ASCII.find(ASCII.lf, in: buffer, from: state.scanned) else {
                state.scanned = buffer.count
                if let error = incompleteLineError(buffer) { return .error(error) }
                return .needMore
            }
            state.scanned = lf + 1
            if state.phase == .requestLine, let error = requestLineLengthError(buffer, end: lf) { return .error(error) }
            if lf + 1 > limits.maxHeaderSection { return .error(.headTooLarge) }
            guard lf > state.lineStart, buffer[lf - 1] == ASCII.cr else { return .error(.bad("bare LF")) }
            let line = state.lineStart..<(lf - 1)
            state.lineStart = lf + 1
            switch state.phase {
            case .requestLine:
                if line.isEmpty { continue }  // RFC 9112 §2.2: empty lines before a request
                switch parseRequestLine(buffer, line) {
                case .failure(let error): return .error(error)
                case .success(let head): state.head = head
                }
                state.phase = .fields
            case .fields:
                if line.isEmpty {
                    if let error = finishHead(bodyStart: lf + 1) { return .error(error) }
                    state.phase = .body
                } else {
                    state.fieldCount += 1
                    if state.fieldCount > limits.maxHeaderCount { return .error(.tooManyFields) }
                    if let error = processField(buffer, line) { return .error(error) }
                }
            case .body:
                break
            }
        }
        guard var head = state.head else { return .error(.bad("internal: no head")) }
        switch state.framing {
        case .none:
            return .request(head, consumed: state.bodyStart)
        case .length(let length):
            guard buffer.count - state.bodyStart >= length else { return .needMore }
            head.bodyLength = length
            return .request(head, consumed: state.bodyStart + length)
        case .chunked(var scanner):
            let scan = scanner.scan(buffer, maxBody: limits.maxBody, maxTrailers: limits.maxHeaderSection)
            state.framing = .chunked(scanner)
            switch scan {
            case .needMore: return .needMore
            case .error(let error): return .error(error)
            case .complete(let end, let length):
                head.bodyLength = length
                return .request(head, consumed: end)
            }
        }
    }

    // MARK: limits on incomplete input

    /// A line without its LF yet may already be refusable: too long, or (the request line)
    /// not starting with a method token (e.g. a TLS handshake sent to a plain-text port).
    private func incompleteLineError(_ buffer: UnsafeRawBufferPointer) -> HTTPParseError? {
        if state.phase == .requestLine {
            if let error = requestLineLengthError(buffer, end: buffer.count) { return error }
            if let error = methodPrefixError(buffer) { return error }
        }
        return buffer.count > limits.maxHeaderSection ? .headTooLarge : nil
    }

    /// Longest method we look at before deciding a request line is garbage.
    private static let methodScanLimit = 32

    private func methodPrefixError(_ buffer: UnsafeRawBufferPointer) -> HTTPParseError? {
        let start = state.lineStart
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
        guard end - state.lineStart > limits.maxRequestTarget + Self.methodScanLimit + 12 else { return nil }
        if ASCII.find(ASCII.sp, in: buffer.slice(state.lineStart..<(state.lineStart + Self.methodScanLimit + 1)), from: 0) == nil {
            return .bad("invalid method")
        }
        return .targetTooLong
    }

    // MARK: the head

    private func parseRequestLine(_ buffer: UnsafeRawBufferPointer, _ line: Range<Int>) -> Swift.Result<HTTPRequestHead, HTTPParseError> {
        // request-line = method SP request-target SP HTTP-version (single spaces, RFC 9112 §3)
        var i = line.lowerBound
        while i < line.upperBound, ASCII.isToken(buffer[i]) { i += 1 }
        guard i > line.lowerBound, i < line.upperBound, buffer[i] == ASCII.sp else {
            return .failure(.bad("invalid method"))
        }
        let method = line.lowerBound..<i
        let targetStart = i + 1
        i = targetStart
        // Visible ASCII only (RFC 3986 characters are a subset); no controls, spaces or obs-text.
        while i < line.upperBound, buffer[i] > 0x20 && buffer[i] < 0x7F { i += 1 }
        let target = targetStart..<i
        if target.count > limits.maxRequestTarget { return .failure(.targetTooLong) }
        guard !target.isEmpty, i < line.upperBound, buffer[i] == ASCII.sp else {
            return .failure(.bad("invalid request-target"))
        }
        let version = buffer.slice((i + 1)..<line.upperBound)
        guard version.count == 8, version.starts(with: "HTTP/".utf8), version[6] == UInt8(ascii: "."),
            ASCII.isDigit(version[5]), ASCII.isDigit(version[7])
        else {
            return .failure(.bad("invalid HTTP version"))
        }
        guard version[5] == UInt8(ascii: "1") else { return .failure(.versionNotSupported) }
        return .success(HTTPRequestHead(
            method: HTTPMethod(buffer.slice(method)), target: target,
            minorVersion: version[7] == UInt8(ascii: "0") ? 0 : 1))
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
            state.hosts += 1
            guard Self.isValidHost(buffer.slice(value)) else { return .bad("invalid Host") }
            state.head?.host = value
        case 5 where name.caseInsensitiveEquals("range"):
            state.head?.range = value
        case 6 where name.caseInsensitiveEquals("expect"):
            if buffer.slice(value).caseInsensitiveEquals("100-continue") { state.head?.expectsContinue = true }
        case 8 where name.caseInsensitiveEquals("if-range"):
            state.head?.ifRange = value
        case 10 where name.caseInsensitiveEquals("connection"):
            for token in CommaList(buffer, value) {
                let option = buffer.slice(token)
                if option.caseInsensitiveEquals("close") { state.connectionClose = true }
                if option.caseInsensitiveEquals("keep-alive") { state.connectionKeepAlive = true }
            }
        case 13 where name.caseInsensitiveEquals("if-none-match"):
            state.head?.ifNoneMatch = value
        case 14 where name.caseInsensitiveEquals("content-length"):
            guard let length = ASCII.decimal(buffer.slice(value)) else { return .bad("invalid Content-Length") }
            if let earlier = state.contentLength, earlier != length { return .bad("conflicting Content-Length fields") }
            state.contentLength = length
        case 17 where name.caseInsensitiveEquals("if-modified-since"):
            state.head?.ifModifiedSince = value
        case 17 where name.caseInsensitiveEquals("transfer-encoding"):
            state.sawTransferEncoding = true
            for coding in CommaList(buffer, value) {
                // A coding may carry parameters (`gzip;q=1`): only its name matters here.
                var nameEnd = coding.lowerBound
                while nameEnd < coding.upperBound, ASCII.isToken(buffer[nameEnd]) { nameEnd += 1 }
                guard nameEnd > coding.lowerBound else { return .bad("invalid transfer coding") }
                if state.lastCodingIsChunked { state.chunkedNotLast = true }
                let isChunked = nameEnd == coding.upperBound && buffer.slice(coding).caseInsensitiveEquals("chunked")
                if !isChunked { state.otherCoding = true }
                state.lastCodingIsChunked = isChunked
            }
        default:
            break
        }
        return nil
    }

    /// Checks the head as a whole once its blank line has arrived, and decides the body framing.
    private mutating func finishHead(bodyStart: Int) -> HTTPParseError? {
        guard var head = state.head else { return .bad("internal: no head") }
        if state.hosts > 1 { return .bad("duplicate Host") }
        if head.minorVersion == 1 && state.hosts == 0 { return .bad("missing Host") }
        state.bodyStart = bodyStart
        if state.sawTransferEncoding {
            // RFC 9112 §6.1 and §6.3: both fields present is how requests are smuggled past a proxy.
            if state.contentLength != nil { return .bad("Content-Length with Transfer-Encoding") }
            if head.minorVersion == 0 { return .bad("Transfer-Encoding in HTTP/1.0") }
            if !state.lastCodingIsChunked || state.chunkedNotLast { return .bad("chunked is not the final coding") }
            if state.otherCoding { return .unsupportedCoding }
            state.framing = .chunked(ChunkedBodyScanner(start: bodyStart))
        } else if let length = state.contentLength, length > 0 {
            if length > limits.maxBody { return .bodyTooLarge }
            state.framing = .length(length)
        } else {
            state.framing = .none
        }
        head.keepAlive = head.minorVersion == 1 ? !state.connectionClose : (state.connectionKeepAlive && !state.connectionClose)
        state.head = head
        return nil
    }

    /// `uri-host [ ":" port ]` (RFC 9110 §7.2), loosely: the characters of a reg-name, an IPv4
    /// address or an IP-literal, and a port. Empty is allowed (RFC 9112 §3.2).
    static func isValidHost(_ value: UnsafeRawBufferPointer) -> Bool {
        for byte in value {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"):
                continue
            case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "%"),
                UInt8(ascii: "!"), UInt8(ascii: "$"), UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "("),
                UInt8(ascii: ")"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: ","), UInt8(ascii: ";"),
                UInt8(ascii: "="), UInt8(ascii: ":"), UInt8(ascii: "["), UInt8(ascii: "]"):
                continue
            default:
                return false
            }
        }
        return true
    }
}

/// Former name of `HTTPRequestParser`.
public typealias RequestParser = HTTPRequestParser
