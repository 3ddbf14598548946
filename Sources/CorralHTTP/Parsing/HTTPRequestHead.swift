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
    /// The Host field's value (possibly empty). Always present for HTTP/1.1 (else 400).
    public var host: Range<Int>?
    public var ifNoneMatch: Range<Int>?
    public var ifModifiedSince: Range<Int>?
    public var range: Range<Int>?
    public var ifRange: Range<Int>?
    /// The request carries `Expect: 100-continue` (RFC 9110 §10.1.1): its client may wait for a
    /// `100 Continue` (see `HTTPRequestParser.awaitingBody`) before sending the body.
    public var expectsContinue: Bool
    /// Length of the decoded body that followed the head (read and discarded by a static
    /// server): the Content-Length, or the sum of the chunk sizes.
    public var bodyLength: Int

    public init(method: HTTPMethod, target: Range<Int>, minorVersion: Int, keepAlive: Bool = true,
                host: Range<Int>? = nil, ifNoneMatch: Range<Int>? = nil, ifModifiedSince: Range<Int>? = nil,
                range: Range<Int>? = nil, ifRange: Range<Int>? = nil, expectsContinue: Bool = false,
                bodyLength: Int = 0) {
        self.method = method
        self.target = target
        self.minorVersion = minorVersion
        self.keepAlive = keepAlive
        self.host = host
        self.ifNoneMatch = ifNoneMatch
        self.ifModifiedSince = ifModifiedSince
        self.range = range
        self.ifRange = ifRange
        self.expectsContinue = expectsContinue
        self.bodyLength = bodyLength
    }

    /// True for HTTP/1.0 requests (whose keep-alive responses need `Connection: keep-alive`).
    public var isHTTP10: Bool { minorVersion == 0 }

    /// The bytes at `range` of `buffer` (the buffer this head was parsed from), not copied.
    public static func bytes(_ range: Range<Int>, in buffer: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: buffer[range])
    }

    /// The bytes at `range` as a String (copies; for logs and tests, not the hot path).
    public static func string(_ range: Range<Int>, in buffer: UnsafeRawBufferPointer) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: buffer[range]), as: UTF8.self)
    }
}

/// Former name of `HTTPRequestHead`.
public typealias RequestHead = HTTPRequestHead
