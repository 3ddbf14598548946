/// The request methods the server tells apart. Anything else that is a valid token is `.other`
/// (answered 501); GET and HEAD are served, the rest get 405 with `Allow`.
public enum HTTPMethod: Sendable, Equatable {
    case get, head, post, put, delete, options, trace, connect, patch, other

    init(_ token: UnsafeRawBufferPointer) {
        switch token.count {
        case 3: self = token.elementsEqual("GET".utf8) ? .get : token.elementsEqual("PUT".utf8) ? .put : .other
        case 4: self = token.elementsEqual("HEAD".utf8) ? .head : token.elementsEqual("POST".utf8) ? .post : .other
        case 5: self = token.elementsEqual("TRACE".utf8) ? .trace : token.elementsEqual("PATCH".utf8) ? .patch : .other
        case 6: self = token.elementsEqual("DELETE".utf8) ? .delete : .other
        case 7:
            self = token.elementsEqual("OPTIONS".utf8) ? .options : token.elementsEqual("CONNECT".utf8) ? .connect : .other
        default: self = .other
        }
    }
}

/// A parsed request head. Field values are offsets into the buffer the parser was given, so
/// nothing is copied; they are valid only while that buffer is.
public struct RequestHead: Sendable, Equatable {
    public var method: HTTPMethod
    /// The request-target, e.g. `/index.html?x=1`.
    public var target: Range<Int>
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    public var minorVersion: Int
    /// Whether the connection stays open after the response (RFC 9112 §9.3: 1.1 unless
    /// `Connection: close`; 1.0 only with `Connection: keep-alive`).
    public var keepAlive: Bool
    public var ifNoneMatch: Range<Int>?
    public var ifModifiedSince: Range<Int>?
    public var range: Range<Int>?
    public var ifRange: Range<Int>?
    /// Bytes of body that followed the head (read and discarded by a static server).
    public var bodyLength: Int
}

/// Why a request was rejected, as the status to answer. Every one of these ends the
/// connection: after a framing error the server cannot know where the next request starts.
public struct HTTPParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: Int
    public var reason: String

    static func bad(_ reason: String) -> HTTPParseError { HTTPParseError(status: 400, reason: reason) }

    public var description: String { "\(status) \(reason)" }
}

/// Limits on what a request may make the server buffer. Each has the status RFC 9110 gives it.
public struct HTTPParserLimits: Sendable {
    /// Longest request-target (414 beyond).
    public var maxRequestTarget = 8 * 1024
    /// Longest head, request line included (431 beyond).
    public var maxHeadSize = 16 * 1024
    /// Most header fields (431 beyond).
    public var maxHeaderCount = 100
    /// Largest body (413 beyond); a static server reads bodies only to skip them.
    public var maxBody = 64 * 1024

    public init() {}
}
