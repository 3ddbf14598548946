import CorralRuntime

/// Routes requests to handlers by method and path pattern, and mounts static files.
///
/// ```swift
/// var router = Router()
/// router.get("/hello") { _, _ in Response(body: "Hello, world\n") }          // synchronous
/// router.get("/users/:id") { request, context in                            // async
///     let user = try await store.user(context.parameters.require("id", as: Int.self))
///     return Response(headerFields: [.contentType: "application/json"], body: .init(bytes: user.json))
/// }
/// router.post("/upload") { request, _ in
///     let bytes = try await request.body.collect(upTo: 1 << 20)
///     return Response(status: .created, body: "\(bytes.count) bytes\n")
/// }
/// router.files("/static", root: "public")
/// let server = HTTPServer(configuration: configuration, router: router)
/// ```
///
/// **Patterns** are matched segment by segment against the request's normalised, decoded path
/// (`Request.path`): a literal segment, `:name` (any one segment, captured as
/// `parameters["name"]`), `*` (any one segment, captured unnamed) or, last, `**` (the rest of the
/// path, any number of segments, `parameters.catchAll`). Literals win over `:name`, which wins
/// over `*`, which wins over `**`. Empty segments do not count: `/users/` matches `/users`.
///
/// **Handlers** come in two kinds, told apart by their type. A synchronous handler (a closure
/// without `await`) runs on the connection's event loop as soon as the head has arrived, with no
/// task: the cheapest way to answer. An async handler runs in one of the loop's worker tasks,
/// isolated to the connection's loop: still on the loop's thread (no hop per request), and it may
/// await (holding up no other connection), and read the request body as it streams in. The `nonisolated(nonsending)` functions it
/// calls run there too; a plain `nonisolated` (`@concurrent`) async function it awaits runs on the
/// global concurrent executor, and the handler comes back to the loop after it. Either kind of
/// handler runs on an event loop: it must not block (no blocking I/O, no long computation; hand
/// those to another executor and await them).
///
/// A HEAD request goes to the route's GET handler when it has no HEAD handler of its own; its
/// response goes out without body. A path that matches no route is 404; a path that matches
/// with another method is 405 with `Allow` (501 for a method the server does not know).
public struct Router: Sendable {
    /// An async handler: runs in a worker task of the connection's loop. `nonisolated(nonsending)`:
    /// it runs where its caller (the worker) runs, so calling it is not an executor
    /// switch; any async function converts to it.
    public typealias Handler = nonisolated(nonsending) @Sendable (Request, RequestContext) async throws -> Response
    /// A synchronous handler: runs on the connection's loop without a task.
    public typealias SyncHandler = @Sendable (Request, RequestContext) throws -> Response

    enum Action: Sendable {
        case sync(SyncHandler)
        case async(Handler)
        /// Static files: the mount at this index.
        case files(Int)
    }

    struct Definition: Sendable {
        var method: HTTPRequest.Method?
        var pattern: RoutePattern
        var action: Action
    }

    /// A directory served under a prefix.
    struct FileMount: Sendable {
        var prefix: String
        var root: String
    }

    private(set) var definitions: [Definition] = []
    private(set) var mounts: [FileMount] = []
    private(set) var middleware: [any Middleware] = []

    public init() {}

    /// Routes `method` requests whose path matches `pattern` to `handler`, which runs on the loop
    /// without a task. A later route with the same method and pattern replaces an earlier one.
    public mutating func on(_ method: HTTPRequest.Method, _ pattern: String, _ handler: @escaping SyncHandler) {
        add(method, pattern, .sync(handler))
    }

    /// Routes `method` requests whose path matches `pattern` to the async `handler`.
    public mutating func on(_ method: HTTPRequest.Method, _ pattern: String, _ handler: @escaping Handler) {
        add(method, pattern, .async(handler))
    }

    public mutating func get(_ pattern: String, _ handler: @escaping SyncHandler) { on(.get, pattern, handler) }
    public mutating func get(_ pattern: String, _ handler: @escaping Handler) { on(.get, pattern, handler) }
    public mutating func head(_ pattern: String, _ handler: @escaping SyncHandler) { on(.head, pattern, handler) }
    public mutating func head(_ pattern: String, _ handler: @escaping Handler) { on(.head, pattern, handler) }
    public mutating func post(_ pattern: String, _ handler: @escaping SyncHandler) { on(.post, pattern, handler) }
    public mutating func post(_ pattern: String, _ handler: @escaping Handler) { on(.post, pattern, handler) }
    public mutating func put(_ pattern: String, _ handler: @escaping SyncHandler) { on(.put, pattern, handler) }
    public mutating func put(_ pattern: String, _ handler: @escaping Handler) { on(.put, pattern, handler) }
    public mutating func patch(_ pattern: String, _ handler: @escaping SyncHandler) { on(.patch, pattern, handler) }
    public mutating func patch(_ pattern: String, _ handler: @escaping Handler) { on(.patch, pattern, handler) }
    public mutating func delete(_ pattern: String, _ handler: @escaping SyncHandler) { on(.delete, pattern, handler) }
    public mutating func delete(_ pattern: String, _ handler: @escaping Handler) { on(.delete, pattern, handler) }
    public mutating func options(_ pattern: String, _ handler: @escaping SyncHandler) { on(.options, pattern, handler) }
    public mutating func options(_ pattern: String, _ handler: @escaping Handler) { on(.options, pattern, handler) }

    /// Serves the directory `root` under `prefix` (`/` for the whole site), exactly as `corral
    /// serve` does: GET and HEAD (other methods 405, unknown ones 501), an in-memory cache for
    /// small files and sendfile(2) for larger ones, ETag and Last-Modified with the conditional
    /// requests of RFC 9110 §13, single byte ranges, `dir` → 301 `dir/`, `dir/` → its
    /// `index.html`, nothing outside `root` ever opened, and every file error mapped as the
    /// README's "Behaviour under abuse" says. The root is opened when the server starts (a missing
    /// root fails the start) and again on `HTTPServer.reload()`.
    public mutating func files(_ prefix: String, root: String) {
        var pattern = RoutePattern(prefix)
        precondition(!pattern.segments.contains(where: { if case .literal = $0 { false } else { true } }),
                     "a files prefix is literal segments only: \(prefix)")
        pattern.segments.append(.catchAll)
        mounts.append(FileMount(prefix: prefix, root: root))
        definitions.append(Definition(method: nil, pattern: pattern, action: .files(mounts.count - 1)))
    }

    /// Adds middleware around every request (see `Middleware`).
    public mutating func add(middleware: some Middleware) {
        self.middleware.append(middleware)
    }

    private mutating func add(_ method: HTTPRequest.Method, _ pattern: String, _ action: Action) {
        definitions.append(Definition(method: method, pattern: RoutePattern(pattern), action: action))
    }

    /// The router `corral serve` runs: `root` as the whole site.
    static func site(root: String) -> Router {
        var router = Router()
        router.files("/", root: root)
        return router
    }

    /// Whether the router is a single directory served at `/` with no middleware (served
    /// without the routing step, which could only find that mount).
    var isSingleRootMount: Bool {
        middleware.isEmpty && definitions.count == 1 && mounts.count == 1 && mounts[0].prefix.split(separator: "/").isEmpty
    }
}

/// A route's path pattern, parsed (see `Router`).
struct RoutePattern: Sendable, Equatable {
    enum Segment: Sendable, Equatable {
        case literal([UInt8])
        case parameter(String)
        case wildcard
        case catchAll
    }

    var segments: [Segment]
    let text: String

    init(_ text: String) {
        self.text = text
        var segments: [Segment] = []
        for part in text.split(separator: "/", omittingEmptySubsequences: true) {
            precondition(segments.last != .catchAll, "`**` must be the last segment of a route: \(text)")
            precondition(!part.contains("?") && !part.contains("#"), "a route pattern is a path, without query or fragment: \(text)")
            if part == "**" {
                segments.append(.catchAll)
            } else if part == "*" {
                segments.append(.wildcard)
            } else if part.hasPrefix(":") {
                precondition(part.count > 1, "a parameter needs a name: \(text)")
                segments.append(.parameter(String(part.dropFirst())))
            } else {
                precondition(part != "." && part != "..", "a route pattern has no dot segments: \(text)")
                segments.append(.literal(Array(part.utf8)))
            }
        }
        self.segments = segments
    }

    /// The names of the captured segments, in order (`*` is unnamed: "").
    var parameterNames: [String] {
        segments.compactMap {
            switch $0 {
            case .parameter(let name): name
            case .wildcard: ""
            case .literal, .catchAll: nil
            }
        }
    }
}
