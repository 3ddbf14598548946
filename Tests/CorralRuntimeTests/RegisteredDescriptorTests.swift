import CCorral
import Glibc
import Synchronization
import Testing
@testable import CorralRuntime
import CorralTestSupport

/// Descriptors of the user's own on a loop: a timerfd, a pipe, a UDP socket, a signalfd.
/// Work on the loop runs in `withTaskExecutorPreference(loop)`, not `loop.submit`: a submit's
/// continuation, resumed by the loop before the test's task has quite suspended, is ordered
/// only by the concurrency runtime's atomics, which ThreadSanitizer does not see (a fresh-clone
/// CI run reported it for `closingLetsGoOfTheDescriptor`).
@Suite struct RegisteredDescriptorTests {
    @Test(arguments: testedBackends) func aTimerfdWakesAnAsyncWaiterOnItsLoop(backend: EventLoopBackend) async throws {
        let group = try EventLoopGroup(loopCount: 1, backend: backend)
        try group.start()
        defer { group.shutdown() }
        let loop = group.loops[0]
        let (expirations, onLoop) = try await withTaskExecutorPreference(loop) {
            let fd = timerfd_create(CLOCK_MONOTONIC, CInt(TFD_NONBLOCK | TFD_CLOEXEC))
            guard fd >= 0 else { throw SystemError("timerfd_create", errno: .init(rawValue: errno)) }
            var spec = itimerspec(it_interval: timespec(tv_sec: 0, tv_nsec: 1_000_000), it_value: timespec(tv_sec: 0, tv_nsec: 1_000_000))
            timerfd_settime(fd, 0, &spec, nil)
            let timer = try loop.register(OwnedDescriptor(adopting: fd))
            defer { timer.close() }
            var total: UInt64 = 0
            while total < 5 {
                total += try await timer.whenReadable { () -> UInt64? in
                    var count: UInt64 = 0
                    return read(timer.fd, &count, 8) == 8 ? count : nil
                }
            }
            return (total, loop.inLoop)
        }
        #expect(expirations >= 5)
        #expect(onLoop)
    }

    @Test(arguments: testedBackends) func aPipeDrivesReadableCallbacksAndWritableWaits(backend: EventLoopBackend) async throws {
        let group = try EventLoopGroup(loopCount: 1, backend: backend)
        try group.start()
        defer { group.shutdown() }
        let loop = group.loops[0]
        let (readEnd, writeEnd) = try nonBlockingPipe()
        let received = Locked<[UInt8]>([])
        let done = try OneShotSignal()
        // Callback side: the read end, drained on each edge.
        try await withTaskExecutorPreference(loop) {
            _ = try loop.register(OwnedDescriptor(adopting: readEnd), onReadable: { pipe in
                var buffer = [UInt8](repeating: 0, count: 65536)
                while true {
                    let n = read(pipe.fd, &buffer, buffer.count)
                    if n > 0 {
                        let total = received.withLock { $0 += buffer[..<n]; return $0.count }
                        if total == 300_000 { done.signal() }
                    } else {
                        if n == 0 { pipe.close() }
                        return
                    }
                }
            })
        }
        // Async side: the write end, 300 000 bytes (more than a pipe holds), waiting for room.
        try await withTaskExecutorPreference(loop) {
            let sink = try loop.register(OwnedDescriptor(adopting: writeEnd), for: .writable)
            defer { sink.close() }
            let payload = pattern(300_000, seed: 4)
            var sent = 0
            while sent < payload.count {
                sent += try await sink.whenWritable { () -> Int? in
                    let n = payload.withUnsafeBytes { write(sink.fd, $0.baseAddress! + sent, payload.count - sent) }
                    return n > 0 ? n : nil
                }
            }
        }
        try await onThread { done.wait() }
        #expect(received.withLock { $0 } == pattern(300_000, seed: 4))
    }

    @Test(arguments: testedBackends) func aUDPSocketReceivesDatagrams(backend: EventLoopBackend) async throws {
        let group = try EventLoopGroup(loopCount: 1, backend: backend)
        try group.start()
        defer { group.shutdown() }
        let loop = group.loops[0]
        let server = try Posix.socket(domain: AF_INET, type: CInt(SOCK_DGRAM.rawValue))
        try Posix.bind(server, .ipv4(host: "127.0.0.1", port: 0))
        let address = try Posix.getsockname(server)
        let messages = try await withTaskExecutorPreference(loop) {
            let socket = try loop.register(OwnedDescriptor(adopting: server))
            defer { socket.close() }
            let sender = Glibc.socket(AF_INET, CInt(SOCK_DGRAM.rawValue), 0)
            defer { Glibc.close(sender) }
            for i in 0..<3 {
                var byte = UInt8(i)
                _ = address.withSockAddr { sendto(sender, &byte, 1, 0, $0, $1) }
            }
            var got: [UInt8] = []
            while got.count < 3 {
                got.append(try await socket.whenReadable { () -> UInt8? in
                    var byte: UInt8 = 0
                    return recv(socket.fd, &byte, 1, 0) == 1 ? byte : nil
                })
            }
            return got
        }
        #expect(messages == [0, 1, 2])
    }

    /// A signal directed at the loop's thread, blocked there, read from a signalfd.
    @Test(arguments: testedBackends) func aSignalfdDeliversASignalToTheLoop(backend: EventLoopBackend) async throws {
        let group = try EventLoopGroup(loopCount: 1, backend: backend)
        try group.start()
        defer { group.shutdown() }
        let loop = group.loops[0]
        let signo = try await withTaskExecutorPreference(loop) {
            var set = sigset_t()
            sigemptyset(&set)
            sigaddset(&set, SIGUSR2)
            pthread_sigmask(SIG_BLOCK, &set, nil)  // this thread only: the loop's
            let fd = ccorral_signalfd(&set)
            guard fd >= 0 else { throw SystemError("signalfd", errno: .init(rawValue: errno)) }
            let signals = try loop.register(OwnedDescriptor(adopting: fd))
            defer { signals.close() }
            pthread_kill(pthread_self(), SIGUSR2)
            return try await signals.whenReadable { () -> CInt? in
                let signo = ccorral_signalfd_read(signals.fd)
                return signo > 0 ? signo : nil
            }
        }
        #expect(signo == SIGUSR2)
    }

    @Test(arguments: testedBackends) func closingWakesTheWaiterAndCancellationToo(backend: EventLoopBackend) async throws {
        let group = try EventLoopGroup(loopCount: 1, backend: backend)
        try group.start()
        defer { group.shutdown() }
        let loop = group.loops[0]
        let fds = try nonBlockingPipe()
        defer { Glibc.close(fds.write) }
        let registration = try await registered(fds.read, on: loop)
        let waiter = Task(executorPreference: loop) { try await registration.value.readable() }
        try await withTaskExecutorPreference(loop) { registration.value.close() }
        let closed = await waiter.result
        #expect(throws: CloseReason.closed) { try closed.get() }  // (typed as any Error by Task)
        // A waiting task that is cancelled stops waiting.
        let more = try nonBlockingPipe()
        defer { Glibc.close(more.write) }
        let second = try await registered(more.read, on: loop)
        let cancelled = Task(executorPreference: loop) { try await second.value.readable() }
        cancelled.cancel()
        let outcome = await cancelled.result
        #expect(throws: CloseReason.cancelled) { try outcome.get() }
        try await withTaskExecutorPreference(loop) { second.value.close() }
    }

    /// Closing lets go of the descriptor (uring: the poll armed on it, which holds a reference
    /// to the file, is cancelled before the ring closes it): the pipe loses its only reader, and
    /// its full write end reports POLLERR instead of waiting for room forever.
    @Test(arguments: testedBackends) func closingLetsGoOfTheDescriptor(backend: EventLoopBackend) async throws {
        let group = try EventLoopGroup(loopCount: 1, backend: backend)
        try group.start()
        defer { group.shutdown() }
        let loop = group.loops[0]
        let fds = try nonBlockingPipe()
        defer { Glibc.close(fds.write) }
        let chunk = [UInt8](repeating: 0x61, count: 4096)
        while chunk.withUnsafeBytes({ Glibc.write(fds.write, $0.baseAddress, $0.count) }) > 0 {}
        #expect(errno == EAGAIN)
        let registration = try await registered(fds.read, on: loop)
        try await withTaskExecutorPreference(loop) { registration.value.close() }
        var writeEnd = pollfd(fd: fds.write, events: Int16(POLLOUT), revents: 0)
        #expect(poll(&writeEnd, 1, 10_000) == 1, "the read end is still open 10 s after close()")
        #expect(writeEnd.revents & Int16(POLLERR) != 0)
    }
}

/// `fd` registered on `loop` (from the loop: see the suite's note on `loop.submit`).
private func registered(_ fd: CInt, on loop: EventLoop) async throws -> LoopBound<RegisteredDescriptor> {
    try await withTaskExecutorPreference(loop) { LoopBound(try loop.register(OwnedDescriptor(adopting: fd)), loop: loop) }
}

private func nonBlockingPipe() throws -> (read: CInt, write: CInt) {
    let fds = try Posix.pipe()
    for fd in [fds.read, fds.write] { try Posix.fcntlSetFlags(fd, try Posix.fcntlGetFlags(fd) | O_NONBLOCK) }
    return fds
}
