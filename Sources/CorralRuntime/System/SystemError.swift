import SystemPackage

/// A failed system call: the operation that failed and the `errno` it left.
///
/// Every syscall wrapper in `System/` throws this, so an error always says which call failed.
public struct SystemError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The C call that failed, e.g. `"accept4"`.
    public let operation: String
    /// The error number the call left in `errno`.
    public let errno: Errno

    public init(_ operation: String, errno: Errno) {
        self.operation = operation
        self.errno = errno
    }

    public var description: String { "\(operation): \(errno) (errno \(errno.rawValue))" }
}
