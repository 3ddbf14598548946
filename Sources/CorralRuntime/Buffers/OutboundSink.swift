package import CCorral
import Glibc

/// Where an `OutboundQueue` sends its bytes: the two calls its flush makes.
///
/// The socket implementation calls the kernel; tests give the queue a scripted sink instead, so
/// partial writes, `EAGAIN`, `MSG_MORE` boundaries and staging compaction are checked without a
/// socket (swift-nio's `PendingWritesManager` is tested the same way).
package protocol OutboundSink {
    /// Sends the gathered `pieces` (sendmsg(2)); `more` asks the kernel to hold a partial
    /// segment because a file region follows (MSG_MORE).
    mutating func send(_ pieces: UnsafeBufferPointer<iovec>, more: Bool) throws(SystemError) -> IOResult<Int>
    /// Sends `count` bytes of `file` from `offset`, advancing it (sendfile(2)).
    mutating func sendFile(_ file: CInt, offset: inout off_t, count: Int) throws(SystemError) -> IOResult<Int>
}

/// The kernel: sendmsg(2) and sendfile(2) on a connected stream socket.
package struct SocketSink: OutboundSink {
    package let fd: CInt

    package init(fd: CInt) { self.fd = fd }

    @inline(__always)
    package mutating func send(_ pieces: UnsafeBufferPointer<iovec>, more: Bool) throws(SystemError) -> IOResult<Int> {
        try Posix.sendmsg(fd, pieces.baseAddress!, count: pieces.count, flags: more ? ccorral_MSG_MORE : 0)
    }

    @inline(__always)
    package mutating func sendFile(_ file: CInt, offset: inout off_t, count: Int) throws(SystemError) -> IOResult<Int> {
        try Posix.sendfile(fd, file, offset: &offset, count: count)
    }
}
