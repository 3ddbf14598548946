internal import CCorral
import Glibc

/// One listening TCP socket as the kernel's inet_diag reports it (what `ss -lt` prints).
package struct ListeningSocketInfo: Sendable, Equatable {
    /// Local port.
    package var port: UInt16
    /// Connections waiting in the accept queue (sk_ack_backlog; `ss` Recv-Q).
    package var queued: UInt32
    /// The accept queue's limit (sk_max_ack_backlog; `ss` Send-Q).
    package var backlog: UInt32
}

/// NETLINK_SOCK_DIAG (sock_diag(7)), the interface `ss` uses: asks the kernel's tcp_diag for
/// the listening sockets of the calling thread's network namespace.
package enum SockDiag {
    private static let sockDiagByFamily: UInt16 = 20  // SOCK_DIAG_BY_FAMILY
    private static let request: UInt16 = 0x1, dump: UInt16 = 0x300  // NLM_F_REQUEST, NLM_F_DUMP
    private static let done: UInt16 = 3, error: UInt16 = 2  // NLMSG_DONE, NLMSG_ERROR
    private static let listenState: UInt32 = 10  // TCP_LISTEN

    /// A netlink socket for `listeners(on:)`; blocking (the kernel answers at once) and
    /// close-on-exec. It queries the namespace of the thread that created it, wherever it is used.
    package static func open() throws(SystemError) -> CInt {
        let fd = try syscall("socket(AF_NETLINK)") {
            Glibc.socket(AF_NETLINK, CInt(SOCK_DGRAM.rawValue) | ccorral_SOCK_CLOEXEC, 4 /* NETLINK_SOCK_DIAG */)
        }
        return fd
    }

    /// Every IPv4 TCP socket in LISTEN state (one per SO_REUSEPORT member), optionally only
    /// those bound to `port`. One dump request, answered in one or more datagrams.
    package static func listeners(_ fd: CInt, port: UInt16? = nil) throws(SystemError) -> [ListeningSocketInfo] {
        // struct nlmsghdr (16 bytes) + struct inet_diag_req_v2 (56 bytes), little-endian host.
        var message = [UInt8](repeating: 0, count: 72)
        func put32(_ value: UInt32, at offset: Int) {
            for i in 0..<4 { message[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(i))) }
        }
        put32(72, at: 0)
        message[4] = UInt8(sockDiagByFamily & 0xff)
        message[5] = UInt8(sockDiagByFamily >> 8)
        message[6] = UInt8((request | dump) & 0xff)
        message[7] = UInt8((request | dump) >> 8)
        message[16] = UInt8(AF_INET)
        message[17] = UInt8(IPPROTO_TCP)
        put32(1 << listenState, at: 20)  // idiag_states
        _ = try syscall("send(sock_diag)") {
            message.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, ccorral_MSG_NOSIGNAL) }
        }
        var found: [ListeningSocketInfo] = []
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let count = try syscall("recv(sock_diag)") {
                buffer.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress, $0.count, 0) }
            }
            var offset = 0
            while offset + 16 <= count {
                let length = Int(read32(buffer, offset))
                let type = UInt16(buffer[offset + 4]) | UInt16(buffer[offset + 5]) << 8
                guard length >= 16, offset + length <= count else { return found }
                if type == done { return found }
                if type == error {
                    let code = -Int32(bitPattern: read32(buffer, offset + 16))
                    if code == 0 { return found }
                    throw SystemError("sock_diag", errno: .init(rawValue: code))
                }
                if type == sockDiagByFamily && length >= 16 + 72 {
                    // struct inet_diag_msg: family, state, timer, retrans, id (sport at +4, big-endian)…,
                    // expires at +52, rqueue at +56, wqueue at +60.
                    let body = offset + 16
                    let localPort = UInt16(buffer[body + 4]) << 8 | UInt16(buffer[body + 5])
                    if port == nil || port == localPort {
                        found.append(ListeningSocketInfo(port: localPort, queued: read32(buffer, body + 56),
                                                         backlog: read32(buffer, body + 60)))
                    }
                }
                offset += (length + 3) & ~3  // NLMSG_ALIGN
            }
        }
    }

    private static func read32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[offset + $1]) << (8 * UInt32($1)) }
    }
}
