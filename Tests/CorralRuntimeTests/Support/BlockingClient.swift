import CCorral  // its header owns declarations (SOCK_STREAM…) it includes textually: import it where they are used
import Glibc
@testable import CorralRuntime

/// A plain blocking TCP client for tests: the peer the runtime is tested against is written
/// without the runtime. Receive timeouts are a safety net against a hung test, not an assertion.
final class BlockingClient: @unchecked Sendable {
    let fd: CInt

    init(_ address: SocketAddress, receiveTimeoutSeconds: Int = 20) throws {
        fd = socket(address.family, CInt(SOCK_STREAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemError("socket", errno: .init(rawValue: errno)) }
        var timeout = timeval(tv_sec: receiveTimeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let result = address.withSockAddr { Glibc.connect(fd, $0, $1) }
        guard result == 0 else {
            let code = errno
            Glibc.close(fd)
            throw SystemError("connect", errno: .init(rawValue: code))
        }
    }

    func send(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, bytes.count - sent, CInt(MSG_NOSIGNAL)) }
            guard n > 0 else { throw SystemError("send", errno: .init(rawValue: errno)) }
            sent += n
        }
    }

    /// Reads exactly `count` bytes (fewer only if the peer closes).
    func receive(exactly count: Int) throws -> [UInt8] {
        var result = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            let n = result.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress! + got, count - got, 0) }
            if n == 0 { break }
            guard n > 0 else { throw SystemError("recv", errno: .init(rawValue: errno)) }
            got += n
        }
        return Array(result[..<got])
    }

    /// Reads until the peer closes.
    func receiveAll() throws -> [UInt8] {
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress!, 65536, 0) }
            if n == 0 { return result }
            guard n > 0 else { throw SystemError("recv", errno: .init(rawValue: errno)) }
            result += chunk[..<n]
        }
    }

    func shutdownWrite() { Glibc.shutdown(fd, CInt(SHUT_WR)) }

    deinit { Glibc.close(fd) }
}

/// A deterministic pseudo-random payload, so a reordered or dropped byte is caught.
func pattern(_ count: Int, seed: UInt64) -> [UInt8] {
    var state = seed &* 6364136223846793005 &+ 1442695040888963407
    return (0..<count).map { _ in
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return UInt8(truncatingIfNeeded: state >> 33)
    }
}

/// Runs `body` on `loop` and waits for it (tests only).
func onLoop<T: Sendable>(_ loop: EventLoop, _ body: @escaping @Sendable () -> T) throws -> T {
    let done = try OneShotSignal()
    let box = ResultBox<T>()
    loop.execute {
        box.value = body()
        done.signal()
    }
    done.wait()
    return box.value!
}

final class ResultBox<T>: @unchecked Sendable {
    var value: T?
}

/// An echo server on a fresh group, torn down by `close()`.
struct EchoServer {
    let group: EventLoopGroup
    let listener: Listener
    var address: SocketAddress { listener.address }

    init(loops: Int = 2, strategy: AcceptStrategy = .reuseport, options: ListenerOptions = ListenerOptions(),
         address: SocketAddress = .ipv4(host: "127.0.0.1", port: 0), backend: EventLoopBackend = .default) throws {
        group = try EventLoopGroup(loopCount: loops, backend: backend)
        try group.start()
        listener = Listener(group: group, address: address, strategy: strategy, options: options) { _ in EchoHandler() }
        try listener.start()
    }

    func close() {
        listener.stop()
        group.shutdown()
    }
}
