import CorralRuntime
import Glibc

/// The backends the parameterised tests of every suite run against: every backend this machine
/// offers (epoll, and uring where io_uring can be set up), or those CORRAL_TEST_BACKENDS names
/// (e.g. `CORRAL_TEST_BACKENDS=epoll swift test`). Probing io_uring starts a thread: evaluated
/// at the first test that asks.
package let testedBackends: [EventLoopBackend] = {
    let names = getenv("CORRAL_TEST_BACKENDS").map { String(cString: $0) } ?? "epoll,uring"
    return EventLoopBackend.available.filter { names.split(separator: ",").contains(Substring($0.description)) }
}()
