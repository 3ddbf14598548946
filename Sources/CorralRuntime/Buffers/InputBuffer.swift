/// Growable bytes with a stable base between growths: the unconsumed input of one connection,
/// or its copied outbound bytes. Starts empty (no memory) so an idle connection costs nothing.
struct GrowableBytes {
    private(set) var base: UnsafeMutableRawPointer?
    private(set) var capacity = 0
    var count = 0

    var isEmpty: Bool { count == 0 }

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// Free space after `count`, growing (doubling) so that at least `minimum` bytes are free.
    mutating func spare(atLeast minimum: Int) -> UnsafeMutableRawBufferPointer {
        if capacity - count < minimum {
            var newCapacity = max(capacity * 2, 512)
            while newCapacity - count < minimum { newCapacity *= 2 }
            let grown = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
            if let base {
                grown.copyMemory(from: base, byteCount: count)
                base.deallocate()
            }
            base = grown
            capacity = newCapacity
        }
        return UnsafeMutableRawBufferPointer(start: base! + count, count: capacity - count)
    }

    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        let space = spare(atLeast: bytes.count)
        space.baseAddress!.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        count += bytes.count
    }

    /// Drops the first `n` bytes, moving the rest to the front.
    mutating func removeFirst(_ n: Int) {
        precondition(n <= count)
        if n == count {
            count = 0
        } else if n > 0 {
            base!.copyMemory(from: base! + n, byteCount: count - n)
            count -= n
        }
    }

    /// Empties the buffer and gives its memory back if it holds more than `keep` bytes of capacity.
    mutating func reset(keepingCapacityUpTo keep: Int) {
        count = 0
        if capacity > keep {
            base?.deallocate()
            base = nil
            capacity = 0
        }
    }

    mutating func deallocate() {
        base?.deallocate()
        base = nil
        capacity = 0
        count = 0
    }
}
