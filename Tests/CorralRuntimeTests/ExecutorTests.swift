import Synchronization
import Testing
@testable import CorralRuntime

/// The loop as a Swift concurrency executor.
@Suite struct ExecutorTests {
    @Test func submitRunsOnTheLoopAndReturnsItsValue() async throws {
        let group = try EventLoopGroup(loopCount: 1)
        try group.start()
        defer { group.shutdown() }
        let loop = group.loops[0]
        let (onLoop, value) = try await loop.submit { (loop.inLoop, 6 * 7) }
        #expect(onLoop && value == 42)
        await #expect(throws: Oops.self) { try await loop.submit { throw Oops() } }
    }

    @Test func submitToAFinishedLoopThrows() async throws {
        let group = try EventLoopGroup(loopCount: 1)
        try group.start()
        group.shutdown()
        await #expect(throws: EventLoopError.shutDown) { try await group.loops[0].submit { 1 } }
    }

    /// A task that prefers the loop runs on its thread, and stays there across suspensions;
    /// resuming from the loop's own thread costs no eventfd write.
    @Test func aTaskPreferringTheLoopRunsAndResumesOnItWithoutWakeUps() async throws {
        let group = try EventLoopGroup(loopCount: 1)
        try group.start()
        defer { group.shutdown() }
        let loop = group.loops[0]
        let (everyTurnOnLoop, wakeWrites) = await Task(executorPreference: loop) {
            var onLoop = loop.inLoop
            let before = loop.stats.wakeWrites
            for _ in 0..<1000 {
                await Task.yield()
                onLoop = onLoop && loop.inLoop
            }
            return (onLoop, loop.stats.wakeWrites - before)
        }.value
        #expect(everyTurnOnLoop)
        #expect(wakeWrites == 0)
    }

    final class Waiter: @unchecked Sendable { var continuation: UnsafeContinuation<Void, Never>? }
    @inline(never) static func nonisolatedStep(_ value: Int) async -> Int { value &+ 1 }

    /// A task that prefers the loop, resumed from a loop callback, goes on through other
    /// nonisolated async functions without being queued again: two turns per round trip here
    /// (the callback's, the task's), not one more per call after each resumption.
    @Test func resumedTasksCallAsyncFunctionsWithoutExtraTurns() async throws {
        let group = try EventLoopGroup(loopCount: 1)
        try group.start()
        defer { group.shutdown() }
        let loop = group.loops[0]
        let waiter = Waiter()
        let rounds = 500
        let wakeUps = await Task(executorPreference: loop) {
            let before = loop.stats.wakeUps
            var sum = 0
            for i in 0..<rounds {
                await withUnsafeContinuation { continuation in
                    waiter.continuation = continuation
                    loop.execute { waiter.continuation!.resume() }
                }
                sum = await Self.nonisolatedStep(sum &+ i)
            }
            return loop.stats.wakeUps - before + sum * 0
        }.value
        #expect(wakeUps <= 2 * rounds + 2)
    }

    @Test func withTaskExecutorPreferenceHopsToTheLoopAndBack() async throws {
        let group = try EventLoopGroup(loopCount: 1)
        try group.start()
        defer { group.shutdown() }
        let loop = group.loops[0]
        #expect(!loop.inLoop)
        let inside = await withTaskExecutorPreference(loop) { loop.inLoop }
        #expect(inside)
        #expect(!loop.inLoop)
    }

    /// An actor can make the loop its executor: its methods run on the loop's thread, and code
    /// already there may assume the actor's isolation.
    @Test func anActorCanRunOnTheLoop() async throws {
        let group = try EventLoopGroup(loopCount: 1)
        try group.start()
        defer { group.shutdown() }
        let loop = group.loops[0]
        let counter = LoopCounter(loop: loop)
        #expect(await counter.increment() == (1, true))
        let assumed = try await loop.submit { counter.assumeIsolated { $0.count } }
        #expect(assumed == 1)
        // A default actor called from a task on the loop: the task comes back to the loop.
        let other = PlainActor()
        let back = await Task(executorPreference: loop) {
            await other.touch()
            return loop.inLoop
        }.value
        #expect(back)
    }

    /// A job for a loop that has shut down still runs (elsewhere), so no task hangs.
    @Test func aTaskPreferringAFinishedLoopStillCompletes() async throws {
        let group = try EventLoopGroup(loopCount: 1)
        try group.start()
        let loop = group.loops[0]
        group.shutdown()
        let value = await Task(executorPreference: loop) { 7 }.value
        #expect(value == 7)
    }

    @Test func loopBoundValuesAreReadAndWrittenOnTheLoop() async throws {
        let group = try EventLoopGroup(loopCount: 1)
        try group.start()
        defer { group.shutdown() }
        let loop = group.loops[0]
        let bound = LoopBound([Int](), loop: loop)
        for i in 0..<3 { loop.execute { bound.value.append(i) } }
        #expect(try await loop.submit { bound.value } == [0, 1, 2])
    }
}

private struct Oops: Error {}

private actor LoopCounter {
    let loop: EventLoop
    var count = 0
    nonisolated var unownedExecutor: UnownedSerialExecutor { loop.asUnownedSerialExecutor() }
    init(loop: EventLoop) { self.loop = loop }
    func increment() -> (Int, Bool) {
        count += 1
        return (count, loop.inLoop)
    }
}

private actor PlainActor {
    var touched = 0
    func touch() { touched += 1 }
}
