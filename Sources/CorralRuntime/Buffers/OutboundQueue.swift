internal import CCorral
import DequeModule
import Glibc

/// What a connection still has to send, in order: copied bytes, shared chunks and file regions.
///
/// `flush` sends everything it can with as few syscalls as the kernel allows: one sendmsg(2)
/// gathering up to IOV_MAX pieces, and sendfile(2) for file regions (through an `OutboundSink`,
/// so the logic is tested without a kernel). Bytes that precede a file
/// region go out with MSG_MORE so the kernel holds them and packs them into the body's first
/// segment (the effect of TCP_CORK without two extra setsockopt calls per response).
/// A flush the caller follows with close(2) or shutdown(SHUT_WR) (`beforeFIN`) sends its last
/// bytes with MSG_MORE too: the kernel then sends them with the FIN in one segment, as nginx's
/// corked `Connection: close` responses go, instead of a data segment and a FIN segment.
struct OutboundQueue<Sink: OutboundSink> {
    /// Where the bytes go: the socket, or a scripted sink in tests.
    var sink: Sink
    private enum Item {
        /// Bytes copied into `staging`, as offsets (stable across growth).
        case staged(start: Int, end: Int)
        case shared(ByteChunk, start: Int)
        case file(FileRegion, sent: Int)
    }

    /// Staging memory kept once everything is sent, so steady-state responses allocate nothing;
    /// more than this is given back (a connection that once sent a large body does not keep
    /// it, and an idle connection holds no more than this).
    static var retainedStagingCapacity: Int { 4 * 1024 }

    /// What is queued, in order, once it is more than one run of copied bytes. While everything
    /// queued was copied (the usual case: a response rendered into the staging area), the
    /// deque stays empty and the queue is the staged run `loneStart..<staging.count`: no deque
    /// append, walk and removal per response.
    private var items = Deque<Item>()
    private var staging = GrowableBytes()
    /// Where the lone staged run starts (meaningful while `items` is empty and bytes are pending).
    private var loneStart = 0
    /// Bytes queued and not yet accepted by the kernel.
    private(set) var pendingBytes = 0
    /// Bytes the kernel has accepted, ever (kept when the queue is dropped at close).
    private(set) var sentBytes = 0

    /// Memory the queue holds for copied bytes (shared chunks and files are not counted).
    var stagingCapacity: Int { staging.capacity }

    var isEmpty: Bool { pendingBytes == 0 }

    /// True while everything queued is one staged run outside the deque.
    private var isLoneRun: Bool { items.isEmpty && pendingBytes > 0 }

    /// Where the last item starts in `staging` when it is a staged run ending at the end of the
    /// staging area (the next copied bytes then extend it), nil otherwise. Kept so that an
    /// append need not copy the last item (an enum holding a reference) out of the deque to
    /// look at it.
    private var stagedTailStart: Int?

    /// Copies `bytes` in; merges with a staged tail so many small writes become one iovec.
    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        let start = staging.count
        staging.append(bytes)
        queueStaged(from: start)
    }

    /// Lets `body` append to the staging area in place (a response rendered straight into it,
    /// not into scratch space and then copied); what it appended is queued like copied bytes.
    /// Returns how many bytes that was. `body` may only append.
    mutating func appendInPlace(_ body: (inout GrowableBytes) -> Void) -> Int {
        let start = staging.count
        body(&staging)
        precondition(staging.count >= start, "appendInPlace: the body removed staged bytes")
        guard staging.count > start else { return 0 }
        queueStaged(from: start)
        return staging.count - start
    }

    /// Queues the staging area's bytes from `start` to its end, extending a staged tail.
    private mutating func queueStaged(from start: Int) {
        if items.isEmpty {
            if pendingBytes == 0 { loneStart = start }
            pendingBytes += staging.count - start
            return
        }
        pendingBytes += staging.count - start
        if let tail = stagedTailStart {
            items[items.count - 1] = .staged(start: tail, end: staging.count)
        } else {
            items.append(.staged(start: start, end: staging.count))
            stagedTailStart = start
        }
    }

    mutating func append(_ chunk: ByteChunk) {
        guard chunk.count > 0 else { return }
        moveLoneRunIntoItems()
        pendingBytes += chunk.count
        items.append(.shared(chunk, start: 0))
        stagedTailStart = nil
    }

    mutating func append(_ region: FileRegion) {
        guard region.count > 0 else { return }
        moveLoneRunIntoItems()
        pendingBytes += region.count
        items.append(.file(region, sent: 0))
        stagedTailStart = nil
    }

    /// Something other than copied bytes is queued: the lone run becomes the deque's first item.
    private mutating func moveLoneRunIntoItems() {
        guard isLoneRun else { return }
        items.append(.staged(start: loneStart, end: staging.count))
    }

    enum FlushResult { case done, wouldBlock, yielded }


    init(sink: Sink) { self.sink = sink }

    /// Writes into `sink` until the queue is empty, the sink is full (`.wouldBlock`), or
    /// `maxSyscalls` calls were made (`.yielded`, so one fast reader cannot monopolise the loop).
    /// `iovecs` is scratch space for `iovecCapacity` entries (the loop's, IOV_MAX long).
    /// `beforeFIN`: the caller closes or shuts down the write side as soon as this returns
    /// `.done`, which pushes out what MSG_MORE held back (tcp_send_fin puts the FIN on the
    /// unsent tail segment).
    mutating func flush(
        iovecs: UnsafeMutablePointer<iovec>, iovecCapacity: Int, maxSyscalls: Int = 16, beforeFIN: Bool = false
    ) throws(SystemError) -> FlushResult {
        var calls = 0
        while pendingBytes > 0 {
            if startsWithFile {
                let result = try sendLeadingFiles(maxSyscalls: maxSyscalls, calls: &calls)
                if result != .done { return result }
                continue
            }
            if calls == maxSyscalls { return .yielded }
            calls += 1
            let gathered = gather(into: iovecs, capacity: iovecCapacity)
            let more = gathered.followedByFile || (beforeFIN && gathered.count == max(items.count, 1))
            switch try sink.send(UnsafeBufferPointer(start: iovecs, count: gathered.count), more: more) {
            case .wouldBlock: return .wouldBlock
            case .processed(let written): consume(written)
            }
        }
        return .done
    }

    /// True when the next thing to send is a file region.
    var startsWithFile: Bool {
        if case .file? = items.first { return true }
        return false
    }

    /// Sends the file regions at the front of the queue (sendfile(2) through the sink) until
    /// bytes come next (`.done`), the socket is full, or `maxSyscalls` calls were made.
    mutating func sendLeadingFiles(maxSyscalls: Int) throws(SystemError) -> FlushResult {
        var calls = 0
        return try sendLeadingFiles(maxSyscalls: maxSyscalls, calls: &calls)
    }

    private mutating func sendLeadingFiles(maxSyscalls: Int, calls: inout Int) throws(SystemError) -> FlushResult {
        while case .file(let region, let sent)? = items.first {
            if calls >= maxSyscalls { return .yielded }
            calls += 1
            var offset = off_t(region.offset + sent)
            let chunk = min(region.count - sent, 1 << 30)
            switch try sink.sendFile(region.file.fd, offset: &offset, count: chunk) {
            case .wouldBlock: return .wouldBlock
            case .processed(let written):
                if written == 0 {
                    // The file shrank under us: the promised length can no longer be kept.
                    throw SystemError("sendfile (file truncated)", errno: .ioError)
                }
                consume(written)
            }
        }
        return .done
    }

    /// Describes the bytes at the front of the queue (up to the first file region, at most
    /// `capacity` pieces) in `iovecs`, for one gathered send: how many pieces, how many bytes,
    /// and whether a file region follows them (the send then asks for MSG_MORE).
    func gather(into iovecs: UnsafeMutablePointer<iovec>, capacity: Int) -> (count: Int, bytes: Int, followedByFile: Bool) {
        if isLoneRun {
            iovecs[0] = iovec(iov_base: staging.base! + loneStart, iov_len: pendingBytes)
            return (1, pendingBytes, false)
        }
        var count = 0
        var bytes = 0
        for item in items {
            if count == capacity { break }
            switch item {
            case .staged(let start, let end):
                iovecs[count] = iovec(iov_base: staging.base! + start, iov_len: end - start)
                bytes += end - start
            case .shared(let chunk, let start):
                iovecs[count] = iovec(
                    iov_base: UnsafeMutableRawPointer(mutating: chunk.base + start), iov_len: chunk.count - start)
                bytes += chunk.count - start
            case .file:
                return (count, bytes, true)
            }
            count += 1
        }
        return (count, bytes, false)
    }

    /// Advances past `written` bytes the kernel accepted.
    mutating func consume(_ written: Int) {
        sentBytes += written
        if written == pendingBytes {
            // Everything went (the common case): no walk of the queue.
            pendingBytes = 0
            // removeFirst per item: Deque's removeAll(keepingCapacity:) goes through
            // swift_arrayDestroy, ~100 instructions even for the usual single item.
            while !items.isEmpty { items.removeFirst() }
            stagedTailStart = nil
            staging.reset(keepingCapacityUpTo: Self.retainedStagingCapacity)
            return
        }
        pendingBytes -= written
        if items.isEmpty {
            // Part of the lone run went.
            loneStart += written
            compactStagingIfWorthIt()
            return
        }
        var left = written
        while left > 0, let first = items.first {
            switch first {
            case .staged(let start, let end):
                if end - start <= left {
                    left -= end - start
                    items.removeFirst()
                } else {
                    items[0] = .staged(start: start + left, end: end)
                    if items.count == 1 && stagedTailStart != nil { stagedTailStart = start + left }
                    left = 0
                }
            case .shared(let chunk, let start):
                if chunk.count - start <= left {
                    left -= chunk.count - start
                    items.removeFirst()
                } else {
                    items[0] = .shared(chunk, start: start + left)
                    left = 0
                }
            case .file(let region, let sent):
                if region.count - sent <= left {
                    left -= region.count - sent
                    items.removeFirst()
                } else {
                    items[0] = .file(region, sent: sent + left)
                    left = 0
                }
            }
        }
        // Bytes are still pending (all of them went above), so the deque still holds them.
        compactStagingIfWorthIt()
    }

    /// Bytes of the staging area in use, the already-sent prefix included: what compaction
    /// keeps proportional to `pendingBytes`.
    var stagedBytes: Int { staging.count }

    /// Under back-pressure the queue may never empty; drop the already-sent prefix of the
    /// staging area once it is at least the retained capacity and half the area, so memory
    /// stays within twice what is pending (a peer that reads slowly while its connection keeps
    /// queueing would otherwise grow the area by the sent prefix; the memmove moves at most
    /// what is pending).
    private mutating func compactStagingIfWorthIt() {
        let lone = isLoneRun
        guard let firstStaged = lone ? loneStart : items.lazy.compactMap({ item -> Int? in
            if case .staged(let start, _) = item { return start }
            return nil
        }).first else {
            staging.reset(keepingCapacityUpTo: Self.retainedStagingCapacity)
            return
        }
        guard firstStaged >= Self.retainedStagingCapacity, firstStaged * 2 >= staging.count else { return }
        staging.removeFirst(firstStaged)
        if lone {
            loneStart = 0
            return
        }
        if let tail = stagedTailStart { stagedTailStart = tail - firstStaged }
        for i in items.indices {
            if case .staged(let start, let end) = items[i] {
                items[i] = .staged(start: start - firstStaged, end: end - firstStaged)
            }
        }
    }

    /// Drops everything (on close).
    mutating func removeAll() {
        items.removeAll()
        stagedTailStart = nil
        staging.deallocate()
        pendingBytes = 0
    }
}
