import Glibc

/// A value behind a lock, held by a class so that closures and threads can share it.
///
/// The lock is a pthread mutex rather than the standard library's `Mutex`: on Linux `Mutex`
/// waits with raw futex calls, which ThreadSanitizer does not see as ordering, so a contended
/// `Mutex` is reported as a data race; pthread mutexes are understood. (Also, a local `Mutex`
/// captured by escaping closures is reached through the closure's capture box, an access
/// ThreadSanitizer reports too.) Hold it briefly, and never across I/O.
package final class Locked<Value>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    package init(_ value: Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    package func withLock<Result, E: Error>(_ body: (inout Value) throws(E) -> Result) throws(E) -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
