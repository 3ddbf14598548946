import CorralRuntime
import Logging

/// A `Router` on one loop: matches each request's path against the route tree, then answers
/// with the route's synchronous handler (now), its async handler (in a worker task of the loop), or
/// its static-files mount, with the router's middleware around each.
final class RouterResponder: HTTPResponder {
    private let tree: RouteNode
    private let mounts: [StaticFiles]
    private let middleware: [any Middleware]
    private let services: LoopServices
    /// Scratch for the captured segments of the request being routed (no allocation per request).
    @exclusivity(unchecked) private var captures: [Range<Int>] = []

    init(router: Router, mounts: [StaticFiles], services: LoopServices) {
        tree = RouteNode(router.definitions)
        self.mounts = mounts
        middleware = router.middleware
        self.services = services
    }

    func tick(now: UInt64) {
        for mount in mounts { mount.tick(now: now) }
    }

    func respond(to head: HTTPRequestHead, in buffer: UnsafeRawBufferPointer, on exchange: HTTPConnectionHandler) -> ResponsePlan? {
        let target = buffer.slice(head.target)
        let path = RequestPath.normalise(target)
        switch path {
        case .slice(let range): return route(head, buffer, path, target.slice(range), on: exchange)
        case .decoded(let bytes): return bytes.withUnsafeBytes { route(head, buffer, path, $0, on: exchange) }
        case .refused(.badRequest): return .error(.badRequest)
        case .refused(.notFound): return .error(.notFound)
        }
    }

    private func route(_ head: HTTPRequestHead, _ buffer: UnsafeRawBufferPointer, _ path: NormalisedPath,
                       _ pathBytes: UnsafeRawBufferPointer, on exchange: HTTPConnectionHandler) -> ResponsePlan? {
        // (An empty array's `removeAll(keepingCapacity:)` still goes through `replaceSubrange`.)
        if !captures.isEmpty { captures.removeAll(keepingCapacity: true) }
        var route: RouteInfo?
        var refusal: ResponsePlan?
        var remainder: Range<Int>?
        // The lookup switched on as it is returned, not kept in an optional and copied out of
        // it (a retain and a release of the route per request).
        if let found = tree.match(pathBytes, from: 0, captures: &captures) {
            remainder = found.1
            // The tree holds the entry (see `match`): used without a reference of our own.
            found.0._withUnsafeGuaranteedRef { entry in
                switch entry.route(for: head.method, token: { Self.methodToken(head, buffer) }) {
                case .route(let info): route = info
                case .notAllowed: refusal = .error(.methodNotAllowed, extraFields: entry.allowField)
                case .notImplemented: refusal = .error(.notImplemented)
                }
            }
        } else {
            refusal = .error(.notFound)
        }
        if middleware.isEmpty {
            guard let route else { return refusal! }
            switch route.action {
            case .files(let index):
                return mounts[index].respond(to: head, in: buffer, path: pathBytes, remainder: remainder ?? 0..<0)
            case .sync(let handler):
                let request = exchange.makeRequest(head, in: buffer, path: path, captures: captures, remainder: remainder,
                                                   route: route, async: false)
                let context = RequestContext(parameters: Parameters(storage: request.storage), services: services)
                exchange.answer(Self.run(handler, request, context), to: head, in: buffer)
                return nil
            case .async(let handler):
                // The worker makes the request from the head storage (`exchangeRequest`).
                exchange.fillStorage(head, in: buffer, path: path, captures: captures, remainder: remainder, route: route)
                exchange.tasks.handler = PendingHandler(handler: handler, services: services)
                exchange.begin(head)
                return nil
            }
        }
        // With middleware: every request becomes a `Request`, and every answer a `Response`.
        let isAsync = if case .async = route?.action { true } else { false }
        var request = exchange.makeRequest(head, in: buffer, path: path, captures: captures, remainder: remainder,
                                           route: route, async: isAsync)
        let context = RequestContext(parameters: Parameters(storage: request.storage), services: services)
        var ran = 0
        var response: Response?
        for layer in middleware {
            ran += 1
            do {
                response = try layer.willHandle(&request, context: context)
            } catch {
                response = Self.response(for: error, logger: services.logger)
            }
            if response != nil { break }
        }
        if response == nil, let route {
            switch route.action {
            case .files(let index):
                response = mounts[index].respond(to: head, in: buffer, path: pathBytes, remainder: remainder ?? 0..<0).response
            case .sync(let handler):
                response = Self.run(handler, request, context)
            case .async(let handler):
                exchange.tasks.handler = PendingHandler(handler: handler, services: services, prepared: true)
                exchange.tasks.prepared = PreparedRequest(request: request, context: context, middleware: middleware[..<ran])
                exchange.begin(head)
                return nil
            }
        }
        var final = response ?? refusal!.response
        Self.didHandle(middleware[..<ran], request, context, &final)
        exchange.answer(final, to: head, in: buffer)
        return nil
    }

    /// A synchronous handler's response; a thrown `HTTPError` is its response, anything else 500.
    private static func run(_ handler: Router.SyncHandler, _ request: Request, _ context: RequestContext) -> Response {
        do {
            return try handler(request, context)
        } catch {
            return response(for: error, logger: context.logger)
        }
    }

    /// The response to an error a handler or middleware threw.
    static func response(for error: any Error, logger: Logger) -> Response {
        if let error = error as? HTTPError { return error.response }
        logger.error("handler failed", metadata: ["error": "\(error)"])
        return HTTPError(.internalServerError).response
    }

    /// The `didHandle` hooks of `middleware`, last first.
    static func didHandle(_ middleware: ArraySlice<any Middleware>, _ request: Request, _ context: RequestContext,
                          _ response: inout Response) {
        for layer in middleware.reversed() {
            do {
                try layer.didHandle(request, context: context, response: &response)
            } catch {
                response = Self.response(for: error, logger: context.logger)
            }
        }
    }

    /// The method's token, read back from the request line (it ends one space before the target).
    static func methodToken(_ head: HTTPRequestHead, _ buffer: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        let end = head.target.lowerBound - 1
        var start = end
        while start > 0, ASCII.isToken(buffer[start - 1]) { start -= 1 }
        return buffer.slice(start..<end)
    }
}
