import Glibc
import Testing
@testable import CorralLab

/// Smoke runs of `lab herd` and `lab balance` at their smallest sizes. One serialized parent
/// suite (the balance tests extend it) so the two experiments never share the CPUs or the
/// thread counts with each other.
@Suite(.serialized) struct AcceptLabSmokeTests {}

extension AcceptLabSmokeTests {
    @Suite struct Herd {
        let experiment = HerdExperiment()

        func run(_ waiters: Int, _ strategy: String, connections: Int = 20) throws -> LabFigures<HerdExperiment.Figure> {
            let figures = try experiment.run(point: ["waiters": "\(waiters)", "strategy": strategy, "connections": "\(connections)"])
            for key in experiment.columns.filter({ $0.kind == .figure }).compactMap({ HerdExperiment.Figure(rawValue: $0.key) }) {
                let value = try #require(figures[key], "\(strategy) W=\(waiters): \(key) missing")
                #expect(value.isFinite && value >= 0, "\(strategy) W=\(waiters): \(key) = \(value)")
            }
            #expect(figures[.accept]! > 0)
            #expect(figures[.settle]! > 0)
            return figures
        }

        @Test func blockingAcceptWakesOneWaiterPerConnection() throws {
            for w in [1, 8] {
                let f = try run(w, "blocking")
                #expect((0.9...1.1).contains(f[.wakeUps]!), "blocking W=\(w): \(f)")
                #expect(f[.emptyWakeUps]! == 0, "blocking W=\(w): \(f)")
            }
        }

        @Test func wakeOneStrategiesWakeAboutOneAndSharedWakesMore() throws {
            let exclusive = try run(8, "exclusive")
            let reuseport = try run(8, "reuseport")
            let dispatch = try run(8, "dispatch")
            let shared = try run(8, "shared")
            #expect((0.9...1.5).contains(exclusive[.wakeUps]!), "exclusive: \(exclusive)")
            #expect((0.9...1.1).contains(reuseport[.wakeUps]!), "reuseport: \(reuseport)")
            #expect((0.9...1.1).contains(dispatch[.wakeUps]!), "dispatch: \(dispatch)")
            #expect(reuseport[.emptyWakeUps]! == 0)
            // The herd: the kernel wakes every loop's epoll_wait for each connection.
            #expect(shared[.threadWakeUps]! > exclusive[.threadWakeUps]! + 1, "shared \(shared) vs exclusive \(exclusive)")
            #expect(shared[.schedWakeUps]! > exclusive[.schedWakeUps]! + 1, "shared \(shared) vs exclusive \(exclusive)")
            #expect(shared[.wakeUps]! >= exclusive[.wakeUps]!)
        }

        @Test func gridAndSeedFigures() {
            let quick = experiment.grid(quick: true)
            #expect(quick.count == 3 * 5 + 2)  // and nginx, with and without accept_mutex, at W = 10
            #expect(experiment.grid(quick: false).contains { $0["waiters"] == "1000" })
            #expect(SeedFigures.report(for: experiment.seed) != nil)
            #expect(LabExperiments.named("herd") != nil)
        }
    }
}

extension AcceptLabSmokeTests.Herd {
    /// The full grid's largest point (1000 loops), run only when asked:
    /// CORRAL_LAB_HERD_1000=1 swift test --filter Herd
    @Test(.enabled(if: getenv("CORRAL_LAB_HERD_1000") != nil))
    func thousandWaitersStartMeasureAndShutDown() throws {
        for strategy in HerdExperiment.strategies {
            let f = try run(1000, strategy, connections: 50)
            print("herd W=1000 \(strategy): \(f.byKey.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))")
        }
    }
}
