/// How a listener's connections reach its event loops. Every strategy is selectable by name
/// (API, CLI, lab), and every one counts wake-ups, empty wake-ups and accepts per acceptor.
public struct AcceptStrategy: Sendable, Hashable, CustomStringConvertible {
    enum Kind: Hashable {
        /// One listening socket registered (level-triggered) in every loop's epoll. Every loop
        /// wakes for every connection; all but one find nothing. The thundering herd, kept on
        /// purpose for the lab (seed 002).
        case shared
        /// The same with EPOLLEXCLUSIVE (Linux 4.5): the kernel wakes one waiting loop.
        case exclusive
        /// One SO_REUSEPORT socket per loop; the kernel spreads connections by a flow hash.
        case reuseport
        /// One acceptor (on loop 0) hands each connection to a loop.
        case dispatch(DispatchPolicy)
        /// Threads blocked in accept(2) (the pre-fork/Apache shape), handing connections to loops.
        /// The kernel queues blocked accepters FIFO and wakes exactly one.
        case blocking
    }

    /// How `dispatch` picks the loop for a connection.
    public enum DispatchPolicy: Sendable, Hashable {
        case roundRobin
        case fewestConnections
    }

    let kind: Kind

    public static let shared = AcceptStrategy(kind: .shared)
    public static let exclusive = AcceptStrategy(kind: .exclusive)
    public static let reuseport = AcceptStrategy(kind: .reuseport)
    public static let dispatch = AcceptStrategy(kind: .dispatch(.roundRobin))
    public static let dispatchFewest = AcceptStrategy(kind: .dispatch(.fewestConnections))
    public static let blocking = AcceptStrategy(kind: .blocking)

    /// Every strategy, in the order the lab shows them.
    public static let all: [AcceptStrategy] = [.blocking, .shared, .exclusive, .reuseport, .dispatch, .dispatchFewest]

    /// The strategy named `name` (as printed by `description`), or nil.
    public init?(name: String) {
        guard let match = Self.all.first(where: { $0.description == name }) else { return nil }
        self = match
    }

    private init(kind: Kind) { self.kind = kind }

    public var description: String {
        switch kind {
        case .shared: "shared"
        case .exclusive: "exclusive"
        case .reuseport: "reuseport"
        case .dispatch(.roundRobin): "dispatch"
        case .dispatch(.fewestConnections): "dispatch-fewest"
        case .blocking: "blocking"
        }
    }
}
