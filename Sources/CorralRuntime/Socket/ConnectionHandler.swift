/// The application side of a connection. Every callback runs on the connection's loop.
public protocol ConnectionHandler: AnyObject {
    /// The connection is established (accepted, or an outgoing connect completed).
    func connectionDidOpen(_ connection: Connection)

    /// Bytes arrived. `buffer` starts with whatever the handler left unconsumed last time,
    /// followed by the new bytes. Return how many bytes were consumed; the rest are kept and
    /// presented again with the next read. The buffer is only valid during the call.
    func connection(_ connection: Connection, didRead buffer: UnsafeRawBufferPointer) -> Int

    /// The peer shut down its sending side (read returned 0). The default closes once
    /// everything queued has been sent.
    func connectionDidReadEOF(_ connection: Connection)

    /// `isWritable` changed: the queued bytes crossed the high watermark (false) or fell
    /// back under the low one (true). Producers stop and resume on this.
    func connectionWritabilityDidChange(_ connection: Connection)

    /// Everything queued has been sent, after a flush had to wait for room in the socket
    /// (output that goes out at once does not call this).
    func connectionDidDrainOutput(_ connection: Connection)

    /// The descriptor is closed; `reason` says why (`.closed` for an orderly close).
    func connectionDidClose(_ connection: Connection, reason: CloseReason)
}

extension ConnectionHandler {
    public func connectionDidOpen(_ connection: Connection) {}
    public func connectionDidReadEOF(_ connection: Connection) { connection.closeAfterFlush() }
    public func connectionWritabilityDidChange(_ connection: Connection) {}
    public func connectionDidDrainOutput(_ connection: Connection) {}
    public func connectionDidClose(_ connection: Connection, reason: CloseReason) {}
}
