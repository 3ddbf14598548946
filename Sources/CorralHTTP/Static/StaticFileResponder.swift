import CorralRuntime

/// The rules of static-file responses, as pure functions of the request and what the file
/// cache found: methods, redirects for directories, the preconditions of RFC 9110 §13.2.2,
/// If-Range and single byte ranges. Tested without sockets or files.
enum StaticFileResponder {
    /// What the rules need from a GET or HEAD request: views into its buffer.
    struct Request {
        var method: HTTPMethod
        var preconditions = Preconditions.Fields()
        var range: UnsafeRawBufferPointer?
        var ifRange: UnsafeRawBufferPointer?
    }

    static let allowField = Array("Allow: GET, HEAD\r\n".utf8)
    static let retryAfterField = Array("Retry-After: 1\r\n".utf8)

    /// 405 (with Allow) for a known method other than GET and HEAD, 501 for an unknown one;
    /// nil for GET and HEAD.
    static func refuse(_ method: HTTPMethod) -> ResponsePlan? {
        switch method {
        case .get, .head: nil
        case .other: .error(.notImplemented)
        default: .error(.methodNotAllowed, extraFields: allowField)
        }
    }

    /// The response to a GET or HEAD whose path the cache looked up. `location` renders the
    /// redirect target of a directory named without its slash.
    static func plan(_ request: Request, _ lookup: FileLookup, location: () -> [UInt8]) -> ResponsePlan {
        switch lookup {
        case .file(let entry):
            return plan(request, entry)
        case .directory:
            return .error(.movedPermanently, extraFields: Array("Location: ".utf8) + location() + ResponseBytes.crlf)
        case .failure(let failure):
            return .error(failure.status, extraFields: failure == .unavailable ? retryAfterField : [])
        }
    }

    /// The response for an existing regular file.
    static func plan(_ request: Request, _ entry: FileEntry) -> ResponsePlan {
        switch Preconditions.evaluate(
            request.preconditions, method: request.method, etag: entry.etag, lastModified: entry.lastModified)
        {
        case .proceed: break
        case .notModified: return ResponsePlan(status: .notModified, fields: entry.validators)
        case .failed: return .error(.preconditionFailed)
        }
        let size = entry.status.size
        // RFC 9110 §14.2: Range is defined for GET only; If-Range decides whether it applies.
        if request.method == .get, let range = request.range,
            request.ifRange.map({ IfRange.holds($0, etag: entry.etag, lastModified: entry.lastModified) }) ?? true
        {
            switch ByteRange.parse(range, size: size) {
            case .full, .invalid:
                break
            case .unsatisfiable:
                return .error(.rangeNotSatisfiable, extraFields: Array("Content-Range: bytes */\(size)\r\n".utf8))
            case .partial(let first, let last):
                let fields = "Content-Type: \(entry.contentType)\r\nContent-Length: \(last - first + 1)\r\n"
                    + "Content-Range: bytes \(first)-\(last)/\(size)\r\n"
                return ResponsePlan(
                    status: .partialContent, fields: Array(fields.utf8) + entry.validators,
                    body: body(entry, first..<(last + 1)))
            }
        }
        return ResponsePlan(status: .ok, fields: entry.fields200, body: body(entry, 0..<size))
    }

    private static func body(_ entry: FileEntry, _ range: Range<Int>) -> ResponsePlan.Body {
        guard !range.isEmpty else { return .none }
        switch entry.body {
        case .memory(let chunk): return .chunk(chunk, range)
        case .file(let file): return .file(file, offset: range.lowerBound, count: range.count)
        }
    }
}
