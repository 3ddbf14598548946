import SystemPackage
import Testing
@_spi(Internals) @testable import CorralHTTP
@testable import CorralRuntime

/// The static-file rules, without sockets or files: preconditions in RFC 9110 §13.2.2's order,
/// ranges, redirects and error mapping.
@Suite struct StaticFileResponderTests {
    /// A 100-byte file last modified at 784111777 (Sun, 06 Nov 1994 08:49:37 GMT).
    nonisolated(unsafe) static let entry = FileEntry(
        key: "f.txt", servedPath: "f.txt",
        status: FileStatus(size: 100, modifiedSeconds: 784_111_777, modifiedNanoseconds: 5, inode: 1,
                           isDirectory: false, isRegular: true),
        body: .memory(ByteChunk((0..<100).map { UInt8($0) })))
    static var etag: String { entry.etag }
    static let date = "Sun, 06 Nov 1994 08:49:37 GMT"
    static let earlier = "Sun, 06 Nov 1994 08:49:36 GMT"
    static let later = "Sun, 06 Nov 1994 08:49:38 GMT"

    struct Case: Sendable, CustomStringConvertible {
        var ifMatch: String?
        var ifUnmodifiedSince: String?
        var ifNoneMatch: String?
        var ifModifiedSince: String?
        var method: HTTPMethod = .get
        var expected: Preconditions.Outcome
        var description: String {
            "\(method) IM=\(ifMatch ?? "-") IUS=\(ifUnmodifiedSince ?? "-") INM=\(ifNoneMatch ?? "-") IMS=\(ifModifiedSince ?? "-")"
        }
    }

    /// §13.2.2: If-Match, else If-Unmodified-Since; then If-None-Match, else If-Modified-Since.
    static let cases: [Case] = [
        Case(expected: .proceed),
        // step 1: If-Match (strong comparison; * matches an existing representation)
        Case(ifMatch: etag, expected: .proceed),
        Case(ifMatch: "*", expected: .proceed),
        Case(ifMatch: "\"other\", \(etag)", expected: .proceed),
        Case(ifMatch: "\"other\"", expected: .failed),
        Case(ifMatch: "W/\(etag)", expected: .failed),
        Case(ifMatch: "garbage", expected: .failed),
        // step 2: If-Unmodified-Since, only without If-Match
        Case(ifUnmodifiedSince: date, expected: .proceed),
        Case(ifUnmodifiedSince: later, expected: .proceed),
        Case(ifUnmodifiedSince: earlier, expected: .failed),
        Case(ifUnmodifiedSince: "not a date", expected: .proceed),
        Case(ifMatch: etag, ifUnmodifiedSince: earlier, expected: .proceed),  // If-Match wins
        Case(ifMatch: "\"other\"", ifUnmodifiedSince: later, expected: .failed),
        // step 3: If-None-Match (weak comparison)
        Case(ifNoneMatch: etag, expected: .notModified),
        Case(ifNoneMatch: "W/\(etag)", expected: .notModified),
        Case(ifNoneMatch: "*", expected: .notModified),
        Case(ifNoneMatch: "\"other\"", expected: .proceed),
        Case(ifNoneMatch: etag, method: .head, expected: .notModified),
        Case(ifNoneMatch: etag, method: .post, expected: .failed),
        Case(ifNoneMatch: "\"other\"", ifModifiedSince: later, expected: .proceed),  // IMS ignored with INM
        Case(ifNoneMatch: etag, ifModifiedSince: earlier, expected: .notModified),
        // step 4: If-Modified-Since, GET/HEAD only, without If-None-Match
        Case(ifModifiedSince: date, expected: .notModified),
        Case(ifModifiedSince: later, expected: .notModified),
        Case(ifModifiedSince: earlier, expected: .proceed),
        Case(ifModifiedSince: "", expected: .proceed),  // a field sent twice
        Case(ifModifiedSince: date, method: .post, expected: .proceed),
        // step order: a failed step 1/2 precedes 304
        Case(ifMatch: "\"other\"", ifNoneMatch: etag, expected: .failed),
        Case(ifUnmodifiedSince: earlier, ifModifiedSince: date, expected: .failed),
        Case(ifMatch: etag, ifNoneMatch: etag, expected: .notModified),
    ]

    @Test(arguments: cases)
    func preconditionsAreEvaluatedInOrder(_ c: Case) {
        let outcome = with(c.ifMatch) { im in
            with(c.ifUnmodifiedSince) { ius in
                with(c.ifNoneMatch) { inm in
                    with(c.ifModifiedSince) { ims in
                        Preconditions.evaluate(
                            Preconditions.Fields(ifMatch: im, ifUnmodifiedSince: ius, ifNoneMatch: inm, ifModifiedSince: ims),
                            method: c.method, etag: Self.etag, lastModified: Self.entry.lastModified)
                    }
                }
            }
        }
        #expect(outcome == c.expected)
    }

    /// The plan for a GET or HEAD of `entry`, with optional Range and If-Range.
    static func plan(_ method: HTTPMethod = .get, range: String? = nil, ifRange: String? = nil,
                     ifNoneMatch: String? = nil) -> ResponsePlan {
        with(range) { range in
            with(ifRange) { ifRange in
                with(ifNoneMatch) { inm in
                    var request = StaticFileResponder.Request(method: method)
                    request.range = range
                    request.ifRange = ifRange
                    request.preconditions.ifNoneMatch = inm
                    return StaticFileResponder.plan(request, entry)
                }
            }
        }
    }

    static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    @Test func rangesAndIfRange() {
        let full = Self.plan()
        #expect(full.status == .ok && full.body.count == 100 && Self.text(full.fields).contains("Content-Length: 100\r\n"))
        let partial = Self.plan(range: "bytes=10-19")
        #expect(partial.status == .partialContent && partial.body.count == 10)
        #expect(Self.text(partial.fields).contains("Content-Range: bytes 10-19/100\r\n"))
        #expect(Self.text(partial.fields).contains("ETag: \(Self.etag)\r\n"))
        #expect(Self.plan(range: "bytes=10-19", ifRange: Self.etag).status == .partialContent)
        #expect(Self.plan(range: "bytes=10-19", ifRange: Self.date).status == .partialContent)
        #expect(Self.plan(range: "bytes=10-19", ifRange: "\"old\"").status == .ok, "If-Range false: the whole file")
        #expect(Self.plan(range: "bytes=10-19", ifRange: "W/\(Self.etag)").status == .ok)
        #expect(Self.plan(.head, range: "bytes=10-19").status == .ok, "Range is defined for GET only")
        let unsatisfiable = Self.plan(range: "bytes=200-")
        #expect(unsatisfiable.status == .rangeNotSatisfiable)
        #expect(Self.text(unsatisfiable.fields).contains("Content-Range: bytes */100\r\n"))
        #expect(Self.plan(range: "bytes=5-1").status == .ok, "an invalid Range is ignored")
        #expect(Self.plan(range: "bytes=10-19", ifNoneMatch: Self.etag).status == .notModified)
        #expect(Self.plan(ifNoneMatch: Self.etag).body.count == 0)
    }

    @Test func lookupsBecomeStatuses() {
        let request = StaticFileResponder.Request(method: .get)
        func plan(_ lookup: FileLookup) -> ResponsePlan {
            StaticFileResponder.plan(request, lookup) { Array("/dir/?q=1".utf8) }
        }
        let redirect = plan(.directory)
        #expect(redirect.status == .movedPermanently)
        #expect(Self.text(redirect.fields).contains("Location: /dir/?q=1\r\n"))
        #expect(plan(.failure(.notFound)).status == .notFound)
        #expect(plan(.failure(.forbidden)).status == .forbidden)
        let unavailable = plan(.failure(.unavailable))
        #expect(unavailable.status == .serviceUnavailable && Self.text(unavailable.fields).contains("Retry-After: "))
        #expect(plan(.failure(.failed(SystemError("pread", errno: .ioError)))).status == .internalServerError)
        #expect(StaticFileResponder.refuse(.post)?.status == .methodNotAllowed)
        #expect(StaticFileResponder.refuse(.other)?.status == .notImplemented)
        #expect(StaticFileResponder.refuse(.head) == nil)
    }

    static let errnos: [(Errno, FileFailure)] = [
        (.noSuchFileOrDirectory, .notFound), (.notDirectory, .notFound), (.fileNameTooLong, .notFound),
        (.improperLink, .notFound), (.noSuchAddressOrDevice, .notFound),
        (.permissionDenied, .forbidden), (.notPermitted, .forbidden), (.tooManySymbolicLinkLevels, .forbidden),
        (.tooManyOpenFiles, .unavailable), (.tooManyOpenFilesInSystem, .unavailable), (.noMemory, .unavailable),
        (.wouldBlock, .unavailable),
        (.ioError, .failed(SystemError("open", errno: .ioError))),
    ]

    @Test(arguments: errnos)
    func openErrorsMapToStatuses(_ errno: Errno, _ expected: FileFailure) {
        #expect(FileFailure.from(SystemError("open", errno: errno)) == expected)
    }

    @Test func directoryRedirectsAreBuiltFromTheNormalisedPath() {
        func location(_ path: String, _ target: String) -> String {
            Array(target.utf8).withUnsafeBytes { Self.text(RequestPath.directoryLocation(path: path, target: $0)) }
        }
        #expect(location("dir", "/dir") == "/dir/")
        #expect(location("a b/c", "/a%20b/c?x=1&y") == "/a%20b/c/?x=1&y")
        #expect(location("evil.com/x", "//evil.com/x") == "/evil.com/x/", "never a protocol-relative URL")
        #expect(location("caf\u{e9}", "/caf%C3%A9") == "/caf%C3%A9/")
        #expect(location("100%", "/100%25") == "/100%25/")
    }
}

/// Runs `body` with a view of `text`'s bytes (nil stays nil).
func with<T>(_ text: String?, _ body: (UnsafeRawBufferPointer?) -> T) -> T {
    guard let text else { return body(nil) }
    return Array(text.utf8).withUnsafeBytes { body($0) }
}
