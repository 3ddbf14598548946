import Synchronization

/// What the runs of one experiment share: network paths (namespaces and wires are made once
/// and re-tuned between points, not rebuilt for every run) and the scheduler tracer. The runner
/// makes one per experiment and closes it after the last point; notes it gathers (which
/// emulator ran, a probe that fell back) go into the experiment's report.
public final class LabContext: @unchecked Sendable {
    private let state = Mutex<State>(State())

    private struct State {
        var path: LabNetworkPath?
        var tracer: WakeupTracer?
        var tracerTried = false
        var notes: [String] = []
    }

    /// An empty context.
    public init() {}

    /// The path for `network`: the current one re-tuned if it can carry it, else a new one
    /// (the old one is closed). A new or re-tuned path's round trip is measured with
    /// `pings` UDP pings. Throws ``LabSkip`` without the rights to make namespaces.
    func path(for network: LabNetwork, pings: Int = 10) throws -> LabNetworkPath {
        if let current = state.withLock({ $0.path }), current.canBecome(network) {
            if current.network != network {
                try current.update(to: network)
                if pings > 0 { try current.measureRoundTrip(count: pings) }
            }
            return current
        }
        let old = state.withLock { state -> LabNetworkPath? in
            defer { state.path = nil }
            return state.path
        }
        old?.close()
        let path = try LabNetworkPath.make(network)
        if pings > 0 { try path.measureRoundTrip(count: pings) }
        state.withLock { state in
            state.path = path
            if network.needsNamespaces {
                let note = "--net \(network.kind): client and server in network namespaces of their own, joined by \(path.emulator.description)."
                if !state.notes.contains(note) { state.notes.append(note) }
            }
        }
        return path
    }

    /// The scheduler wake-up tracer, started on first use; `nil` (with a note saying why and
    /// what the figures fall back to) when bpftrace cannot run here.
    func wakeupTracer() -> WakeupTracer? {
        if let tracer = state.withLock({ $0.tracerTried ? $0.tracer : nil }) { return tracer }
        if state.withLock({ $0.tracerTried }) { return nil }
        let started = WakeupTracer.start()
        state.withLock { state in
            state.tracerTried = true
            switch started {
            case .success(let tracer): state.tracer = tracer
            case .failure(let reason): state.notes.append("Wake-ups come from schedstat (times each thread was put on a CPU, which also counts resumptions after preemption), not from the sched_wakeup tracepoint: \(reason.reason).")
            }
        }
        return state.withLock { $0.tracer }
    }

    /// Adds a note for the report (once).
    func note(_ text: String) {
        state.withLock { if !$0.notes.contains(text) { $0.notes.append(text) } }
    }

    /// The notes gathered so far.
    public var notes: [String] { state.withLock { $0.notes } }

    /// Removes the namespaces, stops the wire and the tracer.
    public func close() {
        let (path, tracer) = state.withLock { state -> (LabNetworkPath?, WakeupTracer?) in
            defer {
                state.path = nil
                state.tracer = nil
            }
            return (state.path, state.tracer)
        }
        path?.close()
        tracer?.stop()
    }
}

extension LabNetwork {
    /// `loopback`, `veth` or `wire`, for notes that are the same for every delay.
    var kind: String {
        switch self {
        case .loopback: return "loopback"
        case .veth: return "veth"
        case .wire: return "wire"
        }
    }
}

extension LabNetworkPath.Emulator: CustomStringConvertible {
    var description: String {
        switch self {
        case .loopback: return "127.0.0.1"
        case .veth: return "a veth pair"
        case .netem: return "a veth pair with tc netem on both ends (the kernel has netem)"
        case .corralWire: return "Corral's wire: a TAP device in each namespace and a Corral event-loop program forwarding frames between them (this kernel has no netem)"
        }
    }
}
