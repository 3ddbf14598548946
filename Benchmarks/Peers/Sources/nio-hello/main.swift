// nio-hello PORT [LOOPS]
//
// The issue-10 hello on SwiftNIO's HTTP/1.1 pipeline (`configureHTTPServerPipeline`), the peer
// of Corral's `hello` route for Benchmarks/http.py --hello: GET / answers 200 "Hello, world\n"
// with Content-Type text/plain, Content-Length and Date; anything else is 404. Keep-alive follows
// the request.
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

/// The Date header value, rendered at most once a second per handler.
struct DateCache {
    private var second = -1
    private var text = ""

    mutating func current() -> String {
        var now = time_t()
        time(&now)
        if Int(now) != second {
            second = Int(now)
            var parts = tm()
            gmtime_r(&now, &parts)
            var buffer = [CChar](repeating: 0, count: 64)
            let count = strftime(&buffer, buffer.count, "%a, %d %b %Y %H:%M:%S GMT", &parts)
            text = String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        return text
    }
}

final class HelloHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private var head: HTTPRequestHead?
    private var dates = DateCache()
    private var hello: ByteBuffer?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch Self.unwrapInboundIn(data) {
        case .head(let request): head = request
        case .body: break
        case .end:
            guard let request = head else { return }
            head = nil
            respond(context: context, request: request)
        }
    }

    private func respond(context: ChannelHandlerContext, request: HTTPRequestHead) {
        let found = request.uri == "/"
        let body = found
            ? (hello ?? { let b = context.channel.allocator.buffer(string: "Hello, world\n"); hello = b; return b }())
            : context.channel.allocator.buffer(string: "not found\n")
        var headers = HTTPHeaders([
            ("Server", "nio-hello"), ("Content-Type", "text/plain"), ("Content-Length", String(body.readableBytes)),
            ("Date", dates.current()),
        ])
        let keepAlive = request.isKeepAlive
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(Self.wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: found ? .ok : .notFound,
                                                                  headers: headers))), promise: nil)
        if request.method != .HEAD { context.write(Self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
        if keepAlive {
            context.writeAndFlush(Self.wrapOutboundOut(.end(nil)), promise: nil)
        } else {
            let channel = context.channel
            context.writeAndFlush(Self.wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

let arguments = Array(CommandLine.arguments.dropFirst())
guard let first = arguments.first, let port = Int(first) else {
    say("usage: nio-hello PORT [LOOPS]", fd: 2)
    exit(2)
}
let loops = arguments.count > 1 ? Int(arguments[1]) ?? 1 : 1
let group = MultiThreadedEventLoopGroup(numberOfThreads: loops)
let bootstrap = ServerBootstrap(group: group)
    .serverChannelOption(.backlog, value: 4096)
    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
    .childChannelOption(.maxMessagesPerRead, value: 16)
    .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
            try channel.pipeline.syncOperations.addHandler(HelloHandler())
        }
    }
let channel = try bootstrap.bind(host: "127.0.0.1", port: port).wait()
say("listening on 127.0.0.1:\(channel.localAddress?.port ?? port) (nio-hello, \(loops) loop(s))")
try channel.closeFuture.wait()
