import CorralRuntime
import Logging

/// A swift-log handler that never blocks its caller: lines go to a `LogWriter`'s thread, so
/// an event loop that logs cannot be stalled by a full pipe or a slow terminal. Lines look like
/// swift-log's `StreamLogHandler`'s: `TIME LEVEL LABEL: [METADATA] MESSAGE`.
public struct NonBlockingLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    private let label: String
    private let writer: LogWriter

    public init(label: String, writer: LogWriter) {
        self.label = label
        self.writer = writer
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var all = metadata
        if let extra = event.metadata { all.merge(extra) { _, new in new } }
        let fields = all.isEmpty ? "" : all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ") + " "
        var line: [UInt8] = []
        line.reserveCapacity(96)
        line.append(contentsOf: LogTimeStamp(format: .json, now: wallClockSeconds()).bytes)
        line.append(contentsOf: " \(event.level) \(label): \(fields)\(event.message)\n".utf8)
        writer.submit(line, lines: 1)
    }
}
