import CorralRuntime
import ServiceLifecycle

extension HTTPServer: Service {
    /// Starts the server (unless it is running), serves until graceful shutdown (in a
    /// `ServiceGroup`: SIGTERM, or a service before it ending) or cancellation, then stops
    /// gracefully: no new connections, requests in flight answered with `Connection: close`,
    /// idle connections closed, for at most `configuration.drainTimeout` seconds.
    public func run() async throws {
        if !isRunning { try start() }
        try? await gracefulShutdown()  // returns on graceful shutdown, throws on cancellation
        await stop(drainSeconds: Double(configuration.drainTimeout))
    }

    /// `stop(drainSeconds:)` for async code: the drain is waited for on a thread of its own, so
    /// no thread of the concurrency pool (nor a loop, for a handler that stops its own server) is
    /// blocked meanwhile.
    public func stop(drainSeconds: Double = 10) async {
        await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
            do {
                try Threads.spawn(name: "corral-stop", detached: true) {
                    self.stop(drainSeconds: drainSeconds)
                    continuation.resume()
                }
            } catch {
                self.stop(drainSeconds: drainSeconds)
                continuation.resume()
            }
        }
    }
}
