import CorralRuntime

/// A request as a handler sees it: method, path, header fields, body.
///
/// The head stays as it was received (one copy, out of the loop's read buffer): the method and
/// path are ready, and `headerFields` and `head` are materialised as swift-http-types values when
/// read (each read builds them anew; keep the value if you read it several times). A handler that
/// reads no field pays nothing for fields it does not use.
public struct Request: Sendable {
    /// The request method (`GET`, `POST`, ...; any token the client sent).
    public var method: HTTPRequest.Method
    /// The body, streamed as it arrives (see `RequestBody`).
    public var body: RequestBody
    let storage: RequestHeadStorage
    /// Fields set by middleware, replacing the received ones.
    private var replacedFields: HTTPFields?

    init(method: HTTPRequest.Method, storage: RequestHeadStorage, body: RequestBody) {
        self.method = method
        self.storage = storage
        self.body = body
    }

    /// The path, percent-decoded and normalised (no `.` or `..` segments, no empty ones), from
    /// `/`: `/users/42` for `/users/%34%32?x=1`. Routes are matched against it.
    public var path: String { storage.path }

    /// The query (after `?`, undecoded), or nil.
    public var query: String? { storage.query }

    /// The request-target as sent (`/users/42?x=1`, or an absolute URI).
    public var target: String { storage.string(storage.head.target) }

    /// The Host field's value (empty or nil for an HTTP/1.0 request without one).
    public var authority: String? { storage.head.host.map(storage.string) }

    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    public var minorVersion: Int { storage.head.minorVersion }

    /// The header fields, in the order received (materialised from the received head on each
    /// read, unless middleware replaced them).
    public var headerFields: HTTPFields {
        get { replacedFields ?? storage.headerFields() }
        set { replacedFields = newValue }
    }

    /// The request as an `HTTPRequest` (scheme `http`; built on each read).
    public var head: HTTPRequest {
        HTTPRequest(method: method, scheme: "http", authority: authority, path: target, headerFields: headerFields)
    }
}

/// A received request head and what the router found in it, shared by the `Request` values of
/// one request. The connection fills it for each request and reuses it for the next one when no
/// `Request` refers to it any more (`isKnownUniquelyReferenced`); a request a handler keeps gets
/// its storage to itself. Written only before it is shared: immutable while it is.
final class RequestHeadStorage: @unchecked Sendable {
    // Written by `fill` before the storage is shared, read afterwards; never an access that
    // spans another: unchecked (once per request each).
    /// The head's bytes (from its request line, or the empty lines before it, to its blank
    /// line), then the decoded path when the target needed decoding.
    @exclusivity(unchecked) private var bytes: UnsafeMutableRawBufferPointer
    /// The parser's offsets, into `bytes`.
    @exclusivity(unchecked) private(set) var head: HTTPRequestHead
    /// Where the normalised path is (without its leading `/`).
    @exclusivity(unchecked) private(set) var pathRange: Range<Int> = 0..<0
    /// Where the route's captured parameters are, in order, and a catch-all's remainder.
    @exclusivity(unchecked) private(set) var captures: [Range<Int>] = []
    @exclusivity(unchecked) private(set) var remainder: Range<Int>?
    @exclusivity(unchecked) private(set) var route: RouteInfo?

    /// Storage above this is dropped after its request, so an idle connection keeps little.
    static let keptCapacity = 4096

    init() {
        bytes = UnsafeMutableRawBufferPointer(start: nil, count: 0)
        head = HTTPRequestHead(method: .get, target: 0..<0, minorVersion: 1)
    }

    deinit { bytes.deallocate() }

    var capacity: Int { bytes.count }

    /// Fills the storage for a new request: `headBytes` (the parse buffer up to the head's end;
    /// `head`'s ranges point into it), the normalised path (a range of `headBytes`, or decoded
    /// bytes), and the route's captures (ranges of the path).
    func fill(head: HTTPRequestHead, headBytes: UnsafeRawBufferPointer, path: NormalisedPath,
              captures: [Range<Int>], remainder: Range<Int>?, route: RouteInfo?) {
        let decodedCount: Int
        switch path {
        case .slice, .refused: decodedCount = 0
        case .decoded(let decoded): decodedCount = decoded.count
        }
        let needed = headBytes.count + decodedCount
        if needed > bytes.count {
            bytes.deallocate()
            var size = 512
            while size < needed { size *= 2 }
            bytes = .allocate(byteCount: size, alignment: 8)
        }
        if let base = headBytes.baseAddress { bytes.baseAddress!.copyMemory(from: base, byteCount: headBytes.count) }
        self.head = head
        let pathStart: Int
        switch path {
        case .slice(let range):
            pathStart = head.target.lowerBound + range.lowerBound
            pathRange = pathStart..<(pathStart + range.count)
        case .refused:
            pathRange = 0..<0
            pathStart = 0
        case .decoded(let decoded):
            decoded.withUnsafeBytes { (bytes.baseAddress! + headBytes.count).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            pathRange = headBytes.count..<(headBytes.count + decodedCount)
            pathStart = headBytes.count
        }
        if !self.captures.isEmpty { self.captures.removeAll(keepingCapacity: true) }
        for capture in captures { self.captures.append((capture.lowerBound + pathStart)..<(capture.upperBound + pathStart)) }
        self.remainder = remainder.map { ($0.lowerBound + pathStart)..<($0.upperBound + pathStart) }
        self.route = route
    }

    /// Drops the bytes if they are larger than what an idle connection should keep.
    func trim() {
        guard bytes.count > Self.keptCapacity else { return }
        bytes.deallocate()
        bytes = UnsafeMutableRawBufferPointer(start: nil, count: 0)
        head = HTTPRequestHead(method: .get, target: 0..<0, minorVersion: 1)
        pathRange = 0..<0
        captures.removeAll()
        remainder = nil
        route = nil
    }

    var raw: UnsafeRawBufferPointer { UnsafeRawBufferPointer(bytes) }

    func string(_ range: Range<Int>) -> String { String(decoding: raw.slice(range), as: UTF8.self) }

    var path: String { "/" + string(pathRange) }

    var query: String? {
        let target = raw.slice(head.target)
        guard let question = ASCII.find(UInt8(ascii: "?"), in: target, from: 0) else { return nil }
        return String(decoding: target.slice((question + 1)..<target.count), as: UTF8.self)
    }

    /// The field lines of the head as `HTTPFields` (what the parser validated: token names,
    /// values without controls).
    func headerFields() -> HTTPFields {
        var fields = HTTPFields()
        let buffer = raw
        // The field lines start after the request line, which ends after the target.
        guard var lineStart = ASCII.find(ASCII.lf, in: buffer, from: head.target.upperBound).map({ $0 + 1 }) else {
            return fields
        }
        while let lf = ASCII.find(ASCII.lf, in: buffer, from: lineStart), lf > lineStart + 1 {
            if case .success(let field) = HeaderField.parse(buffer, lineStart..<(lf - 1)),
                let name = HTTPField.Name(String(decoding: buffer.slice(field.name), as: UTF8.self))
            {
                fields.append(HTTPField(name: name, lenientValue: buffer.slice(field.value)))
            }
            lineStart = lf + 1
        }
        return fields
    }
}

/// The request path after `RequestPath.normalise`: a range of the request-target (offsets in the
/// target; nothing needed decoding) or decoded bytes, without the leading `/`; or why not.
enum NormalisedPath {
    case slice(Range<Int>)
    case decoded([UInt8])
    case refused(RequestPath.Failure)
}
