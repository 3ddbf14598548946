extension AsyncConnection {
    /// Connects to `address` on `loop` and runs `body` with the connection in the current task,
    /// moved onto the loop (its executor preference, for the duration of the call): the body's
    /// reads and writes run on the loop's thread. Callable from any thread or task. The
    /// connection is closed when `body` returns or throws; cancelling the task closes it.
    ///
    /// Throws `CloseReason.failed` with the connect error (e.g. ECONNREFUSED) if no connection
    /// is established.
    public static func connect<T>(
        to address: SocketAddress, on loop: EventLoop, options: SocketOptions = SocketOptions(),
        _ body: (AsyncConnection) async throws -> T
    ) async throws -> T {
        try await withTaskExecutorPreference(loop) {
            let connection = try await open(to: address, on: loop, options: options)
            return try await connection.serve(body)
        }
    }

    /// Starts the connect on the loop (the caller runs there) and waits for it to complete.
    private static func open(
        to address: SocketAddress, on loop: EventLoop, options: SocketOptions
    ) async throws(CloseReason) -> AsyncConnection {
        loop.preconditionInLoop()
        let result: Result<AsyncConnection, CloseReason> = await withUnsafeContinuation { continuation in
            let state = AsyncConnectionState(loop: loop) { continuation.resume(returning: $0) }
            do throws(SystemError) {
                _ = try Connection.connect(to: address, on: loop, options: options, handler: state)
            } catch {
                continuation.resume(returning: .failure(.failed(error)))
            }
        }
        return try result.get()
    }
}

extension EventLoopGroup {
    /// `AsyncConnection.connect` on the group's next loop (round-robin).
    public func connect<T>(
        to address: SocketAddress, options: SocketOptions = SocketOptions(),
        _ body: (AsyncConnection) async throws -> T
    ) async throws -> T {
        try await AsyncConnection.connect(to: address, on: next(), options: options, body)
    }
}
