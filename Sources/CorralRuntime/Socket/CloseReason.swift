import SystemPackage

/// Why a connection closed: given to `ConnectionHandler.connectionDidClose` and thrown by the
/// async API once a connection is closed.
///
/// A struct over an internal enum, so that new reasons can be added without breaking a user's
/// `switch`: compare with `==` against the static members, or read `systemError`.
public struct CloseReason: Error, Sendable, Hashable, CustomStringConvertible {
    enum Kind: Hashable {
        case closed
        case peerReset
        case failed(SystemError)
        case inputLimitExceeded
        case timedOut
        case cancelled
        case loopShutDown
        case protocolViolation(String)
    }

    let kind: Kind

    /// An orderly close: this side closed it (`close()`, `closeAfterFlush()`, the end of a
    /// lingering close), or both sides had shut down.
    public static let closed = CloseReason(kind: .closed)
    /// The peer reset the connection (ECONNRESET) or stopped reading for good (EPIPE).
    public static let peerReset = CloseReason(kind: .peerReset)
    /// The peer sent more than `Connection.maxBufferedInput` bytes that the handler did not consume.
    public static let inputLimitExceeded = CloseReason(kind: .inputLimitExceeded)
    /// A deadline of the connection's owner passed (e.g. an idle timeout).
    public static let timedOut = CloseReason(kind: .timedOut)
    /// The task that owned the connection was cancelled.
    public static let cancelled = CloseReason(kind: .cancelled)
    /// The event loop shut down with the connection still open.
    public static let loopShutDown = CloseReason(kind: .loopShutDown)

    /// A system call on the connection failed.
    public static func failed(_ error: SystemError) -> CloseReason {
        switch error.errno {
        case .connectionReset, .brokenPipe: .peerReset
        default: CloseReason(kind: .failed(error))
        }
    }

    /// The handler refused what the peer sent (`detail` says what, for logs).
    public static func protocolViolation(_ detail: String) -> CloseReason {
        CloseReason(kind: .protocolViolation(detail))
    }

    /// The failed call, for `failed` reasons.
    public var systemError: SystemError? {
        if case .failed(let error) = kind { return error }
        return nil
    }

    /// True for an orderly close (`closed`), false for anything that cut the exchange short.
    public var isOrderly: Bool { kind == .closed }

    public var description: String {
        switch kind {
        case .closed: "closed"
        case .peerReset: "reset by peer"
        case .failed(let error): "failed: \(error)"
        case .inputLimitExceeded: "unconsumed input over the limit"
        case .timedOut: "timed out"
        case .cancelled: "cancelled"
        case .loopShutDown: "event loop shut down"
        case .protocolViolation(let detail): "protocol violation: \(detail)"
        }
    }
}
