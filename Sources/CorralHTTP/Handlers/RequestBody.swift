import CorralRuntime

/// A request's body, streamed: `for try await chunk in request.body { … }`, or `try await
/// request.body.collect(upTo:)`.
///
/// Nothing of the body is read before the handler asks for it; then it arrives chunk by chunk
/// with back-pressure: while the handler is not asking, the connection reads no more and the
/// kernel's buffer fills, so TCP slows the client (memory stays at one read's worth). A client
/// that sent `Expect: 100-continue` is told to go on when the handler first asks. A body beyond
/// the server's limit (`HTTPParserLimits.maxBody`) throws a 413 `HTTPError`; malformed framing a
/// 400; a body stalled longer than the body timeout a 408.
///
/// Only an async handler can read a body, while it runs: a synchronous handler's request body is
/// read and discarded by the server, and iterating it throws.
public struct RequestBody: AsyncSequence, Sendable {
    public typealias Element = InboundBytes
    public typealias Failure = HTTPError

    enum Source: Sendable {
        /// No body.
        case empty
        /// The body of exchange `id` on this connection.
        case connection(HandlerReference, id: UInt64)
        /// Discarded by the server (the request went to a synchronous handler).
        case discarded
    }

    let source: Source

    public func makeAsyncIterator() -> Iterator { Iterator(source: source) }

    public struct Iterator: AsyncIteratorProtocol {
        public typealias Element = InboundBytes
        public typealias Failure = HTTPError

        let source: Source

        public nonisolated(nonsending) mutating func next() async throws(HTTPError) -> InboundBytes? {
            try await RequestBody.next(source)
        }

        /// Runs on the caller's isolation without the entry hop an `isolated` parameter costs
        /// (as `AsyncConnection.Inbound`'s iterator).
        public nonisolated(nonsending) mutating func next(isolation actor: (any Actor)?) async throws(HTTPError) -> InboundBytes? {
            try await RequestBody.next(source)
        }
    }

    nonisolated(nonsending) static func next(_ source: Source) async throws(HTTPError) -> InboundBytes? {
        switch source {
        case .empty:
            return nil
        case .discarded:
            throw HTTPError(.internalServerError, message: "a synchronous handler's request body is discarded; read it in an async handler")
        case .connection(let handler, let id):
            if handler.loop.hasFinished { throw HTTPError(.badRequest, message: "the connection closed") }
            guard handler.loop.inLoop else {
                return try await withTaskExecutorPreference(handler.loop) { () async throws(HTTPError) -> InboundBytes? in
                    try await next(source)
                }
            }
            return try await handler.value.nextBodyChunk(exchange: id)
        }
    }

    /// The whole body, if it is at most `maxBytes` (a 413 `HTTPError` otherwise).
    public nonisolated(nonsending) func collect(upTo maxBytes: Int) async throws(HTTPError) -> [UInt8] {
        var bytes: [UInt8] = []
        for try await chunk in self {
            guard bytes.count + chunk.count <= maxBytes else { throw HTTPError(.contentTooLarge) }
            chunk.withUnsafeBytes { bytes.append(contentsOf: $0) }
        }
        return bytes
    }
}
