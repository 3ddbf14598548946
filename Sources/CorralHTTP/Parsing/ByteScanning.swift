import Glibc

/// Small byte-level helpers shared by the parser and the semantics helpers.
enum ASCII {
    static let cr = UInt8(ascii: "\r"), lf = UInt8(ascii: "\n"), sp = UInt8(ascii: " "), ht = UInt8(ascii: "\t")
    static let colon = UInt8(ascii: ":"), comma = UInt8(ascii: ","), semicolon = UInt8(ascii: ";")
    static let quote = UInt8(ascii: "\""), slash = UInt8(ascii: "/")

    @inline(__always) static func isWhitespace(_ byte: UInt8) -> Bool { byte == sp || byte == ht }

    @inline(__always) static func isDigit(_ byte: UInt8) -> Bool { byte &- 0x30 < 10 }

    /// RFC 9110 §5.6.2 tchar: `!#$%&'*+-.^_`|~`, digits and letters. A bit per ASCII byte (two
    /// 64-bit masks), since it is asked of every byte of every method and field name.
    @inline(__always) static func isToken(_ byte: UInt8) -> Bool { inMask(byte, tokenLow, tokenHigh) }

    /// The characters of a URI host and port (reg-name, IPv4, IP-literal, `:`): see
    /// `HTTPRequestParser.isValidHost`.
    @inline(__always) static func isHostCharacter(_ byte: UInt8) -> Bool { inMask(byte, hostLow, hostHigh) }

    @inline(__always) private static func inMask(_ byte: UInt8, _ low: UInt64, _ high: UInt64) -> Bool {
        guard byte < 128 else { return false }
        let word = byte < 64 ? low : high
        return (word >> UInt64(byte & 63)) & 1 == 1
    }

    // Bit n of low (n < 64) or high (n - 64) is set for each byte n in the set. Literals, not
    // computed, so no lazy initialisation (swift_once) is paid per use. Checked in
    // ByteScanningTests against the character lists.
    /// `!#$%&'*+-.^_`|~`, digits, letters.
    static let tokenLow: UInt64 = 0x03FF_6CFA_0000_0000, tokenHigh: UInt64 = 0x57FF_FFFF_C7FF_FFFE
    /// `-._~%!$&'()*+,;=:[]`, digits, letters.
    static let hostLow: UInt64 = 0x2FFF_7FF2_0000_0000, hostHigh: UInt64 = 0x47FF_FFFE_AFFF_FFFE

    static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): Int(byte - 0x30)
        case UInt8(ascii: "a")...UInt8(ascii: "f"): Int(byte - 0x61 + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): Int(byte - 0x41 + 10)
        default: nil
        }
    }

    /// A non-negative decimal without sign or spaces, at most 15 digits (no overflow possible).
    static func decimal(_ digits: UnsafeRawBufferPointer) -> Int? {
        guard !digits.isEmpty, digits.count <= 15 else { return nil }
        var value = 0
        for byte in digits {
            guard isDigit(byte) else { return nil }
            value = value * 10 + Int(byte - 0x30)
        }
        return value
    }

    /// The offset of the first `byte` in `buffer[from...]`, or nil (memchr: fast on long heads).
    @inline(__always) static func find(_ byte: UInt8, in buffer: UnsafeRawBufferPointer, from: Int) -> Int? {
        guard from < buffer.count, let base = buffer.baseAddress else { return nil }
        guard let hit = memchr(base + from, Int32(byte), buffer.count - from) else { return nil }
        return base.distance(to: UnsafeRawPointer(hit))
    }
}

extension UnsafeRawBufferPointer {
    /// ASCII case-insensitive comparison with a lowercase literal. Inlined: the parser asks it
    /// of every known field name, and with the literal's length known the length test that
    /// rejects most candidates costs no call.
    @inline(__always) func caseInsensitiveEquals(_ lowercase: StaticString) -> Bool {
        guard count == lowercase.utf8CodeUnitCount else { return false }
        let other = lowercase.utf8Start
        for i in 0..<count {
            var byte = self[i]
            if byte >= 0x41 && byte <= 0x5A { byte |= 0x20 }
            if byte != other[i] { return false }
        }
        return true
    }

    /// The bytes at `range`, without copying.
    @inline(__always) func slice(_ range: Range<Int>) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: self[range])
    }
}

extension ASCII {
    /// Appends the decimal digits of `value` (negative values get a `-`), without a String.
    static func appendDecimal(_ value: Int, to out: inout [UInt8]) {
        if value < 0 {
            out.append(UInt8(ascii: "-"))
            appendUnsigned(UInt(value.magnitude), radix: 10, to: &out)
        } else {
            appendUnsigned(UInt(value), radix: 10, to: &out)
        }
    }

    /// Appends lowercase hexadecimal digits of `value`.
    static func appendHex(_ value: UInt, to out: inout [UInt8]) { appendUnsigned(value, radix: 16, to: &out) }

    private static func appendUnsigned(_ value: UInt, radix: UInt, to out: inout [UInt8]) {
        withDigits(of: value, radix: radix) { out.append(contentsOf: $0) }
    }

    /// The digits of `value` in `radix` (lowercase), rendered on the stack and handed to `body`:
    /// the one number renderer, for arrays and raw buffers (response heads) alike.
    static func withDigits(of value: UInt, radix: UInt = 10, _ body: (UnsafeRawBufferPointer) -> Void) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: enough for 20 decimal digits
        var count = 0
        var rest = value
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                let digit = UInt8(truncatingIfNeeded: rest % radix)
                buffer[23 - count] = digit < 10 ? digit + 0x30 : digit - 10 + 0x61
                count += 1
                rest /= radix
            } while rest > 0
            body(UnsafeRawBufferPointer(rebasing: buffer[(24 - count)...]))
        }
    }

    /// Appends a static string's bytes.
    @inline(__always) static func append(_ text: StaticString, to out: inout [UInt8]) {
        out.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }
}
