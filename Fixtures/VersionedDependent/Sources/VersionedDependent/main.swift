// Uses only CorralRuntime's public API, as a user would: an async echo server on a loop group,
// a client connecting to it, one round trip. Prints "ok" and exits 0 when the bytes come back.
import CorralRuntime
import Glibc

let group = try EventLoopGroup(loopCount: 2)
try group.start()
let listener = Listener(group: group, address: .ipv4(host: "127.0.0.1", port: 0))
let address = try listener.start()
let server = Task {
    try await listener.run { connection in
        for try await chunk in connection.inbound {
            try await connection.write(chunk)
            try await connection.flush()
        }
    }
}
let reply = try await group.connect(to: address) { connection in
    try await connection.write("hello, corral")
    try await connection.flush()
    var received: [UInt8] = []
    for try await chunk in connection.inbound {
        received += chunk
        if received.count >= 13 { break }
    }
    return String(decoding: received, as: UTF8.self)
}
server.cancel()
try await server.value
group.shutdown()
guard reply == "hello, corral" else {
    print("unexpected reply: \(reply)")
    exit(1)
}
print("ok")
