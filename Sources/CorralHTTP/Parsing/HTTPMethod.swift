/// The request methods the server tells apart. Any other syntactically valid token is
/// `.other`: that is not a parse error, the server decides (a static server answers 501).
public enum HTTPMethod: Sendable, Equatable, Hashable {
    case get, head, post, put, delete, options, trace, connect, patch, other

    /// Methods are case-sensitive (RFC 9110 §9.1): `get` is `.other`.
    init(_ token: UnsafeRawBufferPointer) {
        switch token.count {
        case 3: self = token.elementsEqual("GET".utf8) ? .get : token.elementsEqual("PUT".utf8) ? .put : .other
        case 4: self = token.elementsEqual("HEAD".utf8) ? .head : token.elementsEqual("POST".utf8) ? .post : .other
        case 5: self = token.elementsEqual("TRACE".utf8) ? .trace : token.elementsEqual("PATCH".utf8) ? .patch : .other
        case 6: self = token.elementsEqual("DELETE".utf8) ? .delete : .other
        case 7:
            self = token.elementsEqual("OPTIONS".utf8) ? .options : token.elementsEqual("CONNECT".utf8) ? .connect : .other
        default: self = .other
        }
    }
}
