/// Finds the end of a chunked body (RFC 9112 §7.1) without decoding it: the static server only
/// needs to know where the next request starts, and to refuse malformed or oversized framing.
enum ChunkedBody {
    enum Scan: Equatable {
        case needMore
        case complete(end: Int, length: Int)
        case error(HTTPParseError)
    }

    static func scan(_ buffer: UnsafeRawBufferPointer, from start: Int, maxBody: Int) -> Scan {
        var i = start
        var total = 0
        while true {
            // chunk-size: 1*HEXDIG, at most 15 digits so it cannot overflow.
            var size = 0
            var digits = 0
            while i < buffer.count, let digit = hexValue(buffer[i]) {
                digits += 1
                if digits > 15 { return .error(.bad("chunk size too large")) }
                size = size << 4 | digit
                i += 1
            }
            guard i < buffer.count else { return .needMore }
            guard digits > 0 else { return .error(.bad("invalid chunk size")) }
            // chunk-ext: skipped up to CRLF, but no bare CR/LF or controls inside.
            while i < buffer.count, buffer[i] != UInt8(ascii: "\r") {
                let byte = buffer[i]
                if byte == UInt8(ascii: "\n") || (byte < 0x20 && byte != 0x09) { return .error(.bad("invalid chunk extension")) }
                i += 1
            }
            guard i + 1 < buffer.count else { return .needMore }
            guard buffer[i + 1] == UInt8(ascii: "\n") else { return .error(.bad("bare CR in chunk line")) }
            i += 2
            total += size
            if total > maxBody { return .error(HTTPParseError(status: 413, reason: "body too large")) }
            if size == 0 { break }
            guard buffer.count - i >= size + 2 else { return .needMore }
            i += size
            guard buffer[i] == UInt8(ascii: "\r"), buffer[i + 1] == UInt8(ascii: "\n") else {
                return .error(.bad("chunk data not followed by CRLF"))
            }
            i += 2
        }
        // trailer-section: field lines until an empty line.
        var trailerBytes = 0
        while true {
            guard let lf = buffer[i...].firstIndex(of: UInt8(ascii: "\n")) else {
                return buffer.count - i > 8192 ? .error(HTTPParseError(status: 431, reason: "trailers too large")) : .needMore
            }
            guard lf > i, buffer[lf - 1] == UInt8(ascii: "\r") else { return .error(.bad("bare LF in trailer")) }
            if lf - 1 == i { return .complete(end: lf + 1, length: total) }
            if case .failure(let error) = HeaderField.parse(buffer, i..<(lf - 1)) { return .error(error) }
            trailerBytes += lf + 1 - i
            if trailerBytes > 8192 { return .error(HTTPParseError(status: 431, reason: "trailers too large")) }
            i = lf + 1
        }
    }

    private static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): Int(byte - 0x30)
        case UInt8(ascii: "a")...UInt8(ascii: "f"): Int(byte - 0x61 + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): Int(byte - 0x41 + 10)
        default: nil
        }
    }
}
