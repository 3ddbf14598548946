import CCorral
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
    package static func openBeneath(_ directory: CInt, _ relativePath: String) throws(SystemError) -> CInt {
        let path = relativePath.isEmpty ? "." : relativePath
        let fd = ccorral_openat_beneath(directory, path)
        if fd >= 0 { return fd }
        let code = ccorral_errno()
        if code == EINTR || code == EAGAIN { return try openBeneath(directory, relativePath) }
        guard code == ENOSYS else { throw SystemError("openat2", errno: Errno(rawValue: code)) }
        let opened = try syscall("openat") { openat(directory, path, O_RDONLY | O_CLOEXEC) }
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

    package static func status(_ fd: CInt) throws(SystemError) -> FileStatus {
        var info = stat()
        _ = try syscall("fstat") { fstat(fd, &info) }
        return FileStatus(
            size: Int(info.st_size), modifiedSeconds: Int(info.st_mtim.tv_sec),
            modifiedNanoseconds: Int(info.st_mtim.tv_nsec), inode: UInt64(info.st_ino),
            isDirectory: info.st_mode & S_IFMT == S_IFDIR, isRegular: info.st_mode & S_IFMT == S_IFREG)
    }

    /// Reads exactly `count` bytes from `offset` (pread(2)); throws EIO if the file is shorter.
    package static func readAll(_ fd: CInt, count: Int) throws -> [UInt8] {
        var result = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = try result.withUnsafeMutableBytes { buffer in
                try syscall("pread") { pread(fd, buffer.baseAddress! + done, count - done, off_t(done)) }
            }
            if n == 0 { throw SystemError("pread (file shrank)", errno: .ioError) }
            done += n
        }
        return result
    }
}
