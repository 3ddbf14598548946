/// Code that runs around every request a `Router` answers (access checks, CORS, logging,
/// compression), as two synchronous hooks on the connection's loop: one before the route's
/// handler, which may answer instead of it, and one on the response, which may change it.
/// Being synchronous, they serve synchronous and async handlers alike without a task; work that
/// must wait belongs in a handler.
///
/// Middleware added to a router runs in the order added before the handler (`willHandle`) and
/// in the reverse order after it (`didHandle`); it sees every request the router receives,
/// including the ones that end in 404 or 405, and static files.
public protocol Middleware: Sendable {
    /// Before the handler: return a response to answer with it (the handler is not called, but
    /// the `didHandle` hooks of the middleware before this one are), or nil to go on. May change
    /// the request (e.g. its fields).
    func willHandle(_ request: inout Request, context: RequestContext) throws -> Response?

    /// After the handler (or the answer of a middleware): may change the response.
    func didHandle(_ request: Request, context: RequestContext, response: inout Response) throws
}

extension Middleware {
    public func willHandle(_ request: inout Request, context: RequestContext) throws -> Response? { nil }
    public func didHandle(_ request: Request, context: RequestContext, response: inout Response) throws {}
}
