import CorralRuntime

/// What the runs of one experiment share: network paths (namespaces and wires are made once
/// and re-tuned between points, not rebuilt for every run) and the scheduler tracer. The runner
/// makes one per experiment and closes it after the last point; notes it gathers (which
/// emulator ran, a probe that fell back) go into the experiment's report.
public final class LabContext: @unchecked Sendable {
    private let state = Locked<State>(State())

    private struct State {
        var path: LabNetworkPath?
        var tracer: WakeupTracer?
        var tracerTried = false
        var syscallCounterChecked = false
        var syscallCounterUnavailable: String?
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
        if let old { retire(old) }
        let path = try LabNetworkPath.make(network)
        if pings > 0 { try path.measureRoundTrip(count: pings) }
        state.withLock { state in
            state.path = path
            if network.needsNamespaces {
                var note = "--net \(network.kind): client and server in network namespaces of their own, joined by \(path.emulator.description)."
                if path.emulator == .corralWire {
                    note += path.wireIsRealtime ? " The wire's thread ran SCHED_FIFO." : " The wire's thread could not get real-time scheduling (not root?): on a busy machine its frames leave late."
                }
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

    /// Why `perf stat` cannot count syscalls here (checked once), or nil if it can.
    func syscallCounterUnavailable() -> String? {
        if let checked = state.withLock({ $0.syscallCounterChecked ? Optional($0.syscallCounterUnavailable) : nil }) { return checked }
        let reason = SyscallCounter.unavailable()
        state.withLock { state in
            state.syscallCounterChecked = true
            state.syscallCounterUnavailable = reason
        }
        return reason
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
        if let path { retire(path) }
        tracer?.stop()
    }

    /// Closes `path`, first noting how faithful Corral's wire was while it ran.
    private func retire(_ path: LabNetworkPath) {
        if path.emulator == .corralWire {
            let stats = path.wireStatistics()
            let frames = stats.reduce(0) { $0 + $1.frames }
            if frames > 0 {
                let p50 = stats.map(\.latenessP50).max() ?? 0, p99 = stats.map(\.latenessP99).max() ?? 0
                note(String(format: "Corral's wire forwarded %d frames; a frame left %.0f µs after its time at the median, %.0f µs at the 99th percentile (timer and wake-up latency); %d were lost to the loss setting, %d to a full queue.",
                            frames, Double(p50) / 1000, Double(p99) / 1000, stats.reduce(0) { $0 + $1.lost }, stats.reduce(0) { $0 + $1.queueDrops }))
            }
        }
        path.close()
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
