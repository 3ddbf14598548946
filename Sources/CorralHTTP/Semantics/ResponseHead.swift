/// A response head, rendered by appending bytes to a caller-supplied buffer (no intermediate
/// Strings: integers and dates are written digit by digit, strings appended as UTF-8).
///
/// Fields, in this order and only when set: status line, `Server: corral`, `Date`,
/// `Content-Type`, `Content-Length`, `Last-Modified`, `ETag`, `Accept-Ranges: bytes`,
/// `Content-Range`, `Allow`, `Connection`, then the blank line. `Connection: close` is sent when
/// the connection will close; `Connection: keep-alive` when it stays open for an HTTP/1.0
/// client (which otherwise assumes it closes); nothing for a persistent HTTP/1.1 connection.
public struct ResponseHead: Sendable {
    public enum ContentRange: Sendable, Equatable {
        /// `bytes first-last/size` (206).
        case bytes(first: Int, last: Int, size: Int)
        /// `bytes */size` (416).
        case unsatisfiable(size: Int)
    }

    public var status: HTTPStatus
    /// Whether the connection stays open after this response.
    public var keepAlive: Bool
    /// The request's minor version (0 for HTTP/1.0): decides whether keep-alive is announced.
    public var requestMinorVersion: Int
    public var contentType: String?
    public var contentLength: Int?
    /// Seconds since the epoch.
    public var lastModified: Int?
    /// With its quotes, as `ETag.make` returns it.
    public var etag: String?
    public var acceptRanges: Bool
    public var contentRange: ContentRange?
    /// E.g. `GET, HEAD` (405 responses).
    public var allow: String?

    public init(status: HTTPStatus, keepAlive: Bool = true, requestMinorVersion: Int = 1, contentType: String? = nil,
                contentLength: Int? = nil, lastModified: Int? = nil, etag: String? = nil, acceptRanges: Bool = false,
                contentRange: ContentRange? = nil, allow: String? = nil) {
        self.status = status
        self.keepAlive = keepAlive
        self.requestMinorVersion = requestMinorVersion
        self.contentType = contentType
        self.contentLength = contentLength
        self.lastModified = lastModified
        self.etag = etag
        self.acceptRanges = acceptRanges
        self.contentRange = contentRange
        self.allow = allow
    }

    /// Appends the head, with `Date` rendered from `date` (seconds since the epoch).
    public func render(into out: inout [UInt8], date: Int) {
        renderStart(into: &out)
        HTTPDate.append(date, to: &out)
        renderRest(into: &out)
    }

    /// Appends the head, with an already rendered IMF-fixdate (e.g. a per-second cache).
    public func render(into out: inout [UInt8], renderedDate: [UInt8]) {
        renderStart(into: &out)
        out.append(contentsOf: renderedDate)
        renderRest(into: &out)
    }

    private func renderStart(into out: inout [UInt8]) {
        status.appendStatusLine(to: &out)
        ASCII.append("Server: corral\r\nDate: ", to: &out)
    }

    private func renderRest(into out: inout [UInt8]) {
        ASCII.append("\r\n", to: &out)
        if let contentType {
            ASCII.append("Content-Type: ", to: &out)
            out.append(contentsOf: contentType.utf8)
            ASCII.append("\r\n", to: &out)
        }
        if let contentLength {
            ASCII.append("Content-Length: ", to: &out)
            ASCII.appendDecimal(contentLength, to: &out)
            ASCII.append("\r\n", to: &out)
        }
        if let lastModified {
            ASCII.append("Last-Modified: ", to: &out)
            HTTPDate.append(lastModified, to: &out)
            ASCII.append("\r\n", to: &out)
        }
        if let etag {
            ASCII.append("ETag: ", to: &out)
            out.append(contentsOf: etag.utf8)
            ASCII.append("\r\n", to: &out)
        }
        if acceptRanges { ASCII.append("Accept-Ranges: bytes\r\n", to: &out) }
        switch contentRange {
        case .bytes(let first, let last, let size):
            ASCII.append("Content-Range: bytes ", to: &out)
            ASCII.appendDecimal(first, to: &out)
            out.append(UInt8(ascii: "-"))
            ASCII.appendDecimal(last, to: &out)
            out.append(ASCII.slash)
            ASCII.appendDecimal(size, to: &out)
            ASCII.append("\r\n", to: &out)
        case .unsatisfiable(let size):
            ASCII.append("Content-Range: bytes */", to: &out)
            ASCII.appendDecimal(size, to: &out)
            ASCII.append("\r\n", to: &out)
        case nil:
            break
        }
        if let allow {
            ASCII.append("Allow: ", to: &out)
            out.append(contentsOf: allow.utf8)
            ASCII.append("\r\n", to: &out)
        }
        if !keepAlive {
            ASCII.append("Connection: close\r\n", to: &out)
        } else if requestMinorVersion == 0 {
            ASCII.append("Connection: keep-alive\r\n", to: &out)
        }
        ASCII.append("\r\n", to: &out)
    }
}
