/// One `name: value` line of a head, as offsets.
struct HeaderField {
    let name: Range<Int>
    /// The value without leading and trailing whitespace.
    let value: Range<Int>

    /// RFC 9110 §5.6.2 tchar.
    static func isToken(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }

    static func parse(_ buffer: UnsafeRawBufferPointer, _ line: Range<Int>) -> Result<HeaderField, HTTPParseError> {
        guard let first = line.first.map({ buffer[$0] }) else { return .failure(.bad("empty header line")) }
        if first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") {
            return .failure(.bad("obsolete line folding"))  // RFC 9112 §5.2: reject obs-fold
        }
        guard let colon = buffer[line].firstIndex(of: UInt8(ascii: ":")) else {
            return .failure(.bad("header line without colon"))
        }
        let name = line.lowerBound..<colon
        // No whitespace between name and colon (RFC 9112 §5.1): a smuggling vector.
        guard !name.isEmpty, buffer[name].allSatisfy(isToken) else { return .failure(.bad("invalid field name")) }
        var valueStart = colon + 1
        var valueEnd = line.upperBound
        while valueStart < valueEnd, buffer[valueStart] == 0x20 || buffer[valueStart] == 0x09 { valueStart += 1 }
        while valueEnd > valueStart, buffer[valueEnd - 1] == 0x20 || buffer[valueEnd - 1] == 0x09 { valueEnd -= 1 }
        for i in valueStart..<valueEnd {
            let byte = buffer[i]
            // field-vchar, SP, HTAB and obs-text are allowed; other controls (NUL, DEL, ...) are not.
            if (byte < 0x20 && byte != 0x09) || byte == 0x7F { return .failure(.bad("control character in field value")) }
        }
        return .success(HeaderField(name: name, value: valueStart..<valueEnd))
    }
}

/// The elements of a comma-separated field value, trimmed, empty ones skipped.
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
            while stop < end && buffer[stop] != UInt8(ascii: ",") { stop += 1 }
            var a = position
            var b = stop
            position = stop + 1
            while a < b, buffer[a] == 0x20 || buffer[a] == 0x09 { a += 1 }
            while b > a, buffer[b - 1] == 0x20 || buffer[b - 1] == 0x09 { b -= 1 }
            if a < b { return a..<b }
        }
        return nil
    }
}
