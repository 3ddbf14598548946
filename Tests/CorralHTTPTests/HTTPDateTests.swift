import Glibc
import Testing
@_spi(Internals) @testable import CorralHTTP

@Suite struct HTTPDateTests {
    static func parse(_ text: String) -> Int? { HTTPDate.parse(Array(text.utf8)) }

    @Test func rendersIMFFixdate() {
        #expect(HTTPDate.format(784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(HTTPDate.format(0) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(HTTPDate.format(951_782_400) == "Tue, 29 Feb 2000 00:00:00 GMT")
        #expect(HTTPDate.format(-5) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(HTTPDate.format(Int.max) == "Fri, 31 Dec 9999 23:59:59 GMT")
        var out: [UInt8] = Array("x".utf8)
        HTTPDate.append(1_700_000_000, to: &out)
        #expect(out.count == 1 + HTTPDate.length)
    }

    /// The arithmetic agrees with the C library's gmtime_r across four centuries.
    @Test func agreesWithGmtime() {
        var generator = SystemRandomNumberGenerator()
        let samples = (0..<5000).map { _ in Int.random(in: 0...13_000_000_000, using: &generator) }
            + [68_169_599, 68_169_600, 946_684_799, 946_684_800, 4_107_542_400, 4_102_444_800]
        for t in samples {
            var time = time_t(t)
            var parts = tm()
            gmtime_r(&time, &parts)
            var buffer = [CChar](repeating: 0, count: 64)
            let n = strftime(&buffer, 64, "%a, %d %b %Y %H:%M:%S GMT", &parts)
            let expected = String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            #expect(HTTPDate.format(t) == expected)
            #expect(Self.parse(expected) == t)
        }
    }

    @Test func parsesTheThreeFormsAndRejectsTheRest() {
        #expect(Self.parse("Sun, 06 Nov 1994 08:49:37 GMT") == 784_111_777)
        #expect(Self.parse("Sunday, 06-Nov-94 08:49:37 GMT") == 784_111_777)
        #expect(Self.parse("Sun Nov  6 08:49:37 1994") == 784_111_777)
        #expect(Self.parse("Sun Nov 16 08:49:37 1994") == 784_111_777 + 10 * 86_400)
        #expect(Self.parse("Thursday, 01-Jan-05 00:00:00 GMT") == 1_104_537_600)
        #expect(Self.parse("Tue, 29 Feb 2000 00:00:00 GMT") == 951_782_400)
        for bad in [
            "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 6 Nov 1994 08:49:37 GMT", "Sun, 06 nov 1994 08:49:37 GMT",
            "Xyz, 06 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 24:00:00 GMT", "Sun, 06 Nov 1994 08:60:00 GMT",
            "Sun, 30 Feb 1994 08:49:37 GMT", "Sun, 29 Feb 1900 08:49:37 GMT", "Sun, 00 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37 GMT ", "Someday, 06-Nov-94 08:49:37 GMT", "Sun Nov 6 08:49:37 1994",
            "", "1994-11-06T08:49:37Z", "Sun, 06 Nov 1994 08-49-37 GMT", "Sun, 06 Nov 19a4 08:49:37 GMT",
        ] {
            #expect(Self.parse(bad) == nil, "\(bad)")
        }
    }

    @Test func parsesFromARawBufferWithoutCopying() {
        let text = Array("xSun, 06 Nov 1994 08:49:37 GMTx".utf8)
        text.withUnsafeBytes { buffer in
            #expect(HTTPDate.parse(UnsafeRawBufferPointer(rebasing: buffer[1..<30])) == 784_111_777)
        }
    }
}
