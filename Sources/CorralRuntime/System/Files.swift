package import CCorral
import Glibc
import SystemPackage

/// What the static-file server needs to know about a file: fstat(2), trimmed.
public struct FileStatus: Sendable, Equatable {
    public var size: Int
    public var modifiedSeconds: Int
    public var modifiedNanoseconds: Int
    public var inode: UInt64
    public var isDirectory: Bool
    public var isRegular: Bool
}

/// File calls for serving a directory tree safely.
package enum Files {
    /// Opens the root directory that every later `openBeneath` resolves against.
    package static func openDirectory(_ path: String) throws(SystemError) -> CInt {
        try syscall("open(root)") { open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
    }

    /// Opens `relativePath` read-only inside `directory`, never outside it: openat2(2) with
    /// RESOLVE_BENEATH refuses `..` escapes and absolute symlinks leading out (EXDEV), and
    /// RESOLVE_NO_MAGICLINKS refuses /proc-style links. On kernels before 5.6 (ENOSYS) it falls
    /// back to openat(2) plus a check of the opened file's real path against the root's.
    /// Never blocks on what it opens: O_NONBLOCK makes a FIFO open at once (the caller fstats
    /// and refuses anything but a regular file), O_NOCTTY keeps a terminal from becoming ours.
    package static func openBeneath(_ directory: CInt, _ relativePath: String) throws(SystemError) -> CInt {
        let path = relativePath.isEmpty ? "." : relativePath
        let fd = ccorral_openat_beneath(directory, path)
        if fd >= 0 { return fd }
        let code = ccorral_errno()
        // Not EAGAIN: with O_NONBLOCK that means another process holds a lease on the file
        // (fcntl(2), F_SETLEASE), and retrying would spin until it lets go.
        if code == EINTR { return try openBeneath(directory, relativePath) }
        guard code == ENOSYS else { throw SystemError("openat2", errno: Errno(rawValue: code)) }
        let opened = try syscall("openat") { openat(directory, path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY) }
        guard let root = realPath(ofFD: directory), let file = realPath(ofFD: opened),
            file == root || file.hasPrefix(root == "/" ? "/" : root + "/")
        else {
            Posix.close(opened)
            throw SystemError("openat (outside the root)", errno: .improperLink)
        }
        return opened
    }

    private static func realPath(ofFD fd: CInt) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink("/proc/self/fd/\(fd)", &buffer, Int(PATH_MAX))
        guard count > 0 else { return nil }
        return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// mkdtemp(3): a new directory `prefix` + six random characters (e.g. `/tmp/corral-XXXXXX`),
    /// then chmod(2) to `mode` (mkdtemp makes it 0700). Returns its path.
    package static func makeTemporaryDirectory(_ prefix: String, mode: mode_t = 0o700) throws(SystemError) -> String {
        var template = Array((prefix + "XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) != nil }
        guard made else { throw SystemError("mkdtemp", errno: Errno(rawValue: ccorral_errno())) }
        let path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        if mode != 0o700 {
            do {
                _ = try syscall("chmod") { chmod(path, mode) }
            } catch {
                _ = rmdir(path)  // just made and empty: this cannot fail in a way worth a second error
                throw error
            }
        }
        return path
    }

    /// rmdir(2): removes an empty directory. A path already gone is not an error.
    package static func removeDirectory(_ path: String) throws(SystemError) {
        if rmdir(path) == 0 { return }
        let code = ccorral_errno()
        if code == ENOENT { return }
        throw SystemError("rmdir \(path)", errno: Errno(rawValue: code))
    }

    package static func status(_ fd: CInt) throws(SystemError) -> FileStatus {
        var info = stat()
        _ = try syscall("fstat") { fstat(fd, &info) }
        return FileStatus(
            size: Int(info.st_size), modifiedSeconds: Int(info.st_mtim.tv_sec),
            modifiedNanoseconds: Int(info.st_mtim.tv_nsec), inode: UInt64(info.st_ino),
            isDirectory: info.st_mode & S_IFMT == S_IFDIR, isRegular: info.st_mode & S_IFMT == S_IFREG)
    }

    /// Reads exactly `count` bytes from the start of the file (pread(2)); EIO if it is shorter.
    package static func readAll(_ fd: CInt, count: Int) throws(SystemError) -> [UInt8] {
        var failure: SystemError?
        let result = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            var done = 0
            while done < count {
                let n: Int
                do throws(SystemError) {
                    n = try syscall("pread") { pread(fd, buffer.baseAddress! + done, count - done, off_t(done)) }
                } catch {
                    failure = error
                    break
                }
                if n == 0 {
                    failure = SystemError("pread (file shrank)", errno: .ioError)
                    break
                }
                done += n
            }
            initialized = failure == nil ? count : 0
        }
        if let failure { throw failure }
        return result
    }
}
