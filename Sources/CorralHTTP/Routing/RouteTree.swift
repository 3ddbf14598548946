import Glibc

/// A route as the router found it: its pattern's parameter names and what answers it.
/// Immutable; shared by the requests it matched.
final class RouteInfo: Sendable {
    let pattern: String
    let parameterNames: [String]
    let action: Router.Action

    init(pattern: RoutePattern, action: Router.Action) {
        self.pattern = pattern.text
        self.parameterNames = pattern.parameterNames
        self.action = action
    }
}

/// The routes of one path pattern, by method.
final class RouteEntry {
    /// By `HTTPMethod` (known methods); `others` by token.
    // Read once per request, written only while the tree is built: unchecked.
    @exclusivity(unchecked) private var known = [RouteInfo?](repeating: nil, count: HTTPMethod.knownCount)
    @exclusivity(unchecked) private var others: [(method: String, route: RouteInfo)] = []
    /// A static-files mount: answers every method the entry has no route for (it refuses all
    /// but GET and HEAD itself, as `corral serve` does).
    @exclusivity(unchecked) private var mount: RouteInfo?
    /// `Allow: …\r\n` for a 405, rendered once.
    private(set) var allowField: [UInt8] = []

    func add(_ method: HTTPRequest.Method?, _ route: RouteInfo) {
        guard let method else {
            mount = route
            return
        }
        let parsed = HTTPMethod(token: method.rawValue)
        if parsed == .other {
            others.removeAll { $0.method == method.rawValue }
            others.append((method.rawValue, route))
        } else {
            known[parsed.index] = route
        }
    }

    /// Renders what `add` gathered (call once all routes are added).
    func seal() {
        var names: [String] = []
        for method in HTTPMethod.allKnown where known[method.index] != nil { names.append(method.token) }
        if known[HTTPMethod.get.index] != nil && known[HTTPMethod.head.index] == nil { names.insert("HEAD", at: 1) }
        names += others.map(\.method)
        if mount != nil {
            for name in ["GET", "HEAD"] where !names.contains(name) { names.append(name) }
        }
        allowField = Array("Allow: \(names.joined(separator: ", "))\r\n".utf8)
    }

    enum Lookup {
        case route(RouteInfo)
        /// The path exists, not with this method: 405 with `allowField`.
        case notAllowed
        /// A method the server does not know, routed nowhere: 501.
        case notImplemented
    }

    /// The route for a request: its method's, else (HEAD) its GET route's, else the mount's.
    func route(for method: HTTPMethod, token: () -> UnsafeRawBufferPointer) -> Lookup {
        if method != .other {
            if let route = known[method.index] { return .route(route) }
            if method == .head, let route = known[HTTPMethod.get.index] { return .route(route) }
            if let mount { return .route(mount) }
            return .notAllowed
        }
        if !others.isEmpty {
            let bytes = token()
            for (name, route) in others where name.utf8.elementsEqual(bytes) { return .route(route) }
        }
        if let mount { return .route(mount) }
        return .notImplemented
    }
}

/// The routes as a tree of path segments, matched without copying the path (see `Router` for the
/// rules). Built once per loop from the router's definitions; read-only afterwards.
final class RouteNode {
    // Read on every request, written only while the tree is built: unchecked.
    @exclusivity(unchecked) private var literals: [(segment: [UInt8], node: RouteNode)] = []
    @exclusivity(unchecked) private var parameter: RouteNode?
    @exclusivity(unchecked) private var wildcard: RouteNode?
    @exclusivity(unchecked) private var catchAll: RouteEntry?
    @exclusivity(unchecked) private var entry: RouteEntry?

    init() {}

    /// The tree for `definitions` (later definitions replace earlier ones with the same method
    /// and pattern).
    convenience init(_ definitions: [Router.Definition]) {
        self.init()
        for definition in definitions {
            insert(definition.pattern.segments[...], method: definition.method,
                   route: RouteInfo(pattern: definition.pattern, action: definition.action))
        }
        seal()
    }

    private func insert(_ segments: ArraySlice<RoutePattern.Segment>, method: HTTPRequest.Method?, route: RouteInfo) {
        guard let first = segments.first else {
            if entry == nil { entry = RouteEntry() }
            entry!.add(method, route)
            return
        }
        let rest = segments.dropFirst()
        switch first {
        case .literal(let bytes):
            if let existing = literals.first(where: { $0.segment == bytes }) {
                existing.node.insert(rest, method: method, route: route)
            } else {
                let node = RouteNode()
                literals.append((bytes, node))
                node.insert(rest, method: method, route: route)
            }
        case .parameter:
            if parameter == nil { parameter = RouteNode() }
            parameter!.insert(rest, method: method, route: route)
        case .wildcard:
            if wildcard == nil { wildcard = RouteNode() }
            wildcard!.insert(rest, method: method, route: route)
        case .catchAll:
            if catchAll == nil { catchAll = RouteEntry() }
            catchAll!.add(method, route)
        }
    }

    private func seal() {
        entry?.seal()
        catchAll?.seal()
        for (_, node) in literals { node.seal() }
        parameter?.seal()
        wildcard?.seal()
    }

    /// The entry for `path` (a normalised path without its leading `/`), from `start`: appends
    /// the captured segments to `captures` (ranges of `path`) and returns a catch-all's
    /// remainder. Literal segments are tried first, then `:name`, `*`, `**` (backtracking).
    /// The entry is handed out unretained (a retain and a release per request saved): the tree
    /// holds it for as long as the tree lives, and the tree is never changed once built and
    /// outlives every request routed through it (its responder owns it).
    func match(_ path: UnsafeRawBufferPointer, from start: Int, captures: inout [Range<Int>])
        -> (Unmanaged<RouteEntry>, Range<Int>?)?
    {
        var i = start
        while i < path.count && path[i] == ASCII.slash { i += 1 }
        if i == path.count {
            if let entry { return (.passUnretained(entry), nil) }
            if let catchAll { return (.passUnretained(catchAll), i..<i) }
            return nil
        }
        var end = i
        while end < path.count && path[end] != ASCII.slash { end += 1 }
        let length = end - i
        for (segment, node) in literals where segment.count == length {
            let equal = segment.withUnsafeBytes { memcmp($0.baseAddress!, path.baseAddress! + i, length) == 0 }
            if equal, let found = node.match(path, from: end, captures: &captures) { return found }
        }
        if let parameter {
            captures.append(i..<end)
            if let found = parameter.match(path, from: end, captures: &captures) { return found }
            captures.removeLast()
        }
        if let wildcard {
            captures.append(i..<end)
            if let found = wildcard.match(path, from: end, captures: &captures) { return found }
            captures.removeLast()
        }
        if let catchAll { return (.passUnretained(catchAll), i..<path.count) }
        return nil
    }
}
