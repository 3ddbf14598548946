import CorralRuntime
import Glibc

/// The client and server placement for one ``LabNetwork``: for `loopback` the lab's own
/// namespace and 127.0.0.1; otherwise two namespaces the lab creates (`client`, `server`) with
/// 198.18.0.1 and 198.18.0.2 (RFC 2544's benchmarking range, used only inside them), joined by a
/// veth pair, by a veth pair with tc netem on both ends, or by Corral's ``Wire`` between two TAP
/// devices. Static neighbour entries: no ARP crosses the link during a run.
///
/// Experiments create their server inside ``onServer(_:)`` and their clients inside
/// ``onClient(_:)``; everything those start (threads, sockets, processes) stays on that side.
public final class LabNetworkPath: @unchecked Sendable {
    /// What emulates the link.
    enum Emulator: String, Sendable {
        case loopback, veth, netem
        case corralWire = "corral wire"
    }

    private(set) var network: LabNetwork
    let emulator: Emulator
    let client: NetworkNamespace?
    let server: NetworkNamespace?
    private let wire: Wire?
    /// Round trips measured through the path when it was made or last changed (UDP ping, ns).
    private(set) var pingRoundTrips: [UInt64] = []

    static let clientAddress = "198.18.0.1"
    static let serverAddress = "198.18.0.2"
    static let clientMAC = "02:00:c6:12:00:01"
    static let serverMAC = "02:00:c6:12:00:02"

    /// Where the server listens: 127.0.0.1 or 198.18.0.2.
    var serverHost: String { client == nil ? "127.0.0.1" : Self.serverAddress }

    private init(network: LabNetwork, emulator: Emulator, client: NetworkNamespace?, server: NetworkNamespace?, wire: Wire?) {
        self.network = network
        self.emulator = emulator
        self.client = client
        self.server = server
        self.wire = wire
    }

    /// Builds the path. For a wire, tc netem is tried first (unless `CORRAL_LAB_WIRE=corral`),
    /// then Corral's wire. Throws ``LabSkip`` without the rights to make namespaces.
    static func make(_ network: LabNetwork) throws -> LabNetworkPath {
        switch network {
        case .loopback:
            return LabNetworkPath(network: network, emulator: .loopback, client: nil, server: nil, wire: nil)
        case .veth:
            let (client, server) = try vethPair()
            return LabNetworkPath(network: network, emulator: .veth, client: client, server: server, wire: nil)
        case .wire(let settings):
            if getenv("CORRAL_LAB_WIRE").map({ String(cString: $0) }) != "corral" {
                let (client, server) = try vethPair()
                if (try? setNetem(settings, client: client, server: server, change: false)) != nil {
                    return LabNetworkPath(network: network, emulator: .netem, client: client, server: server, wire: nil)
                }
            }
            let client = try NetworkNamespace.create(label: "client")
            let server = try NetworkNamespace.create(label: "server")
            let wire = try Wire(settings: settings)
            let a = try client.run { try NetworkNamespaces.openTap(named: "lab-c") }
            let b: CInt
            do {
                b = try server.run { try NetworkNamespaces.openTap(named: "lab-s") }
            } catch {
                Posix.close(a)
                throw error
            }
            try wire.start(a: a, b: b)
            try configure(client, device: "lab-c", address: clientAddress, mac: clientMAC, peer: serverAddress, peerMAC: serverMAC)
            try configure(server, device: "lab-s", address: serverAddress, mac: serverMAC, peer: clientAddress, peerMAC: clientMAC)
            return LabNetworkPath(network: network, emulator: .corralWire, client: client, server: server, wire: wire)
        }
    }

    /// Why this process cannot make network namespaces, or `nil` when it can (it tries once).
    public static func namespacesUnavailable() -> String? {
        do {
            _ = try NetworkNamespace.create(label: "probe")
            return nil
        } catch let skip as LabSkip {
            return skip.reason
        } catch {
            return "\(error)"
        }
    }

    /// Whether this path can carry `other` by changing its settings (a wire's delay, loss …).
    func canBecome(_ other: LabNetwork) -> Bool {
        switch (network, other) {
        case (.loopback, .loopback), (.veth, .veth), (.wire, .wire): return true
        default: return false
        }
    }

    /// Gives a wire new settings (frames already in flight keep theirs).
    func update(to other: LabNetwork) throws {
        guard case .wire(let settings) = other, network != other else { return }
        switch emulator {
        case .netem: try Self.setNetem(settings, client: client!, server: server!, change: true)
        case .corralWire: wire?.update(settings)
        default: break
        }
        network = other
    }

    /// Runs `body` on the server's side (a thread in the server namespace; for loopback, here).
    func onServer<T>(_ body: @escaping () throws -> T) throws -> T {
        guard let server else { return try body() }
        return try server.run(body)
    }

    /// Runs `body` on the client's side.
    func onClient<T>(_ body: @escaping () throws -> T) throws -> T {
        guard let client else { return try body() }
        return try client.run(body)
    }

    /// TCP counters of both ends (client and server namespaces added); for loopback the lab's
    /// own namespace, which other processes on this machine share.
    func tcpCounters() -> TCPCounters? {
        guard let client, let server else { return TCPCounters.read() }
        guard let c = client.counters.read(), let s = server.counters.read() else { return nil }
        return TCPCounters(inSegments: c.inSegments + s.inSegments, outSegments: c.outSegments + s.outSegments,
                           retransmittedSegments: c.retransmittedSegments + s.retransmittedSegments,
                           delayedACKs: c.delayedACKs + s.delayedACKs)
    }

    /// Whether Corral's wire runs with real-time scheduling.
    var wireIsRealtime: Bool { wire?.isRealtime ?? false }

    /// What the wire did so far, per direction (Corral's wire only).
    func wireStatistics() -> [WireStatistics] { wire?.statistics() ?? [] }

    /// Measures the round trip with `count` UDP pings and keeps the result (``pingRoundTrips``).
    @discardableResult
    func measureRoundTrip(count: Int) throws -> [UInt64] {
        let timeout = Int(network.addedRoundTripNanoseconds / 1_000_000) * 4 + 200
        pingRoundTrips = try PathPing.roundTrips(self, count: count, timeoutMilliseconds: timeout)
        return pingRoundTrips
    }

    /// Stops the wire and lets the namespaces go.
    func close() {
        wire?.stop()
    }

    deinit { close() }

    // MARK: building

    private static func vethPair() throws -> (NetworkNamespace, NetworkNamespace) {
        let client = try NetworkNamespace.create(label: "client")
        let server = try NetworkNamespace.create(label: "server")
        try client.ip(["link add lab-c type veth peer name lab-s netns /proc/self/fd/3"], fds: [server.fd])
        try configure(client, device: "lab-c", address: clientAddress, mac: clientMAC, peer: serverAddress, peerMAC: serverMAC)
        try configure(server, device: "lab-s", address: serverAddress, mac: serverMAC, peer: clientAddress, peerMAC: clientMAC)
        return (client, server)
    }

    private static func configure(_ namespace: NetworkNamespace, device: String, address: String, mac: String,
                                  peer: String, peerMAC: String) throws {
        try namespace.ip([
            "link set \(device) address \(mac)",
            "addr add \(address)/30 dev \(device)",
            "link set \(device) up",
            "neigh replace \(peer) lladdr \(peerMAC) dev \(device) nud permanent",
        ])
    }

    /// tc netem on both veth ends: half the round trip each way, jitter ±J/2, the loss and the rate.
    private static func setNetem(_ settings: WireSettings, client: NetworkNamespace, server: NetworkNamespace, change: Bool) throws {
        var arguments = ["limit", "\(settings.queueLimit)", "delay", "\(settings.oneWayNanoseconds / 1000)us"]
        if settings.jitterNanoseconds > 0 { arguments.append("\(settings.jitterNanoseconds / 2000)us") }
        if settings.loss > 0 { arguments += ["loss", "\(settings.loss * 100)%"] }
        if let rate = settings.bytesPerSecond { arguments += ["rate", "\(rate * 8)bit"] }
        for (namespace, device) in [(client, "lab-c"), (server, "lab-s")] {
            let (status, output) = try namespace.command(["tc", "qdisc", change ? "change" : "add", "dev", device, "root", "netem"] + arguments)
            guard status == 0 else { throw LabSkip("tc netem: \(output.split(separator: "\n").first ?? "exit \(status)")") }
        }
    }
}
