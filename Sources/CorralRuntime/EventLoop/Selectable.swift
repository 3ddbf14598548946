/// An object that owns a descriptor registered with an event loop's poller.
///
/// The loop calls `handle(events:)` with the epoll event bits when the descriptor is ready,
/// and `loopIsClosing()` once when the loop shuts down, so that every descriptor gets closed.
package protocol Selectable: AnyObject {
    func handle(events: UInt32)
    func loopIsClosing()
}

/// Identifies one registration: a slot index plus the slot's generation, packed into epoll's
/// 64-bit user data. A slot's generation changes when it is freed, so an event still queued
/// for a closed descriptor (or one whose number was reused) is recognised and dropped.
package struct RegistrationToken: Hashable {
    package let index: UInt32
    package let generation: UInt32

    var userData: UInt64 { UInt64(generation) << 32 | UInt64(index) }

    init(index: UInt32, generation: UInt32) {
        self.index = index
        self.generation = generation
    }

    init(userData: UInt64) {
        self.index = UInt32(truncatingIfNeeded: userData)
        self.generation = UInt32(truncatingIfNeeded: userData >> 32)
    }
}

/// The loop's table of live registrations.
struct RegistrationTable {
    private struct Slot {
        var generation: UInt32 = 1
        var object: (any Selectable)?
    }

    private var slots: [Slot] = []
    private var free: [UInt32] = []
    private(set) var count = 0

    mutating func insert(_ object: any Selectable) -> RegistrationToken {
        let index: UInt32
        if let reused = free.popLast() {
            index = reused
        } else {
            index = UInt32(slots.count)
            slots.append(Slot())
        }
        slots[Int(index)].object = object
        count += 1
        return RegistrationToken(index: index, generation: slots[Int(index)].generation)
    }

    mutating func remove(_ token: RegistrationToken) {
        let i = Int(token.index)
        guard i < slots.count, slots[i].generation == token.generation, slots[i].object != nil else { return }
        slots[i].object = nil
        slots[i].generation &+= 1
        if slots[i].generation == 0 { slots[i].generation = 1 }  // 0 is never a live generation
        free.append(token.index)
        count -= 1
    }

    func lookup(_ token: RegistrationToken) -> (any Selectable)? {
        let i = Int(token.index)
        guard i < slots.count, slots[i].generation == token.generation else { return nil }
        return slots[i].object
    }

    var all: [any Selectable] { slots.compactMap(\.object) }
}
