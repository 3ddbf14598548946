package import CCorral
import Glibc
import SystemPackage

/// Thin wrappers over the POSIX calls the runtime makes: one function per C call, named after it.
///
/// This folder (`System/`) is the only place in the runtime that calls libc for I/O.
package enum Posix {
    // MARK: descriptors

    /// close(2). Never retried: on Linux the descriptor is released even when close reports EINTR,
    /// and retrying could close a descriptor another thread has just been given
    /// (see the NOTES section of close(2)). Errors other than EBADF are reported but the fd is gone.
    package static func close(_ fd: CInt) {
        let result = Glibc.close(fd)
        if result == -1 {
            let code = ccorral_errno()
            precondition(code != EBADF, "close(\(fd)): EBADF, a descriptor closed twice")
        }
    }

    package static func read(_ fd: CInt, _ buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> IOResult<Int> {
        try nonBlockingSyscall("read") { Glibc.read(fd, buffer.baseAddress, buffer.count) }
    }

    package static func write(_ fd: CInt, _ buffer: UnsafeRawBufferPointer) throws(SystemError) -> IOResult<Int> {
        try nonBlockingSyscall("write") { Glibc.write(fd, buffer.baseAddress, buffer.count) }
    }

    /// sendmsg(2) of a gathered iovec array (send(2) when it is one piece: no msghdr for the
    /// kernel to copy); MSG_NOSIGNAL is always set so a closed peer is EPIPE, never SIGPIPE.
    package static func sendmsg(
        _ fd: CInt, _ iov: UnsafePointer<iovec>, count: Int, flags: CInt
    ) throws(SystemError) -> IOResult<Int> {
        try nonBlockingSyscall("sendmsg") { ccorral_sendmsg_iov(fd, iov, CInt(count), flags) }
    }

    /// writev(2) of a gathered iovec array (for a socket, SIGPIPE must be ignored: writev has no
    /// MSG_NOSIGNAL; `sendmsg` is the runtime's own choice).
    package static func writev(_ fd: CInt, _ iov: UnsafePointer<iovec>, count: Int) throws(SystemError) -> IOResult<Int> {
        try nonBlockingSyscall("writev") { Glibc.writev(fd, iov, CInt(count)) }
    }

    /// recv(2) with `flags` (e.g. MSG_DONTWAIT on a blocking socket).
    package static func recv(_ fd: CInt, _ buffer: UnsafeMutableRawBufferPointer, flags: CInt) throws(SystemError) -> IOResult<Int> {
        try nonBlockingSyscall("recv") { ccorral_recv(fd, buffer.baseAddress, buffer.count, flags) }
    }

    /// send(2) with MSG_NOSIGNAL added.
    package static func send(_ fd: CInt, _ buffer: UnsafeRawBufferPointer, flags: CInt) throws(SystemError) -> IOResult<Int> {
        try nonBlockingSyscall("send") { ccorral_send(fd, buffer.baseAddress, buffer.count, flags | ccorral_MSG_NOSIGNAL) }
    }

    /// sendfile(2) from `fileFD` at `offset` (advanced by the kernel) to a socket.
    package static func sendfile(
        _ socketFD: CInt, _ fileFD: CInt, offset: inout off_t, count: Int
    ) throws(SystemError) -> IOResult<Int> {
        try nonBlockingSyscall("sendfile") { Glibc.sendfile(socketFD, fileFD, &offset, count) }
    }

    /// fcntl(F_DUPFD_CLOEXEC): a second descriptor for the same open file, close-on-exec.
    package static func duplicate(_ fd: CInt) throws(SystemError) -> CInt {
        try syscall("fcntl(F_DUPFD_CLOEXEC)") { fcntl(fd, F_DUPFD_CLOEXEC, 0) }
    }

    /// unlink(2). A path that is already gone is not an error.
    package static func unlink(_ path: String) throws(SystemError) {
        if Glibc.unlink(path) == 0 { return }
        let code = ccorral_errno()
        if code == ENOENT { return }
        throw SystemError("unlink \(path)", errno: Errno(rawValue: code))
    }

    package static func fcntlGetFlags(_ fd: CInt) throws(SystemError) -> CInt {
        try syscall("fcntl(F_GETFL)") { fcntl(fd, F_GETFL) }
    }

    package static func fcntlSetFlags(_ fd: CInt, _ flags: CInt) throws(SystemError) {
        _ = try syscall("fcntl(F_SETFL)") { fcntl(fd, F_SETFL, flags) }
    }

    package static func pipe() throws(SystemError) -> (read: CInt, write: CInt) {
        var fds: (CInt, CInt) = (-1, -1)
        _ = try withUnsafeMutablePointer(to: &fds) { (pointer) throws(SystemError) -> CInt in
            try pointer.withMemoryRebound(to: CInt.self, capacity: 2) { (fds) throws(SystemError) -> CInt in
                try syscall("pipe2") { ccorral_pipe2_cloexec(fds) }
            }
        }
        return (fds.0, fds.1)
    }

    /// open(2) read-only with O_CLOEXEC, for the spare descriptor and /proc files.
    package static func openReadOnly(_ path: String) throws(SystemError) -> CInt {
        try syscall("open") { Glibc.open(path, O_RDONLY | O_CLOEXEC) }
    }

    /// open(2) for appending, creating the file (0644) if missing: log files.
    package static func openForAppending(_ path: String) throws(SystemError) -> CInt {
        try syscall("open") { Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644) }
    }

    /// open(2) creating a new file (0644) for writing; EEXIST if the path is taken.
    package static func createExclusive(_ path: String) throws(SystemError) -> CInt {
        try syscall("open") { Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644) }
    }

    /// open(2) write-only with O_CLOEXEC, not creating: /proc/sys and /sys settings.
    package static func openWriteOnly(_ path: String) throws(SystemError) -> CInt {
        try syscall("open") { Glibc.open(path, O_WRONLY | O_CLOEXEC) }
    }

    /// open(2) read-write with O_CLOEXEC: /dev/null for a child's standard streams.
    package static func openReadWrite(_ path: String) throws(SystemError) -> CInt {
        try syscall("open") { Glibc.open(path, O_RDWR | O_CLOEXEC) }
    }

    /// read(2) on a blocking descriptor (a pipe, a /proc file): the bytes read, 0 at end of file.
    package static func readBlocking(_ fd: CInt, _ buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> Int {
        try syscall("read") { Glibc.read(fd, buffer.baseAddress, buffer.count) }
    }

    /// write(2) on a blocking descriptor: the bytes written (a pipe or file may take fewer).
    package static func writeBlocking(_ fd: CInt, _ buffer: UnsafeRawBufferPointer) throws(SystemError) -> Int {
        try syscall("write") { Glibc.write(fd, buffer.baseAddress, buffer.count) }
    }

    /// pread(2): reads at `offset` without moving the file position; 0 at end of file.
    package static func pread(_ fd: CInt, _ buffer: UnsafeMutableRawBufferPointer, offset: Int) throws(SystemError) -> Int {
        try syscall("pread") { Glibc.pread(fd, buffer.baseAddress, buffer.count, off_t(offset)) }
    }

    /// poll(2) on several descriptors; returns how many have events in their `revents`
    /// (0 on timeout). `milliseconds` < 0 waits without limit.
    package static func poll(_ entries: inout [pollfd], milliseconds: CInt) throws(SystemError) -> Int {
        let count = nfds_t(entries.count)
        return Int(try entries.withUnsafeMutableBufferPointer { (buffer) throws(SystemError) -> CInt in
            try syscall("poll") { Glibc.poll(buffer.baseAddress, count, milliseconds) }
        })
    }

    /// poll(2) on one descriptor; true when one of `events` (e.g. POLLOUT) is ready, false on
    /// timeout. `milliseconds` < 0 waits without limit.
    package static func poll(_ fd: CInt, events: Int16, milliseconds: CInt) throws(SystemError) -> Bool {
        var entry = pollfd(fd: fd, events: events, revents: 0)
        return try syscall("poll") { Glibc.poll(&entry, 1, milliseconds) } > 0
    }

    // MARK: sockets

    /// socket(2), close-on-exec and (unless `blocking`) non-blocking.
    package static func socket(domain: CInt, type: CInt, blocking: Bool = false) throws(SystemError) -> CInt {
        let flags = ccorral_SOCK_CLOEXEC | (blocking ? 0 : ccorral_SOCK_NONBLOCK)
        return try syscall("socket") { Glibc.socket(domain, type | flags, 0) }
    }

    /// Sends `descriptors` (1 to 64) over a UNIX stream socket with one byte of data
    /// (SCM_RIGHTS). The receiver gets its own copies; the caller still owns these.
    package static func sendDescriptors(_ socket: CInt, _ descriptors: [CInt]) throws(SystemError) {
        _ = try syscall("sendmsg(SCM_RIGHTS)") { ccorral_send_fds(socket, descriptors, CInt(descriptors.count)) }
    }

    /// Receives up to `max` descriptors sent by `sendDescriptors` (close-on-exec), blocking
    /// until they arrive. The caller owns what is returned; an empty array means end of file.
    package static func receiveDescriptors(_ socket: CInt, max: Int = 64) throws(SystemError) -> [CInt] {
        var fds = [CInt](repeating: -1, count: max)
        let count = try syscall("recvmsg(SCM_RIGHTS)") { ccorral_recv_fds(socket, &fds, CInt(max)) }
        return Array(fds[..<Int(count)])
    }

    /// socketpair(2), close-on-exec and (unless `blocking`) non-blocking.
    package static func socketpair(domain: CInt, type: CInt, blocking: Bool = false) throws(SystemError) -> (CInt, CInt) {
        var fds: (CInt, CInt) = (-1, -1)
        let flags = ccorral_SOCK_CLOEXEC | (blocking ? 0 : ccorral_SOCK_NONBLOCK)
        _ = try withUnsafeMutablePointer(to: &fds) { (pointer) throws(SystemError) -> CInt in
            try pointer.withMemoryRebound(to: CInt.self, capacity: 2) { (fds) throws(SystemError) -> CInt in
                try syscall("socketpair") {
                    Glibc.socketpair(domain, type | flags, 0, fds)
                }
            }
        }
        return fds
    }

    package static func bind(_ fd: CInt, _ address: SocketAddress) throws(SystemError) {
        _ = try address.withSockAddr { (pointer, length) throws(SystemError) -> CInt in
            try syscall("bind") { Glibc.bind(fd, pointer, length) }
        }
    }

    package static func listen(_ fd: CInt, backlog: CInt) throws(SystemError) {
        _ = try syscall("listen") { Glibc.listen(fd, backlog) }
    }

    /// accept4(2) with SOCK_NONBLOCK|SOCK_CLOEXEC. `.wouldBlock` means the queue was empty.
    package static func accept4(_ fd: CInt) throws(SystemError) -> IOResult<CInt> {
        try nonBlockingSyscall("accept4") { ccorral_accept4(fd, nil, nil) }
    }

    /// accept(2), for a blocking listener whose connections stay blocking (the lab's
    /// thread-per-connection and process models). The caller owns the descriptor, which is
    /// not close-on-exec.
    package static func acceptBlocking(_ fd: CInt) throws(SystemError) -> CInt {
        try syscall("accept") { Glibc.accept(fd, nil, nil) }
    }

    /// connect(2) on a non-blocking socket: `.wouldBlock` stands for EINPROGRESS
    /// (completion is reported by EPOLLOUT and read with SO_ERROR).
    package static func connect(_ fd: CInt, _ address: SocketAddress) throws(SystemError) -> IOResult<Void> {
        let result = address.withSockAddr { pointer, length in Glibc.connect(fd, pointer, length) }
        if result == 0 { return .processed(()) }
        let code = ccorral_errno()
        if code == EINPROGRESS || code == EINTR { return .wouldBlock }
        throw SystemError("connect", errno: Errno(rawValue: code))
    }

    package static func shutdown(_ fd: CInt, how: CInt) throws(SystemError) {
        _ = try syscall("shutdown") { Glibc.shutdown(fd, how) }
    }

    package static func setsockopt<T: BitwiseCopyable>(_ fd: CInt, _ level: CInt, _ name: CInt, _ value: T) throws(SystemError) {
        var value = value
        _ = try syscall("setsockopt") {
            Glibc.setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<T>.size))
        }
    }

    package static func getsockopt(_ fd: CInt, _ level: CInt, _ name: CInt) throws(SystemError) -> CInt {
        var value: CInt = 0
        var length = socklen_t(MemoryLayout<CInt>.size)
        _ = try syscall("getsockopt") { Glibc.getsockopt(fd, level, name, &value, &length) }
        return value
    }

    /// getsockname(2): the local address, e.g. the port the kernel picked for port 0.
    package static func getsockname(_ fd: CInt) throws(SystemError) -> SocketAddress {
        try address(of: fd, "getsockname") { Glibc.getsockname($0, $1, $2) }
    }

    /// getpeername(2): the remote address of a connected socket.
    package static func getpeername(_ fd: CInt) throws(SystemError) -> SocketAddress {
        try address(of: fd, "getpeername") { Glibc.getpeername($0, $1, $2) }
    }

    /// A socket address filled in by `call` (getsockname or getpeername).
    private static func address(
        of fd: CInt, _ operation: StaticString,
        _ call: (CInt, UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> CInt
    ) throws(SystemError) -> SocketAddress {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = try withUnsafeMutablePointer(to: &storage) { (pointer) throws(SystemError) -> CInt in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { (address) throws(SystemError) -> CInt in
                try syscall(operation) { call(fd, address, &length) }
            }
        }
        return SocketAddress(storage: storage)
    }

    // MARK: shared memory

    /// mkstemp(3) then unlink(2): a new file (0600) in `directory` that no path names, open
    /// read-write and close-on-exec. Its memory lives until the last descriptor closes.
    package static func anonymousFile(in directory: String) throws(SystemError) -> CInt {
        var template = Array((directory + "/corral-XXXXXX").utf8CString)
        let fd = try syscall("mkstemp") { template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) } }
        let path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        do {
            try unlink(path)
            _ = try syscall("fcntl(F_SETFD)") { fcntl(fd, F_SETFD, FD_CLOEXEC) }
        } catch {
            close(fd)
            throw error
        }
        return fd
    }

    /// ftruncate(2): sets the file's size.
    package static func ftruncate(_ fd: CInt, size: Int) throws(SystemError) {
        _ = try syscall("ftruncate") { Glibc.ftruncate(fd, off_t(size)) }
    }

    /// mmap(2) of `size` bytes of `fd` from its start, read-write and shared with every process
    /// that maps it.
    package static func mapShared(_ fd: CInt, size: Int) throws(SystemError) -> UnsafeMutableRawPointer {
        guard let pointer = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), pointer != MAP_FAILED else {
            throw SystemError("mmap", errno: Errno(rawValue: ccorral_errno()))
        }
        return pointer
    }

    /// munmap(2). It fails only for a range that was never mapped: a caller's bug.
    package static func unmap(_ pointer: UnsafeMutableRawPointer, size: Int) {
        let result = munmap(pointer, size)
        precondition(result == 0, "munmap: errno \(ccorral_errno())")
    }

    // MARK: resources

    package static func getrlimitNoFile() throws(SystemError) -> rlimit {
        var limit = rlimit()
        _ = try syscall("getrlimit") { getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) }
        return limit
    }

    package static func setrlimitNoFile(_ limit: rlimit) throws(SystemError) {
        var limit = limit
        _ = try syscall("setrlimit") { setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) }
    }
}
