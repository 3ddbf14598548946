import Glibc
import Synchronization
import Testing
@testable import CorralRuntime

/// `ListenerOptions.deferAcceptSeconds`: TCP_DEFER_ACCEPT on the listening socket, a read right
/// after accept, and epoll registration only for a connection still open after that read.
@Suite struct DeferAcceptTests {
    @Test func theListeningSocketCarriesTheOption() throws {
        var options = ListenerOptions()
        options.deferAcceptSeconds = 1
        let server = try EchoServer(loops: 1, options: options)
        defer { server.close() }
        let fd = try #require(server.listener.listeningFDs.first)
        #expect(try Posix.getsockopt(fd, CInt(IPPROTO_TCP), TCP_DEFER_ACCEPT) > 0)
    }

    /// The request sent with the connect is read before the connection is registered with
    /// epoll; answered and closed in that read, it is never registered at all.
    @Test func aRequestSentWithTheConnectIsReadBeforeAnyEpollRegistration() throws {
        let server = try Server(deferAcceptSeconds: 1, closeAfterReply: true)
        defer { server.close() }
        let loop = server.group.loops[0]
        let listenerOnly = try onLoop(loop) { loop.registrationCount }
        for round in 0..<3 {
            let client = try BlockingClient(server.listener.address)
            try client.send(Array("ping \(round)\n".utf8))
            let (reply, end) = client.receiveUntilEnd()
            #expect(reply == Array("ping \(round)\n".utf8))
            #expect(end == 0)
        }
        // What the loop had registered while each request was read: the listener only.
        #expect(server.record.registrationsAtRead == [listenerOnly, listenerOnly, listenerOnly])
        #expect(try onLoop(loop) { loop.registrationCount } == listenerOnly)
    }

    /// Without the option a connection is registered first and read when epoll reports input:
    /// the counterpart that lets the test above fail.
    @Test func withoutTheOptionTheConnectionIsRegisteredBeforeItIsRead() throws {
        let server = try Server(deferAcceptSeconds: nil, closeAfterReply: true)
        defer { server.close() }
        let loop = server.group.loops[0]
        let listenerOnly = try onLoop(loop) { loop.registrationCount }
        let client = try BlockingClient(server.listener.address)
        try client.send(Array("ping\n".utf8))
        #expect(client.receiveUntilEnd().0 == Array("ping\n".utf8))
        #expect(server.record.registrationsAtRead == [listenerOnly + 1])
    }

    /// A client that connects and sends nothing is handed over by the kernel once the defer
    /// time has passed (it retransmits its SYN-ACK and completes the connection with the ACK
    /// that answers it), and is then served like any other: it stays registered between
    /// requests, and each later request is answered.
    @Test func aSilentClientIsStillAcceptedAndServedLater() throws {
        let server = try Server(deferAcceptSeconds: 1, closeAfterReply: false)
        defer { server.close() }
        let client = try BlockingClient(server.listener.address)
        #expect(server.record.opened.wait(timeoutMilliseconds: 20_000), "the silent connection was never accepted")
        for round in 0..<2 {
            let message = Array("later \(round)\n".utf8)
            try client.send(message)
            #expect(try client.receive(exactly: message.count) == message)
        }
    }

    /// One loop echoing each read, closing after the first reply if asked.
    struct Server {
        let group: EventLoopGroup
        let listener: Listener
        let record: Record

        init(deferAcceptSeconds: Int?, closeAfterReply: Bool) throws {
            group = try EventLoopGroup(loopCount: 1)
            try group.start()
            var options = ListenerOptions()
            options.deferAcceptSeconds = deferAcceptSeconds
            let record = try Record()
            self.record = record
            listener = Listener(group: group, address: .ipv4(host: "127.0.0.1", port: 0), strategy: .reuseport,
                                options: options) { _ in Echo(record: record, closeAfterReply: closeAfterReply) }
            try listener.start()
        }

        func close() {
            listener.stop()
            group.shutdown()
        }
    }

    final class Record: Sendable {
        let opened: OneShotSignal
        private let counts = Locked<[Int]>([])
        /// The loop's registration count at each read.
        var registrationsAtRead: [Int] { counts.withLock { $0 } }

        init() throws { opened = try OneShotSignal() }

        func read(on loop: EventLoop) {
            let count = loop.registrationCount
            counts.withLock { $0.append(count) }
        }
    }
}

private final class Echo: ConnectionHandler {
    let record: DeferAcceptTests.Record
    let closeAfterReply: Bool

    init(record: DeferAcceptTests.Record, closeAfterReply: Bool) {
        self.record = record
        self.closeAfterReply = closeAfterReply
    }

    func connectionDidOpen(_ connection: Connection) { record.opened.signal() }

    func connection(_ connection: Connection, didRead buffer: UnsafeRawBufferPointer) -> Int {
        record.read(on: connection.loop)
        connection.write(buffer)
        if closeAfterReply { connection.closeAfterFlush() } else { connection.flush() }
        return buffer.count
    }
}
