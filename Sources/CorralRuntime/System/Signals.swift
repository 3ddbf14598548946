import Glibc

/// SIGINT/SIGTERM handling without async-signal-unsafe handlers: the signals are blocked in
/// every thread (threads inherit the mask, so call this before starting any loop) and the main
/// thread collects them synchronously with sigwait(3).
public enum TerminationSignals {
    /// Blocks SIGINT and SIGTERM in the calling thread and every thread it starts afterwards.
    /// (SIGPIPE is the event loops' business: the first one created ignores it.)
    public static func block() {
        var set = signalSet()
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// Waits for SIGINT or SIGTERM and returns its number.
    public static func wait() -> CInt {
        var set = signalSet()
        var received: CInt = 0
        while sigwait(&set, &received) != 0 {}
        return received
    }

    private static func signalSet() -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        return set
    }
}
