import Testing
@_spi(Internals) @testable import CorralHTTP

@Suite struct ETagTests {
    static let etag = "\"1f-abc\""

    static func hits(_ header: String, _ etag: String = etag) -> Bool {
        Array(header.utf8).withUnsafeBytes { ETag.noneMatchHits($0, etag: etag) }
    }

    @Test func tagsComeFromSizeAndModificationTime() {
        #expect(ETag.make(size: 31, modifiedSeconds: 1, modifiedNanoseconds: 5) == "\"1f-3b9aca05\"")
        #expect(ETag.make(size: 0, modifiedSeconds: 0, modifiedNanoseconds: 0, weak: true) == "W/\"0-0\"")
        #expect(ETag.make(size: 1, modifiedSeconds: 1_700_000_000, modifiedNanoseconds: 1)
            != ETag.make(size: 1, modifiedSeconds: 1_700_000_000, modifiedNanoseconds: 2))
        #expect(ETag.make(size: 1, modifiedSeconds: 2, modifiedNanoseconds: 0)
            != ETag.make(size: 2, modifiedSeconds: 1, modifiedNanoseconds: 0))
        var out: [UInt8] = []
        ETag.append(size: 255, modifiedSeconds: 0, modifiedNanoseconds: 16, to: &out)
        #expect(out == Array("\"ff-10\"".utf8))
    }

    static let ifNoneMatch: [(String, Bool)] = [
        ("\"1f-abc\"", true),
        ("W/\"1f-abc\"", true),  // weak comparison
        ("\"x\", W/\"1f-abc\"", true),
        ("\"x\" ,\t\"1f-abc\" ", true),
        (",,\"1f-abc\",", true),
        ("*", true),
        (" * ", true),
        ("\"1f-abd\"", false),
        ("1f-abc", false),  // not quoted
        ("\"1f-abc", false),
        ("\"a,b\", \"1f-abc\"", true),  // a comma inside a tag is not a separator
        ("\"x\" \"1f-abc\"", false),  // malformed list
        ("*, \"1f-abc\"", false),
        ("w/\"1f-abc\"", false),
        ("", false),
    ]

    @Test(arguments: ifNoneMatch)
    func ifNoneMatchUsesWeakComparison(_ header: String, _ expected: Bool) {
        #expect(Self.hits(header) == expected, "\(header)")
    }

    @Test func ourWeakTagMatchesWeakly() {
        #expect(Self.hits("\"1f-abc\"", "W/\"1f-abc\""))
    }

    @Test func strongComparisonRefusesWeakTags() {
        func strong(_ a: String, _ b: String) -> Bool { Array(a.utf8).withUnsafeBytes { ETag.strongEquals($0, b) } }
        #expect(strong("\"1f-abc\"", "\"1f-abc\""))
        #expect(!strong("W/\"1f-abc\"", "\"1f-abc\""))
        #expect(!strong("\"1f-abc\"", "W/\"1f-abc\""))
        #expect(!strong("\"1f-abc\" ", "\"1f-abc\""))
        #expect(!strong("\"1f-abd\"", "\"1f-abc\""))
    }
}

@Suite struct ByteRangeTests {
    static func range(_ header: String, _ size: Int = 100) -> ByteRange {
        Array(header.utf8).withUnsafeBytes { ByteRange.parse($0, size: size) }
    }

    static let cases: [(String, Int, ByteRange)] = [
        ("bytes=0-9", 100, .partial(first: 0, last: 9)),
        ("bytes=0-0", 100, .partial(first: 0, last: 0)),
        ("Bytes=10-", 100, .partial(first: 10, last: 99)),
        ("bytes=90-", 100, .partial(first: 90, last: 99)),
        ("bytes=-10", 100, .partial(first: 90, last: 99)),
        ("bytes=-1000", 100, .partial(first: 0, last: 99)),
        ("bytes=50-500", 100, .partial(first: 50, last: 99)),
        ("bytes=99-99", 100, .partial(first: 99, last: 99)),
        ("bytes=0-99999999999999999999999", 100, .partial(first: 0, last: 99)),
        ("bytes= 0-9 ", 100, .partial(first: 0, last: 9)),
        ("bytes=100-", 100, .unsatisfiable),
        ("bytes=100-200", 100, .unsatisfiable),
        ("bytes=99999999999999999999999-", 100, .unsatisfiable),
        ("bytes=-0", 100, .unsatisfiable),
        ("bytes=0-", 0, .unsatisfiable),
        ("bytes=-5", 0, .full),
        ("bytes=0-1,5-6", 100, .full),
        ("bytes=0-1, 200-300", 100, .full),
        ("bytes=200-300, 400-", 100, .unsatisfiable),
        ("bytes=5-1", 100, .invalid),
        ("bytes=0-1,x", 100, .invalid),
        ("bytes=", 100, .invalid),
        ("bytes=,", 100, .invalid),
        ("bytes=-", 100, .invalid),
        ("bytes=1", 100, .invalid),
        ("bytes=a-b", 100, .invalid),
        ("bytes=+1-2", 100, .invalid),
        ("bytes=1 -2", 100, .invalid),
        ("bytes = 0-1", 100, .invalid),
        ("items=0-1", 100, .invalid),
        ("0-1", 100, .invalid),
    ]

    @Test(arguments: cases)
    func rangesParseAgainstTheSize(_ header: String, _ size: Int, _ expected: ByteRange) {
        #expect(Self.range(header, size) == expected, "\(header) of \(size)")
    }

    @Test func absentRangeIsFullAndCountsAreInclusive() {
        #expect(ByteRange.parse(nil, size: 10) == .full)
        #expect(ByteRange.partial(first: 2, last: 5).count == 4)
        #expect(ByteRange.full.count == 0)
    }

    @Test func ifRangeNeedsAStrongTagOrTheExactDate() {
        let etag = "\"1f-abc\""
        func holds(_ s: String) -> Bool { Array(s.utf8).withUnsafeBytes { IfRange.holds($0, etag: etag, lastModified: 784_111_777) } }
        #expect(holds(etag))
        #expect(!holds("W/\(etag)"))
        #expect(!holds("\"other\""))
        #expect(holds("Sun, 06 Nov 1994 08:49:37 GMT"))
        #expect(!holds("Sun, 06 Nov 1994 08:49:38 GMT"))
        #expect(!holds("yesterday"))
        #expect(!holds(""))
        #expect(!Array(etag.utf8).withUnsafeBytes { IfRange.holds($0, etag: "W/\(etag)", lastModified: 0) })
    }
}
