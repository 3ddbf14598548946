import CorralRuntime

/// System-wide TCP segment counters from `/proc/net/snmp` (`Tcp:`) and `/proc/net/netstat` (`TcpExt:`).
///
/// The `nagle` experiment divides the growth of `outSegments` by the number of
/// logical messages to show how many segments each write pattern costs. The counters
/// are per network namespace, so run inside a private one (`unshare -rn`) to keep
/// other traffic out.
public struct TCPCounters: Sendable, Equatable, Codable {
    /// `Tcp: InSegs`: segments received, including errors.
    public var inSegments: UInt64
    /// `Tcp: OutSegs`: segments sent, excluding retransmissions.
    public var outSegments: UInt64
    /// `Tcp: RetransSegs`: segments retransmitted.
    public var retransmittedSegments: UInt64
    /// `TcpExt: DelayedACKs`: delayed ACKs sent (the other half of the Nagle stall).
    public var delayedACKs: UInt64

    /// Build counters directly.
    public init(inSegments: UInt64 = 0, outSegments: UInt64 = 0, retransmittedSegments: UInt64 = 0, delayedACKs: UInt64 = 0) {
        self.inSegments = inSegments
        self.outSegments = outSegments
        self.retransmittedSegments = retransmittedSegments
        self.delayedACKs = delayedACKs
    }

    /// Counter-wise difference, clamped at 0.
    public static func - (a: TCPCounters, b: TCPCounters) -> TCPCounters {
        func d(_ x: UInt64, _ y: UInt64) -> UInt64 { x >= y ? x - y : 0 }
        return TCPCounters(inSegments: d(a.inSegments, b.inSegments), outSegments: d(a.outSegments, b.outSegments),
                           retransmittedSegments: d(a.retransmittedSegments, b.retransmittedSegments),
                           delayedACKs: d(a.delayedACKs, b.delayedACKs))
    }

    /// Parse the texts of `/proc/net/snmp` and (optionally) `/proc/net/netstat`.
    /// `nil` if the `Tcp:` table lacks the segment counters.
    public static func parse(snmp: String, netstat: String?) -> TCPCounters? {
        let tcp = parseHeaderValueTables(snmp)["Tcp"] ?? [:]
        guard let inSegs = tcp["InSegs"], let outSegs = tcp["OutSegs"] else { return nil }
        let ext = netstat.map { parseHeaderValueTables($0)["TcpExt"] ?? [:] } ?? [:]
        return TCPCounters(inSegments: UInt64(clamping: inSegs), outSegments: UInt64(clamping: outSegs),
                           retransmittedSegments: UInt64(clamping: tcp["RetransSegs"] ?? 0),
                           delayedACKs: UInt64(clamping: ext["DelayedACKs"] ?? 0))
    }

    /// Read the counters of the caller's network namespace now.
    public static func read() -> TCPCounters? {
        guard let snmp = ProcFile.read("/proc/net/snmp") else { return nil }
        return parse(snmp: snmp, netstat: ProcFile.read("/proc/net/netstat"))
    }

    /// Parse the "header line, value line" pairs of `/proc/net/snmp` and `/proc/net/netstat`:
    /// `Prefix: name1 name2 …` followed by `Prefix: v1 v2 …`. Returns values keyed by
    /// prefix (without the colon), then by name. Prefixes match exactly, so `MPTcpExt`
    /// never shadows `TcpExt`. Values are signed (`Tcp: MaxConn` is -1).
    public static func parseHeaderValueTables(_ text: String) -> [String: [String: Int64]] {
        var result: [String: [String: Int64]] = [:]
        var pendingHeader: (prefix: Substring, names: [Substring])?
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard let first = fields.first, first.hasSuffix(":") else { pendingHeader = nil; continue }
            let prefix = first.dropLast()
            let rest = Array(fields.dropFirst())
            if let header = pendingHeader, header.prefix == prefix, rest.allSatisfy({ Int64($0) != nil }) {
                var table = result[String(prefix)] ?? [:]
                for (name, value) in zip(header.names, rest) { table[String(name)] = Int64(value)! }
                result[String(prefix)] = table
                pendingHeader = nil
            } else {
                pendingHeader = (prefix, rest)
            }
        }
        return result
    }
}

/// The TCP counters of one network namespace, from /proc/…/net/snmp and netstat opened once:
/// a /proc/net file shows the namespace of whoever opened it, so a source opened by a thread
/// inside a namespace keeps reading that namespace's counters from any thread, without
/// entering it again.
public final class TCPCounterSource: @unchecked Sendable {
    private let snmp: CInt
    private let netstat: CInt

    /// Opens the counters of the calling thread's namespace (`/proc/thread-self/net/…`).
    public init() throws {
        snmp = try Posix.openReadOnly("/proc/thread-self/net/snmp")
        do {
            netstat = try Posix.openReadOnly("/proc/thread-self/net/netstat")
        } catch {
            Posix.close(snmp)
            throw error
        }
    }

    deinit {
        Posix.close(snmp)
        Posix.close(netstat)
    }

    /// The counters now.
    public func read() -> TCPCounters? {
        guard let text = ProcFile.read(descriptor: snmp) else { return nil }
        return TCPCounters.parse(snmp: text, netstat: ProcFile.read(descriptor: netstat))
    }
}
