import CCorral
import CorralRuntime
import Glibc

/// A small page shared by the parent and its mesh peers: one hop counter per peer on its own
/// cache line. Backed by an unlinked file in /dev/shm, handed to the children as a descriptor.
/// (Start, ready and stop travel over pipes, so nobody polls the page for them.)
struct MeshSharedPage: @unchecked Sendable {
    static let size = 64 * 64
    let base: UnsafeMutableRawPointer
    let fd: CInt

    static func create() throws -> MeshSharedPage {
        let fd = try Posix.anonymousFile(in: access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp")
        do {
            try Posix.ftruncate(fd, size: size)
            return try MeshSharedPage(fd: fd)
        } catch {
            Posix.close(fd)
            throw error
        }
    }

    init(fd: CInt) throws {
        base = try Posix.mapShared(fd, size: Self.size)
        self.fd = fd
    }

    private func word(_ line: Int) -> UnsafeMutablePointer<UInt64> {
        (base + 64 * line).assumingMemoryBound(to: UInt64.self)
    }

    // One writer per word (peer i for its own counter); the parent reads them after poll(2)
    // calls, so the compiler cannot cache them.
    func count(peer: Int, _ n: Int) { word(2 + peer).pointee &+= UInt64(n) }
    func hops(peers: Int) -> UInt64 { (0..<peers).reduce(0) { $0 + word(2 + $1).pointee } }

    func unmap() {
        Posix.unmap(base, size: Self.size)
        Posix.close(fd)
    }
}

/// One mesh peer in its own process: `lab-worker mesh --peer I --peers P --messages M --ring 0|1
/// --impl poll|runtime --unix 0|1 --cpu C|-1`, with fd 3 the shared page, fd 4 the start pipe
/// (EOF: go), fd 5 the ready pipe (write one byte when set up), fd 6 the stop pipe (EOF: exit)
/// and fds 7… its links to the other peers in rank order.
enum MeshPeerProcess {
    static func run(_ options: [String: String]) -> Int32 {
        guard let peer = options["peer"].flatMap(Int.init), let peers = options["peers"].flatMap(Int.init),
              let messages = options["messages"].flatMap(Int.init)
        else { return 2 }
        let ring = options["ring"] == "1"
        let unix = options["unix"] == "1"
        let cpu = options["cpu"].flatMap(Int.init).flatMap { $0 >= 0 ? $0 : nil }
        if let cpu { try? Threads.pinCurrent(to: cpu) }
        guard let page = try? MeshSharedPage(fd: 3) else { return 3 }
        var links = [CInt](repeating: -1, count: peers)
        var next: CInt = 7
        for other in 0..<peers where other != peer {
            links[other] = next
            next += 1
        }
        if options["impl"] == "runtime" {
            return runtimePeer(peer: peer, peers: peers, messages: messages, ring: ring, unix: unix, cpu: cpu,
                               links: links, page: page)
        }
        return pollPeer(peer: peer, peers: peers, messages: messages, ring: ring, links: links, page: page)
    }

    private static let startFD: CInt = 4, readyFD: CInt = 5, stopFD: CInt = 6

    /// Tells the parent this peer is set up, then blocks until the parent closes the start pipe.
    /// False if either pipe failed (the parent is gone or gave up): the peer then exits.
    private static func reportReadyAndWaitForStart() -> Bool {
        var byte: UInt8 = 1
        let told = try? withUnsafeBytes(of: &byte) { (bytes) throws(SystemError) -> Int in try Posix.writeBlocking(readyFD, bytes) }
        Posix.close(readyFD)
        guard told == 1 else { return false }
        // EOF (0) is the start signal; the parent never writes on this pipe.
        let started = try? withUnsafeMutableBytes(of: &byte) { (bytes) throws(SystemError) -> Int in try Posix.readBlocking(startFD, bytes) }
        Posix.close(startFD)
        return started == 0
    }

    /// The seed's loop: poll(2) over the P−1 blocking sockets, one byte read per readable socket
    /// per poll, each forwarded at once.
    static func pollPeer(peer: Int, peers: Int, messages: Int, ring: Bool, links: [CInt], page: MeshSharedPage) -> Int32 {
        var random = UInt64(peer + 1) &* 0x9E37_79B9_7F4A_7C15
        var fds = [pollfd]()
        for fd in links where fd >= 0 { fds.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0)) }
        fds.append(pollfd(fd: stopFD, events: Int16(POLLIN), revents: 0))  // EOF (POLLHUP) when the run ends
        let stop = fds.count - 1
        guard reportReadyAndWaitForStart() else { return 5 }
        var one: UInt8 = 1
        // A message that cannot be sent (EPIPE: a peer died) is lost, as in the seed; the parent
        // sees it in the hop count.
        if peer < messages {
            _ = try? withUnsafeBytes(of: &one) { try Posix.send(links[MeshRun.next(peer, of: peers, ring: ring, random: &random)], $0, flags: 0) }
        }
        var byte: UInt8 = 0
        while true {
            guard (try? Posix.poll(&fds, milliseconds: -1)) != nil else { return 6 }  // ENOMEM
            if fds[stop].revents != 0 { break }
            var hops = 0
            for i in 0..<stop where fds[i].revents != 0 {
                guard case .processed(1)? = try? withUnsafeMutableBytes(of: &byte, { try Posix.recv(fds[i].fd, $0, flags: ccorral_MSG_DONTWAIT) })
                else { continue }
                _ = try? withUnsafeBytes(of: &one) { try Posix.send(links[MeshRun.next(peer, of: peers, ring: ring, random: &random)], $0, flags: 0) }
                hops += 1
            }
            if hops > 0 { page.count(peer: peer, hops) }
        }
        return 0
    }

    /// The same peer on one Corral event loop: a Connection per link, every byte read forwarded.
    static func runtimePeer(peer: Int, peers: Int, messages: Int, ring: Bool, unix: Bool, cpu: Int?, links: [CInt],
                            page: MeshSharedPage) -> Int32 {
        guard let loop = try? EventLoop(index: 0, cpu: cpu, readBufferSize: 4096), (try? loop.start()) != nil,
              let adopted = try? OneShotSignal()
        else { return 4 }
        let state = MeshPeers([MeshPeer(peer: peer, peers: peers, ring: ring, page: page)])
        loop.execute {
            let me = state.all[0]
            for (other, fd) in links.enumerated() where fd >= 0 {
                _ = try? Posix.fcntlSetFlags(fd, ((try? Posix.fcntlGetFlags(fd)) ?? 0) | O_NONBLOCK)
                me.links[other] = Connection.adopt(OwnedDescriptor(adopting: fd), on: loop, isTCP: !unix, handler: MeshLink(peer: me))
            }
            adopted.signal()
        }
        adopted.wait()
        guard reportReadyAndWaitForStart() else { _exit(5) }
        if peer < messages { loop.execute { state.all[0].forward(1) } }
        var byte: UInt8 = 0
        // EOF (or any error: the parent is gone): the run is over.
        _ = try? withUnsafeMutableBytes(of: &byte) { (bytes) throws(SystemError) -> Int in try Posix.readBlocking(stopFD, bytes) }
        _exit(0)
    }
}

/// The runtime peer, handed to its loop (touched only by that loop).
struct MeshPeers: @unchecked Sendable {
    let all: [MeshPeer]
    init(_ all: [MeshPeer]) { self.all = all }
}

/// A runtime peer: its connections to the others, all on its own loop.
final class MeshPeer {
    let peer: Int
    let peers: Int
    let ring: Bool
    let page: MeshSharedPage
    var links: [Connection?]
    private var random: UInt64

    init(peer: Int, peers: Int, ring: Bool, page: MeshSharedPage) {
        self.peer = peer
        self.peers = peers
        self.ring = ring
        self.page = page
        links = Array(repeating: nil, count: peers)
        random = UInt64(peer + 1) &* 0x9E37_79B9_7F4A_7C15
    }

    func forward(_ count: Int) {
        var one: UInt8 = 1
        for _ in 0..<count {
            guard let link = links[MeshRun.next(peer, of: peers, ring: ring, random: &random)] else { continue }
            withUnsafeBytes(of: &one) { link.write($0) }
            link.flush()
        }
    }
}

/// One link of a runtime peer: every byte read is a message to forward.
final class MeshLink: ConnectionHandler {
    let peer: MeshPeer
    init(peer: MeshPeer) { self.peer = peer }

    func connection(_ connection: Connection, didRead buffer: UnsafeRawBufferPointer) -> Int {
        peer.forward(buffer.count)
        peer.page.count(peer: peer.peer, buffer.count)
        return buffer.count
    }
}
