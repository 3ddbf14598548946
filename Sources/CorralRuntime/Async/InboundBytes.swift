/// Bytes received on an `AsyncConnection`: an immutable view of memory the loop recycles.
///
/// The read lands in the loop's shared buffer and is copied once into storage taken from the
/// loop's pool; when the consumer has let go of a chunk by the time it asks for the next one
/// (as `for try await chunk in connection.inbound { … }` does), the storage goes back to the
/// pool, so a steady stream of messages allocates nothing. A chunk that is kept (stored, sent
/// to another task) simply stays alive and is freed by ARC.
public struct InboundBytes: RandomAccessCollection, Sendable {
    /// Memory written once, before the chunk is handed out, and reused only when no chunk
    /// refers to it any more (checked with `isKnownUniquelyReferenced` on the loop's thread).
    final class Storage: @unchecked Sendable {
        let base: UnsafeMutableRawPointer
        let capacity: Int

        init(capacity: Int) {
            self.capacity = capacity
            base = .allocate(byteCount: capacity, alignment: 16)
        }

        deinit { base.deallocate() }
    }

    let storage: Storage
    public let count: Int

    init(storage: Storage, count: Int) {
        self.storage = storage
        self.count = count
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { count }

    public subscript(position: Int) -> UInt8 {
        precondition(position >= 0 && position < count, "InboundBytes index out of range")
        return storage.base.load(fromByteOffset: position, as: UInt8.self)
    }

    /// Lends the bytes without copying them; valid only during the call.
    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeRawBufferPointer(start: storage.base, count: count))
    }

    public func withContiguousStorageIfAvailable<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R? {
        try body(UnsafeBufferPointer(start: storage.base.assumingMemoryBound(to: UInt8.self), count: count))
    }
}

/// The loop's recycled chunk storage (loop thread only): bounded in number and in size, so an
/// idle server holds at most `maxPooled × maxPooledCapacity` bytes per loop, and an idle
/// connection holds none.
///
/// A fixed stack of retained references rather than an `Array`: a storage is taken and given
/// back once per message, and `Array`'s uniqueness checks and reference counting made that pair
/// ~150 instructions per message (Benchmarks/callgrind.py); here each is a load or a store.
struct InboundStoragePool: ~Copyable {
    static var minimumCapacity: Int { 2048 }
    static var maxPooledCapacity: Int { 64 * 1024 }
    static var maxPooled: Int { 64 }

    /// `count` retained storages, the most recently given back last.
    private let slots = UnsafeMutablePointer<Unmanaged<InboundBytes.Storage>>.allocate(capacity: Self.maxPooled)
    private(set) var count = 0

    /// A storage of at least `needed` bytes: the most recently returned one if it is big enough.
    mutating func take(atLeast needed: Int) -> InboundBytes.Storage {
        if count > 0, slots[count - 1]._withUnsafeGuaranteedRef({ $0.capacity }) >= needed {
            count -= 1
            return slots[count].takeRetainedValue()
        }
        var capacity = Self.minimumCapacity
        while capacity < needed { capacity *= 2 }
        return InboundBytes.Storage(capacity: capacity)
    }

    /// Takes back a storage no chunk refers to any more (or lets it go, past the bounds).
    mutating func give(_ storage: consuming InboundBytes.Storage) {
        guard storage.capacity <= Self.maxPooledCapacity, count < Self.maxPooled else { return }
        (slots + count).initialize(to: .passRetained(storage))
        count += 1
    }

    deinit {
        for i in 0..<count { slots[i].release() }
        slots.deallocate()
    }
}

extension InboundBytes {
    /// A copy of `bytes` in storage from `loop`'s recycled pool (loop thread only): for protocols
    /// on the loop that hand out received bytes as `AsyncConnection` does (HTTP request bodies).
    package static func copy(_ bytes: UnsafeRawBufferPointer, on loop: EventLoop) -> InboundBytes {
        let storage = loop.inboundPool.take(atLeast: bytes.count)
        if let base = bytes.baseAddress { storage.base.copyMemory(from: base, byteCount: bytes.count) }
        return InboundBytes(storage: storage, count: bytes.count)
    }

    /// Takes the chunk out of `chunk` and gives its storage back to `loop`'s pool if no other
    /// chunk refers to it any more (loop thread only).
    package static func recycle(_ chunk: inout InboundBytes?, on loop: EventLoop) {
        guard var storage = chunk.take()?.storage else { return }
        if isKnownUniquelyReferenced(&storage) { loop.inboundPool.give(storage) }
    }
}
