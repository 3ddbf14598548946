/// The timeouts of one HTTP connection, as a pure state machine: the handler reports what
/// happened and when (the loop's monotonic nanoseconds), and asks whether a deadline has
/// passed. No clock of its own, no timers: the loop's once-a-second sweep asks, so a timeout is
/// never early and at most a second late.
struct ConnectionTimer {
    /// The limits, in nanoseconds.
    struct Limits: Equatable {
        /// A request head must be complete this long after its first byte (and a new
        /// connection must send one this soon): slowloris.
        var header: UInt64
        /// An idle persistent connection is closed after this.
        var keepAlive: UInt64
        /// A request body may pause this long between two reads.
        var body: UInt64
        /// A response the client does not read may stall this long.
        var write: UInt64
        /// A closing connection discards the client's input at most this long (the runtime's
        /// lingering close keeps this deadline).
        var linger: UInt64

        init(headerSeconds: Int, keepAliveSeconds: Int, bodySeconds: Int, writeSeconds: Int, lingerSeconds: Int) {
            func nanoseconds(_ seconds: Int) -> UInt64 { UInt64(max(seconds, 0)) &* 1_000_000_000 }
            header = nanoseconds(headerSeconds)
            keepAlive = nanoseconds(keepAliveSeconds)
            body = nanoseconds(bodySeconds)
            write = nanoseconds(writeSeconds)
            linger = nanoseconds(lingerSeconds)
        }
    }

    enum Phase: Equatable {
        /// Connected, nothing received yet.
        case fresh
        /// Between requests, nothing received since the last one.
        case idle
        /// Part of a request head has arrived.
        case head
        /// Inside a request body.
        case body
        /// An async handler runs, or a streamed body is being written: nothing times out but a
        /// stalled write (the handler decides how long it takes).
        case handling
        /// The last response is queued and the connection is closing (the runtime ends it,
        /// lingering if asked): only a stalled write still times out here.
        case closing
    }

    /// What ran out.
    enum Expiry: Equatable {
        /// A partial head not completed in time: 408, then close.
        case header
        /// Nothing received in time, on a new connection (the header timeout) or between
        /// requests (the keep-alive timeout): close quietly, as nginx does.
        case idle
        /// A body stalled: 408, then close.
        case body
        /// The client stopped reading a response: abort (nothing more can be sent).
        case write
    }

    private(set) var phase = Phase.fresh
    /// When the current phase began (for `.body`, the last progress).
    private(set) var since: UInt64
    private var pendingSeen = 0
    private var stalledSince: UInt64 = 0

    init(now: UInt64) { since = now }

    /// The first bytes of a head arrived (from `.fresh` or `.idle`; no-op otherwise).
    mutating func headStarted(now: UInt64) {
        guard phase == .fresh || phase == .idle else { return }
        phase = .head
        since = now
    }

    /// A head is complete; its body follows if `hasBody`.
    mutating func headCompleted(now: UInt64, hasBody: Bool) {
        guard phase != .closing else { return }
        phase = hasBody ? .body : .idle
        since = now
    }

    /// Body bytes arrived.
    mutating func bodyProgressed(now: UInt64) {
        guard phase == .body else { return }
        since = now
    }

    /// A handler has the request: until it answers, only a stalled write times out.
    mutating func handling(now: UInt64) {
        guard phase != .closing else { return }
        phase = .handling
        since = now
    }

    /// A handler waits for body bytes: the body timeout runs until some arrive.
    mutating func awaitingBody(now: UInt64) {
        guard phase != .closing else { return }
        phase = .body
        since = now
    }

    /// The request (body included) is complete: the connection is idle until the next head.
    mutating func requestCompleted(now: UInt64) {
        guard phase != .closing else { return }
        phase = .idle
        since = now
    }

    /// The connection is closing: from now on only a stalled write times out.
    mutating func closingStarted(now: UInt64) {
        phase = .closing
        since = now
    }

    /// Whether a deadline has passed at `now`, given the bytes still queued for sending.
    /// A response that is moving (the queue shrinks) never times out, however long it is.
    mutating func expiry(now: UInt64, pendingWriteBytes: Int, limits: Limits) -> Expiry? {
        if pendingWriteBytes > 0 {
            if pendingWriteBytes != pendingSeen {
                pendingSeen = pendingWriteBytes
                stalledSince = now
            }
            return now &- stalledSince >= limits.write ? .write : nil
        }
        pendingSeen = 0
        let elapsed = now &- since
        switch phase {
        case .fresh: return elapsed >= limits.header ? .idle : nil
        case .head: return elapsed >= limits.header ? .header : nil
        case .idle: return elapsed >= limits.keepAlive ? .idle : nil
        case .body: return elapsed >= limits.body ? .body : nil
        case .handling, .closing: return nil
        }
    }

    /// Between requests with nothing left to send: safe to close when the server drains. A
    /// connection that has not sent its first request is not idle in this sense: its request
    /// is probably in flight (a drain must not turn an accepted connection into a reset).
    func isIdle(pendingWriteBytes: Int) -> Bool { phase == .idle && pendingWriteBytes == 0 }
}
