import Testing
@testable import CorralLab

/// Smoke runs of `lab models` at its smallest size: every server model answers, and the
/// models behave as designed (a prefork pool holds no more idle connections than workers).
@Suite(.serialized) struct ModelsTests {
    @Test(arguments: ServerModel.allCases, ["close", "keepalive"])
    func everyModelAnswersAndIsMeasured(model: ServerModel, workload: String) throws {
        let point: LabPoint = ["model": model.rawValue, "workload": workload, "clients": "2", "seconds": "0.1", "connections": "-"]
        let f = try ModelsExperiment().run(point: point)
        let requests = try #require(f[.requests])
        // Each of the 2 clients makes at least one request; how many fit in 0.1 s depends on the load.
        #expect(requests >= 2, "\(model) \(workload): \(requests) requests")
        #expect(f[.errors] == 0)
        let cpu = try #require(f[.serverCPU])
        #expect(cpu > 0 && cpu < 100_000, "\(model) \(workload): \(cpu) µs per request")
        #expect((f[.machineSwitches] ?? 0) > 0)
    }

    @Test func idleConnectionsAreHeldUpToTheModelsCapacity() throws {
        func held(_ model: ServerModel) throws -> Double {
            let point: LabPoint = ["model": model.rawValue, "workload": "idle", "clients": "-", "seconds": "-", "connections": "40"]
            return try #require(try ModelsExperiment().run(point: point)[.held])
        }
        #expect(try held(.threads) == 40)
        #expect(try held(.loops) == 40)
        #expect(try held(.fork) == 40)
        #expect(try held(.prefork) == 16)  // one connection per worker process
        #expect(try held(.pool) == 16)  // one connection per pooled thread
    }

    @Test func serverUsageLinesRoundTrip() throws {
        let usage = ResourceUsage(
            userSeconds: 12e-6, systemSeconds: 34e-6, contextSwitches: ContextSwitches(voluntary: 5, involuntary: 6), maxRSSBytes: 0)
        let parsed = try #require(ResourceUsage(modelsLine: usage.modelsLine))
        #expect(parsed.modelsLine == "12 34 5 6")
        #expect(ResourceUsage(modelsLine: "12 34 x 6") == nil)
    }
}

extension ModelsTests {
    /// Memory per idle connection is shown only above noise, with its uncertainty; otherwise
    /// only a bound is kept. Never a bare negative figure.
    @Test func idleMemoryIsReportedAboveNoiseOnly() throws {
        let point: LabPoint = ["model": "threads", "workload": "idle", "clients": "-", "seconds": "-", "connections": "300"]
        let f = try ModelsExperiment().run(point: point)
        #expect(f[.held] == 300)
        typealias F = ModelsExperiment.Figure
        for (value, uncertainty, bound) in [(F.userMemory, F.userMemoryUncertainty, F.userMemoryBound),
                                            (F.kernelMemory, F.kernelMemoryUncertainty, F.kernelMemoryBound)] {
            if let v = f[value] {
                let u = try #require(f[uncertainty])
                #expect(abs(v) > u && u > 0, "\(value): \(v) ± \(u)")
                #expect(f[bound] == nil)
            } else {
                #expect((f[bound] ?? -1) >= 0, "\(value): neither a figure nor a bound")
            }
        }
        // 300 threads, each with a stack the kernel keeps: kernel memory per connection is measurable.
        #expect((f[.kernelMemory] ?? 0) > 4, "\(f)")
    }
}
