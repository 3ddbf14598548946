import CorralRuntime
import Logging

/// The static files of one mount on one loop: looks the path up in the loop's file cache and
/// applies `StaticFileResponder`'s rules. Errors that are the server's (an unexpected errno) are
/// logged; the client gets a 500.
///
/// As a responder of its own, it serves a router that is one directory at `/` (what `corral
/// serve` runs) without the routing step.
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

    func respond(to head: HTTPRequestHead, in buffer: UnsafeRawBufferPointer, on exchange: HTTPConnectionHandler) -> ResponsePlan? {
        let target = buffer.slice(head.target)
        switch RequestPath.normalise(target) {
        case .slice(let range):
            let path = target.slice(range)
            return respond(to: head, in: buffer, path: path, remainder: 0..<path.count)
        case .decoded(let bytes):
            return bytes.withUnsafeBytes { respond(to: head, in: buffer, path: $0, remainder: 0..<$0.count) }
        case .refused(.badRequest): return .error(.badRequest)
        case .refused(.notFound): return .error(.notFound)
        }
    }

    /// The response for the file at `path[remainder]` below this mount's root. `path` is the
    /// request's whole normalised path (without its leading `/`), for redirects.
    func respond(to head: HTTPRequestHead, in buffer: UnsafeRawBufferPointer, path: UnsafeRawBufferPointer,
                 remainder: Range<Int>) -> ResponsePlan {
        if let refused = StaticFileResponder.refuse(head.method) { return refused }
        let lookup: FileLookup
        let relative = path.slice(remainder)
        if relative.isEmpty && remainder.lowerBound > 0 && path[path.count - 1] != ASCII.slash {
            lookup = .directory  // the mount's own directory, named without its slash
        } else {
            let key = String(decoding: relative, as: UTF8.self)
            lookup = files.lookup(key, now: loop.now)
            if case .failure(.failed(let error)) = lookup {
                logger.error("cannot serve file", metadata: ["path": "\(key)", "error": "\(error)"])
            }
        }
        var request = StaticFileResponder.Request(method: head.method)
        request.preconditions = Preconditions.Fields(
            ifMatch: head.ifMatch.map(buffer.slice), ifUnmodifiedSince: head.ifUnmodifiedSince.map(buffer.slice),
            ifNoneMatch: head.ifNoneMatch.map(buffer.slice), ifModifiedSince: head.ifModifiedSince.map(buffer.slice))
        request.range = head.range.map(buffer.slice)
        request.ifRange = head.ifRange.map(buffer.slice)
        return StaticFileResponder.plan(request, lookup) {
            RequestPath.directoryLocation(path: String(decoding: path, as: UTF8.self), target: buffer.slice(head.target))
        }
    }
}
