import Glibc
import Testing
@_spi(Internals) @testable import CorralRuntime

/// The write queue against a scripted sink: what a flush sends, in which calls, with which
/// flags, and what it keeps, without a kernel.
@Suite struct OutboundQueueTests {
    @Test func partialWritesResumeWhereTheKernelStoppedAndKeepTheOrder() throws {
        var queue = OutboundQueue(sink: ScriptedSink())
        defer { queue.removeAll() }  // the queue's owner frees its staging memory (Connection.close)
        queue.append(copying: "hello ")
        queue.append(ByteChunk(Array("shared ".utf8)))
        queue.append(copying: "world")
        queue.append(copying: "!")  // merged with the staged run before it
        queue.sink.script = [4, 4, 4, 4, 4]
        let result = try flush(&queue)
        #expect(result == .done)
        #expect(queue.sink.sent == Array("hello shared world!".utf8))
        #expect(queue.sink.calls.count == 5)
        #expect(queue.sink.calls[0].pieces == 3)  // "hello ", the chunk, "world!": three iovecs
        #expect(queue.pendingBytes == 0 && queue.isEmpty)
    }

    @Test func aFullSocketStopsTheFlushAndTheNextOneContinues() throws {
        var queue = OutboundQueue(sink: ScriptedSink())
        defer { queue.removeAll() }  // the queue's owner frees its staging memory (Connection.close)
        queue.append(copying: "abcdefgh")
        queue.sink.script = [3, nil]
        #expect(try flush(&queue) == .wouldBlock)
        #expect(queue.pendingBytes == 5)
        queue.sink.script = [5]
        #expect(try flush(&queue) == .done)
        #expect(queue.sink.sent == Array("abcdefgh".utf8))
    }

    @Test func bytesBeforeAFileRegionGoWithMSGMoreAndTheRestWithout() throws {
        let file = try openFile()
        var queue = OutboundQueue(sink: ScriptedSink())
        defer { queue.removeAll() }  // the queue's owner frees its staging memory (Connection.close)
        queue.append(copying: "HEAD")
        queue.append(FileRegion(file: file, offset: 10, count: 100))
        queue.append(copying: "TAIL")
        queue.sink.script = [4, 100, 4]
        #expect(try flush(&queue) == .done)
        #expect(queue.sink.calls.map(\.more) == [true, false, false])
        #expect(queue.sink.calls.map(\.file) == [nil, FileCall(offset: 10, count: 100), nil])
        #expect(queue.sink.sent == Array("HEADTAIL".utf8))
    }

    /// Before a close or shutdown the last send holds its bytes (MSG_MORE) for the FIN's
    /// segment; earlier sends of the same flush, and ordinary flushes, do not.
    @Test func theLastSendBeforeAFINGoesWithMSGMore() throws {
        var queue = OutboundQueue(sink: ScriptedSink())
        defer { queue.removeAll() }  // the queue's owner frees its staging memory (Connection.close)
        queue.append(copying: "response")
        queue.sink.script = [3, 5]
        #expect(try flush(&queue, beforeFIN: true) == .done)
        #expect(queue.sink.calls.map(\.more) == [true, true])  // the rest of a partial send is still the last
        queue.append(copying: "again")
        queue.sink.script = [5]
        #expect(try flush(&queue) == .done)
        #expect(queue.sink.calls.map(\.more) == [true, true, false])
    }

    @Test func aPartialSendfileResumesAtTheRightOffset() throws {
        let file = try openFile()
        var queue = OutboundQueue(sink: ScriptedSink())
        defer { queue.removeAll() }  // the queue's owner frees its staging memory (Connection.close)
        queue.append(FileRegion(file: file, offset: 1000, count: 500))
        queue.sink.script = [200, nil]
        #expect(try flush(&queue) == .wouldBlock)
        queue.sink.script = [300]
        #expect(try flush(&queue) == .done)
        // The call that found the socket full, then the one that finished.
        #expect(queue.sink.calls.compactMap(\.file) == [
            FileCall(offset: 1000, count: 500), FileCall(offset: 1200, count: 300), FileCall(offset: 1200, count: 300),
        ])
    }

    @Test func aFileThatShrankIsAnError() throws {
        let file = try openFile()
        var queue = OutboundQueue(sink: ScriptedSink())
        defer { queue.removeAll() }  // the queue's owner frees its staging memory (Connection.close)
        queue.append(FileRegion(file: file, offset: 0, count: 10))
        queue.sink.script = [0]
        #expect(throws: SystemError.self) { try flush(&queue) }
    }

    @Test func theSyscallBudgetYields() throws {
        var queue = OutboundQueue(sink: ScriptedSink())
        defer { queue.removeAll() }  // the queue's owner frees its staging memory (Connection.close)
        queue.append(copying: String(repeating: "x", count: 100))
        queue.sink.script = Array(repeating: 1, count: 100)
        #expect(try flush(&queue, maxSyscalls: 16) == .yielded)
        #expect(queue.sink.calls.count == 16)
        #expect(queue.pendingBytes == 84)
    }

    @Test func oneSendGathersAtMostTheIovecCapacity() throws {
        var queue = OutboundQueue(sink: ScriptedSink())
        defer { queue.removeAll() }  // the queue's owner frees its staging memory (Connection.close)
        for i in 0..<10 { queue.append(ByteChunk([UInt8(i)])) }
        queue.sink.script = [4, 4, 2]
        #expect(try flush(&queue, iovecCapacity: 4) == .done)
        #expect(queue.sink.calls.map(\.pieces) == [4, 4, 2])
        #expect(queue.sink.sent == Array(0..<10))
    }

    /// A slow reader: the kernel takes a little at a time while the owner keeps the queue near
    /// its watermark (as the HTTP server does). The staging area never grows past twice what is
    /// pending (a sent prefix is reclaimed from the retained capacity on, not only from 64 KiB).
    @Test func aSlowReaderDoesNotGrowTheStagingArea() throws {
        var queue = OutboundQueue(sink: ScriptedSink())
        defer { queue.removeAll() }
        let piece = [UInt8](repeating: 3, count: 1500)
        var most = 0
        for _ in 0..<500 {
            while queue.pendingBytes <= 16 * 1024 { queue.append(copying: piece) }
            queue.sink.script = [3000, nil]
            _ = try flush(&queue)
            most = max(most, queue.stagingCapacity)
        }
        #expect(most <= 64 * 1024, "staging capacity reached \(most) bytes for ~18 KiB pending")
    }

    /// Under back-pressure the queue never empties; the sent prefix of the staging area is
    /// dropped once it dominates, so memory follows what is pending.
    @Test func theSentPrefixOfTheStagingAreaIsCompactedAway() throws {
        var queue = OutboundQueue(sink: ScriptedSink())
        defer { queue.removeAll() }  // the queue's owner frees its staging memory (Connection.close)
        let kib = [UInt8](repeating: 7, count: 1024)
        for i in 0..<200 {
            queue.append(copying: kib)
            if i % 50 == 49 { queue.append(ByteChunk([1])) }  // separate staged runs
        }
        #expect(queue.stagedBytes == 200 * 1024)
        queue.sink.script = [120 * 1024, nil]
        #expect(try flush(&queue) == .wouldBlock)
        #expect(queue.pendingBytes == 200 * 1024 + 4 - 120 * 1024)
        #expect(queue.stagedBytes < 90 * 1024, "the sent 120 KiB prefix is still held")
        queue.sink.script = [1 << 30]
        #expect(try flush(&queue) == .done)
        #expect(queue.sink.sent.count == 200 * 1024 + 4)
    }

    /// Bytes appended in place join the staged run before them, and a staged run that was
    /// partly sent, or moved by compaction, still takes the next bytes into the same iovec.
    @Test func inPlaceAndCopiedBytesShareOneRunWhereverItStarts() throws {
        var queue = OutboundQueue(sink: ScriptedSink())
        defer { queue.removeAll() }
        queue.append(copying: "ab")
        let added = queue.appendInPlace { staged in
            let word = Array("cd".utf8)
            word.withUnsafeBytes { staged.append($0) }
        }
        #expect(added == 2)
        #expect(queue.appendInPlace { _ in } == 0)
        queue.sink.script = [3, nil]  // "abc" sent, "d" left at the front
        #expect(try flush(&queue) == .wouldBlock)
        queue.append(copying: "ef")  // extends the partly sent run
        queue.append(ByteChunk(Array("G".utf8)))
        queue.append(copying: "h")  // a new run after the chunk
        queue.sink.script = [1 << 20]
        var before = queue.sink.calls.count
        #expect(try flush(&queue) == .done)
        #expect(queue.sink.sent == Array("abcdefGh".utf8))
        #expect(queue.sink.calls[before].pieces == 3)  // "def", "G", "h"

        // A run moved to the front of the staging area by compaction keeps taking bytes.
        let kib = [UInt8](repeating: 1, count: 1024)
        for _ in 0..<16 { queue.append(copying: kib) }
        queue.sink.script = [12 * 1024, nil]
        #expect(try flush(&queue) == .wouldBlock)
        #expect(queue.stagedBytes == 4 * 1024, "the sent prefix was not compacted away")
        queue.append(copying: "tail")
        queue.sink.script = [1 << 20]
        before = queue.sink.calls.count
        #expect(try flush(&queue) == .done)
        #expect(queue.sink.calls[before].pieces == 1)
        #expect(queue.sink.sent.suffix(4) == Array("tail".utf8))
        #expect(queue.sink.sent.count == 8 + 16 * 1024 + 4)
    }

    // MARK: support

    private func flush(
        _ queue: inout OutboundQueue<ScriptedSink>, iovecCapacity: Int = 64, maxSyscalls: Int = 16, beforeFIN: Bool = false
    ) throws(SystemError) -> OutboundQueue<ScriptedSink>.FlushResult {
        let iovecs = UnsafeMutablePointer<iovec>.allocate(capacity: iovecCapacity)
        defer { iovecs.deallocate() }
        return try queue.flush(iovecs: iovecs, iovecCapacity: iovecCapacity, maxSyscalls: maxSyscalls, beforeFIN: beforeFIN)
    }

    private func openFile() throws -> OpenFile {
        OpenFile(adopting: try Posix.openReadOnly("/dev/null"))
    }
}

extension OutboundQueue {
    mutating func append(copying text: String) { append(copying: Array(text.utf8)) }
    mutating func append(copying bytes: [UInt8]) { bytes.withUnsafeBytes { append($0) } }
}

struct FileCall: Equatable {
    let offset: Int
    let count: Int
}

/// A sink that takes, call after call, the number of bytes its script says (nil: EAGAIN).
struct ScriptedSink: OutboundSink {
    struct Call {
        var pieces = 0
        var more = false
        var file: FileCall?
    }

    var script: [Int?] = []
    private(set) var calls: [Call] = []
    private(set) var sent: [UInt8] = []

    init(accept script: [Int?] = []) { self.script = script }

    mutating func send(_ pieces: UnsafeBufferPointer<iovec>, more: Bool) throws(SystemError) -> IOResult<Int> {
        calls.append(Call(pieces: pieces.count, more: more))
        guard !script.isEmpty, var left = script.removeFirst() else { return .wouldBlock }
        var taken = 0
        for piece in pieces where left > 0 {
            let n = min(left, piece.iov_len)
            sent += UnsafeRawBufferPointer(start: piece.iov_base, count: n)
            left -= n
            taken += n
        }
        return .processed(taken)
    }

    mutating func sendFile(_ file: CInt, offset: inout off_t, count: Int) throws(SystemError) -> IOResult<Int> {
        calls.append(Call(file: FileCall(offset: Int(offset), count: count)))
        guard !script.isEmpty, let accepted = script.removeFirst() else { return .wouldBlock }
        let n = min(accepted, count)
        offset += off_t(n)
        return .processed(n)
    }
}
