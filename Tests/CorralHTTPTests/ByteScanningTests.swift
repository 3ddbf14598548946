import Testing
@_spi(Internals) @testable import CorralHTTP

@Suite struct ByteScanningTests {
    /// The bit masks behind `isToken` and `isHostCharacter` hold exactly their character lists.
    @Test func characterClassesMatchTheirDefinitions() {
        let token = Set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
        let host = Set("-._~%!$&'()*+,;=:[]0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
        for byte in UInt8.min...UInt8.max {
            #expect(ASCII.isToken(byte) == token.contains(byte), "token \(byte)")
            #expect(ASCII.isHostCharacter(byte) == host.contains(byte), "host \(byte)")
        }
    }

    /// Field values are checked eight bytes at a time: the same verdict as byte by byte, for
    /// every byte at every position of a word and of the tail, and for values mixing the bytes
    /// at the edges of the allowed ranges (several in one word: HTAB next to a control, a
    /// borrow across bytes).
    @Test func fieldValuesAreCheckedAsByteByByte() {
        func reference(_ bytes: [UInt8]) -> Bool {
            bytes.allSatisfy { ($0 >= 0x20 || $0 == 0x09) && $0 != 0x7F }
        }
        func swar(_ bytes: [UInt8], offset: Int) -> Bool {
            let padded = [UInt8](repeating: 0, count: offset) + bytes + [0, 0x7F]  // invalid bytes around it
            return padded.withUnsafeBytes { HeaderField.isValidValue($0, offset..<(offset + bytes.count)) }
        }
        for background in [UInt8(ascii: "a"), 0xFF, 0x20] {
            for length in [1, 7, 8, 9, 15, 16, 20] {
                for position in 0..<length {
                    for byte in UInt8.min...UInt8.max {
                        var value = [UInt8](repeating: background, count: length)
                        value[position] = byte
                        #expect(swar(value, offset: position % 3) == reference(value), "\(value)")
                    }
                }
            }
        }
        let edges: [UInt8] = [0x00, 0x01, 0x08, 0x09, 0x0A, 0x1F, 0x20, 0x21, 0x7E, 0x7F, 0x80, 0x81, 0xFE, 0xFF, 0x61]
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        for round in 0..<20_000 {
            var value: [UInt8] = []
            for _ in 0..<(1 + round % 24) {
                seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                // Mostly allowed bytes, so that whole valid words occur too.
                value.append(seed >> 60 < 12 ? 0x61 : edges[Int(seed >> 33) % edges.count])
            }
            #expect(swar(value, offset: round % 5) == reference(value), "\(value)")
        }
        let empty: [UInt8] = []
        #expect(empty.withUnsafeBytes { HeaderField.isValidValue($0, 0..<0) })
    }
}
