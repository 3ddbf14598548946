/// What answers the requests of one listener on one loop: a router (routes and static files),
/// the metrics page. Called on the loop's thread, once per request head, by
/// `HTTPConnectionHandler`, which owns parsing, timeouts, bodies and writing.
protocol HTTPResponder: AnyObject {
    /// The response to a request, or nil when the request went to an async handler
    /// (`exchange.begin`). `buffer` holds the head (its ranges point into it) and is valid only
    /// during the call: a plan must own everything it refers to, and a `Request` is made by
    /// `exchange.makeRequest`, which copies what it needs.
    func respond(to head: HTTPRequestHead, in buffer: UnsafeRawBufferPointer, on exchange: HTTPConnectionHandler) -> ResponsePlan?

    /// Called by the loop's once-a-second tick (e.g. to expire idle cache entries).
    func tick(now: UInt64)
}

extension HTTPResponder {
    func tick(now: UInt64) {}
}

/// An async handler waiting for a worker task: the worker makes its `Request` and
/// `RequestContext` from the connection's head storage when it runs it (`exchangeRequest`).
/// Kept to three words on purpose: an optional aggregate of more than seven is destroyed and
/// moved through its type's value witnesses (swift 6.3), ~190 instructions per request where
/// this one costs a release.
struct PendingHandler: Sendable {
    let handler: Router.Handler
    let services: LoopServices
    /// Its request is in `TaskState.prepared` (middleware saw it), which is then read; the
    /// common case leaves that field, and its cache lines, alone.
    var prepared = false
}

/// The request of an async handler that middleware has seen (and may have changed), with its
/// context and the middleware whose `didHandle` applies to the response.
struct PreparedRequest: Sendable {
    let request: Request
    let context: RequestContext
    let middleware: ArraySlice<any Middleware>
}
