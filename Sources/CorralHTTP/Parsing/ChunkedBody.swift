/// Decodes a chunked body (RFC 9112 §7.1) as it arrives, without buffering it: each call
/// consumes every complete piece of framing and all the chunk data present, and reports the
/// data's place in the caller's buffer. Only an incomplete chunk-size line or trailer line is
/// left unconsumed (and both are bounded), so a connection never holds more than one line of
/// a body, however long the body or its framing.
///
/// The caller's buffer starts right after what the previous call consumed.
struct ChunkedBodyDecoder: Sendable {
    /// Longest chunk-size line, extensions included (400 beyond).
    static let maxChunkLine = 4096

    private enum Step: Sendable {
        /// Reading a chunk-size line.
        case size
        /// Inside a chunk's data, with this many bytes to go.
        case data(remaining: Int)
        /// After a chunk's data: its CRLF.
        case dataEnd
        /// After the last chunk: trailer field lines until an empty line.
        case trailers
    }

    private var step = Step.size
    /// Bytes of the body consumed so far: sizes, extensions, CRLFs and data (the limit's measure).
    private var rawBytes = 0
    private var trailerBytes = 0
    /// How much of the current (incomplete) line has already been searched for its LF.
    private var lineScanned = 0

    /// The next piece of the body in `buffer`: `.body` (data, or framing only), `.end` after the
    /// trailer section's empty line, `.needMore`, or `.error` (400, 413 or 431).
    mutating func decode(_ buffer: UnsafeRawBufferPointer, maxBody: Int, maxTrailers: Int) -> HTTPParseResult {
        var position = 0
        /// Hands back what this call consumed (framing only) when nothing more can be done.
        func stop() -> HTTPParseResult { position > 0 ? .body(position..<position, consumed: position) : .needMore }

        while true {
            switch step {
            case .size:
                guard let lf = ASCII.find(ASCII.lf, in: buffer, from: position + lineScanned) else {
                    let pending = buffer.count - position
                    if pending > Self.maxChunkLine { return .error(.bad("chunk line too long")) }
                    if pending > 0 && ASCII.hexValue(buffer[position]) == nil { return .error(.bad("invalid chunk size")) }
                    lineScanned = pending
                    return stop()
                }
                lineScanned = 0
                guard lf > position, buffer[lf - 1] == ASCII.cr else { return .error(.bad("chunk line not ended by CRLF")) }
                if lf - position > Self.maxChunkLine { return .error(.bad("chunk line too long")) }
                let size: Int
                switch Self.chunkSize(buffer, position..<(lf - 1)) {
                case .failure(let error): return .error(error)
                case .success(let value): size = value
                }
                rawBytes += lf + 1 - position
                if rawBytes > maxBody || size > maxBody - rawBytes { return .error(.bodyTooLarge) }
                position = lf + 1
                step = size == 0 ? .trailers : .data(remaining: size)
            case .data(let remaining):
                let count = min(remaining, buffer.count - position)
                if count == 0 { return stop() }
                let data = position..<(position + count)
                position += count
                rawBytes += count
                step = count == remaining ? .dataEnd : .data(remaining: remaining - count)
                return .body(data, consumed: position)
            case .dataEnd:
                let pending = buffer.count - position
                if pending >= 1 && buffer[position] != ASCII.cr || pending >= 2 && buffer[position + 1] != ASCII.lf {
                    return .error(.bad("chunk data not followed by CRLF"))
                }
                if pending < 2 { return stop() }
                position += 2
                rawBytes += 2
                if rawBytes > maxBody { return .error(.bodyTooLarge) }
                step = .size
            case .trailers:
                // trailer-section: field lines until an empty line; validated, then discarded.
                guard let lf = ASCII.find(ASCII.lf, in: buffer, from: position + lineScanned) else {
                    let pending = buffer.count - position
                    if trailerBytes + pending > maxTrailers { return .error(.trailersTooLarge) }
                    lineScanned = pending
                    return stop()
                }
                lineScanned = 0
                // The size first, as when the line arrives in pieces (then it is refused as soon
                // as it is too long): the same bytes get the same answer whatever the packets.
                if trailerBytes + (lf + 1 - position) > maxTrailers { return .error(.trailersTooLarge) }
                guard lf > position, buffer[lf - 1] == ASCII.cr else { return .error(.bad("trailer line not ended by CRLF")) }
                if lf - 1 == position { return .end(lf + 1..<lf + 1, consumed: lf + 1) }
                trailerBytes += lf + 1 - position
                if case .failure(let error) = HeaderField.parse(buffer, position..<(lf - 1)) { return .error(error) }
                position = lf + 1
            }
        }
    }

    /// `chunk-size [ chunk-ext ]`: 1*HEXDIG (leading zeros allowed, at most 15 significant
    /// digits, so no overflow), then the extensions, which must be well formed (§7.1.1):
    /// `*( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )`, a name being a token
    /// and a value a token or a quoted-string. They are checked and ignored.
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
        guard i == line.upperBound || validExtensions(buffer, i..<line.upperBound) else {
            return .failure(.bad(i < line.upperBound && buffer[i] != ASCII.semicolon && !ASCII.isWhitespace(buffer[i])
                ? "invalid chunk size" : "invalid chunk extension"))
        }
        return .success(size)
    }

    /// Whether `range` is a well-formed, non-empty `chunk-ext`.
    static func validExtensions(_ buffer: UnsafeRawBufferPointer, _ range: Range<Int>) -> Bool {
        var i = range.lowerBound
        let end = range.upperBound
        func skipWhitespace() { while i < end, ASCII.isWhitespace(buffer[i]) { i += 1 } }
        func token() -> Bool {
            let start = i
            while i < end, ASCII.isToken(buffer[i]) { i += 1 }
            return i > start
        }
        while i < end {
            skipWhitespace()
            guard i < end, buffer[i] == ASCII.semicolon else { return false }
            i += 1
            skipWhitespace()
            guard token() else { return false }  // chunk-ext-name
            skipWhitespace()
            guard i < end, buffer[i] == UInt8(ascii: "=") else { continue }
            i += 1
            skipWhitespace()
            if i < end && buffer[i] == ASCII.quote {
                guard let close = quotedStringEnd(buffer, from: i, end: end) else { return false }
                i = close
            } else if !token() {
                return false
            }
        }
        return true
    }

    /// The offset after the quoted-string starting at `from` (its opening DQUOTE), or nil if it
    /// is unterminated or holds a byte quoted-strings may not (RFC 9110 §5.6.4).
    static func quotedStringEnd(_ buffer: UnsafeRawBufferPointer, from: Int, end: Int) -> Int? {
        var i = from + 1
        while i < end {
            let byte = buffer[i]
            switch byte {
            case ASCII.quote:
                return i + 1
            case UInt8(ascii: "\\"):
                // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
                guard i + 1 < end else { return nil }
                let next = buffer[i + 1]
                guard next == ASCII.ht || (next >= 0x20 && next != 0x7F) else { return nil }
                i += 2
            default:
                // qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
                guard byte == ASCII.ht || (byte >= 0x20 && byte != 0x7F) else { return nil }
                i += 1
            }
        }
        return nil
    }
}
