/// What a handler answers: a status, header fields and a body.
///
/// The server adds what belongs to the connection: the status line, `Server`, `Date`,
/// `Connection`, and the framing, `Content-Length` for a body of known length or
/// `Transfer-Encoding: chunked` for a stream; those fields are the server's, and if the handler
/// sets them they are left out. A response to HEAD, and any 1xx, 204 or 304 response, goes out
/// without its body (RFC 9110 §9.3.2, §6.4.1).
///
/// Cost: nothing here allocates for a body of bytes or a short string; an `HTTPFields` built per
/// request allocates its storage, so a handler on a hot path keeps constant fields in a `let`
/// (copying them costs a retain).
public struct Response: Sendable {
    public var status: HTTPResponse.Status
    public var headerFields: HTTPFields
    public var body: ResponseBody

    public init(status: HTTPResponse.Status = .ok, headerFields: HTTPFields = [:], body: ResponseBody = ResponseBody()) {
        self.status = status
        self.headerFields = headerFields
        self.body = body
    }

    /// The status and fields as an `HTTPResponse` (built on each read: it allocates).
    public var head: HTTPResponse {
        get { HTTPResponse(status: status, headerFields: headerFields) }
        set {
            status = newValue.status
            headerFields = newValue.headerFields
        }
    }
}
