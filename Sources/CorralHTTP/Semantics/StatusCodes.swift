import HTTPTypes

extension HTTPResponse.Status {
    /// The status for `code` with its RFC 9110 reason phrase, taken from swift-http-types' named
    /// statuses (the one table of reason phrases); a code it does not name gets an empty phrase.
    static func standard(_ code: Int) -> HTTPResponse.Status {
        switch code {
        case 100: .continue
        case 101: .switchingProtocols
        case 103: .earlyHints
        case 200: .ok
        case 201: .created
        case 202: .accepted
        case 203: .nonAuthoritativeInformation
        case 204: .noContent
        case 205: .resetContent
        case 206: .partialContent
        case 300: .multipleChoices
        case 301: .movedPermanently
        case 302: .found
        case 303: .seeOther
        case 304: .notModified
        case 307: .temporaryRedirect
        case 308: .permanentRedirect
        case 400: .badRequest
        case 401: .unauthorized
        case 403: .forbidden
        case 404: .notFound
        case 405: .methodNotAllowed
        case 406: .notAcceptable
        case 407: .proxyAuthenticationRequired
        case 408: .requestTimeout
        case 409: .conflict
        case 410: .gone
        case 411: .lengthRequired
        case 412: .preconditionFailed
        case 413: .contentTooLarge
        case 414: .uriTooLong
        case 415: .unsupportedMediaType
        case 416: .rangeNotSatisfiable
        case 417: .expectationFailed
        case 421: .misdirectedRequest
        case 422: .unprocessableContent
        case 425: .tooEarly
        case 426: .upgradeRequired
        case 428: .preconditionRequired
        case 429: .tooManyRequests
        case 431: .requestHeaderFieldsTooLarge
        case 451: .unavailableForLegalReasons
        case 500: .internalServerError
        case 501: .notImplemented
        case 502: .badGateway
        case 503: .serviceUnavailable
        case 504: .gatewayTimeout
        case 505: .httpVersionNotSupported
        case 511: .networkAuthenticationRequired
        default: HTTPResponse.Status(code: code)
        }
    }

    /// Whether a response with this status never has content (RFC 9110 §6.4.1, §15.3.5, §15.4.5).
    var forbidsBody: Bool { Self.forbidsBody(code) }

    static func forbidsBody(_ code: Int) -> Bool { code < 200 || code == 204 || code == 304 }

    /// The reason phrase a status line carries: this status's own, or the standard one when it
    /// has none (an integer-literal status such as `404`).
    var renderedReason: String { reasonPhrase.isEmpty ? Self.standard(code).reasonPhrase : reasonPhrase }

    /// `HTTP/1.1 <code> <reason>\r\n`: always 1.1, the highest version the server supports (RFC
    /// 9110 §2.5), also to HTTP/1.0 clients. A code outside 100…999 is not a status (a bug): 500.
    func appendStatusLine(to out: inout [UInt8]) {
        let code = (100...999).contains(self.code) ? self.code : 500
        ASCII.append("HTTP/1.1 ", to: &out)
        ASCII.appendDecimal(code, to: &out)
        out.append(ASCII.sp)
        out.append(contentsOf: (code == self.code ? renderedReason : "Internal Server Error").utf8)
        out.append(ASCII.cr)
        out.append(ASCII.lf)
    }
}
