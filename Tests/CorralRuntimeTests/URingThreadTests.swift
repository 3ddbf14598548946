import CCorral  // its header owns declarations (SOCK_STREAM…) it includes textually: import it where they are used
import Foundation
import Glibc
import Testing
@testable import CorralRuntime
import CorralTestSupport

/// io_uring registers every thread that sets up or uses a ring, and when the ring is torn down
/// the kernel interrupts each registered thread (task work with TWA_SIGNAL) until it lets go. A
/// thread blocked in recv with SO_RCVTIMEO then fails with EINTR instead of waiting: so only the
/// loop's own thread may ever be registered, not the one that made the group.
@Suite struct URingThreadTests {
    @Test(.enabled(if: testedBackends.contains(.uring), "io_uring unavailable or not asked for"))
    func aThreadThatMadeAUringGroupIsNotInterruptedWhenTheRingCloses() throws {
        var pair: [CInt] = [-1, -1]
        #expect(socketpair(AF_UNIX, CInt(SOCK_STREAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0, &pair) == 0)
        defer { close(pair[0]); close(pair[1]) }
        let fd = pair[0]
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        #expect(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size)) == 0)

        // The thread makes and starts the group, then blocks in recv until the timeout.
        let made = DispatchSemaphore(value: 0)
        let outcome = Locked<(group: EventLoopGroup?, tid: Int, errno: CInt)>((nil, 0, 0))
        let thread = try Threads.spawn(name: "uring-maker") {
            do {
                let group = try EventLoopGroup(loopCount: 1, pinToCPUs: false, backend: .uring)
                try group.start()
                outcome.withLock { $0.group = group; $0.tid = Threads.currentTID() }
            } catch {
                outcome.withLock { $0.tid = -1 }
            }
            made.signal()
            var byte: UInt8 = 0
            let n = recv(fd, &byte, 1, 0)
            let code = n < 0 ? errno : 0
            outcome.withLock { $0.errno = code }
        }
        made.wait()
        let (group, tid) = outcome.withLock { ($0.group, $0.tid) }
        try #require(group?.backend == .uring, "the group could not be made with uring")
        // Shut the ring down only once the thread sleeps in recv (its kernel stack says so).
        #expect(waitUntilBlockedInReceive(tid: tid))
        group?.shutdown()
        Threads.join(thread)
        #expect(outcome.withLock { $0.errno } == EAGAIN, "recv ended with \(String(cString: strerror(outcome.withLock { $0.errno }))) instead of its timeout")
    }

    #if arch(x86_64)
    static let recvfromNumber = 45
    #else
    static let recvfromNumber = 207  // arm64's, from the generic table
    #endif

    /// Waits (at most 10 s, reading /proc every millisecond) until thread `tid` sleeps in a
    /// recvfrom(2) system call.
    private func waitUntilBlockedInReceive(tid: Int) -> Bool {
        let path = "/proc/self/task/\(tid)/syscall"
        for _ in 0..<10_000 {
            if let text = try? String(contentsOfFile: path, encoding: .utf8),
               let number = text.split(separator: " ").first.flatMap({ Int($0) }), number == Self.recvfromNumber {
                return true
            }
            usleep(1000)
        }
        return false
    }
}
