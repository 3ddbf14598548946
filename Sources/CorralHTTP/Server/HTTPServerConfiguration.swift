import CorralRuntime

/// Everything `corral serve` can be told; every field has a default.
public struct HTTPServerConfiguration: Sendable {
    /// The directory served. Nothing outside it is ever opened (openat2 RESOLVE_BENEATH).
    public var root = "."
    public var address = SocketAddress.ipv4(host: "127.0.0.1", port: 8080)
    /// Event loops; default: the CPUs the process may run on.
    public var loops = availableCPUCount()
    /// `reuseport` by default: on this kernel it keeps wake-ups at one per connection without
    /// a cross-thread hand-off and spreads connections evenly (see `corral lab herd` and `balance`).
    public var acceptStrategy = AcceptStrategy.reuseport
    public var pinLoops = false
    /// Files up to this size have their bodies kept in memory; larger ones stay open and go out
    /// with sendfile(2), which on TCP hands the socket page references instead of copying. Every
    /// file's headers are pre-rendered either way. Memory is ahead at 4 KiB; from 16 KiB up the
    /// two are close with few connections, and with 1000 connections copies of 64 KiB cost
    /// clearly more (BENCHMARKS.md, Benchmarks/cache-threshold.sh).
    public var maxCachedFileSize = 16 * 1024
    /// Memory the file cache of one loop may hold before it starts over.
    public var maxCacheBytesPerLoop = 64 << 20
    /// Timeouts, in seconds: a request head must arrive within `headerTimeout` of its first byte
    /// (slowloris); an idle keep-alive connection is closed after `keepAliveTimeout`; a response
    /// the client does not read for `writeTimeout` is abandoned.
    public var headerTimeout = 10
    public var keepAliveTimeout = 60
    public var writeTimeout = 30
    /// Open connections beyond this are closed at once after accept (with a 503 when possible).
    public var maxConnections = 10_000
    /// Write one line per request to standard output (off by default: it costs a write per request).
    public var accessLog = false
    /// Where `/metrics` (Prometheus text format) is served, on its own listener; nil for none.
    public var metricsAddress: SocketAddress? = nil
    /// Listening sockets received from a previous server (`Handover.receive`); when set, the
    /// server accepts on them instead of binding `address`.
    public var inheritedDescriptors: [CInt]? = nil

    public init() {}
}
