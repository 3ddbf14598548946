/// One `name: value` field line of a head (or trailer section), as offsets.
struct HeaderField {
    let name: Range<Int>
    /// The value without leading and trailing whitespace (OWS).
    let value: Range<Int>

    /// Parses a field line (without its CRLF). Strict, per RFC 9112 §5:
    /// - a line starting with SP or HTAB is obs-fold (or whitespace before the first field): 400;
    /// - the name must be a non-empty token directly followed by `:` (whitespace between name
    ///   and colon is a smuggling vector, RFC 9112 §5.1): 400;
    /// - the value may hold visible ASCII, SP, HTAB and obs-text (0x80–0xFF); any other control
    ///   (NUL, CR, LF, DEL, ...) is 400.
    static func parse(_ buffer: UnsafeRawBufferPointer, _ line: Range<Int>) -> Result<HeaderField, HTTPParseError> {
        guard let firstIndex = line.first else { return .failure(.bad("empty field line")) }
        if ASCII.isWhitespace(buffer[firstIndex]) { return .failure(.bad("obsolete line folding")) }
        var colon = line.lowerBound
        while colon < line.upperBound, ASCII.isToken(buffer[colon]) { colon += 1 }
        guard colon < line.upperBound, buffer[colon] == ASCII.colon else {
            return .failure(.bad("invalid field name"))
        }
        guard colon > line.lowerBound else { return .failure(.bad("empty field name")) }
        var valueStart = colon + 1
        var valueEnd = line.upperBound
        while valueStart < valueEnd, ASCII.isWhitespace(buffer[valueStart]) { valueStart += 1 }
        while valueEnd > valueStart, ASCII.isWhitespace(buffer[valueEnd - 1]) { valueEnd -= 1 }
        guard isValidValue(buffer, valueStart..<valueEnd) else { return .failure(.bad("control character in field value")) }
        return .success(HeaderField(name: line.lowerBound..<colon, value: valueStart..<valueEnd))
    }

    /// Whether `buffer[range]` holds only what a field value may: visible ASCII, SP, HTAB and
    /// obs-text. Eight bytes at a time: a word with no byte below 0x20 and none equal to 0x7F
    /// is valid as a whole (each test is exact about whether any byte matches: a borrow can only
    /// flag a byte above one that truly matched); a word that may hold one (HTAB included, which
    /// is allowed) is checked byte by byte. Values are most of a head's bytes (User-Agent,
    /// Accept, cookies): ~1.5 instructions per byte instead of ~8.
    @inline(__always)
    static func isValidValue(_ buffer: UnsafeRawBufferPointer, _ range: Range<Int>) -> Bool {
        guard let base = buffer.baseAddress else { return range.isEmpty }
        var i = range.lowerBound
        let end = range.upperBound
        while end - i >= 8 {
            let word = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            let below20 = (word &- 0x2020_2020_2020_2020) & ~word & 0x8080_8080_8080_8080
            let del = word ^ 0x7F7F_7F7F_7F7F_7F7F
            let isDel = (del &- 0x0101_0101_0101_0101) & ~del & 0x8080_8080_8080_8080
            if below20 | isDel != 0 {
                for j in i..<(i + 8) where !isValueByte(buffer[j]) { return false }
            }
            i += 8
        }
        while i < end {
            if !isValueByte(buffer[i]) { return false }
            i += 1
        }
        return true
    }

    @inline(__always) private static func isValueByte(_ byte: UInt8) -> Bool {
        (byte >= 0x20 || byte == ASCII.ht) && byte != 0x7F
    }
}

/// The elements of a comma-separated field value (RFC 9110 §5.6.1), trimmed, empty ones skipped.
/// Quoted strings are not special: use it only for token lists (Connection, Transfer-Encoding).
struct CommaList: Sequence, IteratorProtocol {
    let buffer: UnsafeRawBufferPointer
    var position: Int
    let end: Int

    init(_ buffer: UnsafeRawBufferPointer, _ value: Range<Int>) {
        self.buffer = buffer
        position = value.lowerBound
        end = value.upperBound
    }

    mutating func next() -> Range<Int>? {
        while position < end {
            var stop = position
            while stop < end && buffer[stop] != ASCII.comma { stop += 1 }
            var a = position
            var b = stop
            position = stop + 1
            while a < b, ASCII.isWhitespace(buffer[a]) { a += 1 }
            while b > a, ASCII.isWhitespace(buffer[b - 1]) { b -= 1 }
            if a < b { return a..<b }
        }
        return nil
    }
}
