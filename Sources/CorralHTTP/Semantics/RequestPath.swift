/// Turns a request-target into a path relative to the served root, or refuses it.
///
/// Order matters: split off the query, percent-decode, then normalise, so that `%2e%2e` and
/// `%2f` are seen as the `..` and `/` they decode to. A `..` that would climb above the root is
/// refused outright rather than clamped, and NUL (which would truncate the path in the kernel)
/// is refused; the result is then opened with openat2(RESOLVE_BENEATH) anyway, which also
/// stops symlinks leading out.
public enum RequestPath {
    public enum Failure: Error, Equatable {
        /// Not a path we can serve (malformed percent-encoding, not origin-form): 400.
        case badRequest
        /// Decodes to something outside the root or unopenable (NUL, `..` escape): 404.
        case notFound
    }

    public static func resolve(_ target: UnsafeRawBufferPointer) -> Result<String, Failure> {
        var path = Array(target)
        // absolute-form (RFC 9112 §3.2.2): http://host/path → /path
        if path.count >= 7, path[0] | 0x20 == UInt8(ascii: "h") {
            let lower = path.prefix(8).map { $0 | 0x20 }
            let schemeLength = lower.starts(with: "https://".utf8) ? 8 : (lower.starts(with: "http://".utf8) ? 7 : 0)
            guard schemeLength > 0 else { return .failure(.badRequest) }
            let rest = path[schemeLength...]
            guard let slash = rest.firstIndex(of: UInt8(ascii: "/")) else { return .success("") }
            path = Array(path[slash...])
        }
        guard path.first == UInt8(ascii: "/") else { return .failure(.badRequest) }
        if let query = path.firstIndex(where: { $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") }) {
            path.removeSubrange(query...)
        }
        guard let decoded = percentDecode(path) else { return .failure(.badRequest) }
        if decoded.contains(0) { return .failure(.notFound) }
        var segments: [ArraySlice<UInt8>] = []
        for segment in decoded.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true) {
            if segment.elementsEqual(".".utf8) { continue }
            if segment.elementsEqual("..".utf8) {
                guard !segments.isEmpty else { return .failure(.notFound) }
                segments.removeLast()
                continue
            }
            segments.append(segment)
        }
        let joined = segments.joined(separator: [UInt8(ascii: "/")])
        return .success(String(decoding: Array(joined), as: UTF8.self))
    }

    static func percentDecode(_ bytes: [UInt8]) -> [UInt8]? {
        guard bytes.contains(UInt8(ascii: "%")) else { return bytes }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "%") {
                guard i + 2 < bytes.count, let high = hex(bytes[i + 1]), let low = hex(bytes[i + 2]) else { return nil }
                out.append(high << 4 | low)
                i += 3
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return out
    }

    private static func hex(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - 0x30
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - 0x61 + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - 0x41 + 10
        default: nil
        }
    }
}
