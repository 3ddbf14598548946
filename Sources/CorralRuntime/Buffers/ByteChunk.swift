/// Immutable bytes at a stable address, shared without copying between connections and loops
/// (e.g. a cached file body). Writing one to a connection costs a retain, not a copy.
public final class ByteChunk: @unchecked Sendable {
    /// Start of the bytes; valid as long as the chunk lives.
    public let base: UnsafeRawPointer
    public let count: Int

    public init(_ bytes: some Collection<UInt8>) {
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 16)
        _ = storage.initializeMemory(as: UInt8.self, from: bytes)
        base = UnsafeRawPointer(storage.baseAddress!)
        count = bytes.count
    }

    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    deinit { UnsafeMutableRawPointer(mutating: base).deallocate() }
}

/// An open file shared by every response that sends from it; closed when the last one is done.
public final class OpenFile: @unchecked Sendable {
    public let fd: CInt
    public init(adopting fd: CInt) { self.fd = fd }
    deinit { Posix.close(fd) }
}

/// A byte range of an open file, sent with sendfile(2) so the body never enters user space.
public struct FileRegion: Sendable {
    public let file: OpenFile
    public let offset: Int
    public let count: Int
    public init(file: OpenFile, offset: Int, count: Int) {
        self.file = file
        self.offset = offset
        self.count = count
    }
}
