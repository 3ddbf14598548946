/// The conditional request fields of RFC 9110 §13, evaluated in the order of §13.2.2 against a
/// representation's validators.
@_spi(Internals)
public enum Preconditions {
    public enum Outcome: Sendable, Equatable {
        /// Go on (to If-Range and Range, then the response).
        case proceed
        /// 304 Not Modified (GET and HEAD).
        case notModified
        /// 412 Precondition Failed.
        case failed
    }

    /// The fields as sent (nil: absent). `etag` is the representation's strong tag with its
    /// quotes; `lastModified` its modification time in seconds since the epoch.
    public struct Fields {
        public var ifMatch: UnsafeRawBufferPointer?
        public var ifUnmodifiedSince: UnsafeRawBufferPointer?
        public var ifNoneMatch: UnsafeRawBufferPointer?
        public var ifModifiedSince: UnsafeRawBufferPointer?

        public init(ifMatch: UnsafeRawBufferPointer? = nil, ifUnmodifiedSince: UnsafeRawBufferPointer? = nil,
                    ifNoneMatch: UnsafeRawBufferPointer? = nil, ifModifiedSince: UnsafeRawBufferPointer? = nil) {
            self.ifMatch = ifMatch
            self.ifUnmodifiedSince = ifUnmodifiedSince
            self.ifNoneMatch = ifNoneMatch
            self.ifModifiedSince = ifModifiedSince
        }

        /// Whether any of the four fields is present (the common case is none).
        public var isEmpty: Bool { ifMatch == nil && ifUnmodifiedSince == nil && ifNoneMatch == nil && ifModifiedSince == nil }
    }

    /// §13.2.2, steps 1–4 (step 5, If-Range, belongs to range handling):
    /// 1. If-Match, if present: false (no tag strongly matches, and not `*`) → 412;
    /// 2. otherwise If-Unmodified-Since, if a valid date: modified after it → 412;
    /// 3. If-None-Match, if present: a tag weakly matches (or `*`) → 304 for GET/HEAD, 412 for
    ///    other methods;
    /// 4. otherwise, for GET/HEAD, If-Modified-Since, if a valid date: not modified after it → 304.
    /// A date field that is not one valid HTTP-date (or was sent twice) is ignored; a
    /// malformed tag list matches nothing.
    public static func evaluate(_ fields: Fields, method: HTTPMethod, etag: String, lastModified: Int) -> Outcome {
        if fields.isEmpty { return .proceed }
        if let ifMatch = fields.ifMatch {
            if !ETag.matchHits(ifMatch, etag: etag) { return .failed }
        } else if let field = fields.ifUnmodifiedSince, let since = HTTPDate.parse(field), lastModified > since {
            return .failed
        }
        let safe = method == .get || method == .head
        if let ifNoneMatch = fields.ifNoneMatch {
            if ETag.noneMatchHits(ifNoneMatch, etag: etag) { return safe ? .notModified : .failed }
        } else if safe, let field = fields.ifModifiedSince, let since = HTTPDate.parse(field), lastModified <= since {
            return .notModified
        }
        return .proceed
    }
}
