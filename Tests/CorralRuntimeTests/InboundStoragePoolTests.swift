import Testing
@testable import CorralRuntime

/// The loop's pool of chunk storage, without a loop: what it reuses, and what it lets go.
@Suite struct InboundStoragePoolTests {
    @Test func aStorageGivenBackIsTheNextOneTaken() {
        var pool = InboundStoragePool()
        let first = pool.take(atLeast: 64)
        #expect(first.capacity == InboundStoragePool.minimumCapacity)
        let identity = ObjectIdentifier(first)
        pool.give(first)
        #expect(pool.count == 1)
        #expect(ObjectIdentifier(pool.take(atLeast: 100)) == identity)
        #expect(pool.count == 0)
    }

    @Test func aStorageTooSmallForTheReadStaysInThePool() {
        var pool = InboundStoragePool()
        pool.give(pool.take(atLeast: 1))
        let big = pool.take(atLeast: 5000)
        #expect(big.capacity == 8192)  // the minimum, doubled until it fits
        #expect(pool.count == 1)
    }

    @Test func thePoolIsBoundedInNumberAndInSize() {
        var pool = InboundStoragePool()
        let storages = (0..<(InboundStoragePool.maxPooled + 3)).map { _ in InboundBytes.Storage(capacity: 2048) }
        for storage in storages { pool.give(storage) }
        #expect(pool.count == InboundStoragePool.maxPooled)
        var small = InboundStoragePool()
        small.give(InboundBytes.Storage(capacity: InboundStoragePool.maxPooledCapacity * 2))
        #expect(small.count == 0)
    }
}
