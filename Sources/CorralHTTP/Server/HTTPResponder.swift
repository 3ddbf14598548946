/// What answers the requests of one listener on one loop: a router (routes and static files),
/// the metrics page. Called on the loop's thread, once per request head, by
/// `HTTPConnectionHandler`, which owns parsing, timeouts, bodies and writing.
protocol HTTPResponder: AnyObject {
    /// The answer to a request. `buffer` holds the head (its ranges point into it) and is valid
    /// only during the call: a plan must own everything it refers to, and a `Request` is made by
    /// `exchange.makeRequest`, which copies what it needs.
    func respond(to head: HTTPRequestHead, in buffer: UnsafeRawBufferPointer, on exchange: HTTPConnectionHandler) -> Answer

    /// Called by the loop's once-a-second tick (e.g. to expire idle cache entries).
    func tick(now: UInt64)
}

extension HTTPResponder {
    func tick(now: UInt64) {}
}

/// A responder's answer.
enum Answer {
    /// The response, decided now.
    case plan(ResponsePlan)
    /// An async handler to run in the connection's task (with the middleware whose `didHandle`
    /// applies to its response).
    case handler(PendingHandler)
}

/// An async handler with its request, waiting for the connection's task.
struct PendingHandler: Sendable {
    let handler: Router.Handler
    let request: Request
    let context: RequestContext
    let middleware: ArraySlice<any Middleware>
}
