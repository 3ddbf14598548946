import CCorral
import CorralRuntime
import Glibc

/// Restart without dropping a connection: the running server hands its listening sockets to
/// its successor over a UNIX socket (SCM_RIGHTS), the successor starts accepting on the very
/// same sockets (so nothing queued in their backlog is lost), and only then does the old
/// server stop accepting and drain.
///
/// Protocol on the UNIX socket at `path`: the old server sends the descriptors with one byte;
/// the new one answers one byte once it accepts on them; the old one then removes its
/// hand-over socket, closes the connection (the new one may now offer its own at `path`) and
/// drains.
public enum Handover {
    /// New side: receives the listening sockets from the server offering them at `path`.
    /// Returns them and the connection to acknowledge on with `acknowledge`.
    public static func receive(from path: String) throws -> (descriptors: [CInt], connection: CInt) {
        let fd = socket(AF_UNIX, CInt(SOCK_STREAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemError("socket", errno: .init(rawValue: errno)) }
        let connected = SocketAddress.unix(path: path).withSockAddr { Glibc.connect(fd, $0, $1) }
        guard connected == 0 else {
            let code = errno
            Glibc.close(fd)
            throw SystemError("connect \(path)", errno: .init(rawValue: code))
        }
        var fds = [CInt](repeating: -1, count: 64)
        let count = ccorral_recv_fds(fd, &fds, 64)
        guard count > 0 else {
            let code = count == 0 ? EPIPE : errno
            Glibc.close(fd)
            throw SystemError("receive listening sockets from \(path)", errno: .init(rawValue: code))
        }
        return (Array(fds[..<Int(count)]), fd)
    }

    /// New side: tells the old server it is accepting now, and waits until the old server has
    /// let go of the hand-over socket (EOF), so `path` can be offered again.
    public static func acknowledge(_ connection: CInt) {
        var byte: UInt8 = 1
        _ = Glibc.send(connection, &byte, 1, CInt(MSG_NOSIGNAL))
        var scratch: UInt8 = 0
        while Glibc.recv(connection, &scratch, 1, 0) > 0 {}
        Glibc.close(connection)
    }
}

/// Old side: sends the listening sockets to whoever connects to the hand-over socket, and
/// reports when the successor has acknowledged.
final class HandoverOfferHandler: ConnectionHandler {
    private let server: HTTPServer
    private let whenTakenOver: @Sendable () -> Void
    private var sent: [CInt] = []

    init(server: HTTPServer, whenTakenOver: @escaping @Sendable () -> Void) {
        self.server = server
        self.whenTakenOver = whenTakenOver
    }

    func connectionDidOpen(_ connection: Connection) {
        do {
            sent = try server.duplicateListeningDescriptors()
            if ccorral_send_fds(connection.fd, sent, CInt(sent.count)) != 0 {
                throw SystemError("send listening sockets", errno: .init(rawValue: ccorral_errno()))
            }
        } catch {
            connection.close()
        }
        for fd in sent { Posix.close(fd) }  // the successor holds its own copies now
        sent = []
    }

    func connection(_ connection: Connection, didRead buffer: UnsafeRawBufferPointer) -> Int {
        server.releaseHandoverPath()
        connection.close()
        whenTakenOver()
        return buffer.count
    }
}
