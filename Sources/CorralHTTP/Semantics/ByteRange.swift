/// A `Range` request (RFC 9110 §14.2) against a representation of known size: single byte
/// ranges only, no multipart responses.
@_spi(Internals)
public enum ByteRange: Sendable, Equatable {
    /// Serve the whole representation with 200: no Range field, or several ranges (which RFC
    /// 9110 §14.2 lets a server answer in full), or a satisfiable range of an empty file.
    case full
    /// Serve bytes `first...last` (inclusive) with 206 and `Content-Range: bytes first-last/size`.
    case partial(first: Int, last: Int)
    /// 416, with `Content-Range: bytes */size`: no range overlaps the representation.
    case unsatisfiable
    /// Syntactically invalid, or another unit than bytes: ignore the field and answer 200.
    case invalid

    /// Parses `bytes=first-last`, `bytes=first-`, `bytes=-suffix` (or a comma list of them) from
    /// a Range field value (nil: no field) against `size` bytes.
    public static func parse(_ header: UnsafeRawBufferPointer?, size: Int) -> ByteRange {
        guard let header else { return .full }
        guard header.count > 6, header.slice(0..<6).caseInsensitiveEquals("bytes=") else { return .invalid }
        var i = 6
        var specs = 0
        var first: ByteRange = .unsatisfiable
        var anySatisfiable = false
        while true {
            // 1#range-spec: empty elements and OWS around commas are allowed.
            while i < header.count, ASCII.isWhitespace(header[i]) || header[i] == ASCII.comma { i += 1 }
            if i == header.count { break }
            var end = i
            while end < header.count, header[end] != ASCII.comma { end += 1 }
            var specEnd = end
            while specEnd > i, ASCII.isWhitespace(header[specEnd - 1]) { specEnd -= 1 }
            let spec = spec(header.slice(i..<specEnd), size: size)
            if spec == .invalid { return .invalid }
            if specs == 0 { first = spec }
            if spec != .unsatisfiable { anySatisfiable = true }
            specs += 1
            i = end
        }
        if specs == 0 { return .invalid }
        if specs > 1 { return anySatisfiable ? .full : .unsatisfiable }
        return first
    }

    /// One range-spec.
    private static func spec(_ s: UnsafeRawBufferPointer, size: Int) -> ByteRange {
        guard let dash = ASCII.find(UInt8(ascii: "-"), in: s, from: 0) else { return .invalid }
        let lastDigits = s.slice((dash + 1)..<s.count)
        if dash == 0 {
            // suffix-range: the last n bytes.
            guard let suffix = saturatingDecimal(lastDigits) else { return .invalid }
            if suffix == 0 { return .unsatisfiable }
            if size == 0 { return .full }
            return .partial(first: max(0, size - suffix), last: size - 1)
        }
        guard let first = saturatingDecimal(s.slice(0..<dash)) else { return .invalid }
        var last = Int.max
        if !lastDigits.isEmpty {
            guard let parsed = saturatingDecimal(lastDigits) else { return .invalid }
            last = parsed
        }
        if last < first { return .invalid }
        if first >= size { return .unsatisfiable }
        return .partial(first: first, last: min(last, size - 1))
    }

    /// 1*DIGIT, saturating at Int.max (a huge position is still a valid one).
    private static func saturatingDecimal(_ digits: UnsafeRawBufferPointer) -> Int? {
        guard !digits.isEmpty else { return nil }
        var value = 0
        for byte in digits {
            guard ASCII.isDigit(byte) else { return nil }
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(Int(byte - 0x30))
            value = o1 || o2 ? Int.max : sum
        }
        return value
    }

    /// Bytes a `.partial` range covers (0 otherwise).
    public var count: Int {
        if case .partial(let first, let last) = self { return last - first + 1 }
        return 0
    }
}

/// If-Range (RFC 9110 §13.1.5): the Range applies only if the representation is unchanged.
@_spi(Internals)
public enum IfRange {
    /// True when the If-Range value is a strong entity-tag strongly equal to `etag`, or an
    /// HTTP-date exactly equal to `lastModified` (seconds). A weak tag, a malformed value or a
    /// different validator is false: then ignore Range and send the full 200.
    public static func holds(_ header: UnsafeRawBufferPointer, etag: String, lastModified: Int) -> Bool {
        guard let first = header.first else { return false }
        if first == ASCII.quote || first == UInt8(ascii: "W") && header.count > 1 && header[1] == ASCII.slash {
            return ETag.strongEquals(header, etag)
        }
        return HTTPDate.parse(header) == lastModified
    }
}
