import Foundation
import Glibc
import Synchronization
@testable import CorralHTTP
@testable import CorralRuntime

/// A blocking raw-socket client for hostile-client tests. Unlike `RawClient` it tells an orderly
/// EOF from a reset and from its own receive timeout (a timeout is never taken for "closed"),
/// reads many responses without quadratic copying, and can reset, half-close or send slowly.
/// `send*` may run on one thread while another reads (they share only the descriptor).
final class Wire: @unchecked Sendable {
    enum End: Equatable { case eof, reset, timeout, other(Int32) }

    let fd: CInt
    private var isClosed = false
    private var buffer: [UInt8] = []
    private var start = 0
    private let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 * 1024, alignment: 16)
    /// How reading ended, once it has.
    private(set) var end: End?
    /// Bytes received so far (all of them, consumed or not).
    private(set) var received = 0

    init(_ address: SocketAddress, receiveBuffer: Int? = nil, timeoutSeconds: Int = 20) throws {
        fd = socket(AF_INET, CInt(SOCK_STREAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
        if var size = receiveBuffer.map(CInt.init) {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<CInt>.size))
        }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        guard address.withSockAddr({ Glibc.connect(fd, $0, $1) }) == 0 else {
            let code = errno
            Glibc.close(fd)
            scratch.deallocate()
            throw SystemError("connect", errno: .init(rawValue: code))
        }
    }

    deinit {
        if !isClosed { Glibc.close(fd) }
        scratch.deallocate()
    }

    // MARK: sending

    /// Sends all of `bytes` unless the connection fails; returns how many went out.
    @discardableResult
    func send(_ bytes: [UInt8]) -> Int {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, bytes.count - sent, CInt(MSG_NOSIGNAL)) }
            if n <= 0 { return sent }
            sent += n
        }
        return sent
    }

    @discardableResult
    func send(_ text: String) -> Int { send(Array(text.utf8)) }

    /// Unblocks a thread stuck in send or recv on this socket (both directions shut).
    func abort() { Glibc.shutdown(fd, CInt(SHUT_RDWR)) }

    /// No more requests: the server reads EOF, the response direction stays open.
    func shutdownWrite() { Glibc.shutdown(fd, CInt(SHUT_WR)) }

    /// Closes with SO_LINGER {1, 0}: the kernel sends RST instead of FIN, dropping what is queued.
    func resetAndClose() {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        Glibc.close(fd)
        isClosed = true
    }

    // MARK: receiving

    private var buffered: Int { buffer.count - start }

    /// One recv into the buffer; false (and `end` set) at EOF, reset, timeout or error.
    private func fill() -> Bool {
        guard end == nil else { return false }
        let n = recv(fd, scratch.baseAddress!, scratch.count, 0)
        if n > 0 {
            if start > 0 && start >= buffer.count / 2 {
                buffer.removeFirst(start)
                start = 0
            }
            buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[..<n]))
            received += n
            return true
        }
        if n == 0 {
            end = .eof
        } else {
            switch errno {
            case ECONNRESET: end = .reset
            case EAGAIN, EWOULDBLOCK: end = .timeout
            case let code: end = .other(code)
            }
        }
        return false
    }

    struct Response {
        var status: Int
        var headers: [String: String]
        var body: [UInt8]
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    /// Reads one response (following Content-Length unless `bodyExpected` is false); nil if the
    /// connection ended first.
    func response(bodyExpected: Bool = true) -> Response? {
        // Offsets are kept relative to `start`: `fill` may compact the buffer.
        var headEnd: Int?
        while true {
            headEnd = buffer.withUnsafeBytes { raw -> Int? in
                var i = start
                while i + 3 < raw.count {
                    if raw[i + 3] == 10 && raw[i + 2] == 13 && raw[i + 1] == 10 && raw[i] == 13 { return i + 4 - start }
                    i += 1
                }
                return nil
            }
            if headEnd != nil { break }
            guard fill() else { return nil }
        }
        let headLength = headEnd!
        let head = String(decoding: buffer[start..<(start + headLength)], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        let statusLine = lines.removeFirst().split(separator: " ")
        var headers: [String: String] = [:]
        for line in lines {
            let parts = line.split(separator: ":", maxSplits: 1)
            headers[parts[0].lowercased()] = parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : ""
        }
        let length = bodyExpected ? Int(headers["content-length"] ?? "0") ?? 0 : 0
        while buffered < headLength + length { guard fill() else { return nil } }
        let body = Array(buffer[(start + headLength)..<(start + headLength + length)])
        start += headLength + length
        return Response(status: statusLine.count > 1 ? Int(statusLine[1]) ?? 0 : 0, headers: headers, body: body)
    }

    /// True when the server ended the connection (EOF or reset) with nothing further buffered:
    /// no byte of any further response. False if bytes came, or if the receive timed out.
    func closedByPeer() -> Bool {
        guard buffered == 0 else { return false }
        if fill() { return false }
        return end == .eof || end == .reset
    }

    /// Reads until the connection ends; returns the bytes not consumed by `response()`.
    func readToEnd() -> [UInt8] {
        while fill() {}
        let rest = Array(buffer[start...])
        start = buffer.count
        return rest
    }
}

/// A flag shared with a helper thread.
final class SharedFlag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .sequentiallyConsistent) }
    var isSet: Bool { value.load(ordering: .sequentiallyConsistent) }
}

final class SharedCounter: Sendable {
    private let value = Atomic<Int>(0)
    func add(_ n: Int) { value.add(n, ordering: .sequentiallyConsistent) }
    var count: Int { value.load(ordering: .sequentiallyConsistent) }
}

/// Runs `body` on a new thread; wait on the returned semaphore for it to finish.
func onThread(_ body: @escaping @Sendable () -> Void) -> DispatchSemaphore {
    let done = DispatchSemaphore(value: 0)
    let thread = Thread {
        body()
        done.signal()
    }
    thread.stackSize = 1 << 20
    thread.start()
    return done
}

/// Polls `condition` every 20 ms until it holds or `seconds` pass (a safety net, not a timing
/// assertion); returns whether it held.
func eventually(within seconds: Double = 15, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        usleep(20_000)
    }
    return condition()
}

/// Waits (bounded) until the server has stopped taking requests: its count unchanged over ten
/// polls in a row (every connection backed up behind a client that does not read).
func waitUntilRequestsSettle(_ server: HTTPServer, above floor: Int = 0) -> Bool {
    var last = -1
    var stable = 0
    return eventually {
        let now = server.stats.requests
        stable = now == last ? stable + 1 : 0
        last = now
        return now > floor && stable >= 10
    }
}

/// True when the tests run under a sanitizer (`Scripts/sanitizers.sh` says so): its shadow
/// memory makes the resident set size meaningless for bounds on the program's own memory.
let runningUnderSanitizer = ProcessInfo.processInfo.environment["CORRAL_SANITIZER"] != nil

/// Resident set size of this process (which hosts the server under test), from /proc.
func residentBytes() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        let kib = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
        return kib * 1024
    }
    return 0
}

/// `count` bytes of a pattern that differs per `seed` and does not repeat with a short period.
func patternBytes(count: Int, seed: UInt32) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: count)
    bytes.withUnsafeMutableBufferPointer { out in
        var x = seed &* 2_654_435_761 | 1
        for i in 0..<out.count {
            x ^= x << 13
            x ^= x >> 17
            x ^= x << 5
            out[i] = UInt8(truncatingIfNeeded: x)
        }
    }
    return bytes
}

/// Byte equality through memcmp (debug-built element loops are slow on megabytes).
func sameBytes(_ a: [UInt8], _ b: ArraySlice<UInt8>) -> Bool {
    guard a.count == b.count else { return false }
    return a.withUnsafeBytes { x in b.withUnsafeBytes { y in memcmp(x.baseAddress!, y.baseAddress!, x.count) == 0 } }
}

extension ServedTree {
    func write(_ bytes: [UInt8], to path: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: root + "/" + path))
    }
}
