import CorralRuntime

/// The response to one request, decided before any of it is written: status, header fields and
/// body. Responders (static files, metrics, routes) return plans; `HTTPConnectionHandler` writes
/// them, adding what depends on the connection (Date, Connection) and leaving the body out for
/// HEAD. Plans own what they refer to, so one can wait for a request body to be discarded.
///
/// Fields come two ways: pre-rendered lines (`fields`: the static path's heads, rendered once per
/// file, and the error pages), or a handler's `HTTPFields` (`headerFields`), rendered when sent;
/// for the latter (`framed`) the server adds Content-Length or Transfer-Encoding itself.
struct ResponsePlan {
    enum Body {
        case none
        /// Copied into the write queue.
        case bytes([UInt8])
        /// The string's UTF-8 bytes, copied into the write queue.
        case string(String)
        /// Part of a shared chunk (a cached file), copied when small, referenced when large.
        case chunk(ByteChunk, Range<Int>)
        /// Part of an open file, sent with sendfile(2).
        case file(OpenFile, offset: Int, count: Int)
        /// Written by a handler after the head (in the connection's task).
        case stream(length: Int?, ResponseBody.Stream)

        /// The length, or nil for a stream of unknown length.
        var count: Int? {
            switch self {
            case .none: 0
            case .bytes(let bytes): bytes.count
            case .string(let string): string.utf8.count
            case .chunk(_, let range): range.count
            case .file(_, _, let count): count
            case .stream(let length, _): length
            }
        }

        init(_ body: ResponseBody) {
            switch body.content {
            case .empty: self = .none
            case .bytes(let bytes): self = .bytes(bytes)
            case .string(let string): self = .string(string)
            case .chunk(let chunk, let range): self = .chunk(chunk, range)
            case .file(let file, let offset, let count): self = .file(file, offset: offset, count: count)
            case .stream(let length, let write): self = .stream(length: length, write)
            }
        }
    }

    var status: HTTPResponse.Status
    /// Pre-rendered header fields, each line ending in CRLF (framing included), after Date.
    var fields: [UInt8]
    /// A handler's fields, rendered after `fields` when the response is sent.
    var headerFields: HTTPFields
    var body: Body
    /// The server adds the framing (Content-Length or Transfer-Encoding) from the body.
    var framed: Bool
    /// The connection closes after this response (whatever the request asked).
    var close = false

    init(status: HTTPResponse.Status, fields: [UInt8], body: Body = .none, close: Bool = false) {
        self.status = status
        self.fields = fields
        self.headerFields = HTTPFields()
        self.body = body
        self.framed = false
        self.close = close
    }

    /// A handler's response.
    init(_ response: Response) {
        status = response.status
        fields = []
        headerFields = response.headerFields
        body = Body(response.body)
        framed = true
    }

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
        var response = Response(status: status, headerFields: headerFields)
        if !fields.isEmpty {
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
            parsed.append(contentsOf: headerFields)
            response.headerFields = parsed
        }
        switch body {
        case .none: response.body = ResponseBody()
        case .bytes(let bytes): response.body = ResponseBody(bytes: bytes)
        case .string(let string): response.body = ResponseBody(string: string)
        case .chunk(let chunk, let range): response.body = ResponseBody(content: .chunk(chunk, range))
        case .file(let file, let offset, let count): response.body = ResponseBody(file: file, offset: offset, count: count)
        case .stream(let length, let write): response.body = ResponseBody.stream(length: length, write)
        }
        return response
    }
}

/// The fixed byte strings of response heads, rendered once.
enum ResponseBytes {
    static let serverAndDate = Array("Server: corral\r\nDate: ".utf8)
    static let crlf = Array("\r\n".utf8)
    static let connectionClose = Array("Connection: close\r\n".utf8)
    static let connectionKeepAlive = Array("Connection: keep-alive\r\n".utf8)
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
