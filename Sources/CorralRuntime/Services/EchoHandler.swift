/// Writes every byte it reads straight back: the smallest useful server, and the runtime's
/// reference for latency (`corral echo`). One flush per read batch.
package final class EchoHandler: ConnectionHandler {
    package init() {}

    package func connection(_ connection: Connection, didRead buffer: UnsafeRawBufferPointer) -> Int {
        connection.write(buffer)
        connection.flush()
        return buffer.count
    }

    package func connectionDidReadEOF(_ connection: Connection) {
        // Half-close: the peer is done sending; finish sending back what it sent, then close.
        connection.closeAfterFlush()
    }
}
