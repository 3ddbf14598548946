/// One direction of an emulated wire, as pure arithmetic: given a frame's size and arrival
/// time, drop it or say when it leaves the far end. No clock, no sockets: tests feed it times.
///
/// The model is netem's: a frame is lost with probability `loss`; otherwise it waits for the
/// transmitter (at `bytesPerSecond`, one frame after another), then travels for the one-way
/// delay plus a uniform jitter, and never overtakes the frame before it.
struct WireLink {
    var settings: WireSettings
    private var random: SplitMix64
    /// When the transmitter finishes the last frame it took (rate limit).
    private var transmitterFreeAt: UInt64 = 0
    /// When the last frame admitted leaves (frames keep their order).
    private var lastDeparture: UInt64 = 0

    /// What happens to one frame.
    enum Decision: Equatable {
        /// Delivered at this monotonic time (nanoseconds).
        case deliver(at: UInt64)
        /// Dropped by the loss setting.
        case lost
        /// Dropped because `queueLimit` frames are already waiting.
        case queueFull
    }

    init(settings: WireSettings, seed: UInt64) {
        self.settings = settings
        random = SplitMix64(seed: seed)
    }

    /// Decides the fate of a frame of `size` bytes arriving at `now` while `waiting` frames
    /// of this direction are still queued.
    mutating func admit(size: Int, now: UInt64, waiting: Int) -> Decision {
        if settings.loss > 0 && random.nextUnit() < settings.loss { return .lost }
        if waiting >= settings.queueLimit { return .queueFull }
        var sent = now
        if let rate = settings.bytesPerSecond, rate > 0 {
            let start = max(now, transmitterFreeAt)
            sent = start + UInt64(size) * 1_000_000_000 / rate
            transmitterFreeAt = sent
        }
        var delay = Int64(settings.oneWayNanoseconds)
        if settings.jitterNanoseconds > 0 {
            let half = Double(settings.jitterNanoseconds) / 2
            delay += Int64((random.nextUnit() * 2 - 1) * half)
        }
        let departure = max(sent + UInt64(max(0, delay)), lastDeparture)
        lastDeparture = departure
        return .deliver(at: departure)
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): a small, fast, seedable generator, so a wire's losses
/// and jitter can be replayed from its seed.
struct SplitMix64 {
    private var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1), 53 bits.
    mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1.0p-53 }
}
