// libFuzzer entry point for CorralHTTP's request parser and the request semantics the server
// applies to what it parses. Built with `-sanitize=fuzzer,address -parse-as-library`: libFuzzer
// supplies `main`. Every invariant violation traps (precondition), which libFuzzer reports as a
// crash and saves the input.
//
// One input is the byte stream a client sent on one connection. It is driven as
// HTTPConnectionHandler drives it: the parser gets the unconsumed bytes; a head is consumed
// when complete, a body as it streams (`.body`, `.end`).
// - The input fed at once is the reference; the same input fed in pieces (cut at pseudo-random
//   points derived from the input, and one byte at a time for short inputs) to one long-lived
//   parser must give the same requests (heads, consumed bytes, decoded bodies) and refuse at
//   the same point with the same status.
// - What a connection must keep unconsumed never exceeds one head, one request line or one
//   chunk line: bodies are never buffered.
// - The head's ranges, `consumed` and the decoded body must stay within the buffer and limits;
// - RequestPath.resolve, ByteRange, ETag, IfRange, Preconditions and HTTPDate.parse run on the
//   fields they would run on in the server, with their own invariants.
// Everything runs twice: with the server's limits and with tiny ones (so the 413/414/431
// paths are reachable within -max_len=4096).

import CFuzzDriver
@_spi(Internals) import CorralHTTP

// MARK: limits

private let serverLimits = HTTPServerConfiguration().parserLimits

private let tinyLimits: HTTPParserLimits = {
    var limits = HTTPParserLimits()
    limits.maxRequestTarget = 48
    limits.maxHeaderSection = 300
    limits.maxHeaderCount = 6
    limits.maxBody = 40
    return limits
}()

private let errorStatuses: Set<Int> = [400, 413, 414, 431, 501, 505]

// MARK: helpers

@inline(__always)
private func slice(_ buffer: UnsafeRawBufferPointer, _ range: Range<Int>) -> UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(rebasing: buffer[range])
}

/// FNV-1a, so split points are a deterministic function of the input (reproducible crashes).
private func hash(_ buffer: UnsafeRawBufferPointer) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in buffer { h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
    return h
}

private func inside(_ range: Range<Int>?, _ limit: Int) -> Bool {
    guard let range else { return true }
    return range.lowerBound >= 0 && range.upperBound <= limit
}

// MARK: semantics

private let etag = "\"5f2a-1c\""
private let lastModified = 784_111_777  // Sun, 06 Nov 1994 08:49:37 GMT

private func checkResolve(_ target: UnsafeRawBufferPointer) {
    guard case .success(let path) = RequestPath.resolve(target) else { return }
    let bytes = Array(path.utf8)
    precondition(!bytes.contains(0), "resolved path contains NUL")
    precondition(bytes.first != UInt8(ascii: "/"), "resolved path starts with /")
    // A final `/` marks a directory: the one empty segment allowed, after it.
    let segments = bytes.last == UInt8(ascii: "/") ? bytes.dropLast() : bytes[...]
    for segment in segments.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false) {
        precondition(!segment.elementsEqual("..".utf8), "resolved path has a .. segment")
        precondition(!segment.elementsEqual(".".utf8), "resolved path has a . segment")
        precondition(!segment.isEmpty || bytes.isEmpty, "resolved path has an empty segment")
    }
    precondition(bytes != [UInt8(ascii: "/")], "the root resolves to a lone /")
    _ = MediaType.forPath(path)
}

private func checkRange(_ field: UnsafeRawBufferPointer, extraSize: Int) {
    for size in [0, 1, 2, 100, extraSize, Int.max / 2] {
        switch ByteRange.parse(field, size: size) {
        case .full, .unsatisfiable, .invalid: break
        case .partial(let first, let last):
            precondition(first >= 0 && first <= last && last < size, "byteRange outside the representation")
        }
    }
}

private func checkDate(_ field: UnsafeRawBufferPointer) {
    guard let seconds = HTTPDate.parse(field) else { return }
    // Rendering clamps to 1970...9999, so within that span what format writes must parse back.
    if seconds >= 0 && seconds < 253_402_300_800 {
        let text = HTTPDate.format(seconds)
        precondition(text.utf8.count == 29, "HTTPDate.format is not 29 bytes")
        precondition(HTTPDate.parse(Array(text.utf8)) == seconds, "HTTPDate does not round-trip")
    }
}

private func checkConditionals(_ field: UnsafeRawBufferPointer) {
    let hits = ETag.noneMatchHits(field, etag: etag)
    let strongHits = ETag.matchHits(field, etag: etag)
    if field.elementsEqual(etag.utf8) || (field.count == 1 && field[0] == UInt8(ascii: "*")) {
        precondition(hits && strongHits, "If-(None-)Match with the exact tag or * does not hit")
    }
    precondition(!strongHits || hits, "a strong match that is not a weak one")
    let holds = IfRange.holds(field, etag: etag, lastModified: lastModified)
    if field.elementsEqual(etag.utf8) { precondition(holds, "If-Range with the exact tag does not hold") }
    for method in [HTTPMethod.get, .head, .post] {
        let outcome = Preconditions.evaluate(
            Preconditions.Fields(ifMatch: field, ifUnmodifiedSince: field, ifNoneMatch: field, ifModifiedSince: field),
            method: method, etag: etag, lastModified: lastModified)
        if method == .post { precondition(outcome != .notModified, "304 for a POST") }
    }
    checkDate(field)
}

/// What the server does with a parsed request's fields (HTTPConnectionHandler.respond).
private func checkSemantics(_ head: HTTPRequestHead, _ buffer: UnsafeRawBufferPointer, seed: UInt64) {
    checkResolve(slice(buffer, head.target))
    let size = Int(truncatingIfNeeded: seed >> 8) & 0xFFFFF
    if let range = head.range { checkRange(slice(buffer, range), extraSize: size) }
    if let field = head.ifRange { checkConditionals(slice(buffer, field)) }
    if let field = head.ifNoneMatch { checkConditionals(slice(buffer, field)) }
    if let field = head.ifModifiedSince { checkDate(slice(buffer, field)) }
    if let field = head.ifMatch { checkConditionals(slice(buffer, field)) }
    if let field = head.ifUnmodifiedSince { checkDate(slice(buffer, field)) }
}

/// The same functions on raw lines of the input (after `name:` if there is one), so they also
/// see bytes the parser would have refused.
private func checkSemanticsOnLines(_ input: UnsafeRawBufferPointer, seed: UInt64) {
    var start = 0
    var lines = 0
    while start < input.count && lines < 8 {
        var end = start
        while end < input.count && input[end] != UInt8(ascii: "\n") { end += 1 }
        var lineEnd = end
        if lineEnd > start && input[lineEnd - 1] == UInt8(ascii: "\r") { lineEnd -= 1 }
        var valueStart = start
        while valueStart < lineEnd && input[valueStart] != UInt8(ascii: ":") { valueStart += 1 }
        valueStart = valueStart < lineEnd ? valueStart + 1 : start
        while valueStart < lineEnd && input[valueStart] == UInt8(ascii: " ") { valueStart += 1 }
        let value = slice(input, valueStart..<lineEnd)
        checkResolve(value)
        checkRange(value, extraSize: Int(truncatingIfNeeded: seed >> 12) & 0xFFFF)
        checkConditionals(value)
        start = end + 1
        lines += 1
    }
}

// MARK: the connection

/// What a stream of bytes amounts to: whole requests, then at most one refusal.
private enum Outcome: Equatable {
    /// A head (ranges relative to the request's first byte), the bytes the request took, and
    /// the decoded body's length.
    case request(HTTPRequestHead, consumed: Int, body: Int)
    case error(Int)
}

/// One connection's parser, fed pieces as they arrive, keeping the unconsumed bytes.
private struct Stream {
    var parser: HTTPRequestParser
    let limits: HTTPParserLimits
    var pending: [UInt8] = []
    var outcomes: [Outcome] = []
    var head: HTTPRequestHead?
    var consumed = 0
    var body = 0
    var done = false

    init(limits: HTTPParserLimits) {
        parser = HTTPRequestParser(limits: limits)
        self.limits = limits
    }

    /// Most bytes the parser may leave unconsumed: one head, one request line, or one chunk line.
    var mostPending: Int { max(limits.maxHeaderSection, limits.maxRequestTarget + 44, 4096) }

    mutating func feed(_ bytes: UnsafeRawBufferPointer, seed: UInt64) {
        pending.append(contentsOf: bytes)
        while !done {
            let result = pending.withUnsafeBytes { parser.parse($0) }
            switch result {
            case .needMore:
                precondition(pending.count <= mostPending, "the parser left more than one line unconsumed")
                return
            case .head(let parsed, let n):
                precondition(n > 0 && n <= pending.count, "head consumed nothing, or more than given")
                pending.withUnsafeBytes { checkHead(parsed, consumed: n, in: $0, seed: seed) }
                head = parsed
                consumed = n
                body = 0
                pending.removeFirst(n)
                if !parsed.hasBody { outcomes.append(.request(parsed, consumed: n, body: 0)) }
            case .body(let range, let n), .end(let range, let n):
                precondition(head != nil && head!.hasBody, "body without a head that announced one")
                precondition(n <= pending.count && range.lowerBound >= 0 && range.upperBound <= n, "body range outside")
                body += range.count
                consumed += n
                precondition(body <= limits.maxBody, "decoded body beyond maxBody")
                pending.removeFirst(n)
                if case .end = result {
                    if case .length(let length) = head!.framing { precondition(body == length, "length body miscounted") }
                    outcomes.append(.request(head!, consumed: consumed, body: body))
                    head = nil
                } else {
                    precondition(n > 0, "a body event that consumed nothing")
                }
            case .error(let error):
                precondition(errorStatuses.contains(error.status), "unexpected error status")
                outcomes.append(.error(error.status))
                done = true
            }
        }
    }
}

private func checkHead(_ head: HTTPRequestHead, consumed: Int, in rest: UnsafeRawBufferPointer, seed: UInt64) {
    precondition(!head.target.isEmpty && inside(head.target, consumed), "target outside the head")
    for byte in slice(rest, head.target) {
        precondition(byte > 0x20 && byte < 0x7F, "target holds a space, control or non-ASCII byte")
    }
    for field in [head.host, head.range, head.ifRange, head.ifNoneMatch, head.ifModifiedSince, head.ifMatch,
                  head.ifUnmodifiedSince, head.referer, head.userAgent] {
        precondition(inside(field, consumed), "field range outside the head")
    }
    precondition(head.minorVersion == 0 || head.minorVersion == 1, "minorVersion not 0 or 1")
    checkSemantics(head, rest, seed: seed)
}

private func drive(_ input: UnsafeRawBufferPointer, limits: HTTPParserLimits, seed: UInt64) {
    var whole = Stream(limits: limits)
    whole.feed(input, seed: seed)

    // The same bytes in pieces, cut at points derived from the input.
    var pieces = Stream(limits: limits)
    var state = seed
    var offset = 0
    while offset < input.count {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        let length = 1 + Int(truncatingIfNeeded: state >> 33) % 64
        let end = min(input.count, offset + length)
        pieces.feed(slice(input, offset..<end), seed: seed)
        offset = end
    }
    precondition(pieces.outcomes == whole.outcomes, "fed in pieces, the stream parses differently")

    if input.count <= 256 {
        var trickle = Stream(limits: limits)
        for i in 0..<input.count { trickle.feed(slice(input, i..<(i + 1)), seed: seed) }
        precondition(trickle.outcomes == whole.outcomes, "fed byte by byte, the stream parses differently")
    }
    var total = 0
    for case .request(_, let consumed, _) in whole.outcomes { total += consumed }
    precondition(total <= input.count, "requests consumed more than the input")
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: size > 0 ? UnsafeRawPointer(data) : nil, count: size)
    let seed = hash(input)
    drive(input, limits: serverLimits, seed: seed)
    drive(input, limits: tinyLimits, seed: seed ^ 0x9E37_79B9_7F4A_7C15)
    checkSemanticsOnLines(input, seed: seed)
    return 0
}

/// The program's entry point. On Linux SwiftPM links an executable with `--defsym
/// main=<Module>_main` (so tests can link it) and `-parse-as-library` emits no main, so libFuzzer's
/// own `main` is never used: this is that symbol, and it hands over to libFuzzer's driver.
@_cdecl("FuzzHTTPParser_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        guard let data else { return fuzz(UnsafePointer(bitPattern: 1)!, 0) }
        return fuzz(data, size)
    }
}
