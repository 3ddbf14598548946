package import CCorral
import Glibc

/// Options applied to a socket. Every field has a default; unset means "kernel default".
public struct SocketOptions: Sendable {
    /// TCP_NODELAY: send small segments without waiting for the ACK of the previous one
    /// (Nagle). On by default: Corral gathers each flush into one write, so Nagle has nothing
    /// left to coalesce and would only add a delayed-ACK round trip (seed 004).
    public var noDelay = true
    /// SO_RCVBUF / SO_SNDBUF in bytes; nil leaves the kernel's autotuning alone.
    public var receiveBufferSize: Int? = nil
    public var sendBufferSize: Int? = nil
    /// SO_KEEPALIVE with TCP_KEEPIDLE seconds, nil for off.
    public var keepAliveIdleSeconds: Int? = nil

    public init() {}

    /// Applies the options to a socket (NODELAY and keepalive do not apply to UNIX ones).
    ///
    /// A TCP socket accept(2) returns is a clone of its listening socket (sk_clone_lock), so it
    /// inherits all of these; `Listener` therefore sets them once on its TCP listening sockets
    /// instead of once per connection. A UNIX socket from accept(2) is created fresh and
    /// inherits nothing.
    package func apply(to fd: CInt, isTCP: Bool) throws(SystemError) {
        if isTCP && noDelay { try Posix.setsockopt(fd, CInt(IPPROTO_TCP), ccorral_TCP_NODELAY, CInt(1)) }
        if let size = receiveBufferSize { try Posix.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, CInt(size)) }
        if let size = sendBufferSize { try Posix.setsockopt(fd, SOL_SOCKET, SO_SNDBUF, CInt(size)) }
        if isTCP, let idle = keepAliveIdleSeconds {
            try Posix.setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, CInt(1))
            try Posix.setsockopt(fd, CInt(IPPROTO_TCP), TCP_KEEPIDLE, CInt(idle))
        }
    }
}
