/// What an emulated wire does to the frames that cross it: delay, jitter, loss and a rate limit.
///
/// Written as `DELAY[,jitter=J][,loss=P][,rate=R]` (the part after `wire:` in `--net`), with
/// netem's meanings where netem has one:
/// - `DELAY` is the round-trip time the wire adds, as ping would see it: half of it in each
///   direction (`2ms`, `0.2ms`, `500us`, `1s`);
/// - `jitter=J` spreads each direction's delay uniformly over ±J/2, so the round trip varies by
///   up to ±J; frames are never reordered (a frame waits for the one before it);
/// - `loss=P` drops each frame, in each direction, with probability P percent (`1%`, `0.5`);
/// - `rate=R` serialises frames at R per direction, in tc's units: `bit`, `kbit`, `mbit`,
///   `gbit` (bits per second, decimal) or `bps`, `kbps`, `mbps`, `gbps` (bytes per second);
///   frames queue behind the transmitter (at most `queueLimit`, then tail drop, as netem's 1000).
public struct WireSettings: Sendable, Hashable, CustomStringConvertible {
    /// Round-trip time added, in nanoseconds (half per direction).
    public var roundTripNanoseconds: UInt64
    /// Width of the round trip's spread in nanoseconds: each direction adds a uniform ±J/2.
    public var jitterNanoseconds: UInt64
    /// Probability that a frame is dropped, per frame and direction, 0…1.
    public var loss: Double
    /// Bytes per second per direction; `nil` for no limit.
    public var bytesPerSecond: UInt64?
    /// Frames that may wait in one direction before new ones are dropped.
    public var queueLimit: Int

    /// Settings given directly.
    public init(roundTripNanoseconds: UInt64, jitterNanoseconds: UInt64 = 0, loss: Double = 0,
                bytesPerSecond: UInt64? = nil, queueLimit: Int = 1000) {
        self.roundTripNanoseconds = roundTripNanoseconds
        self.jitterNanoseconds = jitterNanoseconds
        self.loss = loss
        self.bytesPerSecond = bytesPerSecond
        self.queueLimit = queueLimit
    }

    /// Parses `DELAY[,jitter=J][,loss=P][,rate=R]`.
    public init(parsing text: String) throws(LabNetworkError) {
        var parts = text.split(separator: ",", omittingEmptySubsequences: false).map { String($0) }
        guard let first = parts.first, !first.isEmpty else { throw LabNetworkError("wire: give a delay, e.g. wire:2ms") }
        parts.removeFirst()
        self.init(roundTripNanoseconds: try Self.duration(first, "the delay"))
        for part in parts {
            let pair = part.split(separator: "=", maxSplits: 1).map { String($0) }
            guard pair.count == 2 else { throw LabNetworkError("wire: '\(part)' is not NAME=VALUE (jitter, loss, rate)") }
            switch pair[0] {
            case "jitter": jitterNanoseconds = try Self.duration(pair[1], "jitter")
            case "loss": loss = try Self.percentage(pair[1])
            case "rate": bytesPerSecond = try Self.rate(pair[1])
            default: throw LabNetworkError("wire: unknown setting '\(pair[0])' (jitter, loss, rate)")
            }
        }
        if jitterNanoseconds > roundTripNanoseconds {
            throw LabNetworkError("wire: jitter \(Self.format(jitterNanoseconds)) is larger than the delay \(Self.format(roundTripNanoseconds))")
        }
    }

    /// The delay each direction adds before jitter: half the round trip.
    public var oneWayNanoseconds: UInt64 { roundTripNanoseconds / 2 }

    /// The canonical text, e.g. `2ms,jitter=0.5ms,loss=1%,rate=10mbit`.
    public var description: String {
        var text = Self.format(roundTripNanoseconds)
        if jitterNanoseconds > 0 { text += ",jitter=" + Self.format(jitterNanoseconds) }
        if loss > 0 { text += ",loss=" + Self.trim(loss * 100, digits: 4) + "%" }
        if let bytesPerSecond { text += ",rate=" + Self.formatRate(bytesPerSecond) }
        return text
    }

    // MARK: units

    /// `2ms`, `0.2ms`, `500us`, `1.5s`, `100ns`; a unit is required.
    static func duration(_ text: String, _ what: String) throws(LabNetworkError) -> UInt64 {
        let units: [(String, Double)] = [("ms", 1e6), ("us", 1e3), ("µs", 1e3), ("ns", 1), ("s", 1e9)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            guard let value = Double(text.dropLast(suffix.count)), value >= 0, value.isFinite, value * scale < 60e9 else {
                throw LabNetworkError("wire: \(what) '\(text)' is not a time under a minute")
            }
            return UInt64((value * scale).rounded())
        }
        throw LabNetworkError("wire: \(what) '\(text)' needs a unit (ms, us, s), e.g. 2ms")
    }

    /// `1%`, `0.5%`, or a bare number of percent as netem takes it.
    static func percentage(_ text: String) throws(LabNetworkError) -> Double {
        let number = text.hasSuffix("%") ? String(text.dropLast()) : text
        guard let value = Double(number), value >= 0, value <= 100 else {
            throw LabNetworkError("wire: loss '\(text)' is not a percentage 0–100")
        }
        return value / 100
    }

    /// tc's rate units: bit/kbit/mbit/gbit (bits per second), bps/kbps/mbps/gbps (bytes).
    static func rate(_ text: String) throws(LabNetworkError) -> UInt64 {
        let lower = text.lowercased()
        let units: [(String, Double)] = [
            ("kbit", 1e3 / 8), ("mbit", 1e6 / 8), ("gbit", 1e9 / 8), ("bit", 1.0 / 8),
            ("kbps", 1e3), ("mbps", 1e6), ("gbps", 1e9), ("bps", 1),
        ]
        for (suffix, scale) in units where lower.hasSuffix(suffix) {
            guard let value = Double(lower.dropLast(suffix.count)), value > 0, value.isFinite, value * scale >= 1000 else {
                throw LabNetworkError("wire: rate '\(text)' must be at least 8kbit")
            }
            return UInt64((value * scale).rounded())
        }
        throw LabNetworkError("wire: rate '\(text)' needs a unit (kbit, mbit, gbit, or kbps, mbps for bytes)")
    }

    /// Nanoseconds as milliseconds with the decimals they need: `2ms`, `0.2ms`, `0.005ms`.
    static func format(_ nanoseconds: UInt64) -> String {
        trim(Double(nanoseconds) / 1e6, digits: 6) + "ms"
    }

    static func formatRate(_ bytesPerSecond: UInt64) -> String {
        let bits = Double(bytesPerSecond) * 8
        if bits >= 1e9 { return trim(bits / 1e9, digits: 3) + "gbit" }
        if bits >= 1e6 { return trim(bits / 1e6, digits: 3) + "mbit" }
        return trim(bits / 1e3, digits: 3) + "kbit"
    }

    static func trim(_ value: Double, digits: Int) -> String {
        var text = LabFormat.number(value, precision: digits)
        if text.contains(".") {
            while text.hasSuffix("0") { text.removeLast() }
            if text.hasSuffix(".") { text.removeLast() }
        }
        return text
    }
}

/// A `--net` value that cannot be used, with a message for the user.
public struct LabNetworkError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
