import CorralRuntime

/// A response of the server's own, decided before any of it is written: the static path's
/// (its fields pre-rendered once per file), the error pages, the metrics page. Responders return
/// plans; `HTTPConnectionHandler` writes them, adding what depends on the connection (Date,
/// Connection) and leaving the body out for HEAD. Plans own what they refer to, so one can wait
/// for a request body to be discarded. A handler's `Response` takes its own way to the same
/// head renderer.
///
/// Kept small on purpose (a status code, one array, a body of one reference): it is built,
/// returned and written once per request, and a larger struct is copied through value
/// witnesses instead of registers (measured: about 5 % more instructions per request).
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

    /// The status code (its reason phrase is the standard one).
    var code: Int
    /// Header fields after Date, each line ending in CRLF, framing included, without Connection.
    var fields: [UInt8]
    var body: Body
    /// The connection closes after this response (whatever the request asked).
    var close = false

    init(status: HTTPResponse.Status, fields: [UInt8], body: Body = .none, close: Bool = false) {
        self.code = status.code
        self.fields = fields
        self.body = body
        self.close = close
    }

    var status: HTTPResponse.Status { .standard(code) }

    /// A short `text/plain` page naming the status (`404 Not Found`), with `extraFields`
    /// (e.g. `Allow`, `Retry-After`, `Location`) after Content-Length.
    static func error(_ status: HTTPResponse.Status, extraFields: [UInt8] = [], close: Bool = false) -> ResponsePlan {
        let page = ErrorPages.page(status)
        return ResponsePlan(
            status: status, fields: extraFields.isEmpty ? page.fields : page.fields + extraFields,
            body: .bytes(page.body), close: close)
    }

    /// The plan as a `Response` (for middleware on static files): pre-rendered lines become
    /// fields again, except the framing, which the server adds anew.
    var response: Response {
        var parsed = HTTPFields()
        fields.withUnsafeBytes { buffer in
            var lineStart = 0
            while let lf = ASCII.find(ASCII.lf, in: buffer, from: lineStart), lf > lineStart {
                if case .success(let field) = HeaderField.parse(buffer, lineStart..<(lf - 1)),
                    let name = HTTPField.Name(String(decoding: buffer.slice(field.name), as: UTF8.self)),
                    name != .contentLength
                {
                    parsed.append(HTTPField(name: name, lenientValue: buffer.slice(field.value)))
                }
                lineStart = lf + 1
            }
        }
        let content: ResponseBody.Content
        switch body {
        case .none: content = .empty
        case .bytes(let bytes): content = .bytes(bytes)
        case .chunk(let chunk, let range): content = .chunk(chunk, range)
        case .file(let file, let offset, let count): content = .file(file, offset: offset, count: count)
        }
        return Response(status: status, headerFields: parsed, body: ResponseBody(content: content))
    }
}

/// Fixed byte strings written as they are (the head renderer appends its own as static strings).
enum ResponseBytes {
    static let crlf = Array("\r\n".utf8)
    static let continue100 = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)
    /// The last chunk of a chunked body, with an empty trailer section.
    static let lastChunk = Array("0\r\n\r\n".utf8)
}

/// The error pages: `<code> <reason>\n` as text/plain, with fields rendered once per status.
enum ErrorPages {
    struct Page {
        let fields: [UInt8]
        let body: [UInt8]
    }

    /// The statuses the server itself answers with, rendered at first use.
    private static let pages: [Int: Page] = Dictionary(
        uniqueKeysWithValues: [400, 403, 404, 405, 408, 412, 413, 414, 416, 417, 431, 500, 501, 503, 505, 301]
            .map { ($0, render(.standard($0))) })

    static func page(_ status: HTTPResponse.Status) -> Page { pages[status.code] ?? render(status) }

    private static func render(_ status: HTTPResponse.Status) -> Page {
        let body = Array("\(status.code) \(status.renderedReason)\n".utf8)
        let fields = Array("Content-Type: text/plain; charset=utf-8\r\nContent-Length: \(body.count)\r\n".utf8)
        return Page(fields: fields, body: body)
    }
}
