/// Why a request was rejected, as the status to answer it with.
///
/// Every parse error ends the connection (`closesConnection` is always true): after a syntax
/// or framing error the server cannot know where the next request starts, and guessing is how
/// requests get smuggled. Send the error response with `Connection: close`, then close.
@_spi(Internals)
public struct HTTPParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// 400, 413, 414, 431, 501 or 505.
    public var status: Int
    /// A short, static explanation (for logs and tests; not sent to the client).
    public var reason: String
    /// The request's method, when its request line was read before the error: the response
    /// to a HEAD request has no content, whatever its status (RFC 9110 §9.3.2).
    public var method: HTTPMethod?

    public init(status: Int, reason: String, method: HTTPMethod? = nil) {
        self.status = status
        self.reason = reason
        self.method = method
    }

    /// Whether the connection must be closed after answering. Always true for parse errors.
    public var closesConnection: Bool { true }

    public var description: String { "\(status) \(reason)" }

    /// 400 Bad Request: malformed syntax or framing.
    static func bad(_ reason: String) -> HTTPParseError { HTTPParseError(status: 400, reason: reason) }
    static let targetTooLong = HTTPParseError(status: 414, reason: "request-target too long")
    static let headTooLarge = HTTPParseError(status: 431, reason: "request header section too large")
    static let tooManyFields = HTTPParseError(status: 431, reason: "too many header fields")
    static let trailersTooLarge = HTTPParseError(status: 431, reason: "trailer section too large")
    static let bodyTooLarge = HTTPParseError(status: 413, reason: "body too large")
    static let versionNotSupported = HTTPParseError(status: 505, reason: "HTTP version not supported")
    static let unsupportedCoding = HTTPParseError(status: 501, reason: "unsupported transfer coding")
}
