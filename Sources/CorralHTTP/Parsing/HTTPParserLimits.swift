/// Limits on what one request may make the server buffer. Each has the status RFC 9110 gives it.
public struct HTTPParserLimits: Sendable, Equatable {
    /// Longest request-target, in bytes (414 beyond).
    public var maxRequestTarget = 8 * 1024
    /// Longest head: request line, header fields and the blank line, plus any empty lines
    /// before the request line (431 beyond). Also bounds a chunked body's trailer section.
    /// (A head's offsets are stored in 32 bits: more than 4 GiB is taken as 4 GiB.)
    public var maxHeaderSection = 16 * 1024
    /// Most header field lines (431 beyond).
    public var maxHeaderCount = 100
    /// Largest body (413 beyond): its Content-Length, or every byte of its chunked encoding
    /// (sizes, extensions, CRLFs and data). Bodies are streamed, never buffered whole, so this
    /// bounds time and bandwidth spent on a request, not memory.
    public var maxBody = 1024 * 1024

    public init() {}

    /// `maxHeaderSection`, as the parser applies it.
    var headLimit: Int { min(maxHeaderSection, Int(UInt32.max) - 1) }

    public init(maxRequestTarget: Int = 8 * 1024, maxHeaderSection: Int = 16 * 1024, maxHeaderCount: Int = 100,
                maxBody: Int = 1024 * 1024) {
        self.maxRequestTarget = maxRequestTarget
        self.maxHeaderSection = maxHeaderSection
        self.maxHeaderCount = maxHeaderCount
        self.maxBody = maxBody
    }
}
