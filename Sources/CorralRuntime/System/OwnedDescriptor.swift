/// The one owner of an open file descriptor.
///
/// Not copyable, so a descriptor cannot have two owners: whoever holds the value closes it,
/// either explicitly (`close()`) or by letting it go out of scope (`deinit`). Handing it on
/// (`Connection.adopt`, `EventLoop.register`) consumes it, so the compiler rejects any later use.
/// `take()` ends the ownership without closing, for the few places that store the raw number
/// in a type whose state machine closes it exactly once (a `Connection`).
public struct OwnedDescriptor: ~Copyable, Sendable {
    /// The descriptor number, borrowed: valid while this value lives.
    public let rawValue: CInt

    /// Takes ownership of `rawValue`, an open descriptor nobody else will close.
    public init(adopting rawValue: CInt) {
        precondition(rawValue >= 0, "OwnedDescriptor(adopting: \(rawValue)): not a descriptor")
        self.rawValue = rawValue
    }

    /// Closes the descriptor now.
    public consuming func close() {
        Posix.close(rawValue)
        discard self
    }

    /// Gives up ownership without closing; the caller now owns the returned number.
    public consuming func take() -> CInt {
        let raw = rawValue
        discard self
        return raw
    }

    deinit { Posix.close(rawValue) }
}
