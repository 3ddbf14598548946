/// Content-Type by file extension (case-insensitive); unknown or no extension is
/// `application/octet-stream`. Text types carry `charset=utf-8`.
public enum MediaType {
    public static let defaultType = "application/octet-stream"

    static let table: [String: String] = [
        "html": "text/html; charset=utf-8", "htm": "text/html; charset=utf-8", "css": "text/css; charset=utf-8",
        "js": "text/javascript; charset=utf-8", "mjs": "text/javascript; charset=utf-8",
        "json": "application/json", "txt": "text/plain; charset=utf-8", "xml": "application/xml",
        "svg": "image/svg+xml", "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif",
        "webp": "image/webp", "avif": "image/avif", "ico": "image/x-icon", "wasm": "application/wasm",
        "pdf": "application/pdf", "woff": "font/woff", "woff2": "font/woff2", "mp4": "video/mp4", "webm": "video/webm",
        "md": "text/markdown; charset=utf-8", "csv": "text/csv; charset=utf-8", "map": "application/json",
        "bin": defaultType,
    ]

    /// The media type for an extension without its dot (`"PNG"` → `image/png`).
    public static func forExtension(_ ext: some StringProtocol) -> String {
        table[ext.lowercased()] ?? defaultType
    }

    /// The media type for `path`, from the text after the last dot of its last segment. A name
    /// that only starts with a dot (`.hidden`) has no extension.
    public static func forPath(_ path: String) -> String {
        let name = path.split(separator: "/").last ?? ""
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return defaultType }
        return forExtension(name[name.index(after: dot)...])
    }
}
