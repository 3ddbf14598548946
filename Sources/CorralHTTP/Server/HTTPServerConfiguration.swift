import CoreMetrics
import CorralRuntime
import Logging

/// Everything `corral serve` can be told; every field has a default.
public struct HTTPServerConfiguration: Sendable {
    /// The directory served. Nothing outside it is ever opened (openat2 RESOLVE_BENEATH). A
    /// reload (`HTTPServer.reload()`, SIGHUP) resolves the path again, so a `current -> v2`
    /// symlink switched by a deploy is picked up.
    public var root = "."
    public var address = SocketAddress.ipv4(host: "127.0.0.1", port: 8080)
    /// Event loops; default: the CPUs the process may run on.
    public var loops = availableCPUCount()
    /// `reuseport` by default: on this kernel it keeps wake-ups at one per connection without
    /// a cross-thread hand-off and spreads connections evenly (see `corral lab herd` and `balance`).
    public var acceptStrategy = AcceptStrategy.reuseport
    public var pinLoops = false
    /// The loops' kernel interface (`EventLoopBackend`): epoll by default; `uring` falls back to
    /// epoll, with one warning in `logger`, where io_uring is unavailable (`HTTPServer.backend`).
    public var backend = EventLoopBackend.default
    /// Files up to this size have their bodies kept in memory; larger ones stay open and go out
    /// with sendfile(2), which on TCP hands the socket page references instead of copying. Every
    /// file's headers are pre-rendered either way. Memory is ahead at 4 KiB; from 16 KiB up the
    /// two are close with few connections, and with 1000 connections copies of 64 KiB cost
    /// clearly more (BENCHMARKS.md, Benchmarks/cache-threshold.sh).
    public var maxCachedFileSize = 16 * 1024
    /// Memory the file cache of one loop may hold (least recently used entries go first).
    public var maxCacheBytesPerLoop = 64 << 20
    /// Descriptors the file cache may keep open, all loops together; nil: a quarter of the
    /// process's RLIMIT_NOFILE (soft limit) at start. Connections and everything else keep the
    /// other three quarters, so a crawler over many large files cannot exhaust the table.
    public var maxOpenFiles: Int? = nil
    /// A cached file unused this long is dropped and its descriptor closed.
    public var fileCacheIdleSeconds = 5
    /// Timeouts, in seconds: a request head must arrive within `headerTimeout` of its first byte
    /// (slowloris); an idle keep-alive connection is closed after `keepAliveTimeout`; a request
    /// body may pause `bodyTimeout` between reads; a response the client does not read for
    /// `writeTimeout` is abandoned; a closing connection discards the client's input for at
    /// most `lingerTimeout` (so a response is not destroyed by a reset).
    public var headerTimeout = 10
    public var keepAliveTimeout = 60
    public var bodyTimeout = 60
    public var writeTimeout = 30
    public var lingerTimeout = 5
    /// On a graceful stop by a `ServiceGroup` (`HTTPServer.run()`), how long requests in flight
    /// may take before their connections are closed anyway.
    public var drainTimeout = 10
    /// TCP_DEFER_ACCEPT (`ListenerOptions.deferAcceptSeconds`): a connection is accepted once its
    /// request's first bytes are there, and read at once; a client silent this long is accepted
    /// anyway and then gets `headerTimeout` like any other. nil: accept at the handshake.
    public var deferAcceptSeconds: Int? = 1
    /// Open connections beyond this are closed at once after accept (with a 503 when possible).
    public var maxConnections = 10_000
    /// Limits on request heads and bodies (414, 431, 413). Bodies are never buffered: a static
    /// server discards them as they arrive, and the limit (64 KiB: nothing here reads a body)
    /// bounds the time and bandwidth spent on one.
    public var parserLimits = HTTPParserLimits(maxBody: 64 * 1024)
    /// Queued response bytes above which a connection flushes, and stops parsing pipelined
    /// requests if the client is not reading (it resumes at a quarter of this). File bodies
    /// sent with sendfile and cached bodies count too, though they take no per-connection memory.
    public var writeHighWatermark = 16 * 1024
    /// The access log (nil: none): every response, when it has been sent.
    public var accessLog: AccessLogConfiguration? = nil
    /// Where `/metrics` (Prometheus text format, from a registry of the server's own) is served,
    /// on its own listener; nil for none.
    public var metricsAddress: SocketAddress? = nil
    /// Where the server reports its counters (swift-metrics), besides /metrics: nil for the
    /// factory the application bootstrapped (`MetricsSystem.bootstrap`), if any. Reported once a
    /// second and before each scrape; the request path only bumps atomics.
    public var metricsFactory: (any MetricsFactory)? = nil
    /// Open connections on the metrics listener (its own budget: scrapers cannot take
    /// descriptors the main listener needs). The timeouts are the main listener's.
    public var metricsMaxConnections = 64
    /// Listening sockets received from a previous server (`Handover.receive`); when set, the
    /// server accepts on them instead of binding `address`.
    public var inheritedDescriptors: [CInt]? = nil
    /// Where the server reports (errors serving a file, reloads). Its handler runs on event
    /// loop threads: give it one that never blocks, like `NonBlockingLogHandler`.
    public var logger = Logger(label: "corral.http")

    public init() {}
}
