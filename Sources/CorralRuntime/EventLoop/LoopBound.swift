/// A value that belongs to one event loop's thread, carried across threads to get there.
///
/// Connections, handlers and per-loop state are not thread-safe: they are safe because only
/// their loop touches them. To hand one to a closure that runs on the loop (`execute`,
/// `submit`, a task preferring the loop), wrap it: the wrapper is `Sendable`, and reading or
/// writing `value` checks that the caller is on the loop (in debug builds; release builds skip
/// the check, as they do `assert`). It replaces ad-hoc `@unchecked Sendable` boxes, whose
/// promise nothing checks. (swift-nio's `NIOLoopBoundBox` is the same idea.)
public final class LoopBound<Value>: @unchecked Sendable {
    /// The loop whose thread may touch `value`.
    public let loop: EventLoop
    private var stored: Value

    /// Wraps `value` for `loop`. May be called on any thread: the value must not be used
    /// (other than being handed over) until it reaches the loop.
    public init(_ value: Value, loop: EventLoop) {
        self.loop = loop
        self.stored = value
    }

    /// The value; loop thread only.
    public var value: Value {
        get {
            loop.assertInLoop()
            return stored
        }
        set {
            loop.assertInLoop()
            stored = newValue
        }
        _modify {
            loop.assertInLoop()
            yield &stored
        }
    }
}
