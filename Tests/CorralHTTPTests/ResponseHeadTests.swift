import Testing
@testable import CorralHTTP

@Suite struct ResponseHeadTests {
    static func render(_ head: ResponseHead) -> String {
        var out: [UInt8] = []
        head.render(into: &out, date: 784_111_777)
        return String(decoding: out, as: UTF8.self)
    }

    static let date = "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"

    @Test func aFullResponseHasEveryFieldInOrder() {
        let head = ResponseHead(status: .ok, contentType: "text/html; charset=utf-8", contentLength: 1234,
                                lastModified: 0, etag: "\"4d2-0\"", acceptRanges: true)
        #expect(Self.render(head) == "HTTP/1.1 200 OK\r\nServer: corral\r\n" + Self.date
            + "Content-Type: text/html; charset=utf-8\r\nContent-Length: 1234\r\n"
            + "Last-Modified: Thu, 01 Jan 1970 00:00:00 GMT\r\nETag: \"4d2-0\"\r\nAccept-Ranges: bytes\r\n\r\n")
    }

    @Test func connectionFollowsVersionAndKeepAlive() {
        #expect(!Self.render(ResponseHead(status: .ok)).contains("Connection"))
        #expect(Self.render(ResponseHead(status: .ok, keepAlive: false)).hasSuffix("Connection: close\r\n\r\n"))
        #expect(Self.render(ResponseHead(status: .ok, requestMinorVersion: 0)).hasSuffix("Connection: keep-alive\r\n\r\n"))
        #expect(Self.render(ResponseHead(status: .ok, keepAlive: false, requestMinorVersion: 0)).hasSuffix("Connection: close\r\n\r\n"))
    }

    @Test func rangesAndAllow() {
        let partial = Self.render(ResponseHead(status: .partialContent, contentLength: 10,
                                               contentRange: .bytes(first: 0, last: 9, size: 100)))
        #expect(partial.hasPrefix("HTTP/1.1 206 Partial Content\r\n"))
        #expect(partial.contains("\r\nContent-Length: 10\r\nContent-Range: bytes 0-9/100\r\n\r\n"))
        let unsatisfiable = Self.render(ResponseHead(status: .rangeNotSatisfiable, contentLength: 0,
                                                     contentRange: .unsatisfiable(size: 100)))
        #expect(unsatisfiable.hasPrefix("HTTP/1.1 416 Range Not Satisfiable\r\n"))
        #expect(unsatisfiable.contains("Content-Range: bytes */100\r\n"))
        let notAllowed = Self.render(ResponseHead(status: .methodNotAllowed, keepAlive: false, allow: "GET, HEAD"))
        #expect(notAllowed.hasSuffix("Allow: GET, HEAD\r\nConnection: close\r\n\r\n"))
    }

    @Test func aCachedDateIsUsedAsIs() {
        var out: [UInt8] = []
        ResponseHead(status: .notModified, etag: "\"a\"").render(into: &out, renderedDate: Array("Mon, 01 Jan 2024 00:00:00 GMT".utf8))
        #expect(String(decoding: out, as: UTF8.self)
            == "HTTP/1.1 304 Not Modified\r\nServer: corral\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\nETag: \"a\"\r\n\r\n")
    }

    @Test func statusesHaveTheirReasonPhrases() {
        let expected: [Int: String] = [
            200: "OK", 206: "Partial Content", 304: "Not Modified", 400: "Bad Request", 403: "Forbidden",
            404: "Not Found", 405: "Method Not Allowed", 408: "Request Timeout", 413: "Content Too Large",
            414: "URI Too Long", 416: "Range Not Satisfiable", 431: "Request Header Fields Too Large",
            500: "Internal Server Error", 501: "Not Implemented", 503: "Service Unavailable",
            505: "HTTP Version Not Supported", 299: "Unknown",
        ]
        for (code, phrase) in expected {
            #expect(HTTPStatus(code).reasonPhrase == phrase)
            var line: [UInt8] = []
            HTTPStatus(code).appendStatusLine(to: &line)
            #expect(String(decoding: line, as: UTF8.self) == "HTTP/1.1 \(code) \(phrase)\r\n")
        }
        #expect(HTTPStatus.notModified.forbidsBody && !HTTPStatus.ok.forbidsBody)
    }

    @Test func integersAreWrittenWithoutStrings() {
        for value in [0, 7, 10, 99, 1_234_567, Int.max, -42] {
            var out: [UInt8] = []
            ASCII.appendDecimal(value, to: &out)
            #expect(String(decoding: out, as: UTF8.self) == String(value))
        }
        var hex: [UInt8] = []
        ASCII.appendHex(UInt.max, to: &hex)
        #expect(String(decoding: hex, as: UTF8.self) == String(UInt.max, radix: 16))
    }
}

@Suite struct MediaTypeTests {
    static let cases: [(String, String)] = [
        ("index.html", "text/html; charset=utf-8"), ("a.htm", "text/html; charset=utf-8"),
        ("s.css", "text/css; charset=utf-8"), ("a.js", "text/javascript; charset=utf-8"),
        ("m.mjs", "text/javascript; charset=utf-8"), ("d.json", "application/json"),
        ("r.txt", "text/plain; charset=utf-8"), ("f.xml", "application/xml"), ("i.svg", "image/svg+xml"),
        ("a/b.PNG", "image/png"), ("p.jpg", "image/jpeg"), ("p.jpeg", "image/jpeg"), ("g.gif", "image/gif"),
        ("w.webp", "image/webp"), ("favicon.ico", "image/x-icon"), ("m.wasm", "application/wasm"),
        ("d.pdf", "application/pdf"), ("f.woff", "font/woff"), ("f.woff2", "font/woff2"), ("v.mp4", "video/mp4"),
        ("v.webm", "video/webm"), ("x.bin", "application/octet-stream"), ("noext", "application/octet-stream"),
        (".hidden", "application/octet-stream"), ("dir.d/file", "application/octet-stream"),
        ("a.tar.gz", "application/octet-stream"), ("", "application/octet-stream"),
    ]

    @Test(arguments: cases)
    func mediaTypesComeFromTheExtension(_ path: String, _ expected: String) {
        #expect(MediaType.forPath(path) == expected)
    }
}
