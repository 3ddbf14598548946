import CorralRuntime
import HTTPTypes

/// What the file cache found for a path.
enum FileLookup {
    /// A regular file (for a directory path ending in `/`, its `index.html`).
    case file(FileEntry)
    /// A directory named without its trailing slash: answer with a redirect to `path/`, so
    /// relative links in its index resolve against the directory.
    case directory
    case failure(FileFailure)
}

/// Why a path cannot be served, as the status to answer with (what nginx answers, where the
/// RFC leaves it open).
enum FileFailure: Error, Equatable {
    /// 404: no such file, not a directory, a name too long, an escape from the root, or not a
    /// regular file (a FIFO, socket or device: never opened for reading, never served).
    case notFound
    /// 403: permission denied, or a directory without an index.
    case forbidden
    /// 503 with Retry-After: out of descriptors or memory, or a file leased by another process.
    /// A 404 would be cached by clients and proxies, and wrong.
    case unavailable
    /// 500, logged: anything else (EIO, ...).
    case failed(SystemError)

    /// The failure an errno from open(2)/openat2(2), fstat(2) or pread(2) stands for.
    static func from(_ error: SystemError) -> FileFailure {
        switch error.errno {
        case .noSuchFileOrDirectory, .notDirectory, .fileNameTooLong, .improperLink, .noSuchAddressOrDevice:
            // EXDEV: openat2 RESOLVE_BENEATH refused an escape; ENXIO: a socket or a device
            // without a driver, opened with O_NONBLOCK.
            .notFound
        case .permissionDenied, .notPermitted, .tooManySymbolicLinkLevels:
            // ELOOP, as nginx: a symlink loop (or RESOLVE_NO_MAGICLINKS) is not the client's
            // to explore.
            .forbidden
        case .tooManyOpenFiles, .tooManyOpenFilesInSystem, .noMemory, .wouldBlock:
            .unavailable
        default:
            .failed(error)
        }
    }

    var status: HTTPResponse.Status {
        switch self {
        case .notFound: .notFound
        case .forbidden: .forbidden
        case .unavailable: .serviceUnavailable
        case .failed: .internalServerError
        }
    }
}
