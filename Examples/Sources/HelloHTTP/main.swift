// HelloHTTP [PORT]: answers every HTTP/1.1 request with "Hello, world", keep-alive and
// pipelining included, written directly on the runtime's async connections (no HTTP library).
import CorralRuntime
import Glibc

let port = CommandLine.arguments.dropFirst().first.flatMap { UInt16($0) } ?? 8088
let group = try EventLoopGroup(loopCount: 2)
try group.start()
let listener = Listener(group: group, address: .ipv4(host: "127.0.0.1", port: port))
announce("listening on \(try listener.start())")

let body = Array("Hello, world\n".utf8)
let head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: \(body.count)\r\n"
let keepAlive = Array((head + "\r\n").utf8)
let closing = Array((head + "Connection: close\r\n\r\n").utf8)
let badRequest = Array("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8)

try await listener.run { connection in
    var pending: [UInt8] = []
    for try await chunk in connection.inbound {
        pending += chunk
        // Answer every complete request head in what has arrived (pipelined requests are
        // answered in order, with one flush for the batch).
        while let end = headEnd(pending) {
            let request = String(decoding: pending[..<end], as: UTF8.self).lowercased()
            pending.removeFirst(end + 4)
            guard request.hasPrefix("get ") || request.hasPrefix("head "), !request.contains("content-length:"),
                !request.contains("transfer-encoding:")
            else {
                try await connection.write(badRequest)  // this example serves bodiless GETs only
                return
            }
            let close = request.contains("\r\nconnection: close") || request.split(separator: "\r\n").first?.hasSuffix("http/1.0") == true
            try await connection.write(close ? closing : keepAlive)
            if !request.hasPrefix("head ") { try await connection.write(body) }  // HEAD: no content
            if close { return }
        }
        if pending.count > 16 * 1024 {
            try await connection.write(badRequest)
            return
        }
        try await connection.flush()
    }
}

/// The offset of the blank line ending a request head, if it has arrived.
func headEnd(_ bytes: [UInt8]) -> Int? {
    guard bytes.count >= 4 else { return nil }
    for i in 0...(bytes.count - 4) where bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 {
        return i
    }
    return nil
}

/// Writes a line to standard output at once (print is block-buffered on a pipe, and whoever
/// started this server waits for the line to learn the port).
func announce(_ line: String) {
    var text = line + "\n"
    text.withUTF8 { _ = write(1, $0.baseAddress, $0.count) }
}
