/// The kernel interface a group's loops wait in and do their I/O through.
///
/// - `epoll`: readiness. The loop sleeps in epoll_wait(2), then reads with recv(2) and writes
///   with send(2) or sendmsg(2): three syscalls for one request/response on a connection.
/// - `uring`: completions (io_uring, Linux 6.1). Connections are accepted by a multishot accept,
///   read by a multishot receive into buffers the loop provides (an idle connection holds none),
///   and all the sends of a loop turn go to the kernel in the io_uring_enter(2) that also waits
///   for the next completion: one syscall per request/response (epoll: three), two when a send
///   must be followed up before the loop sleeps (a close after the last byte, say), and
///   connections open and close without one of their own.
///   Wake-ups from other loops arrive as IORING_OP_MSG_RING messages, timers as the wait's
///   timeout (nanosecond precision).
/// - `uringSubmissionPolling` (`uring-sqpoll`): `uring` with a kernel thread polling the
///   submission queue (IORING_SETUP_SQPOLL): submitting costs no syscall, waiting still does,
///   and the poller thread takes a CPU of its own while busy.
///
/// When io_uring cannot be used (no kernel support, `kernel.io_uring_disabled`, a seccomp filter
/// in a container), a group asked for `uring` says so once and uses epoll: see
/// `EventLoopGroup.backendNote`.
public struct EventLoopBackend: Sendable, Hashable, CustomStringConvertible {
    /// The two mechanisms.
    public enum Kind: String, Sendable, Hashable {
        case epoll
        case uring
    }

    public let kind: Kind
    /// uring only: a kernel thread polls the submission queue (IORING_SETUP_SQPOLL).
    public let submissionQueuePolling: Bool
    /// uring only: the ring's submission and completion slots (1 024 and 16 384). Tests shrink
    /// them to make the completion queue overflow.
    package let submissionEntries: UInt32
    package let completionEntries: UInt32

    private init(kind: Kind, submissionQueuePolling: Bool = false,
                 submissionEntries: UInt32 = 1024, completionEntries: UInt32 = 16384) {
        self.kind = kind
        self.submissionQueuePolling = submissionQueuePolling
        self.submissionEntries = submissionEntries
        self.completionEntries = completionEntries
    }

    /// `uring` with a ring of the given sizes (the kernel rounds them up to powers of two; the
    /// completion queue must be at least the submission queue).
    package static func uring(submissionEntries: UInt32, completionEntries: UInt32) -> EventLoopBackend {
        EventLoopBackend(kind: .uring, submissionEntries: submissionEntries, completionEntries: completionEntries)
    }

    public static let epoll = EventLoopBackend(kind: .epoll)
    public static let uring = EventLoopBackend(kind: .uring)
    public static let uringSubmissionPolling = EventLoopBackend(kind: .uring, submissionQueuePolling: true)

    /// Every backend, by name: `epoll`, `uring`, `uring-sqpoll`.
    public static let all: [EventLoopBackend] = [.epoll, .uring, .uringSubmissionPolling]

    /// The backend a group uses when none is named: epoll, chosen by measurement (README,
    /// `lab backends`; BENCHMARKS.md, 2026-12-02): io_uring costs less per request at many
    /// connections and more at one. `uring` falls back to epoll where io_uring is unavailable.
    public static var `default`: EventLoopBackend { .epoll }

    /// The backend named `name` (as printed by `description`), or nil.
    public init?(name: String) {
        guard let match = Self.all.first(where: { $0.description == name }) else { return nil }
        self = match
    }

    public var description: String {
        switch (kind, submissionQueuePolling) {
        case (.epoll, _): "epoll"
        case (.uring, false): "uring"
        case (.uring, true): "uring-sqpoll"
        }
    }
}

extension EventLoopBackend {
    /// The one-line explanation of why io_uring is unavailable here, if `error` (from setting up
    /// a ring) means that; nil for errors that are not about availability (e.g. ENOMEM).
    package static func unavailabilityReason(_ error: SystemError) -> String? {
        let why: String
        switch error.errno {
        case .noFunction: why = "the kernel has no io_uring (ENOSYS)"
        case .notPermitted, .permissionDenied:
            why = "io_uring is not permitted here (\(error.errno == .notPermitted ? "EPERM" : "EACCES"): kernel.io_uring_disabled, or a seccomp filter)"
        case .invalidArgument: why = "the kernel's io_uring lacks what the uring backend needs (EINVAL: it needs \(IOURing.minimumKernel))"
        default: return nil
        }
        return "io_uring unavailable: \(why); using epoll"
    }
}

extension EventLoopBackend {
    /// Why io_uring cannot be used on this machine (the one line a group asked for `uring`
    /// logs), or nil when it can: found once per process by setting up (and closing) a small
    /// ring with the flags the backend uses.
    public static let uringUnavailableReason: String? = {
        do throws(SystemError) {
            _ = try IOURing(entries: 2, completionEntries: 4)
            return nil
        } catch {
            return unavailabilityReason(error) ?? "io_uring unavailable: \(error); using epoll"
        }
    }()

    /// The backends usable here: epoll, and uring where io_uring can be set up.
    public static var available: [EventLoopBackend] {
        uringUnavailableReason == nil ? [.epoll, .uring] : [.epoll]
    }
}
