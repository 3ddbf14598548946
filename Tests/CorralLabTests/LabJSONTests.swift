import Testing
import Foundation
@testable import CorralLab

@Suite struct LabJSONTests {
    @Test func roundTripAndStableKeys() throws {
        var r = sampleResult(quick: true)
        r.points[0].runs[0]["ratio"] = .infinity
        let data = try LabJSON.encode(r)
        let decoded = try LabJSON.decode(data)
        #expect(decoded.experiment == r.experiment)
        #expect(decoded.points.count == r.points.count)
        #expect(decoded.points[0].runs[0]["ratio"] == .infinity)
        #expect(decoded.points[1] == r.points[1])

        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(Set(object.keys) == ["schema", "experiment", "seed", "title", "question", "method", "quick", "repetitions",
                                     "started", "finished", "machine", "parameters", "columns", "charts", "points",
                                     "notes", "today"])
        #expect(object["schema"] as? String == "corral.lab/1")
        let machine = try #require(object["machine"] as? [String: Any])
        #expect(Set(machine.keys) == ["kernel", "cpus", "model", "virtualised", "clocksource"])
        let axes = try #require(object["parameters"] as? [[String: Any]])
        #expect(axes.map { $0["name"] as? String } == ["waiters", "strategy"])
        let point = try #require((object["points"] as? [[String: Any]])?.first)
        #expect(Set(point.keys) == ["parameters", "runs", "summary", "errors"])
        let summary = try #require((point["summary"] as? [String: Any])?["settle_us"] as? [String: Any])
        #expect(Set(summary.keys) == ["median", "min", "max", "count"])
        #expect((object["started"] as? String)?.hasSuffix("Z") == true)
    }

    @Test func arraysDecodeToo() throws {
        let r = sampleResult(quick: true)
        let both = try LabJSON.decodeAll(LabJSON.encode([r, r]))
        #expect(both.count == 2)
        #expect(try LabJSON.decodeAll(LabJSON.encode(r)).count == 1)
        #expect(LabFormat.iso8601(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00Z")
    }
}
