import Testing
@testable import CorralHTTP

@Suite struct SemanticsTests {
    private func resolve(_ target: String) -> Result<String, RequestPath.Failure> {
        Array(target.utf8).withUnsafeBytes { RequestPath.resolve($0) }
    }

    @Test func pathsAreDecodedThenNormalisedAndNeverEscape() {
        #expect(resolve("/") == .success(""))
        #expect(resolve("/a/b/../c/./d?x=../../..") == .success("a/c/d"))
        #expect(resolve("//a///b") == .success("a/b"))
        #expect(resolve("/a%20b.txt") == .success("a b.txt"))
        #expect(resolve("/a%2Fb") == .success("a/b"))
        #expect(resolve("/a\\..\\b") == .success("a\\..\\b"))
        #expect(resolve("http://example/x/y") == .success("x/y"))
        for escape in ["/..", "/../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/a/../../etc/passwd", "/%2E%2E%2fx"] {
            #expect(resolve(escape) == .failure(.notFound), "\(escape)")
        }
        #expect(resolve("/a%00b") == .failure(.notFound))
        #expect(resolve("/a%zz") == .failure(.badRequest))
        #expect(resolve("/a%2") == .failure(.badRequest))
        #expect(resolve("*") == .failure(.badRequest))
        #expect(resolve("ftp://x/y") == .failure(.badRequest))
    }

    @Test func mediaTypesComeFromTheExtension() {
        #expect(MediaType.forPath("index.html") == "text/html; charset=utf-8")
        #expect(MediaType.forPath("a/b.PNG") == "image/png")
        #expect(MediaType.forPath("noext") == "application/octet-stream")
        #expect(MediaType.forPath(".hidden") == "application/octet-stream")
    }

    @Test func datesRoundTripAndRejectOtherForms() {
        #expect(HTTPDate.format(784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(HTTPDate.parse(Array("Sun, 06 Nov 1994 08:49:37 GMT".utf8)) == 784_111_777)
        #expect(HTTPDate.parse(Array("Sunday, 06-Nov-94 08:49:37 GMT".utf8)) == nil)
        #expect(HTTPDate.parse(Array("Sun, 06 Nov 1994 08:49:37 UTC".utf8)) == nil)
        for t in [0, 951_782_400, 1_700_000_000, 2_000_000_000] {
            #expect(HTTPDate.parse(Array(HTTPDate.format(t).utf8)) == t)
        }
    }

    @Test func entityTagsMatchWeaklyAndRangesParse() {
        let etag = "\"1f-abc\""
        func hits(_ s: String) -> Bool { Array(s.utf8).withUnsafeBytes { Conditional.noneMatchHits($0, etag: etag) } }
        #expect(hits("\"1f-abc\""))
        #expect(hits("\"x\", W/\"1f-abc\""))
        #expect(hits("*"))
        #expect(!hits("\"1f-abd\""))
        func range(_ s: String, _ size: Int = 100) -> Conditional.ByteRange {
            Array(s.utf8).withUnsafeBytes { Conditional.byteRange($0, size: size) }
        }
        #expect(range("bytes=0-9") == .partial(first: 0, last: 9))
        #expect(range("bytes=90-") == .partial(first: 90, last: 99))
        #expect(range("bytes=-10") == .partial(first: 90, last: 99))
        #expect(range("bytes=50-500") == .partial(first: 50, last: 99))
        #expect(range("bytes=100-") == .unsatisfiable)
        #expect(range("bytes=-0") == .unsatisfiable)
        #expect(range("bytes=5-1") == .full)
        #expect(range("bytes=0-1,5-6") == .full)
        #expect(range("items=0-1") == .full)
        func ifRange(_ s: String) -> Bool { Array(s.utf8).withUnsafeBytes { Conditional.ifRangeHolds($0, etag: etag, lastModified: 784_111_777) } }
        #expect(ifRange(etag))
        #expect(!ifRange("W/\(etag)"))
        #expect(ifRange("Sun, 06 Nov 1994 08:49:37 GMT"))
        #expect(!ifRange("Sun, 06 Nov 1994 08:49:38 GMT"))
    }
}
