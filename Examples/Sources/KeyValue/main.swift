// KeyValue [PORT]: an in-memory key-value server speaking a subset of memcached's text protocol
// (get, set, delete), so any memcached client can use it. Every connection is a task on its
// event loop; the store is shared by all of them behind a lock.
import CorralRuntime
import Glibc
import Synchronization

let port = CommandLine.arguments.dropFirst().first.flatMap { UInt16($0) } ?? 11311
let store = Store()
let group = try EventLoopGroup(loopCount: 2)
try group.start()
let listener = Listener(group: group, address: .ipv4(host: "127.0.0.1", port: port))
announce("listening on \(try listener.start())")
try await listener.run { connection in
    var session = Session(store: store)
    for try await chunk in connection.inbound {
        let (reply, close) = session.receive(chunk)
        if !reply.isEmpty {
            try await connection.write(reply)
            try await connection.flush()  // one reply batch per read, pipelined commands included
        }
        if close { return }
    }
}

/// The values, shared by every connection (a mutex: each operation holds it for a dictionary
/// access, never across I/O).
final class Store: Sendable {
    struct Item {
        var flags: UInt32
        var data: [UInt8]
    }

    private let items = Mutex<[String: Item]>([:])

    func get(_ key: String) -> Item? { items.withLock { $0[key] } }
    func set(_ key: String, _ item: Item) { items.withLock { $0[key] = item } }
    func delete(_ key: String) -> Bool { items.withLock { $0.removeValue(forKey: key) != nil } }
}

/// One connection's protocol state: the bytes of an unfinished command.
struct Session {
    let store: Store
    var pending: [UInt8] = []

    static let maxKeyLength = 250  // memcached's limit
    static let maxValueLength = 1 << 20

    /// Consumes what arrived; returns the replies to send and whether to close afterwards.
    mutating func receive(_ bytes: some Collection<UInt8>) -> (reply: [UInt8], close: Bool) {
        pending += bytes
        var reply: [UInt8] = []
        while let lineEnd = crlf(in: pending, from: 0) {
            let words = String(decoding: pending[..<lineEnd], as: UTF8.self).split(separator: " ").map(String.init)
            guard let command = words.first else {
                reply += text("ERROR")
                pending.removeFirst(lineEnd + 2)
                continue
            }
            switch command {
            case "get", "gets":
                for key in words.dropFirst() {
                    if let item = store.get(key) {
                        reply += text("VALUE \(key) \(item.flags) \(item.data.count)") + item.data + [13, 10]
                    }
                }
                reply += text("END")
                pending.removeFirst(lineEnd + 2)
            case "set":
                // set <key> <flags> <exptime> <bytes> [noreply]\r\n<data>\r\n
                guard words.count >= 5, words[1].utf8.count <= Self.maxKeyLength, let flags = UInt32(words[2]),
                    Int(words[3]) != nil, let length = Int(words[4]), length >= 0, length <= Self.maxValueLength
                else {
                    return (reply + text("CLIENT_ERROR bad command line format"), true)
                }
                let dataStart = lineEnd + 2
                guard pending.count >= dataStart + length + 2 else { return (reply, false) }  // wait for the data
                guard pending[dataStart + length] == 13, pending[dataStart + length + 1] == 10 else {
                    return (reply + text("CLIENT_ERROR bad data chunk"), true)
                }
                store.set(words[1], Store.Item(flags: flags, data: Array(pending[dataStart..<dataStart + length])))
                if words.count < 6 || words[5] != "noreply" { reply += text("STORED") }
                pending.removeFirst(dataStart + length + 2)
            case "delete":
                guard words.count >= 2 else { return (reply + text("ERROR"), true) }
                let deleted = store.delete(words[1])
                if words.last != "noreply" || words.count < 3 { reply += text(deleted ? "DELETED" : "NOT_FOUND") }
                pending.removeFirst(lineEnd + 2)
            case "quit":
                return (reply, true)
            default:
                reply += text("ERROR")
                pending.removeFirst(lineEnd + 2)
            }
        }
        if pending.count > Self.maxKeyLength + 64 && crlf(in: pending, from: 0) == nil {
            return (reply + text("CLIENT_ERROR line too long"), true)  // no command line is this long
        }
        return (reply, false)
    }

    private func text(_ line: String) -> [UInt8] { Array((line + "\r\n").utf8) }

    private func crlf(in bytes: [UInt8], from start: Int) -> Int? {
        guard bytes.count >= start + 2 else { return nil }
        for i in start..<(bytes.count - 1) where bytes[i] == 13 && bytes[i + 1] == 10 { return i }
        return nil
    }
}

/// Writes a line to standard output at once (print is block-buffered on a pipe, and whoever
/// started this server waits for the line to learn the port).
func announce(_ line: String) {
    var text = line + "\n"
    text.withUTF8 { _ = write(1, $0.baseAddress, $0.count) }
}
