/// The request methods the server tells apart. Any other syntactically valid token is
/// `.other`: that is not a parse error, the server decides (a static server answers 501).
public enum HTTPMethod: Sendable, Equatable, Hashable {
    case get, head, post, put, delete, options, trace, connect, patch, other

    /// Methods are case-sensitive (RFC 9110 §9.1): `get` is `.other`.
    init(_ token: UnsafeRawBufferPointer) {
        func equals(_ name: StaticString) -> Bool {
            guard token.count == name.utf8CodeUnitCount else { return false }
            let bytes = name.utf8Start
            for i in 0..<token.count where token[i] != bytes[i] { return false }
            return true
        }
        switch token.count {
        case 3: self = equals("GET") ? .get : equals("PUT") ? .put : .other
        case 4: self = equals("HEAD") ? .head : equals("POST") ? .post : .other
        case 5: self = equals("TRACE") ? .trace : equals("PATCH") ? .patch : .other
        case 6: self = equals("DELETE") ? .delete : .other
        case 7: self = equals("OPTIONS") ? .options : equals("CONNECT") ? .connect : .other
        default: self = .other
        }
    }
}
