import HTTPTypes

/// The request methods the parser tells apart, as a compact enum (compared on every request
/// without touching a string). Any other syntactically valid token is `.other`: that is not a
/// parse error, the server decides (a route for that token, or 501). Handlers see the method as
/// swift-http-types' `HTTPRequest.Method`.
@_spi(Internals)
public enum HTTPMethod: Int, Sendable, Equatable, Hashable {
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

    init(token: String) {
        var token = token
        self = token.withUTF8 { HTTPMethod(UnsafeRawBufferPointer($0)) }
    }

    /// Every method but `.other`.
    static let allKnown: [HTTPMethod] = [.get, .head, .post, put, .delete, .options, .trace, .connect, .patch]
    static var knownCount: Int { 9 }
    var index: Int { rawValue }

    /// The method's token (`GET`); "" for `.other`.
    var token: String {
        switch self {
        case .get: "GET"
        case .head: "HEAD"
        case .post: "POST"
        case .put: "PUT"
        case .delete: "DELETE"
        case .options: "OPTIONS"
        case .trace: "TRACE"
        case .connect: "CONNECT"
        case .patch: "PATCH"
        case .other: ""
        }
    }

    /// The method as swift-http-types has it (`.other` needs its token).
    func httpTypesMethod(token: () -> UnsafeRawBufferPointer) -> HTTPRequest.Method {
        switch self {
        case .get: .get
        case .head: .head
        case .post: .post
        case .put: .put
        case .delete: .delete
        case .options: .options
        case .trace: .trace
        case .connect: .connect
        case .patch: .patch
        case .other: HTTPRequest.Method(String(decoding: token(), as: UTF8.self)) ?? .get
        }
    }
}
