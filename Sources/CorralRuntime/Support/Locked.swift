import Synchronization

/// A value behind a mutex, held by a class so that closures running on several threads can
/// share it. (A local `Mutex` captured by escaping closures is reached through the closure's
/// capture box, an access ThreadSanitizer reports as a race even though the mutex orders it.)
package final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    package init(_ value: Value) { mutex = Mutex(value) }

    package func withLock<Result: Sendable>(_ body: (inout Value) -> Result) -> Result {
        mutex.withLock { body(&$0) }
    }
}
