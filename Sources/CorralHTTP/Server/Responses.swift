import CorralRuntime

/// Response heads, rendered into the connection's write queue without building Strings on the
/// hot path: fixed parts are static byte arrays, per-file parts are pre-rendered once.
enum Responses {
    static let serverAndDate = Array("Server: corral\r\nDate: ".utf8)
    static let crlf = Array("\r\n".utf8)
    static let connectionClose = Array("Connection: close\r\n".utf8)
    static let connectionKeepAlive = Array("Connection: keep-alive\r\n".utf8)

    static func statusLine(_ status: Int) -> [UInt8] {
        switch status {
        case 200: ok
        case 206: partial
        case 304: notModified
        default: Array("HTTP/1.1 \(status) \(reason(status))\r\n".utf8)
        }
    }

    private static let ok = Array("HTTP/1.1 200 OK\r\n".utf8)
    private static let partial = Array("HTTP/1.1 206 Partial Content\r\n".utf8)
    private static let notModified = Array("HTTP/1.1 304 Not Modified\r\n".utf8)

    static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 206: "Partial Content"
        case 304: "Not Modified"
        case 400: "Bad Request"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 413: "Content Too Large"
        case 414: "URI Too Long"
        case 416: "Range Not Satisfiable"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 503: "Service Unavailable"
        case 505: "HTTP Version Not Supported"
        default: "Status \(status)"
        }
    }
}

/// The Date header value of one loop, rendered once per second by the loop's tick.
final class DateCache {
    private(set) var bytes: [UInt8]
    private var second: Int

    init() {
        second = wallClockSeconds()
        bytes = Array(HTTPDate.format(second).utf8)
    }

    func refresh() {
        let now = wallClockSeconds()
        if now != second {
            second = now
            bytes = Array(HTTPDate.format(now).utf8)
        }
    }
}
