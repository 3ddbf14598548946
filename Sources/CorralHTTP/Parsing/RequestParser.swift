/// An HTTP/1.1 request parser (RFC 9112), strict, over the caller's buffer: it never copies.
///
/// The caller passes every unconsumed byte of the connection, oldest first; the parser answers
/// `.needMore`, a complete request (head and framed body) with the bytes it used, or an error.
/// It remembers how far it has searched for the end of the head, so a head arriving one byte
/// at a time costs linear, not quadratic, time.
public struct RequestParser: Sendable {
    public enum Result: Equatable {
        case needMore
        case request(RequestHead, consumed: Int)
        case error(HTTPParseError)
    }

    public var limits: HTTPParserLimits
    /// Bytes already searched for the end of the head in the current buffer.
    private var searched = 0

    public init(limits: HTTPParserLimits = HTTPParserLimits()) { self.limits = limits }

    private static let cr = UInt8(ascii: "\r"), lf = UInt8(ascii: "\n"), sp = UInt8(ascii: " ")
    private static let ht = UInt8(ascii: "\t"), colon = UInt8(ascii: ":")

    public mutating func parse(_ buffer: UnsafeRawBufferPointer) -> Result {
        // Empty lines before a request line are ignored (RFC 9112 §2.2).
        var start = 0
        while start + 1 < buffer.count, buffer[start] == Self.cr, buffer[start + 1] == Self.lf { start += 2 }
        guard let headEnd = findHeadEnd(buffer, from: start) else {
            if let error = checkIncompleteHead(buffer, from: start) { return .error(error) }
            return .needMore
        }
        searched = 0
        var head: RequestHead
        var framing: BodyFraming
        switch parseHead(buffer, start: start, end: headEnd) {
        case .failure(let error): return .error(error)
        case .success(let parsed): (head, framing) = parsed
        }
        switch framing {
        case .none:
            return .request(head, consumed: headEnd)
        case .length(let length):
            guard length <= limits.maxBody else { return .error(HTTPParseError(status: 413, reason: "body too large")) }
            guard buffer.count - headEnd >= length else { return .needMore }
            head.bodyLength = length
            return .request(head, consumed: headEnd + length)
        case .chunked:
            switch ChunkedBody.scan(buffer, from: headEnd, maxBody: limits.maxBody) {
            case .needMore: return .needMore
            case .error(let error): return .error(error)
            case .complete(let end, let length):
                head.bodyLength = length
                return .request(head, consumed: end)
            }
        }
    }

    /// The offset just past the blank line ending the head, or nil.
    private mutating func findHeadEnd(_ buffer: UnsafeRawBufferPointer, from start: Int) -> Int? {
        var i = max(start, searched)
        while i + 3 < buffer.count {
            if buffer[i + 3] == Self.lf && buffer[i + 2] == Self.cr && buffer[i + 1] == Self.lf && buffer[i] == Self.cr {
                return i + 4
            }
            i += 1
        }
        searched = max(start, buffer.count - 3)
        return nil
    }

    /// A head still incomplete may already be too long to ever be accepted.
    private func checkIncompleteHead(_ buffer: UnsafeRawBufferPointer, from start: Int) -> HTTPParseError? {
        let size = buffer.count - start
        if size > limits.maxHeadSize {
            // A request line that alone exceeds the target limit is a 414, anything else a 431.
            if !buffer[start...].contains(Self.lf) && size > limits.maxRequestTarget {
                return HTTPParseError(status: 414, reason: "request-target too long")
            }
            return HTTPParseError(status: 431, reason: "request header section too large")
        }
        if let lineEnd = buffer[start...].firstIndex(of: Self.lf) {
            if lineEnd - start > limits.maxRequestTarget + 32 {
                return HTTPParseError(status: 414, reason: "request-target too long")
            }
        } else if size > limits.maxRequestTarget + 32 {
            return HTTPParseError(status: 414, reason: "request-target too long")
        }
        return nil
    }

    enum BodyFraming { case none, length(Int), chunked }

    private func parseHead(
        _ buffer: UnsafeRawBufferPointer, start: Int, end: Int
    ) -> Swift.Result<(RequestHead, BodyFraming), HTTPParseError> {
        if end - start > limits.maxHeadSize {
            return .failure(HTTPParseError(status: 431, reason: "request header section too large"))
        }
        // Every line must end in CRLF; a CR elsewhere or a bare LF is malformed (and a classic
        // smuggling vector: other parsers may split lines differently).
        var lineStart = start
        var lines: [Range<Int>] = []
        lines.reserveCapacity(16)
        var i = start
        while i < end - 2 {
            let byte = buffer[i]
            if byte == Self.cr {
                guard buffer[i + 1] == Self.lf else { return .failure(.bad("bare CR")) }
                lines.append(lineStart..<i)
                i += 2
                lineStart = i
                continue
            }
            if byte == Self.lf { return .failure(.bad("bare LF")) }
            i += 1
        }
        guard let requestLine = lines.first else { return .failure(.bad("empty request")) }
        if lines.count - 1 > limits.maxHeaderCount {
            return .failure(HTTPParseError(status: 431, reason: "too many header fields"))
        }
        var head: RequestHead
        switch parseRequestLine(buffer, requestLine) {
        case .failure(let error): return .failure(error)
        case .success(let parsed): head = parsed
        }
        var contentLength: Int?
        var chunked = false
        var sawTransferEncoding = false
        var hosts = 0
        var connectionClose = false
        var connectionKeepAlive = false
        for line in lines.dropFirst() {
            let field: HeaderField
            switch HeaderField.parse(buffer, line) {
            case .failure(let error): return .failure(error)
            case .success(let parsed): field = parsed
            }
            let name = UnsafeRawBufferPointer(rebasing: buffer[field.name])
            let value = field.value
            switch field.name.count {
            case 4 where name.caseInsensitiveEquals("host"):
                hosts += 1
            case 5 where name.caseInsensitiveEquals("range"):
                head.range = value
            case 8 where name.caseInsensitiveEquals("if-range"):
                head.ifRange = value
            case 10 where name.caseInsensitiveEquals("connection"):
                for token in CommaList(buffer, value) {
                    let t = UnsafeRawBufferPointer(rebasing: buffer[token])
                    if t.caseInsensitiveEquals("close") { connectionClose = true }
                    if t.caseInsensitiveEquals("keep-alive") { connectionKeepAlive = true }
                }
            case 13 where name.caseInsensitiveEquals("if-none-match"):
                head.ifNoneMatch = value
            case 14 where name.caseInsensitiveEquals("content-length"):
                guard let length = Self.decimal(UnsafeRawBufferPointer(rebasing: buffer[value])) else {
                    return .failure(.bad("invalid Content-Length"))
                }
                if let earlier = contentLength, earlier != length {
                    return .failure(.bad("conflicting Content-Length fields"))
                }
                contentLength = length
            case 17 where name.caseInsensitiveEquals("if-modified-since"):
                head.ifModifiedSince = value
            case 17 where name.caseInsensitiveEquals("transfer-encoding"):
                sawTransferEncoding = true
                // Only `chunked`, alone, is understood. RFC 9112 §6.1: an unknown coding is 501;
                // chunked must be the final coding, and a static server decodes no other.
                let codings = Array(CommaList(buffer, value))
                guard codings.count == 1,
                    UnsafeRawBufferPointer(rebasing: buffer[codings[0]]).caseInsensitiveEquals("chunked"), !chunked
                else {
                    return .failure(HTTPParseError(status: 501, reason: "unsupported transfer coding"))
                }
                chunked = true
            default:
                break
            }
        }
        if head.minorVersion == 1 && hosts != 1 {
            return .failure(.bad(hosts == 0 ? "missing Host" : "duplicate Host"))
        }
        if hosts > 1 { return .failure(.bad("duplicate Host")) }
        if sawTransferEncoding && contentLength != nil {
            // RFC 9112 §6.3: both present is how requests are smuggled past a proxy.
            return .failure(.bad("Content-Length with Transfer-Encoding"))
        }
        if sawTransferEncoding && head.minorVersion == 0 {
            return .failure(.bad("Transfer-Encoding in HTTP/1.0"))
        }
        head.keepAlive = head.minorVersion == 1 ? !connectionClose : (connectionKeepAlive && !connectionClose)
        let framing: BodyFraming = chunked ? .chunked : (contentLength.map { $0 > 0 ? .length($0) : .none } ?? .none)
        return .success((head, framing))
    }

    private func parseRequestLine(_ buffer: UnsafeRawBufferPointer, _ line: Range<Int>) -> Swift.Result<RequestHead, HTTPParseError> {
        guard let firstSpace = buffer[line].firstIndex(of: Self.sp) else { return .failure(.bad("malformed request line")) }
        let methodRange = line.lowerBound..<firstSpace
        guard !methodRange.isEmpty, buffer[methodRange].allSatisfy(HeaderField.isToken) else {
            return .failure(.bad("invalid method"))
        }
        guard let secondSpace = buffer[(firstSpace + 1)..<line.upperBound].firstIndex(of: Self.sp) else {
            return .failure(.bad("malformed request line"))
        }
        let target = (firstSpace + 1)..<secondSpace
        if target.count > limits.maxRequestTarget {
            return .failure(HTTPParseError(status: 414, reason: "request-target too long"))
        }
        guard !target.isEmpty, buffer[target].allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            return .failure(.bad("invalid request-target"))
        }
        let version = UnsafeRawBufferPointer(rebasing: buffer[(secondSpace + 1)..<line.upperBound])
        guard version.count == 8, version.starts(with: "HTTP/".utf8), version[6] == UInt8(ascii: "."),
            (0x30...0x39).contains(version[5]), (0x30...0x39).contains(version[7])
        else {
            return .failure(.bad("invalid HTTP version"))
        }
        guard version[5] == UInt8(ascii: "1"), version[7] <= UInt8(ascii: "1") else {
            return .failure(HTTPParseError(status: 505, reason: "HTTP version not supported"))
        }
        return .success(RequestHead(
            method: HTTPMethod(UnsafeRawBufferPointer(rebasing: buffer[methodRange])), target: target,
            minorVersion: Int(version[7] - 0x30), keepAlive: true, bodyLength: 0))
    }

    /// A non-negative decimal without sign or spaces, at most 15 digits (no overflow possible).
    static func decimal(_ digits: UnsafeRawBufferPointer) -> Int? {
        guard !digits.isEmpty, digits.count <= 15 else { return nil }
        var value = 0
        for byte in digits {
            guard byte >= 0x30 && byte <= 0x39 else { return nil }
            value = value * 10 + Int(byte - 0x30)
        }
        return value
    }
}

extension UnsafeRawBufferPointer {
    /// ASCII case-insensitive comparison with a lowercase literal.
    func caseInsensitiveEquals(_ lowercase: StaticString) -> Bool {
        guard count == lowercase.utf8CodeUnitCount else { return false }
        let other = lowercase.utf8Start
        for i in 0..<count {
            var byte = self[i]
            if byte >= 0x41 && byte <= 0x5A { byte |= 0x20 }
            if byte != other[i] { return false }
        }
        return true
    }
}
