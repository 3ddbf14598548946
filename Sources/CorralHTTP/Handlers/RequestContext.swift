import CorralRuntime
import Logging

/// What a handler gets besides the request: the route's parameters, the loop it runs on, a
/// logger.
public struct RequestContext: Sendable {
    /// The values the route's pattern captured (`:id`, `*`, `**`).
    public var parameters: Parameters
    let services: LoopServices

    /// The event loop the handler runs on (its connection's).
    public var loop: EventLoop { services.loop }

    /// The server's logger (its `HTTPServerConfiguration.logger`).
    public var logger: Logger { services.logger }
}

/// The parameters a route captured, by name (`/users/:id` → `parameters["id"]`), percent-decoded.
public struct Parameters: Sendable {
    let storage: RequestHeadStorage

    /// The value captured by `:name`, or nil if the route has no such parameter.
    public subscript(name: String) -> String? {
        guard let route = storage.route, let index = route.parameterNames.firstIndex(of: name),
            index < storage.captures.count
        else { return nil }
        return storage.string(storage.captures[index])
    }

    /// The value of `:name` converted by `LosslessStringConvertible` (e.g. `Int`); throws a 400
    /// `HTTPError` when it is missing or does not convert.
    public func require<T: LosslessStringConvertible>(_ name: String, as type: T.Type = T.self) throws(HTTPError) -> T {
        guard let text = self[name] else { throw HTTPError(.badRequest, message: "missing parameter \(name)") }
        guard let value = T(text) else { throw HTTPError(.badRequest, message: "invalid \(name): \(text)") }
        return value
    }

    /// The rest of the path matched by a trailing `**` (without a leading `/`; empty when the
    /// path ends at the `**`), or nil if the route has none.
    public var catchAll: String? { storage.remainder.map(storage.string) }

    /// The captured values in pattern order (`:name` and `*` segments).
    public var values: [String] { storage.captures.map(storage.string) }
}

/// Per loop: what every request context of the loop refers to.
final class LoopServices: Sendable {
    let loop: EventLoop
    let logger: Logger

    init(loop: EventLoop, logger: Logger) {
        self.loop = loop
        self.logger = logger
    }
}
