/// The echo services of `EchoHandler` and `SockperfHandler`, written with the async API
/// (`corral echo --async`): the same bytes on the wire, so the two APIs can be measured side by side.
package enum AsyncServices {
    /// Writes every chunk straight back, one flush per chunk.
    package static func echo(_ connection: AsyncConnection) async throws {
        for try await chunk in connection.inbound {
            try await connection.write(chunk)
            try await connection.flush()
        }
    }

    /// Answers sockperf's ping-pong framing as `SockperfHandler` does: replies only to messages
    /// that ask for a pong and are not warm-up, with CLIENT cleared; one flush per chunk.
    package static func sockperf(_ connection: AsyncConnection) async throws {
        var pending: [UInt8] = []
        pending.reserveCapacity(SockperfHandler.maxMessage * 2)
        for try await chunk in connection.inbound {
            pending.append(contentsOf: chunk)
            var offset = 0
            var replied = false
            while pending.count - offset >= SockperfHandler.headerSize {
                let length = pending[offset + 10..<offset + 14].reduce(0) { $0 << 8 | Int($1) }
                guard length >= SockperfHandler.headerSize, length <= SockperfHandler.maxMessage else {
                    throw CloseReason.protocolViolation("sockperf framing: bad length \(length)")
                }
                guard pending.count - offset >= length else { break }
                let flags = UInt16(pending[offset + 8]) << 8 | UInt16(pending[offset + 9])
                if flags & SockperfHandler.flagPongRequest != 0 && flags & SockperfHandler.flagWarmup == 0 {
                    pending[offset + 9] = UInt8(truncatingIfNeeded: flags & ~SockperfHandler.flagClient)
                    try await connection.write(pending[offset..<offset + length])
                    replied = true
                }
                offset += length
            }
            pending.removeFirst(offset)
            if replied { try await connection.flush() }
        }
    }
}
