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
        for i in valueStart..<valueEnd {
            let byte = buffer[i]
            if (byte < 0x20 && byte != ASCII.ht) || byte == 0x7F { return .failure(.bad("control character in field value")) }
        }
        return .success(HeaderField(name: line.lowerBound..<colon, value: valueStart..<valueEnd))
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
