import CorralRuntime

/// The response to one request, decided before any of it is written: status, header fields
/// and body. Responders (static files, metrics) return plans; `HTTPConnectionHandler` writes
/// them, adding what depends on the connection (Date, Connection) and leaving the body out for
/// HEAD. Plans own what they refer to, so one can wait for a request body to be discarded.
struct ResponsePlan {
    enum Body {
        case none
        /// Copied into the write queue.
        case bytes([UInt8])
        /// Part of a shared chunk (a cached file), copied when small, referenced when large.
        case chunk(ByteChunk, Range<Int>)
        /// Part of an open file, sent with sendfile(2).
        case file(OpenFile, offset: Int, count: Int)

        var count: Int {
            switch self {
            case .none: 0
            case .bytes(let bytes): bytes.count
            case .chunk(_, let range): range.count
            case .file(_, _, let count): count
            }
        }
    }

    var status: HTTPStatus
    /// Header fields after Date, each line ending in CRLF, without Connection.
    var fields: [UInt8]
    var body: Body
    /// The connection closes after this response (whatever the request asked).
    var close = false

    init(status: HTTPStatus, fields: [UInt8], body: Body = .none, close: Bool = false) {
        self.status = status
        self.fields = fields
        self.body = body
        self.close = close
    }

    /// A short `text/plain` page naming the status (`404 Not Found`), with `extraFields`
    /// (e.g. `Allow`, `Retry-After`, `Location`) after Content-Length.
    static func error(_ status: HTTPStatus, extraFields: [UInt8] = [], close: Bool = false) -> ResponsePlan {
        let page = ErrorPages.page(status)
        return ResponsePlan(
            status: status, fields: extraFields.isEmpty ? page.fields : page.fields + extraFields,
            body: .bytes(page.body), close: close)
    }
}

/// The fixed byte strings of response heads, rendered once.
enum ResponseBytes {
    static let serverAndDate = Array("Server: corral\r\nDate: ".utf8)
    static let crlf = Array("\r\n".utf8)
    static let connectionClose = Array("Connection: close\r\n".utf8)
    static let connectionKeepAlive = Array("Connection: keep-alive\r\n".utf8)
    static let continue100 = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)

    private static let ok = statusLineBytes(.ok)
    private static let rendered: [Int: [UInt8]] = Dictionary(
        uniqueKeysWithValues: HTTPStatus.known.map { ($0.code, statusLineBytes($0)) })

    /// `HTTP/1.1 <code> <reason>\r\n`.
    static func statusLine(_ status: HTTPStatus) -> [UInt8] {
        if status == .ok { return ok }
        return rendered[status.code] ?? statusLineBytes(status)
    }

    private static func statusLineBytes(_ status: HTTPStatus) -> [UInt8] {
        var out: [UInt8] = []
        status.appendStatusLine(to: &out)
        return out
    }
}

/// The error pages: `<code> <reason>\n` as text/plain, with fields rendered once per status.
enum ErrorPages {
    struct Page {
        let fields: [UInt8]
        let body: [UInt8]
    }

    private static let pages: [Int: Page] = Dictionary(
        uniqueKeysWithValues: HTTPStatus.known.map { ($0.code, render($0)) })

    static func page(_ status: HTTPStatus) -> Page { pages[status.code] ?? render(status) }

    private static func render(_ status: HTTPStatus) -> Page {
        let body = Array("\(status.code) \(status.reasonPhrase)\n".utf8)
        let fields = Array("Content-Type: text/plain; charset=utf-8\r\nContent-Length: \(body.count)\r\n".utf8)
        return Page(fields: fields, body: body)
    }
}
