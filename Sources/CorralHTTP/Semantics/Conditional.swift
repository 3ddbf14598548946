/// Conditional requests (RFC 9110 §13) and single byte ranges (§14).
public enum Conditional {
    /// If-None-Match: true when one of the listed entity-tags matches `etag` by weak comparison
    /// (W/ prefixes ignored), or the list is `*`.
    public static func noneMatchHits(_ header: UnsafeRawBufferPointer, etag: String) -> Bool {
        let value = Array(header)
        if value.count == 1 && value[0] == UInt8(ascii: "*") { return true }
        let wanted = Array(etag.utf8)
        for element in value.split(separator: UInt8(ascii: ",")) {
            var tag = element.drop { $0 == 0x20 || $0 == 0x09 }
            while let last = tag.last, last == 0x20 || last == 0x09 { tag = tag.dropLast() }
            if tag.starts(with: "W/".utf8) { tag = tag.dropFirst(2) }
            if tag.elementsEqual(wanted) { return true }
        }
        return false
    }

    /// A single range request's outcome against a representation of `size` bytes.
    public enum ByteRange: Equatable {
        /// Serve the whole representation (no Range, an invalid one, or several ranges).
        case full
        case partial(first: Int, last: Int)
        /// 416, with `Content-Range: bytes */size`.
        case unsatisfiable
    }

    /// Parses `bytes=first-last`, `bytes=first-` or `bytes=-suffix`. Several ranges are served
    /// as the full representation (allowed by RFC 9110 §14.2; no multipart responses).
    public static func byteRange(_ header: UnsafeRawBufferPointer, size: Int) -> ByteRange {
        let value = Array(header)
        guard value.count > 6, value[..<6].map({ $0 | 0x20 }).elementsEqual("bytes=".utf8) else { return .full }
        let spec = value[6...]
        if spec.contains(UInt8(ascii: ",")) { return .full }
        guard let dash = spec.firstIndex(of: UInt8(ascii: "-")) else { return .full }
        let firstDigits = spec[..<dash]
        let lastDigits = spec[(dash + 1)...]
        func number(_ digits: ArraySlice<UInt8>) -> Int? {
            guard !digits.isEmpty, digits.count <= 18, digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
            return digits.reduce(0) { $0 * 10 + Int($1 - 0x30) }
        }
        if firstDigits.isEmpty {
            guard let suffix = number(lastDigits) else { return .full }
            if suffix == 0 || size == 0 { return .unsatisfiable }
            return .partial(first: max(0, size - suffix), last: size - 1)
        }
        guard let first = number(firstDigits) else { return .full }
        let last: Int
        if lastDigits.isEmpty {
            last = size - 1
        } else {
            guard let parsed = number(lastDigits), parsed >= first else { return .full }
            last = min(parsed, size - 1)
        }
        if first >= size { return .unsatisfiable }
        return .partial(first: first, last: last)
    }

    /// If-Range: the range applies only if the validator still matches (strong ETag comparison,
    /// or the exact Last-Modified date).
    public static func ifRangeHolds(_ header: UnsafeRawBufferPointer, etag: String, lastModified: Int) -> Bool {
        if header.first == UInt8(ascii: "\"") { return header.elementsEqual(etag.utf8) }
        if header.starts(with: "W/".utf8) { return false }
        return HTTPDate.parse(header) == lastModified
    }
}
