import Glibc

/// Process signals without async-signal-unsafe handlers: the signals are blocked in every
/// thread (threads inherit the mask, so call `block` before starting any loop) and the main
/// thread collects them synchronously with sigwait(3).
public enum TerminationSignals {
    /// SIGINT and SIGTERM: stop.
    public static let stop: [CInt] = [SIGINT, SIGTERM]

    /// Blocks `signals` in the calling thread and every thread it starts afterwards.
    /// (SIGPIPE is the event loops' business: the first one created ignores it.)
    public static func block(_ signals: [CInt] = stop) {
        var set = signalSet(signals)
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// Waits for one of `signals` (blocked beforehand with `block`) and returns its number.
    public static func wait(_ signals: [CInt] = stop) -> CInt {
        var set = signalSet(signals)
        var received: CInt = 0
        while sigwait(&set, &received) != 0 {}
        return received
    }

    private static func signalSet(_ signals: [CInt]) -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in signals { sigaddset(&set, signal) }
        return set
    }
}
