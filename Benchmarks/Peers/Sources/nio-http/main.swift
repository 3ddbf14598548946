// nio-http PORT ROOT [LOOPS]
//
// A minimal, fair static-file server on SwiftNIO's HTTP/1.1 pipeline
// (`configureHTTPServerPipeline`), the peer for Benchmarks/http.py. Every regular file
// under ROOT is read into memory at start-up. GET/HEAD of a known path answers 200 with
// Content-Length, Content-Type, Date and Server; a directory path serves its index.html;
// anything else is 404 (405 for other methods). Keep-alive follows the request
// (HTTP/1.1 default on, `Connection: close` honoured; HTTP/1.0 only with keep-alive).
import NIOCore
import NIOHTTP1
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// Writes a line straight to a file descriptor (stdio's globals are not concurrency-safe in Swift 6).
func say(_ text: String, fd: Int32 = 1) {
    var line = text + "\n"
    line.withUTF8 { _ = write(fd, $0.baseAddress, $0.count) }
}

struct StaticFile: Sendable {
    let body: ByteBuffer
    let contentType: String
    /// Server, Content-Type and Content-Length, rendered once at start-up; Date is added per response.
    let headers: HTTPHeaders

    init(body: ByteBuffer, contentType: String) {
        self.body = body
        self.contentType = contentType
        self.headers = HTTPHeaders([
            ("Server", "nio-http"),
            ("Content-Type", contentType),
            ("Content-Length", String(body.readableBytes)),
        ])
    }
}

func contentType(for path: String) -> String {
    let ext = path.split(separator: ".").last.map { $0.lowercased() } ?? ""
    switch ext {
    case "html", "htm": return "text/html"
    case "txt": return "text/plain"
    case "css": return "text/css"
    case "js": return "application/javascript"
    case "json": return "application/json"
    case "png": return "image/png"
    case "jpg", "jpeg": return "image/jpeg"
    case "svg": return "image/svg+xml"
    default: return "application/octet-stream"
    }
}

/// Reads every regular file under `root` (recursively) into memory, keyed by URL path.
func loadFiles(root: String) -> [String: StaticFile] {
    var files: [String: StaticFile] = [:]
    let allocator = ByteBufferAllocator()
    func walk(_ directory: String, _ urlPrefix: String) {
        guard let dir = opendir(directory) else { return }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name == "." || name == ".." { continue }
            let fsPath = directory + "/" + name
            let urlPath = urlPrefix + "/" + name
            var st = stat()
            guard stat(fsPath, &st) == 0 else { continue }
            if (st.st_mode & S_IFMT) == S_IFDIR {
                walk(fsPath, urlPath)
            } else if (st.st_mode & S_IFMT) == S_IFREG {
                let fd = open(fsPath, O_RDONLY)
                guard fd >= 0 else { continue }
                defer { close(fd) }
                var buffer = allocator.buffer(capacity: Int(st.st_size))
                var remaining = Int(st.st_size)
                var ok = true
                while remaining > 0 {
                    let n = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: remaining) { ptr in
                        let r = read(fd, ptr.baseAddress, remaining)
                        return r > 0 ? r : 0
                    }
                    if n == 0 { ok = false; break }
                    remaining -= n
                }
                if ok {
                    files[urlPath] = StaticFile(body: buffer, contentType: contentType(for: name))
                }
            }
        }
    }
    walk(root, "")
    // Directory paths serve their index.html.
    for (path, file) in files where path.hasSuffix("/index.html") {
        let dirPath = String(path.dropLast("index.html".count))
        files[dirPath] = file
        if dirPath.count > 1 { files[String(dirPath.dropLast())] = file }
    }
    return files
}

/// The HTTP Date header, rendered at most once per second per connection.
struct DateCache {
    private var second: time_t = 0
    private var text = ""

    mutating func current() -> String {
        let now = time(nil)
        if now != second {
            second = now
            var parts = tm()
            var t = now
            gmtime_r(&t, &parts)
            var chars = [CChar](repeating: 0, count: 64)
            let n = strftime(&chars, chars.count, "%a, %d %b %Y %H:%M:%S GMT", &parts)
            text = String(decoding: chars[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        return text
    }
}

final class StaticFileHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let files: [String: StaticFile]
    private var head: HTTPRequestHead?
    private var dates = DateCache()

    init(files: [String: StaticFile]) {
        self.files = files
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch Self.unwrapInboundIn(data) {
        case .head(let request):
            head = request
        case .body:
            break
        case .end:
            guard let request = head else { return }
            head = nil
            respond(context: context, request: request)
        }
    }

    private func respond(context: ChannelHandlerContext, request: HTTPRequestHead) {
        let keepAlive = request.isKeepAlive
        var uri = request.uri
        if let q = uri.utf8.firstIndex(where: { $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") }) {
            uri = String(uri[..<q])
        }

        var status = HTTPResponseStatus.ok
        let body: ByteBuffer
        var headers: HTTPHeaders
        if request.method != .GET && request.method != .HEAD {
            status = .methodNotAllowed
            body = context.channel.allocator.buffer(string: "method not allowed\n")
            headers = StaticFile(body: body, contentType: "text/plain").headers
            headers.add(name: "Allow", value: "GET, HEAD")
        } else if let file = files[uri] {
            body = file.body
            headers = file.headers
        } else {
            status = .notFound
            body = context.channel.allocator.buffer(string: "not found\n")
            headers = StaticFile(body: body, contentType: "text/plain").headers
        }
        headers.add(name: "Date", value: dates.current())
        if !keepAlive {
            headers.add(name: "Connection", value: "close")
        } else if request.version.major == 1 && request.version.minor == 0 {
            headers.add(name: "Connection", value: "keep-alive")
        }
        let responseHead = HTTPResponseHead(version: request.version, status: status, headers: headers)
        context.write(Self.wrapOutboundOut(.head(responseHead)), promise: nil)
        if request.method != .HEAD {
            context.write(Self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        }
        if keepAlive {
            context.writeAndFlush(Self.wrapOutboundOut(.end(nil)), promise: nil)
        } else {
            let channel = context.channel
            context.writeAndFlush(Self.wrapOutboundOut(.end(nil))).whenComplete { _ in
                channel.close(promise: nil)
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

let arguments = Array(CommandLine.arguments.dropFirst())
guard arguments.count >= 2, let port = Int(arguments[0]) else {
    say("usage: nio-http PORT ROOT [LOOPS]", fd: 2)
    exit(2)
}
let root = arguments[1]
let loops = arguments.count > 2 ? Int(arguments[2]) ?? 1 : 1
let files = loadFiles(root: root)
guard !files.isEmpty else {
    say("nio-http: no files under \(root)", fd: 2)
    exit(1)
}

let group = MultiThreadedEventLoopGroup(numberOfThreads: loops)
let bootstrap = ServerBootstrap(group: group)
    .serverChannelOption(.backlog, value: 4096)
    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
    .childChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelOption(.maxMessagesPerRead, value: 16)
    .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
            try channel.pipeline.syncOperations.addHandler(StaticFileHandler(files: files))
        }
    }

let channel = try bootstrap.bind(host: "127.0.0.1", port: port).wait()
say("listening on 127.0.0.1:\(channel.localAddress?.port ?? port) (nio-http, \(loops) loop(s), \(files.count) paths from \(root))")
try channel.closeFuture.wait()
