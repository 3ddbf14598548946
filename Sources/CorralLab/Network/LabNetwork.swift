/// Where an experiment's client and server talk: the `--net` option.
///
/// - `loopback`: both in the lab's own network namespace, over 127.0.0.1 (no set-up, no root).
/// - `veth`: client and server in two network namespaces the lab creates, joined by a veth
///   pair (a real link: MTU 1500, ARP, the stack's per-device path).
/// - `wire:…`: the same two namespaces joined by an emulated wire with delay, jitter, loss and a
///   rate limit (``WireSettings``): tc netem on a veth pair where the kernel has netem,
///   otherwise Corral's own wire, a TAP device in each namespace and a program between them.
public enum LabNetwork: Sendable, Hashable, CustomStringConvertible {
    case loopback
    case veth
    case wire(WireSettings)

    /// Parses `loopback`, `veth` or `wire:DELAY[,jitter=J][,loss=P][,rate=R]`.
    public init(parsing text: String) throws(LabNetworkError) {
        switch text {
        case "loopback", "lo": self = .loopback
        case "veth": self = .veth
        default:
            guard text.hasPrefix("wire:") else {
                throw LabNetworkError("--net must be loopback, veth or wire:DELAY[,jitter=J][,loss=P][,rate=R], not '\(text)'")
            }
            self = .wire(try WireSettings(parsing: String(text.dropFirst(5))))
        }
    }

    /// The canonical text (`loopback`, `veth`, `wire:2ms,loss=1%`): what tables and JSON show.
    public var description: String {
        switch self {
        case .loopback: return "loopback"
        case .veth: return "veth"
        case .wire(let settings): return "wire:\(settings)"
        }
    }

    /// True when client and server need namespaces of their own (and so root).
    public var needsNamespaces: Bool {
        if case .loopback = self { return false }
        return true
    }

    /// The round trip the wire adds, in nanoseconds (0 for loopback and veth).
    public var addedRoundTripNanoseconds: UInt64 {
        if case .wire(let settings) = self { return settings.roundTripNanoseconds }
        return 0
    }
}
