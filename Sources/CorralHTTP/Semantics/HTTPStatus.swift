/// A response status code and its reason phrase (RFC 9110 §15), for the statuses the server emits.
public struct HTTPStatus: Sendable, Hashable, ExpressibleByIntegerLiteral, CustomStringConvertible {
    public var code: Int

    public init(_ code: Int) { self.code = code }
    public init(integerLiteral code: Int) { self.code = code }

    public static let ok: HTTPStatus = 200
    public static let noContent: HTTPStatus = 204
    public static let partialContent: HTTPStatus = 206
    public static let movedPermanently: HTTPStatus = 301
    public static let found: HTTPStatus = 302
    public static let notModified: HTTPStatus = 304
    public static let permanentRedirect: HTTPStatus = 308
    public static let continue100: HTTPStatus = 100
    public static let badRequest: HTTPStatus = 400
    public static let forbidden: HTTPStatus = 403
    public static let notFound: HTTPStatus = 404
    public static let methodNotAllowed: HTTPStatus = 405
    public static let requestTimeout: HTTPStatus = 408
    public static let preconditionFailed: HTTPStatus = 412
    public static let contentTooLarge: HTTPStatus = 413
    public static let uriTooLong: HTTPStatus = 414
    public static let rangeNotSatisfiable: HTTPStatus = 416
    public static let expectationFailed: HTTPStatus = 417
    public static let requestHeaderFieldsTooLarge: HTTPStatus = 431
    public static let internalServerError: HTTPStatus = 500
    public static let notImplemented: HTTPStatus = 501
    public static let serviceUnavailable: HTTPStatus = 503
    public static let httpVersionNotSupported: HTTPStatus = 505

    /// Every status the server can send (the ones with a reason phrase below).
    static let known: [HTTPStatus] = [
        100, 200, 204, 206, 301, 302, 304, 308, 400, 403, 404, 405, 408, 412, 413, 414, 416, 417, 431, 500, 501,
        503, 505,
    ]

    /// The RFC 9110 reason phrase; "Unknown" for codes the server never sends.
    public var reasonPhrase: String { reason.description }

    var reason: StaticString {
        switch code {
        case 100: "Continue"
        case 200: "OK"
        case 204: "No Content"
        case 206: "Partial Content"
        case 301: "Moved Permanently"
        case 302: "Found"
        case 304: "Not Modified"
        case 308: "Permanent Redirect"
        case 400: "Bad Request"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 412: "Precondition Failed"
        case 413: "Content Too Large"
        case 414: "URI Too Long"
        case 416: "Range Not Satisfiable"
        case 417: "Expectation Failed"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 503: "Service Unavailable"
        case 505: "HTTP Version Not Supported"
        default: "Unknown"
        }
    }

    /// Whether a response with this status never has a body (RFC 9110 §6.4.1).
    public var forbidsBody: Bool { code < 200 || code == 204 || code == 304 }

    /// Appends `HTTP/1.1 <code> <reason>\r\n` (always 1.1: RFC 9110 §2.5, the highest version
    /// the server supports, also to HTTP/1.0 clients).
    public func appendStatusLine(to out: inout [UInt8]) {
        out.append(contentsOf: "HTTP/1.1 ".utf8)
        ASCII.appendDecimal(code, to: &out)
        out.append(ASCII.sp)
        ASCII.append(reason, to: &out)
        out.append(ASCII.cr)
        out.append(ASCII.lf)
    }

    public var description: String { "\(code) \(reasonPhrase)" }
}
