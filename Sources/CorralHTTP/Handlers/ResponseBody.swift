import CorralRuntime

/// The body of a `Response`: bytes, a string, a shared chunk, a region of an open file (sent
/// with sendfile(2), never entering the process), or a stream the handler writes incrementally.
public struct ResponseBody: Sendable, ExpressibleByStringLiteral {
    enum Content: Sendable {
        case empty
        case bytes([UInt8])
        case string(String)
        case chunk(ByteChunk, Range<Int>)
        case file(OpenFile, offset: Int, count: Int)
        case stream(StreamedBody)
    }

    /// A streamed body (a class: the enum keeps one reference per case, so responses are
    /// copied in registers).
    final class StreamedBody: Sendable {
        let length: Int?
        let write: Stream

        init(length: Int?, write: @escaping Stream) {
            self.length = length
            self.write = write
        }
    }

    /// Writes a streamed body through the writer it is given.
    public typealias Stream = nonisolated(nonsending) @Sendable (inout ResponseBodyWriter) async throws -> Void

    let content: Content

    /// No body (Content-Length: 0).
    public init() { content = .empty }

    /// These bytes (copied into the connection's write queue when sent).
    public init(bytes: [UInt8]) { content = bytes.isEmpty ? .empty : .bytes(bytes) }

    /// The UTF-8 bytes of `string`.
    public init(string: String) { content = string.isEmpty ? .empty : .string(string) }

    public init(stringLiteral value: String) { self.init(string: value) }

    /// A shared chunk, referenced (not copied) by every response that sends it.
    public init(chunk: ByteChunk) { content = chunk.count == 0 ? .empty : .chunk(chunk, 0..<chunk.count) }

    /// `count` bytes of `file` from `offset`, sent with sendfile(2). The file stays open until the
    /// last response sending from it is done.
    public init(file: OpenFile, offset: Int = 0, count: Int) {
        precondition(offset >= 0 && count >= 0, "a file region has a non-negative offset and count")
        content = count == 0 ? .empty : .file(file, offset: offset, count: count)
    }

    /// A body the handler writes piece by piece, after the head has gone out: with
    /// `Transfer-Encoding: chunked` to HTTP/1.1 clients, or (unknown length, HTTP/1.0) delimited
    /// by the end of the connection. With `length`, sent with that Content-Length instead, and
    /// the writer must write exactly that many bytes (or the connection is closed). `write`
    /// runs on the connection's loop; the writer's `write` suspends while the client is not
    /// reading (the connection's high watermark).
    public static func stream(length: Int? = nil, _ write: @escaping Stream) -> ResponseBody {
        ResponseBody(content: .stream(StreamedBody(length: length, write: write)))
    }

    init(content: Content) { self.content = content }

    /// The body's length, nil for a stream of unknown length.
    public var count: Int? {
        switch content {
        case .empty: 0
        case .bytes(let bytes): bytes.count
        case .string(let string): string.utf8.count
        case .chunk(_, let range): range.count
        case .file(_, _, let count): count
        case .stream(let stream): stream.length
        }
    }
}

/// Writes a streamed response body (`ResponseBody.stream`). Each `write` queues its bytes (as
/// one chunk of a chunked body) and returns at once, or, when the client is not keeping up,
/// once the connection's queue has drained to its low watermark; `flush` sends what is queued.
/// Called from elsewhere than the connection's loop, each call first moves to the loop.
public struct ResponseBodyWriter: ~Copyable {
    let sink: HandlerReference
    let exchange: UInt64

    /// Queues `bytes`.
    public nonisolated(nonsending) mutating func write(_ bytes: some Collection<UInt8> & Sendable) async throws(HTTPError) {
        if let result = bytes.withContiguousStorageIfAvailable({ Self.write(UnsafeRawBufferPointer($0), sink, exchange) }) {
            try await ResponseBodyWriter.WriteResult.complete(result)
        } else {
            try await WriteResult.complete(Array(bytes).withUnsafeBytes { Self.write($0, sink, exchange) })
        }
    }

    /// Queues the UTF-8 bytes of `string`.
    public nonisolated(nonsending) mutating func write(_ string: String) async throws(HTTPError) {
        var string = string
        try await WriteResult.complete(string.withUTF8 { Self.write(UnsafeRawBufferPointer($0), sink, exchange) })
    }

    /// Sends what is queued now (writes are otherwise sent together when the stream ends or the
    /// queue fills).
    public nonisolated(nonsending) mutating func flush() async throws(HTTPError) {
        let sink = self.sink, exchange = self.exchange
        if sink.loop.hasFinished { throw HTTPError(.badRequest, message: "the connection closed") }
        guard sink.loop.inLoop else {
            return try await withTaskExecutorPreference(sink.loop) { () async throws(HTTPError) in
                try sink.value.flushStreamed(exchange: exchange).get()
                try await sink.value.waitForRoom(exchange: exchange)
            }
        }
        try sink.value.flushStreamed(exchange: exchange).get()
        try await sink.value.waitForRoom(exchange: exchange)
    }

    /// Queues `bytes` on the loop (copied first when called from elsewhere), then waits for room.
    private static func write(_ bytes: UnsafeRawBufferPointer, _ sink: HandlerReference,
                              _ exchange: UInt64) -> WriteResult {
        guard !bytes.isEmpty else { return WriteResult(pending: nil) }
        if sink.loop.hasFinished { return WriteResult(pending: .failed(HTTPError(.badRequest, message: "the connection closed"))) }
        guard sink.loop.inLoop else { return WriteResult(pending: .copy(Array(bytes), sink, exchange)) }
        if case .failure(let error) = sink.value.writeStreamed(bytes, exchange: exchange) {
            return WriteResult(pending: .failed(error))
        }
        return WriteResult(pending: .wait(sink, exchange))
    }

    /// What is left to do of a write after its synchronous part.
    struct WriteResult: Sendable {
        enum Pending: Sendable {
            case failed(HTTPError)
            case wait(HandlerReference, UInt64)
            case copy([UInt8], HandlerReference, UInt64)
        }

        let pending: Pending?

        nonisolated(nonsending) static func complete(_ result: WriteResult) async throws(HTTPError) {
            switch result.pending {
            case nil: return
            case .failed(let error)?: throw error
            case .wait(let sink, let exchange)?: try await sink.value.waitForRoom(exchange: exchange)
            case .copy(let bytes, let sink, let exchange)?:
                try await withTaskExecutorPreference(sink.loop) { () async throws(HTTPError) in
                    try await WriteResult.complete(bytes.withUnsafeBytes { write($0, sink, exchange) })
                }
            }
        }
    }
}
