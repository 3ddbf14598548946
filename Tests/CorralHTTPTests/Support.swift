import Foundation
import Glibc
@_spi(Internals) @testable import CorralHTTP
@testable import CorralRuntime

/// A served temporary directory and a running server, torn down by `stop()`.
final class ServedTree: @unchecked Sendable {
    let root: String
    let server: HTTPServer
    let address: SocketAddress

    /// `router`, given the tree's root, makes the server's router (nil: the root as static files).
    init(backend: EventLoopBackend = .default, configure: (inout HTTPServerConfiguration) -> Void = { _ in },
         router: ((String) -> Router)? = nil) throws {
        root = NSTemporaryDirectory() + "corral-http-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fm = FileManager.default
        try fm.createDirectory(atPath: root + "/dir/sub", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: root + "/noindex", withIntermediateDirectories: true)
        try Data("Hello, world\n".utf8).write(to: URL(fileURLWithPath: root + "/index.html"))
        try Data("inner\n".utf8).write(to: URL(fileURLWithPath: root + "/dir/index.html"))
        try Data(ServedTree.big).write(to: URL(fileURLWithPath: root + "/big.bin"))
        try Data("spaces\n".utf8).write(to: URL(fileURLWithPath: root + "/a b.txt"))
        try fm.createSymbolicLink(atPath: root + "/escape", withDestinationPath: "/etc/passwd")
        try fm.createSymbolicLink(atPath: root + "/inside", withDestinationPath: "index.html")
        try fm.createSymbolicLink(atPath: root + "/dir/up", withDestinationPath: "../../")
        var configuration = HTTPServerConfiguration()
        configuration.root = root
        configuration.address = .ipv4(host: "127.0.0.1", port: 0)
        configuration.loops = 2
        configuration.backend = backend
        configure(&configuration)
        server = HTTPServer(configuration: configuration, router: router?(root))
        address = try server.start()
    }

    /// 200 KiB of a fixed pattern: larger than the cache limit, so it goes out with sendfile.
    static let big: [UInt8] = (0..<(200 * 1024)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 8) }

    func stop() {
        server.stop(drainSeconds: 2)
        try? FileManager.default.removeItem(atPath: root)
    }
}

/// A blocking client speaking raw bytes, with a response reader that follows Content-Length.
final class RawClient {
    let fd: CInt
    private var buffer: [UInt8] = []

    init(_ address: SocketAddress) throws {
        fd = socket(AF_INET, CInt(SOCK_STREAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
        var timeout = timeval(tv_sec: 20, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        guard address.withSockAddr({ Glibc.connect(fd, $0, $1) }) == 0 else {
            throw SystemError("connect", errno: .init(rawValue: errno))
        }
    }

    deinit { Glibc.close(fd) }

    func send(_ text: String) { send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, bytes.count - sent, CInt(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            sent += n
        }
    }

    private func fill() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, 65536, 0) }
        guard n > 0 else { return false }
        buffer += chunk[..<n]
        return true
    }

    struct Response {
        var status: Int
        var headers: [String: String]
        var body: [UInt8]
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    /// Reads one response; `bodyExpected: false` for HEAD and 304.
    func response(bodyExpected: Bool = true) -> Response? {
        var end: Int?
        while end == nil {
            if let range = buffer.firstRange(of: Array("\r\n\r\n".utf8)) { end = range.upperBound; break }
            guard fill() else { return nil }
        }
        let head = String(decoding: buffer[..<end!], as: UTF8.self)
        buffer.removeFirst(end!)
        var lines = head.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        let statusLine = lines.removeFirst().split(separator: " ")
        var headers: [String: String] = [:]
        for line in lines {
            let parts = line.split(separator: ":", maxSplits: 1)
            headers[parts[0].lowercased()] = parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : ""
        }
        let status = Int(statusLine[1]) ?? 0
        if bodyExpected && headers["transfer-encoding"] == "chunked" {
            guard let body = chunkedBody() else { return nil }
            return Response(status: status, headers: headers, body: body)
        }
        if bodyExpected && headers["content-length"] == nil && headers["connection"] == "close" {
            while fill() {}  // delimited by the end of the connection
            let body = buffer
            buffer = []
            return Response(status: status, headers: headers, body: body)
        }
        let length = bodyExpected ? Int(headers["content-length"] ?? "0") ?? 0 : 0
        while buffer.count < length { guard fill() else { return nil } }
        let body = Array(buffer[..<length])
        buffer.removeFirst(length)
        return Response(status: status, headers: headers, body: body)
    }

    /// A chunked body (RFC 9112 §7.1), without extensions or trailers.
    private func chunkedBody() -> [UInt8]? {
        var body: [UInt8] = []
        while true {
            var lineEnd: Int?
            while lineEnd == nil {
                if let range = buffer.firstRange(of: Array("\r\n".utf8)) { lineEnd = range.lowerBound; break }
                guard fill() else { return nil }
            }
            guard let size = Int(String(decoding: buffer[..<lineEnd!], as: UTF8.self), radix: 16) else { return nil }
            buffer.removeFirst(lineEnd! + 2)
            while buffer.count < size + 2 { guard fill() else { return nil } }
            body += buffer[..<size]
            buffer.removeFirst(size + 2)
            if size == 0 { return body }
        }
    }

    /// True when the server closed the connection (after any buffered bytes).
    func closedByPeer() -> Bool { buffer.isEmpty && !fill() }
}
