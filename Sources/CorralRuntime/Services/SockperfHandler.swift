/// An echo that speaks sockperf's framing, so the real `sockperf ping-pong` client can measure it.
///
/// Every sockperf message starts with a 14-byte big-endian header: u64 sequence number,
/// u16 flags (CLIENT = 1, PONG_REQUEST = 2, WARMUP = 4), u32 total length including the header.
/// Like `sockperf sr`, it answers only messages that ask for a pong and are not warm-up, and
/// clears CLIENT in the reply (the client drops replies that still carry it, taking them for
/// its own looped-back messages).
package final class SockperfHandler: ConnectionHandler {
    static let headerSize = 14
    static let flagClient: UInt16 = 1
    static let flagPongRequest: UInt16 = 2
    static let flagWarmup: UInt16 = 4
    /// sockperf's own limit on a message (its MAX_PAYLOAD_SIZE is 65 506 + header).
    static let maxMessage = 65_536

    package init() {}

    package func connection(_ connection: Connection, didRead buffer: UnsafeRawBufferPointer) -> Int {
        var offset = 0
        var replied = false
        while buffer.count - offset >= Self.headerSize {
            let length = Int(Self.u32(buffer, at: offset + 10))
            guard length >= Self.headerSize, length <= Self.maxMessage else {
                connection.close(reason: .protocolViolation("sockperf framing: bad length \(length)"))
                return buffer.count
            }
            guard buffer.count - offset >= length else { break }
            let flags = Self.u16(buffer, at: offset + 8)
            if flags & Self.flagPongRequest != 0 && flags & Self.flagWarmup == 0 {
                // The reply is the message with CLIENT cleared: copied once, patched in place.
                let message = UnsafeRawBufferPointer(rebasing: buffer[offset..<offset + length])
                connection.writeStaged { staged in
                    let at = staged.count
                    staged.append(message)
                    staged.base.unsafelyUnwrapped.storeBytes(
                        of: (flags & ~Self.flagClient).bigEndian, toByteOffset: at + 8, as: UInt16.self)
                }
                replied = true
            }
            offset += length
        }
        if replied { connection.flush() }
        return offset
    }

    static func u16(_ buffer: UnsafeRawBufferPointer, at offset: Int) -> UInt16 {
        UInt16(bigEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    static func u32(_ buffer: UnsafeRawBufferPointer, at offset: Int) -> UInt32 {
        UInt32(bigEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
}
