import Glibc
import Testing
@testable import CorralRuntime

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

    // MARK: support

    private func flush(
        _ queue: inout OutboundQueue<ScriptedSink>, iovecCapacity: Int = 64, maxSyscalls: Int = 16
    ) throws(SystemError) -> OutboundQueue<ScriptedSink>.FlushResult {
        let iovecs = UnsafeMutablePointer<iovec>.allocate(capacity: iovecCapacity)
        defer { iovecs.deallocate() }
        return try queue.flush(iovecs: iovecs, iovecCapacity: iovecCapacity, maxSyscalls: maxSyscalls)
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
