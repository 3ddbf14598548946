/// How a request's body is delimited (RFC 9112 §6.3).
@_spi(Internals)
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
///
/// Stored compactly (32-bit offsets: a head is at most `HTTPParserLimits.maxHeaderSection`
/// bytes), because the head is built and handed along once per request.
@_spi(Internals)
public struct HTTPRequestHead: Sendable, Equatable {
    public var method: HTTPMethod
    /// 0 for HTTP/1.0, 1 for HTTP/1.1 (and for HTTP/1.x with x > 1, RFC 9110 §2.5).
    public var minorVersion: Int {
        get { Int(storedMinorVersion) }
        set { storedMinorVersion = UInt8(clamping: newValue) }
    }
    /// Whether the connection stays open after the response (RFC 9112 §9.3): HTTP/1.1 unless
    /// `Connection` lists `close`; HTTP/1.0 only if it lists `keep-alive` (and not `close`).
    public var keepAlive: Bool
    /// The request carries `Expect: 100-continue` (RFC 9110 §10.1.1): its client may wait for a
    /// `100 Continue` before sending the body.
    public var expectsContinue: Bool
    /// Whether a body follows the head, and how it ends.
    public var framing: HTTPBodyFraming
    private var storedMinorVersion: UInt8
    private var fields = StoredRanges()

    /// Where each field's value is; an absent field is `.none`.
    private struct StoredRanges: Sendable, Equatable {
        var target = StoredRange.none
        var host = StoredRange.none
        var ifMatch = StoredRange.none
        var ifNoneMatch = StoredRange.none
        var ifModifiedSince = StoredRange.none
        var ifUnmodifiedSince = StoredRange.none
        var range = StoredRange.none
        var ifRange = StoredRange.none
        var referer = StoredRange.none
        var userAgent = StoredRange.none
    }

    /// An optional `Range<Int>` in 8 bytes (a `Range<Int>?` takes 17).
    private struct StoredRange: Sendable, Equatable {
        var lower: UInt32
        var upper: UInt32
        static let none = StoredRange(lower: .max, upper: .max)

        init(lower: UInt32, upper: UInt32) {
            self.lower = lower
            self.upper = upper
        }

        init(_ range: Range<Int>?) {
            guard let range else {
                self = .none
                return
            }
            self.init(lower: UInt32(truncatingIfNeeded: range.lowerBound), upper: UInt32(truncatingIfNeeded: range.upperBound))
        }

        var value: Range<Int>? { lower == .max ? nil : Int(lower)..<Int(upper) }
    }

    /// The request-target as sent, e.g. `/index.html?x=1` (resolve it with `RequestPath`).
    public var target: Range<Int> {
        get { fields.target.value ?? 0..<0 }
        set { fields.target = StoredRange(newValue) }
    }
    /// The Host field's value (possibly empty). Always present for HTTP/1.1 (else 400).
    public var host: Range<Int>? {
        get { fields.host.value }
        set { fields.host = StoredRange(newValue) }
    }
    public var ifMatch: Range<Int>? {
        get { fields.ifMatch.value }
        set { fields.ifMatch = StoredRange(newValue) }
    }
    public var ifNoneMatch: Range<Int>? {
        get { fields.ifNoneMatch.value }
        set { fields.ifNoneMatch = StoredRange(newValue) }
    }
    /// If-Modified-Since and If-Unmodified-Since. A field sent twice is reported as an empty
    /// range, which no date parser accepts: such a field must be ignored (RFC 9110 §13.1.3).
    public var ifModifiedSince: Range<Int>? {
        get { fields.ifModifiedSince.value }
        set { fields.ifModifiedSince = StoredRange(newValue) }
    }
    public var ifUnmodifiedSince: Range<Int>? {
        get { fields.ifUnmodifiedSince.value }
        set { fields.ifUnmodifiedSince = StoredRange(newValue) }
    }
    public var range: Range<Int>? {
        get { fields.range.value }
        set { fields.range = StoredRange(newValue) }
    }
    public var ifRange: Range<Int>? {
        get { fields.ifRange.value }
        set { fields.ifRange = StoredRange(newValue) }
    }
    /// Referer and User-Agent, for the access log.
    public var referer: Range<Int>? {
        get { fields.referer.value }
        set { fields.referer = StoredRange(newValue) }
    }
    public var userAgent: Range<Int>? {
        get { fields.userAgent.value }
        set { fields.userAgent = StoredRange(newValue) }
    }

    public init(method: HTTPMethod, target: Range<Int>, minorVersion: Int, keepAlive: Bool = true,
                framing: HTTPBodyFraming = .none, host: Range<Int>? = nil, ifMatch: Range<Int>? = nil,
                ifNoneMatch: Range<Int>? = nil, ifModifiedSince: Range<Int>? = nil,
                ifUnmodifiedSince: Range<Int>? = nil, range: Range<Int>? = nil, ifRange: Range<Int>? = nil,
                referer: Range<Int>? = nil, userAgent: Range<Int>? = nil, expectsContinue: Bool = false) {
        self.method = method
        self.storedMinorVersion = UInt8(clamping: minorVersion)
        self.keepAlive = keepAlive
        self.expectsContinue = expectsContinue
        self.framing = framing
        self.target = target
        self.host = host
        self.ifMatch = ifMatch
        self.ifNoneMatch = ifNoneMatch
        self.ifModifiedSince = ifModifiedSince
        self.ifUnmodifiedSince = ifUnmodifiedSince
        self.range = range
        self.ifRange = ifRange
        self.referer = referer
        self.userAgent = userAgent
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
