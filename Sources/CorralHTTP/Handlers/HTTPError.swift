/// An error a handler throws to answer with a status other than 500: `throw HTTPError(.notFound)`.
/// The response carries `message` (default: `<code> <reason>`, a line of text/plain) and
/// `headerFields` (e.g. `WWW-Authenticate` for a 401). Any other error a handler throws is
/// answered 500 and logged.
///
/// Reading a request body throws it too: 413 when the body exceeds the server's limit, 400 when
/// its framing is malformed or the client went away, 408 when it stalled.
public struct HTTPError: Error, Sendable, CustomStringConvertible {
    public var status: HTTPResponse.Status
    /// The response body, as text/plain; nil: `<code> <reason>\n`.
    public var message: String?
    public var headerFields: HTTPFields

    public init(_ status: HTTPResponse.Status, message: String? = nil, headerFields: HTTPFields = [:]) {
        self.status = status
        self.message = message
        self.headerFields = headerFields
    }

    public var description: String { "\(status.code) \(message ?? status.renderedReason)" }

    /// The response this error stands for.
    public var response: Response {
        var fields = headerFields
        if fields[.contentType] == nil { fields[.contentType] = "text/plain; charset=utf-8" }
        let text = message.map { $0.hasSuffix("\n") ? $0 : $0 + "\n" } ?? "\(status.code) \(status.renderedReason)\n"
        return Response(status: status, headerFields: fields, body: ResponseBody(string: text))
    }
}
