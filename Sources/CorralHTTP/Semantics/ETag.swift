/// Entity tags (RFC 9110 §8.8.3) for files, and the comparisons conditional requests need.
///
/// A file's tag is `"<size hex>-<mtime hex>"`, the modification time in nanoseconds, so any edit
/// or replacement that changes the size or the time changes the tag. It is strong by default:
/// the server serves the bytes the file holds when it looked, and revalidates on change.
@_spi(Internals)
public enum ETag {
    /// The tag for a file of `size` bytes modified at `modifiedSeconds`.`modifiedNanoseconds`,
    /// with its quotes (and a `W/` prefix when `weak`).
    public static func make(size: Int, modifiedSeconds: Int, modifiedNanoseconds: Int, weak: Bool = false) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(40)
        append(size: size, modifiedSeconds: modifiedSeconds, modifiedNanoseconds: modifiedNanoseconds, weak: weak, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the tag `make` returns, without building a String.
    public static func append(size: Int, modifiedSeconds: Int, modifiedNanoseconds: Int, weak: Bool = false,
                              to out: inout [UInt8]) {
        if weak { out.append(contentsOf: "W/".utf8) }
        out.append(ASCII.quote)
        ASCII.appendHex(UInt(bitPattern: size), to: &out)
        out.append(UInt8(ascii: "-"))
        let nanoseconds = modifiedSeconds.multipliedReportingOverflow(by: 1_000_000_000)
        let stamp = nanoseconds.overflow ? modifiedSeconds : nanoseconds.partialValue &+ modifiedNanoseconds
        ASCII.appendHex(UInt(bitPattern: stamp), to: &out)
        out.append(ASCII.quote)
    }

    /// If-None-Match (RFC 9110 §13.1.2): true when `header` is `*` or lists a tag that matches
    /// `etag` by weak comparison (`W/` ignored on both sides), i.e. when a GET or HEAD should
    /// get 304. A malformed list matches nothing (the full response is always safe).
    public static func noneMatchHits(_ header: UnsafeRawBufferPointer, etag: String) -> Bool {
        var etag = etag
        return etag.withUTF8 { ours in
            matchesAny(header, UnsafeRawBufferPointer(ours), strong: false)
        }
    }

    /// If-Match (RFC 9110 §13.1.1): true when `header` is `*` or lists a tag that matches `etag`
    /// by strong comparison (a weak tag on either side never matches). False means 412.
    public static func matchHits(_ header: UnsafeRawBufferPointer, etag: String) -> Bool {
        var etag = etag
        return etag.withUTF8 { ours in
            matchesAny(header, UnsafeRawBufferPointer(ours), strong: true)
        }
    }

    /// Strong comparison (RFC 9110 §8.8.3.2): both tags strong and their opaque parts equal.
    public static func strongEquals(_ tag: UnsafeRawBufferPointer, _ etag: String) -> Bool {
        var etag = etag
        return etag.withUTF8 { ours in
            guard let a = parseOne(tag, from: 0), a.end == tag.count, !a.weak,
                let b = parseOne(UnsafeRawBufferPointer(ours), from: 0), !b.weak
            else { return false }
            return tag.slice(a.opaque).elementsEqual(UnsafeRawBufferPointer(ours).slice(b.opaque))
        }
    }

    /// Whether the `#entity-tag` list (or `*`) in `header` has a match for `ours`.
    static func matchesAny(_ header: UnsafeRawBufferPointer, _ ours: UnsafeRawBufferPointer, strong: Bool) -> Bool {
        guard let mine = parseOne(ours, from: 0) else { return false }
        if strong && mine.weak { return false }
        let myOpaque = ours.slice(mine.opaque)
        var i = 0
        var trimmedEnd = header.count
        while i < trimmedEnd, ASCII.isWhitespace(header[i]) { i += 1 }
        while trimmedEnd > i, ASCII.isWhitespace(header[trimmedEnd - 1]) { trimmedEnd -= 1 }
        if trimmedEnd - i == 1 && header[i] == UInt8(ascii: "*") { return true }
        var found = false
        while true {
            while i < trimmedEnd, ASCII.isWhitespace(header[i]) || header[i] == ASCII.comma { i += 1 }
            if i == trimmedEnd { return found }
            guard let tag = parseOne(header, from: i) else { return false }
            if !(strong && tag.weak), header.slice(tag.opaque).elementsEqual(myOpaque) { found = true }
            i = tag.end
            while i < trimmedEnd, ASCII.isWhitespace(header[i]) { i += 1 }
            guard i == trimmedEnd || header[i] == ASCII.comma else { return false }
        }
    }

    /// `[ "W/" ] DQUOTE *etagc DQUOTE` at `from`: the opaque part (inside the quotes), whether
    /// weak, and the offset after the closing quote.
    static func parseOne(_ b: UnsafeRawBufferPointer, from: Int) -> (opaque: Range<Int>, weak: Bool, end: Int)? {
        var i = from
        var weak = false
        if i + 1 < b.count, b[i] == UInt8(ascii: "W"), b[i + 1] == ASCII.slash {
            weak = true
            i += 2
        }
        guard i < b.count, b[i] == ASCII.quote else { return nil }
        let start = i + 1
        i = start
        // etagc = %x21 / %x23-7E / obs-text
        while i < b.count, b[i] != ASCII.quote {
            guard b[i] >= 0x21, b[i] != 0x7F else { return nil }
            i += 1
        }
        guard i < b.count else { return nil }
        return (start..<i, weak, i + 1)
    }
}
