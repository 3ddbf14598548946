import CorralRuntime

/// Limits of one loop's file cache.
struct FileCacheLimits {
    /// Files up to this size are kept in memory; larger ones stay open for sendfile(2).
    var maxCachedFileSize: Int
    /// Memory the cached bodies and rendered fields may take.
    var maxBytes: Int
    /// Descriptors the cache may keep open (this loop's share of the server's budget).
    var maxOpenFiles: Int
    /// Most entries, whatever they hold.
    var maxEntries = 10_000
    /// An entry unused this long is dropped (and its descriptor closed).
    var idleNanoseconds: UInt64 = 5_000_000_000
    /// How often a cached path is checked against the file system (a replaced file is noticed
    /// within this time; an edited file served by sendfile is noticed at once, see `lookup`).
    var revalidateNanoseconds: UInt64 = 1_000_000_000
}

/// One loop's view of the served tree: small files cached in memory with their response
/// headers pre-rendered, larger files kept open for sendfile, least recently used evicted
/// first. Loop-thread only, so no locks.
///
/// What a response says about a file always describes the bytes it carries:
/// - a memory entry is a snapshot whose validators come from an fstat(2) that agreed before
///   and after the read;
/// - an open file is fstat'ed before every response sent from it (one syscall, cheaper than
///   keeping inotify watches; BENCHMARKS.md), so an in-place edit gets new validators at once;
/// - the path is re-opened at most once per `revalidateNanoseconds` to notice a replacement
///   (a rename or a new inode); until then the old file's own bytes and validators are served.
///
/// Descriptors are bounded: at most `maxOpenFiles` entries hold one, idle ones are closed
/// after `idleNanoseconds`, and an open that fails with EMFILE/ENFILE evicts the least
/// recently used descriptor and tries once more.
final class FileStore {
    // Loop-bound; looked up once per request. No access spans a call that could reach the
    // store again, so the dynamic exclusivity checks are off for the per-request state.
    private var rootFD: CInt
    private let limits: FileCacheLimits
    @exclusivity(unchecked) private var entries: [String: FileEntry] = [:]
    /// Recency of the entries held in memory, and of those holding a descriptor (kept apart
    /// so that evicting a descriptor never walks past memory entries).
    @exclusivity(unchecked) private var inMemory = RecencyList()
    @exclusivity(unchecked) private var descriptors = RecencyList()
    private(set) var cachedBytes = 0
    /// Entries holding an open descriptor.
    private(set) var openDescriptors = 0

    init(rootFD: CInt, limits: FileCacheLimits) {
        self.rootFD = rootFD
        self.limits = limits
    }

    deinit { removeAll() }

    var count: Int { entries.count }

    /// The file for a normalised path relative to the root ("" is the root; a trailing `/`
    /// marks a directory path). `now` is the loop's monotonic time in nanoseconds.
    func lookup(_ path: String, now: UInt64) -> FileLookup {
        if let entry = entries[path] {
            switch revalidate(entry, path: path, now: now) {
            case .some(let result): return result
            case .none: break  // gone or replaced: load afresh below
            }
        }
        let result = load(path)
        if case .file(let entry) = result {
            entry.checkedAt = now
            entry.usedAt = now
            insert(entry)
        }
        return result
    }

    /// A cached entry still fit to serve, refreshed if its file changed in place; nil when the
    /// path must be loaded again.
    private func revalidate(_ entry: FileEntry, path: String, now: UInt64) -> FileLookup? {
        var current = entry
        if case .file(let file) = entry.body {
            // The bytes sendfile will send are the descriptor's now: their validators must be too.
            guard let status = try? Files.status(file.fd) else {
                remove(entry)
                return nil
            }
            if !entry.describesSameContent(as: status) {
                current = FileEntry(key: entry.key, servedPath: entry.servedPath, status: status, body: entry.body)
                current.checkedAt = entry.checkedAt
                replace(entry, with: current)
            }
        }
        if now &- current.checkedAt >= limits.revalidateNanoseconds {
            guard pathStillNames(current) else {
                remove(current)
                return nil
            }
            current.checkedAt = now
        }
        current.usedAt = now
        touch(current)
        return .file(current)
    }

    /// Whether the entry's path still names the same, unchanged file (open, fstat, close).
    private func pathStillNames(_ entry: FileEntry) -> Bool {
        guard let fd = try? open(entry.servedPath) else { return false }
        defer { Posix.close(fd) }
        guard let status = try? Files.status(fd) else { return false }
        return status.inode == entry.status.inode && entry.describesSameContent(as: status)
    }

    /// Opens and reads the path: a directory stands for its index.html when the path ends in
    /// `/` (or is the root), and is a redirect otherwise.
    private func load(_ path: String) -> FileLookup {
        do {
            var fd = try open(path)
            var status = try statusOrClose(fd)
            var served = path
            if status.isDirectory {
                Posix.close(fd)
                guard path.isEmpty || path.hasSuffix("/") else { return .directory }
                served = path + "index.html"
                do {
                    fd = try open(served)
                } catch let error where error.errno == .noSuchFileOrDirectory {
                    return .failure(.forbidden)  // no index and no listing: nginx's 403
                }
                status = try statusOrClose(fd)
            }
            guard status.isRegular else {
                Posix.close(fd)
                return .failure(.notFound)
            }
            return .file(try makeEntry(key: path, servedPath: served, fd: fd, status: status))
        } catch {
            return .failure(FileFailure.from(error))
        }
    }

    private func statusOrClose(_ fd: CInt) throws(SystemError) -> FileStatus {
        do {
            return try Files.status(fd)
        } catch {
            Posix.close(fd)
            throw error
        }
    }

    /// Opens beneath the root; out of descriptors, it closes the least recently used cached
    /// one and tries once more.
    private func open(_ path: String) throws(SystemError) -> CInt {
        do {
            return try Files.openBeneath(rootFD, path)
        } catch where error.errno == .tooManyOpenFiles || error.errno == .tooManyOpenFilesInSystem {
            guard evictOldestDescriptor() else { throw error }
            return try Files.openBeneath(rootFD, path)
        }
    }

    /// The entry for an open regular file (takes the descriptor). Small files are read into
    /// memory, with validators from an fstat that agrees before and after the read.
    private func makeEntry(key: String, servedPath: String, fd: CInt, status: FileStatus) throws(SystemError) -> FileEntry {
        let file = OpenFile(adopting: fd)
        guard status.size <= limits.maxCachedFileSize else {
            return FileEntry(key: key, servedPath: servedPath, status: status, body: .file(file))
        }
        var before = status
        for _ in 0..<3 {
            let bytes = try Files.readAll(fd, count: before.size)
            let after = try Files.status(fd)
            if after.size == before.size && after.modifiedSeconds == before.modifiedSeconds
                && after.modifiedNanoseconds == before.modifiedNanoseconds
            {
                return FileEntry(key: key, servedPath: servedPath, status: after, body: .memory(ByteChunk(bytes)))
            }
            before = after  // written to while we read: read again
            guard before.size <= limits.maxCachedFileSize else { break }
        }
        // Still changing (or grown past the memory limit): serve it from the descriptor, whose
        // validators are checked before every response.
        return FileEntry(key: key, servedPath: servedPath, status: before, body: .file(file))
    }

    // MARK: the cache

    private func insert(_ entry: FileEntry) {
        if let old = entries[entry.key] { remove(old) }
        if entry.holdsDescriptor {
            while openDescriptors >= limits.maxOpenFiles, let victim = descriptors.oldest { remove(victim) }
        }
        while entries.count >= limits.maxEntries || cachedBytes + entry.memoryCost > limits.maxBytes,
            let victim = oldestOfAll
        {
            remove(victim)
        }
        guard entries.count < limits.maxEntries, cachedBytes + entry.memoryCost <= limits.maxBytes,
            !entry.holdsDescriptor || openDescriptors < limits.maxOpenFiles
        else {
            return  // not cacheable under these limits: served once, then closed
        }
        entries[entry.key] = entry
        cachedBytes += entry.memoryCost
        if entry.holdsDescriptor {
            openDescriptors += 1
            descriptors.linkAsNewest(entry)
        } else {
            inMemory.linkAsNewest(entry)
        }
    }

    private func replace(_ old: FileEntry, with new: FileEntry) {
        remove(old)
        insert(new)
    }

    private func remove(_ entry: FileEntry) {
        guard entries[entry.key] === entry else { return }
        entries[entry.key] = nil
        cachedBytes -= entry.memoryCost
        if entry.holdsDescriptor {
            openDescriptors -= 1
            descriptors.unlink(entry)
        } else {
            inMemory.unlink(entry)
        }
    }

    private func touch(_ entry: FileEntry) {
        if entry.holdsDescriptor { descriptors.touch(entry) } else { inMemory.touch(entry) }
    }

    /// The least recently used entry of either kind.
    private var oldestOfAll: FileEntry? {
        switch (inMemory.oldest, descriptors.oldest) {
        case (let a?, let b?): a.usedAt <= b.usedAt ? a : b
        case (let a, let b): a ?? b
        }
    }

    /// Drops entries unused for `idleNanoseconds` (called by the loop's tick).
    func expireIdle(now: UInt64) {
        while let entry = inMemory.oldest, now &- entry.usedAt >= limits.idleNanoseconds { remove(entry) }
        while let entry = descriptors.oldest, now &- entry.usedAt >= limits.idleNanoseconds { remove(entry) }
    }

    /// Drops every entry (their descriptors close once no response still sends from them).
    func removeAll() {
        while let entry = oldestOfAll { remove(entry) }
    }

    /// Serves from another root from now on (a reload); the cache starts empty.
    func replaceRoot(_ fd: CInt) {
        removeAll()
        rootFD = fd
    }

    private func evictOldestDescriptor() -> Bool {
        guard let victim = descriptors.oldest else { return false }
        remove(victim)
        return true
    }
}

/// A least-recently-used order over cache entries, linked through the entries themselves
/// (no allocation per use): `newest` was used last, `oldest` goes first.
private struct RecencyList {
    private(set) var newest: FileEntry?
    private(set) var oldest: FileEntry?

    mutating func touch(_ entry: FileEntry) {
        guard newest !== entry else { return }
        unlink(entry)
        linkAsNewest(entry)
    }

    mutating func linkAsNewest(_ entry: FileEntry) {
        entry.older = newest
        entry.newer = nil
        newest?.newer = entry
        newest = entry
        if oldest == nil { oldest = entry }
    }

    mutating func unlink(_ entry: FileEntry) {
        if let newer = entry.newer { newer.older = entry.older } else if newest === entry { newest = entry.older }
        if let older = entry.older { older.newer = entry.newer } else if oldest === entry { oldest = entry.newer }
        entry.newer = nil
        entry.older = nil
    }
}
