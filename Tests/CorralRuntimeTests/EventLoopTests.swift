import CCorral
import Glibc
import Synchronization
import Testing
@testable import CorralRuntime

@Suite struct EventLoopTests {
    @Test func timersFireInDeadlineOrderAndCancelledOnesNever() throws {
        let group = try EventLoopGroup(loopCount: 1)
        try group.start()
        defer { group.shutdown() }
        let loop = group.loops[0]
        let fired = ResultBox<[Int]>()
        fired.value = []
        let done = try OneShotSignal()
        loop.execute {
            // Scheduled out of order from one base time (so however slowly this runs, e.g. under
            // TSan, the deadlines keep their order); 3 ms twice (ties keep scheduling order);
            // one cancelled.
            let base = monotonicNanoseconds()
            for (label, ms) in [(5, 5), (1, 1), (3, 3), (33, 3), (2, 2)] {
                loop.schedule(atNanoseconds: base + UInt64(ms) * 1_000_000) { fired.value!.append(label) }
            }
            let cancelled = loop.schedule(atNanoseconds: base + 4_000_000) { fired.value!.append(4) }
            cancelled.cancel()
            loop.schedule(atNanoseconds: base + 6_000_000) { done.signal() }
        }
        done.wait()
        #expect(fired.value == [1, 2, 3, 33, 5])
    }

    @Test func tasksFromManyThreadsAllRunInPerProducerOrder() throws {
        let group = try EventLoopGroup(loopCount: 1)
        try group.start()
        defer { group.shutdown() }
        let loop = group.loops[0]
        let producers = 4
        let perProducer = 20_000
        let last = ResultBox<[Int]>()
        last.value = Array(repeating: -1, count: producers)
        let outOfOrder = ResultBox<Int>()
        outOfOrder.value = 0
        var threads: [pthread_t] = []
        for p in 0..<producers {
            threads.append(try Threads.spawn(name: "producer-\(p)") {
                for i in 0..<perProducer {
                    loop.execute {
                        if last.value![p] != i - 1 { outOfOrder.value! += 1 }
                        last.value![p] = i
                    }
                }
            })
        }
        for thread in threads { Threads.join(thread) }
        let result = try onLoop(loop) { (last.value!, outOfOrder.value!) }
        #expect(result.0 == Array(repeating: perProducer - 1, count: producers))
        #expect(result.1 == 0)
        // Wake-ups are written only when the loop may be asleep: far fewer than the tasks.
        #expect(loop.stats.wakeWrites <= producers * perProducer)
    }

    @Test func shutdownClosesEveryDescriptorTheGroupOpened() throws {
        let group = try EventLoopGroup(loopCount: 2)
        try group.start()
        // The set lives inside the lock (a `Locked<()>` guarding a box outside it has a
        // zero-sized value, whose accesses ThreadSanitizer places on the lock's own fields).
        let serverSockets = Locked<Set<UInt64>>([])
        let listener = Listener(group: group, address: .ipv4(host: "127.0.0.1", port: 0), strategy: .reuseport) { _ in
            InodeRecorder { inode in serverSockets.withLock { _ = $0.insert(inode) } }
        }
        try listener.start()
        let listenerInodes = Set(listener.listeningFDs.map { socketInode(fd: $0) })
        let clients = try (0..<6).map { _ in try BlockingClient(listener.address) }
        for client in clients {
            try client.send([1, 2, 3])
            _ = try client.receive(exactly: 3)
        }
        // Sockets are identified by inode: fd numbers get reused by tests running in parallel.
        let ours = serverSockets.withLock { $0 }.union(listenerInodes)
        #expect(ours.count == 8)  // 2 reuseport listeners + 6 connections
        #expect(ours.isSubset(of: openSocketInodes()))
        group.shutdown()
        listener.stop()
        #expect(openSocketInodes().isDisjoint(with: ours))
        for client in clients { #expect(try client.receiveAll().isEmpty) }  // each peer saw the close
        #expect(group.loops.allSatisfy { $0.registrationCount == 0 })
    }

    /// A task submitted after shutdown never runs and is released at once: it cannot strand
    /// references (a task capturing its loop used to keep loop and eventfd alive forever).
    @Test func tasksSubmittedAfterShutdownAreRefusedAndReleased() throws {
        weak var weakLoop: EventLoop?
        weak var weakToken: Token?
        let ran = Ran()
        try {
            let group = try EventLoopGroup(loopCount: 1)
            try group.start()
            let loop = group.loops[0]
            weakLoop = loop
            group.shutdown()
            #expect(loop.hasFinished)
            let token = Token()
            weakToken = token
            let accepted = loop.submitUnlessFinished { [loop] in
                _ = (loop, token)
                ran.flag.store(true, ordering: .relaxed)
            }
            #expect(!accepted)
            loop.execute { [loop] in _ = loop; ran.flag.store(true, ordering: .relaxed) }
            group.shutdown()  // a second shutdown writes no stale descriptor
        }()
        #expect(weakToken == nil)
        #expect(weakLoop == nil)
        let didRun = ran.flag.load(ordering: .relaxed)
        #expect(!didRun)
    }
}

private final class Token: Sendable {}
private final class Ran: Sendable { let flag = Atomic<Bool>(false) }

private final class InodeRecorder: ConnectionHandler {
    let record: (UInt64) -> Void
    init(_ record: @escaping (UInt64) -> Void) { self.record = record }
    func connectionDidOpen(_ connection: Connection) { record(socketInode(fd: connection.fd)) }
    func connection(_ connection: Connection, didRead buffer: UnsafeRawBufferPointer) -> Int {
        connection.write(buffer)
        connection.flush()
        return buffer.count
    }
}

/// Inodes of the sockets this process holds open (from /proc/self/fd links "socket:[N]").
func openSocketInodes() -> Set<UInt64> {
    var result = Set<UInt64>()
    guard let dir = opendir("/proc/self/fd") else { return result }
    defer { closedir(dir) }
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        guard let fd = CInt(name) else { continue }
        let inode = socketInode(fd: fd)
        if inode != 0 { result.insert(inode) }
    }
    return result
}

func socketInode(fd: CInt) -> UInt64 {
    var info = stat()
    guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFSOCK else { return 0 }
    return UInt64(info.st_ino)
}

@Suite struct KernelConstantTests {
    @Test func epollLiteralsMatchTheKernelHeaders() {
        #expect(Epoll.readable == ccorral_EPOLLIN)
        #expect(Epoll.writable == ccorral_EPOLLOUT)
        #expect(Epoll.error == ccorral_EPOLLERR)
        #expect(Epoll.hangup == ccorral_EPOLLHUP)
        #expect(Epoll.readHangup == ccorral_EPOLLRDHUP)
        #expect(Epoll.exclusive == ccorral_EPOLLEXCLUSIVE)
        #expect(Epoll.edgeTriggered == ccorral_EPOLLET)
    }
}
