import Glibc

/// CLOCK_MONOTONIC in nanoseconds (a vDSO call, no syscall): the clock of every deadline.
@inline(__always)
public func monotonicNanoseconds() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return UInt64(time.tv_sec) &* 1_000_000_000 &+ UInt64(time.tv_nsec)
}

/// CLOCK_REALTIME in whole seconds, for HTTP dates.
@inline(__always)
public func wallClockSeconds() -> Int {
    var time = timespec()
    clock_gettime(CLOCK_REALTIME, &time)
    return time.tv_sec
}
