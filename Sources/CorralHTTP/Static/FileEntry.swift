import CorralRuntime

/// A servable regular file and what its responses need, rendered once: the header fields of a
/// 200, and the validators 304 and 206 responses repeat. Immutable but for the cache's
/// bookkeeping: a changed file gets a new entry.
final class FileEntry {
    enum Body {
        /// Small files: the bytes, read once (their descriptor is closed).
        case memory(ByteChunk)
        /// Larger files: the open descriptor, sent from with sendfile(2).
        case file(OpenFile)
    }

    /// The cache key: the normalised request path.
    let key: String
    /// The file actually served (for a directory, its index.html).
    let servedPath: String
    let status: FileStatus
    let body: Body
    /// `ETag.make`'s strong tag of size and mtime: changes whenever the file is replaced or edited.
    let etag: String
    let contentType: String
    /// Last-Modified, as seconds since the epoch.
    var lastModified: Int { status.modifiedSeconds }
    /// The header fields of a 200 response (after Date), each ending in CRLF.
    let fields200: [UInt8]
    /// Last-Modified and ETag, for 304 and 206 responses.
    let validators: [UInt8]

    // Cache bookkeeping, touched by `FileStore` only (loop thread), on every lookup: no
    // dynamic exclusivity checks (see FileStore).
    /// Loop time (ns) at which the path was last checked against the file system.
    @exclusivity(unchecked) var checkedAt: UInt64 = 0
    /// Loop time (ns) of the last lookup, for idle expiry.
    @exclusivity(unchecked) var usedAt: UInt64 = 0
    /// Neighbours in the cache's recency list (`newer` towards the most recently used).
    @exclusivity(unchecked) var newer: FileEntry?
    @exclusivity(unchecked) var older: FileEntry?

    init(key: String, servedPath: String, status: FileStatus, body: Body) {
        self.key = key
        self.servedPath = servedPath
        self.status = status
        self.body = body
        etag = ETag.make(
            size: status.size, modifiedSeconds: status.modifiedSeconds, modifiedNanoseconds: status.modifiedNanoseconds)
        contentType = MediaType.forPath(servedPath)
        let lastModified = HTTPDate.format(status.modifiedSeconds)
        fields200 = Array((
            "Content-Type: \(contentType)\r\nContent-Length: \(status.size)\r\n"
            + "Last-Modified: \(lastModified)\r\nETag: \(etag)\r\nAccept-Ranges: bytes\r\n").utf8)
        validators = Array("Last-Modified: \(lastModified)\r\nETag: \(etag)\r\n".utf8)
    }

    /// Whether `other` describes the same bytes as this entry's validators (same size and
    /// modification time, the inputs of the ETag).
    func describesSameContent(as other: FileStatus) -> Bool {
        status.size == other.size && status.modifiedSeconds == other.modifiedSeconds
            && status.modifiedNanoseconds == other.modifiedNanoseconds
    }

    /// Whether the descriptor is held open (it counts toward the cache's descriptor budget).
    var holdsDescriptor: Bool {
        if case .file = body { return true }
        return false
    }

    /// Memory the entry keeps alive, roughly (body and rendered fields).
    var memoryCost: Int {
        switch body {
        case .memory(let chunk): chunk.count + 512
        case .file: 512
        }
    }
}
