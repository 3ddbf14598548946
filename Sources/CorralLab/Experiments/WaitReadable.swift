import CorralRuntime
import Glibc

/// Blocks in poll(2) until `fd` is readable (data, end of file or hang-up) or the monotonic
/// clock reaches `deadline` (nanoseconds, as `monotonicNanoseconds()`); true if readable.
/// EINTR resumes the wait with the time left. The lab's waits for children, signals and
/// pipes all go through here.
func waitReadable(_ fd: CInt, until deadline: UInt64) -> Bool {
    var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
    while true {
        let now = monotonicNanoseconds()
        guard now < deadline else { return false }
        let left = min((deadline - now) / 1_000_000 + 1, 60_000)
        let ready = poll(&entry, 1, CInt(left))
        if ready > 0 { return true }
        if ready < 0 && errno != EINTR { return false }
    }
}

/// The deadline `milliseconds` from now, for `waitReadable`.
func deadline(afterMilliseconds milliseconds: Int) -> UInt64 {
    monotonicNanoseconds() + UInt64(max(0, milliseconds)) * 1_000_000
}
