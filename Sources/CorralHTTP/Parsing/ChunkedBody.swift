/// Finds the end of a chunked body (RFC 9112 §7.1) without decoding it: the static server only
/// needs to know where the next request starts, and to refuse malformed or oversized framing.
///
/// Resumable: it remembers the last complete chunk (or trailer line), so a body arriving in
/// pieces is scanned once, not from its start on every call. Offsets are into the caller's
/// buffer, which must keep starting at the same byte between calls.
struct ChunkedBodyScanner: Sendable {
    enum Scan: Equatable {
        case needMore
        /// `end` is the offset just past the body's final CRLF; `length` the decoded size.
        case complete(end: Int, length: Int)
        case error(HTTPParseError)
    }

    /// Longest chunk-size line, extensions included (400 beyond): extensions are skipped, not
    /// stored, so this only stops a client from making us buffer an endless line.
    static let maxChunkLine = 4096

    /// Offset of the next chunk-size line, or of the next trailer line.
    private(set) var position: Int
    /// Decoded bytes in the chunks already passed.
    private(set) var total = 0
    private var inTrailers = false
    private var trailerBytes = 0

    init(start: Int) { position = start }

    mutating func scan(_ buffer: UnsafeRawBufferPointer, maxBody: Int, maxTrailers: Int) -> Scan {
        while !inTrailers {
            guard let lf = ASCII.find(ASCII.lf, in: buffer, from: position) else {
                if buffer.count - position > Self.maxChunkLine { return .error(.bad("chunk line too long")) }
                return earlyChunkLineCheck(buffer)
            }
            guard lf > position, buffer[lf - 1] == ASCII.cr else { return .error(.bad("chunk line not ended by CRLF")) }
            if lf - position > Self.maxChunkLine { return .error(.bad("chunk line too long")) }
            let size: Int
            switch Self.chunkSize(buffer, position..<(lf - 1)) {
            case .failure(let error): return .error(error)
            case .success(let value): size = value
            }
            if size > maxBody - total { return .error(.bodyTooLarge) }
            let dataStart = lf + 1
            if size == 0 {
                inTrailers = true
                position = dataStart
                break
            }
            guard buffer.count - dataStart >= size + 2 else { return .needMore }
            let dataEnd = dataStart + size
            guard buffer[dataEnd] == ASCII.cr, buffer[dataEnd + 1] == ASCII.lf else {
                return .error(.bad("chunk data not followed by CRLF"))
            }
            total += size
            position = dataEnd + 2
        }
        // trailer-section: field lines until an empty line; validated, then discarded.
        while true {
            guard let lf = ASCII.find(ASCII.lf, in: buffer, from: position) else {
                return trailerBytes + (buffer.count - position) > maxTrailers ? .error(.trailersTooLarge) : .needMore
            }
            guard lf > position, buffer[lf - 1] == ASCII.cr else { return .error(.bad("trailer line not ended by CRLF")) }
            if lf - 1 == position { return .complete(end: lf + 1, length: total) }
            trailerBytes += lf + 1 - position
            if trailerBytes > maxTrailers { return .error(.trailersTooLarge) }
            if case .failure(let error) = HeaderField.parse(buffer, position..<(lf - 1)) { return .error(error) }
            position = lf + 1
        }
    }

    /// An incomplete chunk-size line that already cannot be valid fails now, not at its LF.
    private func earlyChunkLineCheck(_ buffer: UnsafeRawBufferPointer) -> Scan {
        if position < buffer.count {
            let first = buffer[position]
            if ASCII.hexValue(first) == nil { return .error(.bad("invalid chunk size")) }
        }
        return .needMore
    }

    /// `chunk-size [ chunk-ext ]`: 1*HEXDIG (leading zeros allowed, at most 15 significant
    /// digits, so no overflow), then optional `BWS ";" ...` extensions without controls.
    static func chunkSize(_ buffer: UnsafeRawBufferPointer, _ line: Range<Int>) -> Result<Int, HTTPParseError> {
        var i = line.lowerBound
        var size = 0
        var significant = 0
        while i < line.upperBound, let digit = ASCII.hexValue(buffer[i]) {
            if size != 0 || digit != 0 { significant += 1 }
            if significant > 15 { return .failure(.bad("chunk size too large")) }
            size = size << 4 | digit
            i += 1
        }
        guard i > line.lowerBound else { return .failure(.bad("invalid chunk size")) }
        guard i < line.upperBound else { return .success(size) }
        while i < line.upperBound, ASCII.isWhitespace(buffer[i]) { i += 1 }
        guard i < line.upperBound, buffer[i] == ASCII.semicolon else { return .failure(.bad("invalid chunk size")) }
        while i < line.upperBound {
            let byte = buffer[i]
            if (byte < 0x20 && byte != ASCII.ht) || byte == 0x7F { return .failure(.bad("invalid chunk extension")) }
            i += 1
        }
        return .success(size)
    }
}
