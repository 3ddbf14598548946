import CorralRuntime
import Glibc

/// Reads small kernel text files such as those under `/proc` and `/sys`.
///
/// `/proc` files report a size of 0 and are generated on each `read`, so they are
/// read with plain `open`/`read` until end of file rather than by size.
public enum ProcFile {
    /// The whole file as UTF-8 text, or `nil` if it cannot be opened (process gone,
    /// no permission, no such file).
    public static func read(_ path: String) -> String? {
        guard let fd = try? Posix.openReadOnly(path) else { return nil }
        defer { Posix.close(fd) }
        return read(descriptor: fd)
    }

    /// The whole text of an already open file, read from its start with pread(2) (a /proc file
    /// is generated afresh on every read from offset 0); `nil` on error.
    public static func read(descriptor fd: CInt) -> String? {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 8192)
        while true {
            let offset = bytes.count
            guard let n = try? chunk.withUnsafeMutableBytes({ (buffer) throws(SystemError) -> Int in
                try Posix.pread(fd, buffer, offset: offset)
            }) else { return nil }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Writes `text` to a file such as a /proc/sys setting; false if it cannot be opened or written.
    @discardableResult
    public static func write(_ path: String, _ text: String) -> Bool {
        guard let fd = try? Posix.openWriteOnly(path) else { return false }
        defer { Posix.close(fd) }
        let bytes = Array(text.utf8)
        let written = try? bytes.withUnsafeBytes { (buffer) throws(SystemError) -> Int in try Posix.writeBlocking(fd, buffer) }
        return written == bytes.count
    }

    /// Names of the entries of a directory (without `.` and `..`), or `[]` if it cannot be read.
    public static func list(_ directory: String) -> [String] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Parses `Key:<whitespace>value` lines (the format of `/proc/PID/status` and
    /// `/proc/meminfo`) into a dictionary of trimmed values.
    public static func parseKeyValueLines(_ text: String) -> [String: String] {
        var result: [String: String] = [:]
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = String(line[..<colon])
            let value = line[line.index(after: colon)...].trimmingWhitespace()
            result[key] = value
        }
        return result
    }
}

extension Substring {
    /// The substring without leading and trailing spaces and tabs, as a `String`.
    func trimmingWhitespace() -> String {
        var s = self[...]
        while let f = s.first, f == " " || f == "\t" || f == "\r" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" { s = s.dropLast() }
        return String(s)
    }
}
