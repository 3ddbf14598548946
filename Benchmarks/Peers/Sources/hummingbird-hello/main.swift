// hummingbird-hello PORT [LOOPS]
//
// The issue-10 hello on Hummingbird 2 (on SwiftNIO), the peer of Corral's `hello` route for
// Benchmarks/http.py --hello: GET / answers 200 "Hello, world\n" (text/plain) from an async
// route handler, as a Hummingbird user writes it.
import Hummingbird
import Logging
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

func say(_ text: String, fd: Int32 = 1) {
    var line = text + "\n"
    line.withUTF8 { _ = write(fd, $0.baseAddress, $0.count) }
}

let arguments = Array(CommandLine.arguments.dropFirst())
guard let first = arguments.first, let port = Int(first) else {
    say("usage: hummingbird-hello PORT [LOOPS]", fd: 2)
    exit(2)
}
let loops = arguments.count > 1 ? Int(arguments[1]) ?? 1 : 1
let router = Router()
router.get("/") { _, _ -> Response in
    Response(status: .ok, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: "Hello, world\n")))
}
var logger = Logger(label: "hummingbird-hello")
logger.logLevel = .warning
let app = Application(
    router: router,
    configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "hummingbird-hello"),
    eventLoopGroupProvider: .shared(MultiThreadedEventLoopGroup(numberOfThreads: loops)),
    logger: logger
)
say("listening on 127.0.0.1:\(port) (hummingbird-hello, \(loops) loop(s))")
try await app.runService()
