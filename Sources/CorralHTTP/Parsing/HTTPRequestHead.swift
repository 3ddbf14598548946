/// How a request's body is delimited (RFC 9112 §6.3).
public enum HTTPBodyFraming: Sendable, Equatable {
    /// No body.
    case none
    /// Exactly this many bytes (a positive Content-Length).
    case length(Int)
    /// Transfer-Encoding: chunked, ending with a zero-size chunk and the trailer section.
    case chunked
}

/// A parsed request head. Ranges are offsets into the buffer the parser was given (the one
/// that produced this head), so nothing is copied; they are valid only while that buffer is.
/// Read them with `bytes(_:in:)` or `string(_:in:)`.
public struct HTTPRequestHead: Sendable, Equatable {
    public var method: HTTPMethod
    /// The request-target as sent, e.g. `/index.html?x=1` (resolve it with `RequestPath`).
    public var target: Range<Int>
    /// 0 for HTTP/1.0, 1 for HTTP/1.1 (and for HTTP/1.x with x > 1, RFC 9110 §2.5).
    public var minorVersion: Int
    /// Whether the connection stays open after the response (RFC 9112 §9.3): HTTP/1.1 unless
    /// `Connection` lists `close`; HTTP/1.0 only if it lists `keep-alive` (and not `close`).
    public var keepAlive: Bool
    /// Whether a body follows the head, and how it ends.
    public var framing: HTTPBodyFraming
    /// The Host field's value (possibly empty). Always present for HTTP/1.1 (else 400).
    public var host: Range<Int>?
    public var ifMatch: Range<Int>?
    public var ifNoneMatch: Range<Int>?
    /// If-Modified-Since and If-Unmodified-Since. A field sent twice is reported as an empty
    /// range, which no date parser accepts: such a field must be ignored (RFC 9110 §13.1.3).
    public var ifModifiedSince: Range<Int>?
    public var ifUnmodifiedSince: Range<Int>?
    public var range: Range<Int>?
    public var ifRange: Range<Int>?
    /// Referer and User-Agent, for the access log.
    public var referer: Range<Int>?
    public var userAgent: Range<Int>?
    /// The request carries `Expect: 100-continue` (RFC 9110 §10.1.1): its client may wait for a
    /// `100 Continue` before sending the body.
    public var expectsContinue: Bool

    public init(method: HTTPMethod, target: Range<Int>, minorVersion: Int, keepAlive: Bool = true,
                framing: HTTPBodyFraming = .none, host: Range<Int>? = nil, ifMatch: Range<Int>? = nil,
                ifNoneMatch: Range<Int>? = nil, ifModifiedSince: Range<Int>? = nil,
                ifUnmodifiedSince: Range<Int>? = nil, range: Range<Int>? = nil, ifRange: Range<Int>? = nil,
                referer: Range<Int>? = nil, userAgent: Range<Int>? = nil, expectsContinue: Bool = false) {
        self.method = method
        self.target = target
        self.minorVersion = minorVersion
        self.keepAlive = keepAlive
        self.framing = framing
        self.host = host
        self.ifMatch = ifMatch
        self.ifNoneMatch = ifNoneMatch
        self.ifModifiedSince = ifModifiedSince
        self.ifUnmodifiedSince = ifUnmodifiedSince
        self.range = range
        self.ifRange = ifRange
        self.referer = referer
        self.userAgent = userAgent
        self.expectsContinue = expectsContinue
    }

    /// True for HTTP/1.0 requests (whose keep-alive responses need `Connection: keep-alive`).
    public var isHTTP10: Bool { minorVersion == 0 }

    /// Whether a body follows the head.
    public var hasBody: Bool { framing != .none }

    /// Whether the client waits for `100 Continue` before sending the body it announced (an
    /// HTTP/1.0 client's expectation is ignored, RFC 9110 §10.1.1).
    public var awaitsContinue: Bool { expectsContinue && minorVersion == 1 && hasBody }

    /// The bytes at `range` of `buffer` (the buffer this head was parsed from), not copied.
    public static func bytes(_ range: Range<Int>, in buffer: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: buffer[range])
    }

    /// The bytes at `range` as a String (copies; for logs and tests, not the hot path).
    public static func string(_ range: Range<Int>, in buffer: UnsafeRawBufferPointer) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: buffer[range]), as: UTF8.self)
    }
}
