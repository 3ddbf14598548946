/// The conditional and range helpers under the names the server first used. New code should
/// call `ETag`, `ByteRange` and `IfRange` directly (they also report invalid Range fields).
public enum Conditional {
    /// See `ETag.noneMatchHits`.
    public static func noneMatchHits(_ header: UnsafeRawBufferPointer, etag: String) -> Bool {
        ETag.noneMatchHits(header, etag: etag)
    }

    /// A single range request's outcome against a representation of `size` bytes.
    public enum ByteRange: Equatable, Sendable {
        /// Serve the whole representation (no Range, an invalid one, or several ranges).
        case full
        case partial(first: Int, last: Int)
        /// 416, with `Content-Range: bytes */size`.
        case unsatisfiable
    }

    /// See `CorralHTTP.ByteRange.parse`; an invalid field is `.full`.
    public static func byteRange(_ header: UnsafeRawBufferPointer, size: Int) -> ByteRange {
        switch CorralHTTP.ByteRange.parse(header, size: size) {
        case .full, .invalid: .full
        case .unsatisfiable: .unsatisfiable
        case .partial(let first, let last): .partial(first: first, last: last)
        }
    }

    /// See `IfRange.holds`.
    public static func ifRangeHolds(_ header: UnsafeRawBufferPointer, etag: String, lastModified: Int) -> Bool {
        IfRange.holds(header, etag: etag, lastModified: lastModified)
    }
}
