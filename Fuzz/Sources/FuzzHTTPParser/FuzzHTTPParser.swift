// libFuzzer entry point for CorralHTTP's request parser and the request semantics the server
// applies to what it parses. Built with `-sanitize=fuzzer,address -parse-as-library`: libFuzzer
// supplies `main`. Every invariant violation traps (precondition), which libFuzzer reports as a
// crash and saves the input.
//
// One input is the byte stream a client sent on one connection. It is driven as
// HTTPConnectionHandler drives it: parse the unconsumed bytes, and after each `.request`
// continue right after `consumed`, until `.needMore` or `.error`. For each request:
// - a fresh parser fed the remaining bytes at once is the reference;
// - the connection's long-lived parser is fed the same bytes in growing prefixes (cut at
//   pseudo-random points derived from the input, and one byte at a time for short inputs)
//   before the whole, and must end with the reference's result, while every prefix that did
//   not answer `.needMore` must agree with it;
// - the head's ranges, `consumed` and `bodyLength` must stay within the buffer and the limits;
// - RequestPath.resolve, Conditional.byteRange / noneMatchHits / ifRangeHolds and
//   HTTPDate.parse run on the fields they would run on in the server, with their own invariants.
// Everything runs twice: with the server's limits and with tiny ones (so the 413/414/431
// paths are reachable within -max_len=4096).

import CFuzzDriver
import CorralHTTP

// MARK: limits

private let serverLimits: HTTPParserLimits = {
    var limits = HTTPParserLimits()
    limits.maxBody = 64 * 1024  // as HTTPConnectionHandler sets it
    return limits
}()

private let tinyLimits: HTTPParserLimits = {
    var limits = HTTPParserLimits()
    limits.maxRequestTarget = 48
    limits.maxHeadSize = 300
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
    for segment in bytes.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false) {
        precondition(!segment.elementsEqual("..".utf8), "resolved path has a .. segment")
        precondition(!segment.elementsEqual(".".utf8), "resolved path has a . segment")
        precondition(!segment.isEmpty || bytes.isEmpty, "resolved path has an empty segment")
    }
    _ = MediaType.forPath(path)
}

private func checkRange(_ field: UnsafeRawBufferPointer, extraSize: Int) {
    for size in [0, 1, 2, 100, extraSize, Int.max / 2] {
        switch Conditional.byteRange(field, size: size) {
        case .full, .unsatisfiable: break
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
    let hits = Conditional.noneMatchHits(field, etag: etag)
    if field.elementsEqual(etag.utf8) || (field.count == 1 && field[0] == UInt8(ascii: "*")) {
        precondition(hits, "If-None-Match with the exact tag or * does not hit")
    }
    let holds = Conditional.ifRangeHolds(field, etag: etag, lastModified: lastModified)
    if field.elementsEqual(etag.utf8) { precondition(holds, "If-Range with the exact tag does not hold") }
    checkDate(field)
}

/// What the server does with a parsed request's fields (HTTPConnectionHandler.respond).
private func checkSemantics(_ head: RequestHead, _ buffer: UnsafeRawBufferPointer, seed: UInt64) {
    checkResolve(slice(buffer, head.target))
    let size = Int(truncatingIfNeeded: seed >> 8) & 0xFFFFF
    if let range = head.range { checkRange(slice(buffer, range), extraSize: size) }
    if let field = head.ifRange { checkConditionals(slice(buffer, field)) }
    if let field = head.ifNoneMatch { checkConditionals(slice(buffer, field)) }
    if let field = head.ifModifiedSince { checkDate(slice(buffer, field)) }
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

private func checkRequest(_ head: RequestHead, consumed: Int, in rest: UnsafeRawBufferPointer,
                          limits: HTTPParserLimits, seed: UInt64)
{
    precondition(consumed > 0, "request consumed nothing")
    precondition(consumed <= rest.count, "request consumed more than the buffer")
    precondition(!head.target.isEmpty && inside(head.target, consumed), "target outside the request")
    precondition(head.target.count <= limits.maxRequestTarget, "target longer than maxRequestTarget")
    for byte in slice(rest, head.target) {
        precondition(byte > 0x20 && byte < 0x7F, "target holds a space, control or non-ASCII byte")
    }
    precondition(inside(head.range, consumed) && inside(head.ifRange, consumed)
                     && inside(head.ifNoneMatch, consumed) && inside(head.ifModifiedSince, consumed),
                 "field range outside the request")
    precondition(head.bodyLength >= 0 && head.bodyLength <= limits.maxBody, "bodyLength beyond maxBody")
    precondition(head.bodyLength < consumed, "bodyLength not smaller than consumed")
    precondition(head.minorVersion == 0 || head.minorVersion == 1, "minorVersion not 0 or 1")
    checkSemantics(head, rest, seed: seed)
}

private func checkPrefix(_ partial: RequestParser.Result, against whole: RequestParser.Result) {
    switch partial {
    case .needMore:
        break
    case .request:
        // A request complete within a prefix is the same request in the whole.
        precondition(partial == whole, "request in a prefix differs from the whole")
    case .error:
        // Refusing early is fine, but only if the whole is refused too.
        guard case .error = whole else { preconditionFailure("error in a prefix, none in the whole") }
    }
}

private func drive(_ input: UnsafeRawBufferPointer, limits: HTTPParserLimits, seed: UInt64) {
    var connection = RequestParser(limits: limits)  // lives as long as the connection
    var offset = 0
    var requests = 0
    var seed = seed
    while offset < input.count {
        let rest = slice(input, offset..<input.count)
        var reference = RequestParser(limits: limits)
        let whole = reference.parse(rest)

        // Growing prefixes, then the whole, on the connection's parser.
        seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        let first = Int(truncatingIfNeeded: seed >> 33) % (rest.count + 1)
        let second = first + Int(truncatingIfNeeded: seed >> 13 & 0xFFFFF) % (rest.count - first + 1)
        for cut in [first, second] where cut < rest.count {
            checkPrefix(connection.parse(slice(rest, 0..<cut)), against: whole)
        }
        precondition(connection.parse(rest) == whole, "prefix-then-whole differs from the whole at once")

        // One byte at a time (short inputs), on a parser of its own.
        if rest.count <= 256 {
            var trickle = RequestParser(limits: limits)
            var last = RequestParser.Result.needMore
            for end in 1...rest.count {
                last = trickle.parse(slice(rest, 0..<end))
                if last != .needMore { break }
            }
            checkPrefix(last, against: whole)
            if last == .needMore { precondition(whole == .needMore, "byte-at-a-time still needs more") }
        }

        switch whole {
        case .needMore:
            return
        case .error(let error):
            precondition(errorStatuses.contains(error.status), "unexpected error status")
            return
        case .request(let head, let consumed):
            checkRequest(head, consumed: consumed, in: rest, limits: limits, seed: seed)
            offset += consumed
            requests += 1
            precondition(requests <= input.count, "more requests than bytes")
        }
    }
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
