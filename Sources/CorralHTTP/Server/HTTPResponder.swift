/// What answers the requests of one listener on one loop: static files, the metrics page.
/// Called on the loop's thread, once per request head, by `HTTPConnectionHandler`, which owns
/// parsing, timeouts, bodies and writing.
protocol HTTPResponder: AnyObject {
    /// The response to a request. `buffer` holds the head (its ranges point into it) and is
    /// valid only during the call: the plan must own everything it refers to. A body, if the
    /// request has one, is discarded by the caller.
    func respond(to head: HTTPRequestHead, in buffer: UnsafeRawBufferPointer) -> ResponsePlan

    /// Called by the loop's once-a-second tick (e.g. to expire idle cache entries).
    func tick(now: UInt64)
}

extension HTTPResponder {
    func tick(now: UInt64) {}
}
