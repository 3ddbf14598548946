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
}
