/// Turns a request-target into a path relative to the served root, or refuses it.
///
/// Steps, in an order that matters: take the path of an origin-form (`/a/b?q`) or `http(s)://`
/// absolute-form target (any other form, `*` included, is 400); cut the query; percent-decode;
/// then normalise: empty and `.` segments vanish, `..` removes the previous segment. Decoding
/// first means `%2e%2e` and `%2F` are treated as the `..` and `/` they stand for, so no encoding
/// can smuggle a climb past the normaliser. A `..` that would climb above the root is refused
/// (404), never clamped; so is NUL (`%00`, which would cut the path short in the kernel) and a
/// path that does not decode to UTF-8 (it could not be named by a Swift String faithfully). A
/// fragment (`#`), never valid in a request-target, is 400. Backslash is an ordinary byte.
///
/// The result has no leading `/` ("" is the root) and no `.`/`..`/empty segments: safe to open
/// with openat2(RESOLVE_BENEATH), which also stops symlinks leading out. It ends in `/` when
/// the request names a directory (`/dir/`, `/dir/.`, `/a/b/..`, as RFC 3986 §5.2.4 resolves
/// them), so `file.html/` fails with ENOTDIR and `dir` can be told from `dir/`.
@_spi(Internals)
public enum RequestPath {
    public enum Failure: Error, Sendable, Equatable {
        /// Not a path we can serve (not origin- or http absolute-form, bad percent-encoding): 400.
        case badRequest
        /// Decodes to something outside the root or unnameable (NUL, `..` escape, not UTF-8): 404.
        case notFound
    }

    public static func resolve(_ target: UnsafeRawBufferPointer) -> Result<String, Failure> {
        switch normalise(target) {
        case .slice(let range): .success(String(decoding: target.slice(range), as: UTF8.self))
        case .decoded(let bytes): .success(String(decoding: bytes, as: UTF8.self))
        case .refused(let failure): .failure(failure)
        }
    }

    /// `resolve`'s result as bytes: a range of `target` when nothing needed decoding or resolving
    /// (the common case, no copy), decoded bytes otherwise.
    static func normalise(_ target: UnsafeRawBufferPointer) -> NormalisedPath {
        var start = 0
        var end = target.count
        guard end > 0 else { return .refused(.badRequest) }
        if target[0] != ASCII.slash {
            // absolute-form (RFC 9112 §3.2.2): http://authority/path → /path
            let schemeLength: Int
            if end >= 8, target.slice(0..<8).caseInsensitiveEquals("https://") {
                schemeLength = 8
            } else if end >= 7, target.slice(0..<7).caseInsensitiveEquals("http://") {
                schemeLength = 7
            } else {
                return .refused(.badRequest)
            }
            var i = schemeLength
            while i < end, target[i] != ASCII.slash, target[i] != UInt8(ascii: "?"), target[i] != UInt8(ascii: "#") { i += 1 }
            guard i > schemeLength, HTTPRequestParser.isValidHost(target.slice(schemeLength..<i)) else {
                return .refused(.badRequest)
            }
            if i == end || target[i] != ASCII.slash {
                return i < end && target[i] == UInt8(ascii: "#") ? .refused(.badRequest) : .slice(i..<i)
            }
            start = i
        }
        var needsWork = false
        var previous = ASCII.slash
        var i = start
        while i < end {
            let byte = target[i]
            if byte == UInt8(ascii: "?") { end = i; break }
            if byte == UInt8(ascii: "#") { return .refused(.badRequest) }
            if byte == UInt8(ascii: "%") || byte >= 0x80 || byte == 0 { needsWork = true }
            if byte == UInt8(ascii: ".") && previous == ASCII.slash { needsWork = true }
            if byte == ASCII.slash && previous == ASCII.slash && i > start { needsWork = true }
            previous = byte
            i += 1
        }
        if !needsWork {
            // The common case: plain ASCII, nothing to decode or resolve. Drop the leading slash.
            return .slice(min(start + 1, end)..<end)
        }
        return slowPath(target.slice(start..<end))
    }

    private static func slowPath(_ path: UnsafeRawBufferPointer) -> NormalisedPath {
        // Percent-decode into `decoded`, then normalise segment by segment into `out`.
        var decoded: [UInt8] = []
        decoded.reserveCapacity(path.count)
        var i = 0
        while i < path.count {
            let byte = path[i]
            if byte == UInt8(ascii: "%") {
                guard i + 2 < path.count, let high = ASCII.hexValue(path[i + 1]), let low = ASCII.hexValue(path[i + 2]) else {
                    return .refused(.badRequest)
                }
                decoded.append(UInt8(high << 4 | low))
                i += 3
            } else {
                decoded.append(byte)
                i += 1
            }
        }
        if decoded.contains(0) { return .refused(.notFound) }
        var out: [UInt8] = []
        out.reserveCapacity(decoded.count)
        var segmentStart = 0
        var namesDirectory = false
        while segmentStart <= decoded.count {
            var segmentEnd = segmentStart
            while segmentEnd < decoded.count, decoded[segmentEnd] != ASCII.slash { segmentEnd += 1 }
            let segment = decoded[segmentStart..<segmentEnd]
            let isLast = segmentEnd == decoded.count
            if segment.isEmpty || segment.elementsEqual(".".utf8) {
                if isLast && segmentStart > 0 { namesDirectory = true }
            } else if segment.elementsEqual("..".utf8) {
                guard !out.isEmpty else { return .refused(.notFound) }
                let cut = out.lastIndex(of: ASCII.slash) ?? 0
                out.removeSubrange(cut...)
                if isLast { namesDirectory = true }
            } else {
                if !out.isEmpty { out.append(ASCII.slash) }
                out.append(contentsOf: segment)
            }
            segmentStart = segmentEnd + 1
        }
        if namesDirectory && !out.isEmpty { out.append(ASCII.slash) }
        guard String(validating: out, as: UTF8.self) != nil else { return .refused(.notFound) }
        return .decoded(out)
    }

    /// Where a directory named without its slash redirects to: `/` + `path` (percent-encoded
    /// where RFC 3986 requires) + `/`, and the target's query. Built from the normalised path,
    /// never from the raw target, so `//host/dir` cannot become a redirect to another host.
    public static func directoryLocation(path: String, target: UnsafeRawBufferPointer) -> [UInt8] {
        var out: [UInt8] = [ASCII.slash]
        for byte in path.utf8 {
            if isPathCharacter(byte) {
                out.append(byte)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(hexDigits[Int(byte >> 4)])
                out.append(hexDigits[Int(byte & 0xF)])
            }
        }
        out.append(ASCII.slash)
        if let question = ASCII.find(UInt8(ascii: "?"), in: target, from: 0) {
            out.append(contentsOf: target.slice(question..<target.count))
        }
        return out
    }

    private static let hexDigits = Array("0123456789ABCDEF".utf8)

    /// pchar (RFC 3986 §3.3) and `/`, but not `%` (always encoded: the path is decoded).
    private static func isPathCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "!"),
            UInt8(ascii: "$"), UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "("), UInt8(ascii: ")"),
            UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: "="),
            UInt8(ascii: ":"), UInt8(ascii: "@"), ASCII.slash:
            true
        default:
            false
        }
    }
}
