package import CCorral
import Glibc
import SystemPackage

/// The outcome of a non-blocking call: it did work, or the kernel said EAGAIN/EWOULDBLOCK.
package enum IOResult<Value> {
    case processed(Value)
    case wouldBlock
}

/// Runs one system call that returns -1 and sets `errno` on failure.
///
/// Retries EINTR (every call here is restartable except `close`, which never goes through
/// this helper), and throws `SystemError` naming `operation` for any other error.
/// EBADF and EFAULT mean the runtime itself is broken (a closed or bogus descriptor or pointer),
/// so they stop the process instead of being handed to a caller who cannot recover.
@inline(__always)
package func syscall<T: FixedWidthInteger>(
    _ operation: StaticString, _ body: () -> T
) throws(SystemError) -> T {
    while true {
        let result = body()
        if result != -1 { return result }
        let code = ccorral_errno()
        if code == EINTR { continue }
        preconditionIsNotUnacceptable(code, operation)
        throw SystemError(String(describing: operation), errno: Errno(rawValue: code))
    }
}

/// Like `syscall`, but EAGAIN/EWOULDBLOCK become `.wouldBlock` instead of an error.
@inline(__always)
package func nonBlockingSyscall<T: FixedWidthInteger>(
    _ operation: StaticString, _ body: () -> T
) throws(SystemError) -> IOResult<T> {
    while true {
        let result = body()
        if result != -1 { return .processed(result) }
        let code = ccorral_errno()
        if code == EINTR { continue }
        if code == EAGAIN || code == EWOULDBLOCK { return .wouldBlock }
        preconditionIsNotUnacceptable(code, operation)
        throw SystemError(String(describing: operation), errno: Errno(rawValue: code))
    }
}

@inline(__always)
private func preconditionIsNotUnacceptable(_ code: CInt, _ operation: StaticString) {
    precondition(code != EBADF && code != EFAULT, "\(operation) failed with errno \(code): a runtime bug")
}
