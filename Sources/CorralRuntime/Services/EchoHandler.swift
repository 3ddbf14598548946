/// Writes every byte it reads straight back: the smallest useful server, and the runtime's
/// reference for latency (`corral echo`). One flush per read batch.
public final class EchoHandler: ConnectionHandler {
    public init() {}

    public func connection(_ connection: Connection, didRead buffer: UnsafeRawBufferPointer) -> Int {
        connection.write(buffer)
        connection.flush()
        return buffer.count
    }

    public func connectionDidReadEOF(_ connection: Connection) {
        // Half-close: the peer is done sending; finish sending back what it sent, then close.
        connection.closeAfterFlush()
    }
}
