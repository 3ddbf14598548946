import CorralRuntime

/// One loop's view of the served tree: small files cached in memory with their response
/// headers pre-rendered, large files kept open for sendfile. Entries are revalidated against
/// the file (re-opened beneath the root and fstat'ed) at most once per second, so an edited
/// file is served fresh within a second. Loop-thread only, so no locks.
final class FileStore {
    private let rootFD: CInt
    private let maxCachedFileSize: Int
    private let maxCacheBytes: Int
    private var entries: [String: FileEntry] = [:]
    private var cachedBytes = 0

    enum Lookup {
        case found(FileEntry)
        case notFound
    }

    init(rootFD: CInt, maxCachedFileSize: Int, maxCacheBytes: Int) {
        self.rootFD = rootFD
        self.maxCachedFileSize = maxCachedFileSize
        self.maxCacheBytes = maxCacheBytes
    }

    /// The file for a normalised path relative to the root ("" is the root itself).
    /// `now` is a monotonic second count.
    func lookup(_ path: String, now: UInt64) -> Lookup {
        if let entry = entries[path] {
            if now &- entry.checkedAt < 1 { return .found(entry) }
            if let fresh = try? load(path), fresh.status == entry.status {
                entry.checkedAt = now
                return .found(entry)
            }
            remove(path)
        }
        guard let entry = try? load(path) else { return .notFound }
        entry.checkedAt = now
        insert(entry, for: path)
        return .found(entry)
    }

    /// Opens the path beneath the root; a directory stands for its index.html.
    private func load(_ path: String) throws -> FileEntry {
        var fd = try Files.openBeneath(rootFD, path)
        var status = try Files.status(fd)
        var served = path
        if status.isDirectory {
            Posix.close(fd)
            served = path.isEmpty ? "index.html" : path + "/index.html"
            fd = try Files.openBeneath(rootFD, served)
            status = try Files.status(fd)
        }
        guard status.isRegular else {
            Posix.close(fd)
            throw SystemError("open (not a regular file)", errno: .notPermitted)
        }
        let file = OpenFile(adopting: fd)
        if status.size <= maxCachedFileSize {
            let bytes = try Files.readAll(fd, count: status.size)
            return FileEntry(path: served, status: status, body: .memory(ByteChunk(bytes)))
        }
        return FileEntry(path: served, status: status, body: .file(file))
    }

    private func insert(_ entry: FileEntry, for path: String) {
        if entries.count >= 10_000 || cachedBytes + entry.memoryCost > maxCacheBytes {
            // Bounded memory beats clever eviction here: start over.
            entries.removeAll(keepingCapacity: true)
            cachedBytes = 0
        }
        entries[path] = entry
        cachedBytes += entry.memoryCost
    }

    private func remove(_ path: String) {
        if let old = entries.removeValue(forKey: path) { cachedBytes -= old.memoryCost }
    }
}

/// A servable file and what its responses need.
final class FileEntry {
    enum Body {
        case memory(ByteChunk)
        case file(OpenFile)
    }

    let path: String
    let status: FileStatus
    let body: Body
    var checkedAt: UInt64 = 0
    /// `ETag.make`'s strong tag of size and mtime: changes whenever the file is replaced or edited.
    let etag: String
    let contentType: String

    init(path: String, status: FileStatus, body: Body) {
        self.path = path
        self.status = status
        self.body = body
        self.etag = ETag.make(
            size: status.size, modifiedSeconds: status.modifiedSeconds, modifiedNanoseconds: status.modifiedNanoseconds)
        self.contentType = MediaType.forPath(path)
        self.lastModified = HTTPDate.format(status.modifiedSeconds)
        self.fields200 = Array((
            "Content-Type: \(contentType)\r\nContent-Length: \(status.size)\r\n"
            + "Last-Modified: \(lastModified)\r\nETag: \(etag)\r\nAccept-Ranges: bytes\r\n").utf8)
        self.validators = Array("Last-Modified: \(lastModified)\r\nETag: \(etag)\r\n".utf8)
    }

    let lastModified: String
    /// The header fields of a 200 response after Date, pre-rendered once.
    let fields200: [UInt8]
    /// Last-Modified and ETag, for 304 and 206 responses.
    let validators: [UInt8]

    var memoryCost: Int {
        switch body {
        case .memory(let chunk): chunk.count + 256
        case .file: 256
        }
    }
}
