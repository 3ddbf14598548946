import Glibc

/// How access-log lines look.
public enum AccessLogFormat: String, Sendable, CaseIterable {
    /// The NCSA combined format, as nginx's `combined` and Apache's:
    /// `ADDR - - [TIME] "METHOD TARGET PROTOCOL" STATUS BYTES "REFERER" "USER-AGENT"`.
    case combined
    /// One JSON object per line, with the duration as well: `time`, `remote_addr`, `method`,
    /// `target`, `protocol`, `status`, `bytes`, `duration_ms`, `referer`, `user_agent`.
    case json
}

/// Where the access log goes, and in what format.
public struct AccessLogConfiguration: Sendable, Equatable {
    public var destination: LogWriter.Destination
    public var format: AccessLogFormat

    public init(destination: LogWriter.Destination = .standardOutput, format: AccessLogFormat = .combined) {
        self.destination = destination
        self.format = format
    }
}

/// One line of the access log, rendered when the response was decided, less what is known
/// only once it has been sent (bytes and duration).
struct AccessLogLine {
    /// Everything before the body byte count.
    var head: [UInt8]
    /// Everything after the byte count (and the duration): ends with the newline.
    var tail: [UInt8]
    var format: AccessLogFormat

    /// The request's fields, as views into its buffer (nil when the head was not parsed).
    struct Request {
        var method: UnsafeRawBufferPointer
        var target: UnsafeRawBufferPointer
        var minorVersion: Int
        var referer: UnsafeRawBufferPointer?
        var userAgent: UnsafeRawBufferPointer?
    }

    init(format: AccessLogFormat, client: [UInt8], time: [UInt8], request: Request?, status: Int) {
        self.format = format
        head = []
        tail = []
        head.reserveCapacity(160)
        switch format {
        case .combined:
            Self.escape(client, into: &head, json: false)
            head.append(contentsOf: " - - [".utf8)
            head.append(contentsOf: time)
            head.append(contentsOf: "] \"".utf8)
            if let request {
                Self.escape(request.method, into: &head, json: false)
                head.append(0x20)
                Self.escape(request.target, into: &head, json: false)
                head.append(contentsOf: request.minorVersion == 0 ? " HTTP/1.0".utf8 : " HTTP/1.1".utf8)
            } else {
                head.append(UInt8(ascii: "-"))
            }
            head.append(contentsOf: "\" ".utf8)
            ASCII.appendDecimal(status, to: &head)
            head.append(0x20)
            tail.append(contentsOf: " \"".utf8)
            Self.field(request?.referer, into: &tail)
            tail.append(contentsOf: "\" \"".utf8)
            Self.field(request?.userAgent, into: &tail)
            tail.append(contentsOf: "\"\n".utf8)
        case .json:
            head.append(contentsOf: "{\"time\":\"".utf8)
            head.append(contentsOf: time)
            head.append(contentsOf: "\",\"remote_addr\":\"".utf8)
            Self.escape(client, into: &head, json: true)
            head.append(contentsOf: "\",\"method\":".utf8)
            Self.jsonString(request?.method, into: &head)
            head.append(contentsOf: ",\"target\":".utf8)
            Self.jsonString(request?.target, into: &head)
            head.append(contentsOf: ",\"protocol\":".utf8)
            if let request {
                head.append(contentsOf: (request.minorVersion == 0 ? "\"HTTP/1.0\"" : "\"HTTP/1.1\"").utf8)
            } else {
                head.append(contentsOf: "null".utf8)
            }
            head.append(contentsOf: ",\"status\":".utf8)
            ASCII.appendDecimal(status, to: &head)
            head.append(contentsOf: ",\"bytes\":".utf8)
            tail.append(contentsOf: ",\"referer\":".utf8)
            Self.jsonString(request?.referer, into: &tail)
            tail.append(contentsOf: ",\"user_agent\":".utf8)
            Self.jsonString(request?.userAgent, into: &tail)
            tail.append(contentsOf: "}\n".utf8)
        }
    }

    /// The finished line: `bytes` of body sent, `nanoseconds` from the request's first byte
    /// to its response's last.
    func render(bytes: Int, nanoseconds: UInt64, into out: inout [UInt8]) {
        out.append(contentsOf: head)
        ASCII.appendDecimal(bytes, to: &out)
        if format == .json {
            out.append(contentsOf: ",\"duration_ms\":".utf8)
            let micros = Int(nanoseconds / 1000)
            ASCII.appendDecimal(micros / 1000, to: &out)
            out.append(UInt8(ascii: "."))
            let fraction = micros % 1000
            if fraction < 100 { out.append(UInt8(ascii: "0")) }
            if fraction < 10 { out.append(UInt8(ascii: "0")) }
            ASCII.appendDecimal(fraction, to: &out)
        }
        out.append(contentsOf: tail)
    }

    private static func field(_ value: UnsafeRawBufferPointer?, into out: inout [UInt8]) {
        if let value, !value.isEmpty { escape(value, into: &out, json: false) } else { out.append(UInt8(ascii: "-")) }
    }

    private static func jsonString(_ value: UnsafeRawBufferPointer?, into out: inout [UInt8]) {
        guard let value else {
            out.append(contentsOf: "null".utf8)
            return
        }
        out.append(ASCII.quote)
        escape(value, into: &out, json: true)
        out.append(ASCII.quote)
    }

    private static let hex = Array("0123456789abcdef".utf8)

    /// Copies `bytes`, escaping what could break the line or mislead a reader: `"` and `\`,
    /// controls, DEL and non-ASCII bytes, as `\xHH` (nginx's escaping), or as `\u00HH` in JSON.
    static func escape(_ bytes: some Sequence<UInt8>, into out: inout [UInt8], json: Bool) {
        for byte in bytes {
            if byte >= 0x20 && byte < 0x7F && byte != ASCII.quote && byte != UInt8(ascii: "\\") {
                out.append(byte)
                continue
            }
            out.append(UInt8(ascii: "\\"))
            if json {
                out.append(contentsOf: "u00".utf8)
            } else {
                out.append(UInt8(ascii: "x"))
            }
            out.append(hex[Int(byte >> 4)])
            out.append(hex[Int(byte & 0xF)])
        }
    }
}

/// The time stamp of log lines, rendered once per second: `01/Dec/2026:03:04:05 +0000`
/// (combined: local time with its offset, as nginx's `$time_local`) or ISO 8601 in UTC (JSON).
struct LogTimeStamp {
    private(set) var bytes: [UInt8] = []
    private var second = -1
    let format: AccessLogFormat

    init(format: AccessLogFormat, now: Int) {
        self.format = format
        refresh(now: now)
    }

    mutating func refresh(now: Int) {
        guard now != second else { return }
        second = now
        var time = time_t(now)
        var parts = tm()
        var buffer = [CChar](repeating: 0, count: 64)
        let pattern = format == .combined ? "%d/%b/%Y:%H:%M:%S %z" : "%Y-%m-%dT%H:%M:%SZ"
        if format == .combined { localtime_r(&time, &parts) } else { gmtime_r(&time, &parts) }
        let count = strftime(&buffer, buffer.count, pattern, &parts)
        bytes = buffer[..<count].map { UInt8(bitPattern: $0) }
    }
}
