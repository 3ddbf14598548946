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
        let fd = try Posix.socket(domain: AF_UNIX, type: ccorral_SOCK_STREAM, blocking: true)
        do {
            guard case .processed = try Posix.connect(fd, .unix(path: path)) else {
                throw SystemError("connect \(path)", errno: .interrupted)
            }
            let descriptors = try Posix.receiveDescriptors(fd)
            guard !descriptors.isEmpty else {
                throw SystemError("receive listening sockets from \(path)", errno: .brokenPipe)
            }
            return (descriptors, fd)
        } catch {
            Posix.close(fd)
            throw error
        }
    }

    /// New side: tells the old server it is accepting now, and waits until the old server has
    /// let go of the hand-over socket (EOF), so `path` can be offered again.
    public static func acknowledge(_ connection: CInt) {
        var byte: UInt8 = 1
        _ = try? withUnsafeBytes(of: &byte) { try Posix.send(connection, $0, flags: 0) }
        var scratch: UInt8 = 0
        while case .processed(let count)? = try? withUnsafeMutableBytes(of: &scratch, { try Posix.read(connection, $0) }),
            count > 0
        {}
        Posix.close(connection)
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
            try Posix.sendDescriptors(connection.fd, sent)
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
