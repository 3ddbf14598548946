import CCorral  // its header owns declarations (SOCK_STREAM…) it includes textually: import it where they are used
import Glibc
import Testing
@testable import CorralRuntime

/// A port someone listens on is an error for every accept strategy (issue 8, item 10):
/// SO_REUSEPORT must not let a second server join the first one's group silently.
@Suite struct AddressInUseTests {
    @Test(arguments: AcceptStrategy.all)
    func aSecondListenerOnTheSamePortFailsWithAddressInUse(first: AcceptStrategy) throws {
        let group = try EventLoopGroup(loopCount: 2)
        try group.start()
        defer { group.shutdown() }
        let running = Listener(group: group, address: .ipv4(host: "127.0.0.1", port: 0), strategy: first) { _ in EchoHandler() }
        let address = try running.start()
        defer { running.stop() }
        for second in AcceptStrategy.all {
            let intruder = Listener(group: group, address: address, strategy: second) { _ in EchoHandler() }
            let error = #expect(throws: SystemError.self, "\(second) after \(first)") { try intruder.start() }
            #expect(error?.errno == .addressInUse, "\(second) after \(first): \(String(describing: error))")
        }
        // The first server still owns every connection.
        let client = try BlockingClient(address)
        try client.send([1, 2, 3])
        #expect(try client.receive(exactly: 3) == [1, 2, 3])
    }

    /// A socket of another program that set SO_REUSEPORT before its bind, as a server that
    /// wants to share its port does: a reuseport listener must not join it.
    @Test func aForeignReuseportListenerIsNotJoined() throws {
        let foreign = socket(AF_INET, CInt(SOCK_STREAM.rawValue), 0)
        defer { Glibc.close(foreign) }
        var one: CInt = 1
        setsockopt(foreign, SOL_SOCKET, SO_REUSEPORT, &one, socklen_t(MemoryLayout<CInt>.size))
        let bound = SocketAddress.ipv4(host: "127.0.0.1", port: 0).withSockAddr { Glibc.bind(foreign, $0, $1) }
        try #require(bound == 0 && listen(foreign, 16) == 0)
        let address = try Posix.getsockname(foreign)
        let group = try EventLoopGroup(loopCount: 2)
        try group.start()
        defer { group.shutdown() }
        let listener = Listener(group: group, address: address, strategy: .reuseport) { _ in EchoHandler() }
        #expect(throws: SystemError("bind", errno: .addressInUse)) { try listener.start() }
    }

    /// The hand-over path is the one way to share: a successor given the sockets accepts on them.
    @Test func handedOverSocketsAreJoined() throws {
        let group = try EventLoopGroup(loopCount: 2)
        try group.start()
        defer { group.shutdown() }
        let old = Listener(group: group, address: .ipv4(host: "127.0.0.1", port: 0), strategy: .reuseport) { _ in EchoHandler() }
        let address = try old.start()
        var options = ListenerOptions()
        options.inheritedDescriptors = try old.duplicateListeningDescriptors()
        let successor = Listener(group: group, address: address, strategy: .reuseport, options: options) { _ in EchoHandler() }
        #expect(try successor.start() == address)
        old.stop()
        defer { successor.stop() }
        let client = try BlockingClient(address)
        try client.send([4, 5])
        #expect(try client.receive(exactly: 2) == [4, 5])
        #expect(successor.acceptorStats.map(\.accepted).reduce(0, +) == 1)
    }
}
