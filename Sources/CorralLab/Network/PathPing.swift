import CCorral
import CorralRuntime
import Glibc

/// Datagrams over a ``LabNetworkPath``: a connected UDP pair (client side, server side), and a
/// ping that measures the path's round trip the way the wire's tests and the lab's tables
/// report it.
///
/// Between namespaces the ping is ICMP echo from a ping socket: the server's kernel answers in
/// softirq context and the client's kernel stamps the reply as it arrives, so the round trip is
/// the path's (the link and what emulates it), not the scheduling of a program at either end.
/// On loopback it is a UDP echo thread.
enum PathPing {
    /// A UDP socket on each side, bound to an ephemeral port and connected to the other
    /// (blocking, close-on-exec). The caller closes both.
    static func udpPair(_ path: LabNetworkPath) throws -> (client: CInt, server: CInt) {
        let clientHost = path.client == nil ? "127.0.0.1" : LabNetworkPath.clientAddress
        let (server, serverAddress) = try path.onServer { try bound(host: path.serverHost) }
        let client: CInt
        do {
            let (fd, clientAddress) = try path.onClient { try bound(host: clientHost) }
            client = fd
            _ = try Posix.connect(server, clientAddress)
            _ = try Posix.connect(client, serverAddress)
        } catch {
            Posix.close(server)
            throw error
        }
        return (client, server)
    }

    /// `count` round trips of a 32-byte datagram, one after another, echoed by a thread on the
    /// server side; a datagram not answered within `timeoutMilliseconds` is counted lost and
    /// left out. Returns the round trips in nanoseconds, in the order measured.
    static func roundTrips(_ path: LabNetworkPath, count: Int, timeoutMilliseconds: Int) throws -> [UInt64] {
        if path.client != nil { return try icmpRoundTrips(path, count: count, timeoutMilliseconds: timeoutMilliseconds) }
        let (client, server) = try udpPair(path)
        defer { Posix.close(client) }
        let stop = try LabGate()
        let echoThread = try Threads.spawn(name: "lab-ping-echo") {
            defer { Posix.close(server) }
            echo(server, until: stop)
        }
        defer {
            stop.open()
            Threads.join(echoThread)
        }
        var results: [UInt64] = []
        var datagram = [UInt8](repeating: 0, count: 32)
        var reply = [UInt8](repeating: 0, count: 64)
        for sequence in 0..<count {
            withUnsafeBytes(of: UInt64(sequence).bigEndian) { for i in 0..<8 { datagram[i] = $0[i] } }
            let start = monotonicNanoseconds()
            guard case .processed? = try? datagram.withUnsafeBytes({ try Posix.send(client, $0, flags: 0) }) else { continue }
            let end = deadline(afterMilliseconds: timeoutMilliseconds)
            while waitReadable(client, until: end) {
                guard case .processed(let n)? = try? reply.withUnsafeMutableBytes({ try Posix.read(client, $0) }) else { break }
                if n == datagram.count && reply[0..<8] == datagram[0..<8] {
                    results.append(monotonicNanoseconds() - start)
                    break
                }  // a late answer to an earlier ping: keep waiting for this one
            }
        }
        return results
    }

    /// `count` ICMP echoes from the client's namespace to the server's address, one after
    /// another; the round trip runs from just before send(2) to the kernel's receive stamp.
    private static func icmpRoundTrips(_ path: LabNetworkPath, count: Int, timeoutMilliseconds: Int) throws -> [UInt64] {
        let fd = try path.onClient { try PingSocket.open() }
        defer { Posix.close(fd) }
        _ = try Posix.connect(fd, .ipv4(host: path.serverHost, port: 0))
        var results: [UInt64] = []
        // struct icmphdr: type 8 (echo request), code 0, checksum and id (the kernel's), sequence; then 24 bytes.
        var request = [UInt8](repeating: 0, count: 32)
        request[0] = 8
        var reply = [UInt8](repeating: 0, count: 128)
        for sequence in 0..<count {
            request[6] = UInt8(truncatingIfNeeded: sequence >> 8)
            request[7] = UInt8(truncatingIfNeeded: sequence)
            let sent = realtimeNanoseconds()
            guard case .processed? = try? request.withUnsafeBytes({ try Posix.send(fd, $0, flags: 0) }) else { continue }
            let end = deadline(afterMilliseconds: timeoutMilliseconds)
            while waitReadable(fd, until: end) {
                guard case .processed(let got)? = try? reply.withUnsafeMutableBytes({ try PingSocket.receive(fd, $0) }) else { break }
                // An echo reply (type 0) to this request: its sequence (an earlier one's came late).
                if got.length >= 8 && reply[0] == 0 && reply[6] == request[6] && reply[7] == request[7] {
                    if got.stamp > 0 && UInt64(got.stamp) > sent { results.append(UInt64(got.stamp) - sent) }
                    break
                }
            }
        }
        return results
    }

    /// CLOCK_REALTIME in nanoseconds: the clock of the kernel's receive stamps.
    private static func realtimeNanoseconds() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    private static func bound(host: String) throws -> (CInt, SocketAddress) {
        let fd = try Posix.socket(domain: AF_INET, type: CInt(SOCK_DGRAM.rawValue))
        do {
            try Posix.bind(fd, .ipv4(host: host, port: 0))
            return (fd, try Posix.getsockname(fd))
        } catch {
            Posix.close(fd)
            throw error
        }
    }

    /// Sends every datagram back until `stop` opens.
    private static func echo(_ fd: CInt, until stop: LabGate) {
        var buffer = [UInt8](repeating: 0, count: 2048)
        var entries = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0), pollfd(fd: stop.descriptor, events: Int16(POLLIN), revents: 0)]
        while true {
            // A poll error (ENOMEM) ends the echo as a timeout does: the pings then count as lost.
            guard let ready = try? Posix.poll(&entries, milliseconds: 10_000), ready > 0, entries[1].revents == 0 else { return }
            while case .processed(let n)? = try? buffer.withUnsafeMutableBytes({ try Posix.read(fd, $0) }) {
                _ = try? buffer.withUnsafeBytes { try Posix.send(fd, UnsafeRawBufferPointer(rebasing: $0[0..<n]), flags: 0) }
            }
        }
    }
}
