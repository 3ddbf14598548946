import CorralRuntime
import Glibc

/// Blocks in poll(2) until `fd` is readable (data, end of file or hang-up) or the monotonic
/// clock reaches `deadline` (nanoseconds, as `monotonicNanoseconds()`); true if readable.
/// A poll error (ENOMEM) counts as not readable. The lab's waits for children, signals and
/// pipes all go through here.
func waitReadable(_ fd: CInt, until deadline: UInt64) -> Bool {
    while true {
        let now = monotonicNanoseconds()
        guard now < deadline else { return false }
        let left = min((deadline - now) / 1_000_000 + 1, 60_000)
        do {
            if try Posix.poll(fd, events: Int16(POLLIN), milliseconds: CInt(left)) { return true }
        } catch {
            return false
        }
    }
}

/// The deadline `milliseconds` from now, for `waitReadable`.
func deadline(afterMilliseconds milliseconds: Int) -> UInt64 {
    monotonicNanoseconds() + UInt64(max(0, milliseconds)) * 1_000_000
}
