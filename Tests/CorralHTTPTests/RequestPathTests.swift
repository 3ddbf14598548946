import Testing
@_spi(Internals) @testable import CorralHTTP

@Suite struct RequestPathTests {
    static func resolve(_ target: String) -> Result<String, RequestPath.Failure> {
        Array(target.utf8).withUnsafeBytes { RequestPath.resolve($0) }
    }

    static let served: [(String, String)] = [
        ("/", ""),
        ("/index.html", "index.html"),
        ("/dir/", "dir/"),
        ("/a/b/", "a/b/"),
        ("/a/b/..", "a/"),
        ("/a%2F", "a/"),
        ("/a/b/../c/./d?x=../../..", "a/c/d"),
        ("//a///b", "a/b"),
        ("/./a/.", "a/"),
        ("/a/..", ""),
        ("/a/b/../../c", "c"),
        ("/a%20b.txt", "a b.txt"),
        ("/a%2Fb", "a/b"),  // %2F is a separator once decoded
        ("/a%2fb/..%2F..%2fc", "c"),
        ("/%7Euser/caf%C3%A9", "~user/caf\u{e9}"),
        ("/a\\..\\b", "a\\..\\b"),  // backslash is an ordinary byte
        ("/..a/a..", "..a/a.."),
        ("/...", "..."),
        ("/a?", "a"),
        ("/a?b#c", "a"),
        ("http://example/x/y", "x/y"),
        ("HTTP://example:8080/x?q", "x"),
        ("https://example/x", "x"),
        ("http://example", ""),
        ("http://example?x=1", ""),
    ]

    @Test(arguments: served)
    func targetsResolveToSafeRelativePaths(_ target: String, _ expected: String) {
        #expect(Self.resolve(target) == .success(expected))
    }

    static let refused: [(String, RequestPath.Failure)] = [
        ("/..", .notFound),
        ("/../etc/passwd", .notFound),
        ("/a/../../etc/passwd", .notFound),
        ("/%2e%2e/%2e%2e/etc/passwd", .notFound),
        ("/%2E%2E%2fx", .notFound),
        ("/.%2e/x", .notFound),
        ("/a/%2e%2e/%2e%2e/x", .notFound),
        ("/%2F..%2F..", .notFound),
        ("/a%00b", .notFound),
        ("/a%00", .notFound),
        ("/%ff", .notFound),  // not UTF-8
        ("/a%zz", .badRequest),
        ("/a%2", .badRequest),
        ("/a%", .badRequest),
        ("/a%g0", .badRequest),
        ("/a#frag", .badRequest),
        ("*", .badRequest),
        ("", .badRequest),
        ("a/b", .badRequest),
        ("ftp://x/y", .badRequest),
        ("http:///y", .badRequest),
        ("http://a b/y", .badRequest),
        ("example.com:80", .badRequest),  // authority-form
    ]

    @Test(arguments: refused)
    func dangerousOrMalformedTargetsAreRefused(_ target: String, _ failure: RequestPath.Failure) {
        #expect(Self.resolve(target) == .failure(failure), "\(target)")
    }

    @Test func longPathsStayLinearAndNeverEscape() {
        let deep = "/" + String(repeating: "a/", count: 3000) + String(repeating: "../", count: 3000) + "x"
        #expect(Self.resolve(deep) == .success("x"))
        let tooDeep = "/" + String(repeating: "a/", count: 3000) + String(repeating: "../", count: 3001) + "x"
        #expect(Self.resolve(tooDeep) == .failure(.notFound))
        let long = "/" + String(repeating: "b", count: 8000)
        #expect(Self.resolve(long) == .success(String(repeating: "b", count: 8000)))
        let encoded = "/" + String(repeating: "%2e%2e%2f", count: 500)
        #expect(Self.resolve(encoded) == .failure(.notFound))
    }

    /// Whatever the input, a success never holds a `..` segment, a leading `/`, an empty segment
    /// (but the one after a final `/`, which marks a directory) or NUL.
    @Test func resolvedPathsAreAlwaysNormal() {
        let pieces = ["/", "a", "..", ".", "%2e", "%2E%2e", "%2f", "%2F", "%00", "//", "b.c", "%41", "\\", "?"]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<3000 {
            var target = "/"
            for _ in 0..<Int.random(in: 0...8, using: &generator) { target += pieces.randomElement(using: &generator)! }
            guard case .success(let path) = Self.resolve(target), !path.isEmpty else { continue }
            #expect(!path.hasPrefix("/"), "\(target)")
            #expect(!path.contains("\0"), "\(target)")
            let directory = path.hasSuffix("/")
            for segment in (directory ? String(path.dropLast()) : path).split(separator: "/", omittingEmptySubsequences: false) {
                #expect(segment != ".." && segment != "." && !segment.isEmpty, "\(target) → \(path)")
            }
        }
    }
}
