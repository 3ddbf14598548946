// AsyncEcho [PORT]: a TCP echo server on 127.0.0.1. Each connection is served by a task that
// runs on the connection's event loop, reading and writing with async/await.
import CorralRuntime
import Glibc

let port = CommandLine.arguments.dropFirst().first.flatMap { UInt16($0) } ?? 7007
let group = try EventLoopGroup(loopCount: 2)
try group.start()
let listener = Listener(group: group, address: .ipv4(host: "127.0.0.1", port: port))
announce("listening on \(try listener.start())")
try await listener.run { connection in
    for try await chunk in connection.inbound {
        try await connection.write(chunk)
        try await connection.flush()  // one sendmsg per chunk read
    }
    // The peer finished sending: returning closes the connection once the echo is out.
}

/// Writes a line to standard output at once (print is block-buffered on a pipe, and whoever
/// started this server waits for the line to learn the port).
func announce(_ line: String) {
    var text = line + "\n"
    text.withUTF8 { _ = write(1, $0.baseAddress, $0.count) }
}
