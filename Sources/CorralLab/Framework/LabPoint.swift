/// One named parameter of a grid point, e.g. `waiters = 100`.
public struct LabParameter: Codable, Sendable, Hashable {
    /// Parameter name, e.g. `waiters`.
    public var name: String
    /// Its value as text, e.g. `100` or `exclusive`.
    public var value: String

    /// Build a parameter.
    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// One point of an experiment's parameter grid: an ordered list of named values.
///
/// Values are strings so that numbers and strategy names share one type and print
/// as written; the typed accessors parse on demand. Order is kept (tables and JSON
/// list parameters as the experiment declared them). Write points as dictionary
/// literals: `["waiters": "100", "strategy": "exclusive"]`.
public struct LabPoint: Sendable, Hashable, ExpressibleByDictionaryLiteral, CustomStringConvertible {
    /// The parameters in declaration order.
    public var parameters: [LabParameter]

    /// Build a point from ordered parameters.
    public init(_ parameters: [LabParameter]) {
        self.parameters = parameters
    }

    /// Build a point from a dictionary literal, keeping the literal's order.
    public init(dictionaryLiteral elements: (String, String)...) {
        self.parameters = elements.map { LabParameter($0.0, $0.1) }
    }

    /// The value of `name`, or `nil`. Setting replaces the value or appends the parameter.
    public subscript(name: String) -> String? {
        get { parameters.first { $0.name == name }?.value }
        set {
            if let i = parameters.firstIndex(where: { $0.name == name }) {
                if let newValue { parameters[i].value = newValue } else { parameters.remove(at: i) }
            } else if let newValue {
                parameters.append(LabParameter(name, newValue))
            }
        }
    }

    /// `name` parsed as an `Int`, or `nil` if absent or not an integer.
    public func int(_ name: String) -> Int? { self[name].flatMap { Int($0) } }

    /// `name` parsed as a `Double`, or `nil`.
    public func double(_ name: String) -> Double? { self[name].flatMap { Double($0) } }

    /// `name` parsed as a `Bool` (`true`/`false`/`1`/`0`/`yes`/`no`), or `nil`.
    public func bool(_ name: String) -> Bool? {
        switch self[name]?.lowercased() {
        case "true", "1", "yes", "on": return true
        case "false", "0", "no", "off": return false
        default: return nil
        }
    }

    /// Parameters as an unordered dictionary (as stored in JSON).
    public var dictionary: [String: String] {
        Dictionary(parameters.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
    }

    /// `name=value` pairs separated by spaces, e.g. `waiters=100 strategy=exclusive`.
    public var description: String {
        parameters.map { "\($0.name)=\($0.value)" }.joined(separator: " ")
    }
}

/// Builds parameter grids.
public enum LabGrid {
    /// The cartesian product of the axes, first axis outermost:
    /// `product([("w", ["1", "10"]), ("s", ["a", "b"])])` gives w=1 s=a, w=1 s=b, w=10 s=a, w=10 s=b.
    public static func product(_ axes: [(name: String, values: [String])]) -> [LabPoint] {
        var points: [LabPoint] = [LabPoint([])]
        for axis in axes {
            points = points.flatMap { p in axis.values.map { LabPoint(p.parameters + [LabParameter(axis.name, $0)]) } }
        }
        return axes.isEmpty ? [] : points
    }

    /// The axes of `points`: each parameter name (first-seen order) with its distinct
    /// values (first-seen order). This is the `parameters` grid written to JSON.
    public static func axes(of points: [LabPoint]) -> [LabAxis] {
        var order: [String] = []
        var values: [String: [String]] = [:]
        for p in points {
            for param in p.parameters {
                if values[param.name] == nil { order.append(param.name); values[param.name] = [] }
                if !values[param.name]!.contains(param.value) { values[param.name]!.append(param.value) }
            }
        }
        return order.map { LabAxis(name: $0, values: values[$0]!) }
    }
}

/// One axis of a parameter grid: a name and the values it takes.
public struct LabAxis: Codable, Sendable, Equatable {
    /// Parameter name.
    public var name: String
    /// Values in grid order.
    public var values: [String]

    /// Build an axis.
    public init(name: String, values: [String]) {
        self.name = name
        self.values = values
    }
}
