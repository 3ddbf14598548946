import CorralRuntime
import Logging

/// The static-file responder of one loop: resolves the request path, looks it up in the loop's
/// file cache, and applies `StaticFileResponder`'s rules. Errors that are the server's (an
/// unexpected errno) are logged; the client gets a 500.
final class StaticFiles: HTTPResponder {
    let files: FileStore
    private let loop: EventLoop
    private let logger: Logger

    init(loop: EventLoop, files: FileStore, logger: Logger) {
        self.loop = loop
        self.files = files
        self.logger = logger
    }

    func tick(now: UInt64) { files.expireIdle(now: now) }

    func respond(to head: HTTPRequestHead, in buffer: UnsafeRawBufferPointer) -> ResponsePlan {
        if let refused = StaticFileResponder.refuse(head.method) { return refused }
        let target = buffer.slice(head.target)
        let path: String
        switch RequestPath.resolve(target) {
        case .success(let resolved): path = resolved
        case .failure(.badRequest): return .error(.badRequest)
        case .failure(.notFound): return .error(.notFound)
        }
        let lookup = files.lookup(path, now: loop.now)
        if case .failure(.failed(let error)) = lookup {
            logger.error("cannot serve file", metadata: ["path": "\(path)", "error": "\(error)"])
        }
        var request = StaticFileResponder.Request(method: head.method)
        request.preconditions = Preconditions.Fields(
            ifMatch: head.ifMatch.map(buffer.slice), ifUnmodifiedSince: head.ifUnmodifiedSince.map(buffer.slice),
            ifNoneMatch: head.ifNoneMatch.map(buffer.slice), ifModifiedSince: head.ifModifiedSince.map(buffer.slice))
        request.range = head.range.map(buffer.slice)
        request.ifRange = head.ifRange.map(buffer.slice)
        return StaticFileResponder.plan(request, lookup) { RequestPath.directoryLocation(path: path, target: target) }
    }
}
