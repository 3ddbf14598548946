// nio-echo PORT [LOOPS] [--sockperf] [--async]
//
// A SwiftNIO TCP echo server on 127.0.0.1, the peer for Benchmarks/sockperf.py and echo.py.
// --async serves plain echo the way an async/await user of SwiftNIO does (and Hummingbird
// does): NIOAsyncChannel, a child task per connection, `for try await` over the inbound stream
// and `outbound.write` per buffer.
// Plain mode writes every byte straight back. --sockperf speaks sockperf's framing:
// each message starts with a 14-byte big-endian header (u64 seq, u16 flags, u32 total
// length including the header); flags CLIENT=1, PONG_REQUEST=2, WARMUP=4. As `sockperf sr`
// does, the server answers only messages with PONG_REQUEST set and WARMUP clear, and clears
// CLIENT in the reply (sockperf's client drops any reply that still has CLIENT set).
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// Writes a line straight to a file descriptor (stdio's globals are not concurrency-safe in Swift 6).
func say(_ text: String, fd: Int32 = 1) {
    var line = text + "\n"
    line.withUTF8 { _ = write(fd, $0.baseAddress, $0.count) }
}

/// Writes every read straight back; one flush per read batch.
final class EchoHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.write(data, promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// Frames the stream by sockperf's header and answers as `sockperf sr` does.
final class SockperfHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    static let headerSize = 14
    static let flagClient: UInt16 = 1
    static let flagPongRequest: UInt16 = 2
    static let flagWarmup: UInt16 = 4

    private var cumulation: ByteBuffer?
    private var wroteSomething = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = Self.unwrapInboundIn(data)
        if var buffer = cumulation {
            cumulation = nil
            buffer.writeBuffer(&incoming)
            cumulation = buffer
        } else {
            cumulation = incoming
        }
        guard var buffer = cumulation else { return }
        cumulation = nil
        while buffer.readableBytes >= Self.headerSize {
            let start = buffer.readerIndex
            guard let length = buffer.getInteger(at: start + 10, endianness: .big, as: UInt32.self),
                  let flags = buffer.getInteger(at: start + 8, endianness: .big, as: UInt16.self)
            else { break }
            guard length >= UInt32(Self.headerSize) else {
                context.close(promise: nil)
                return
            }
            guard buffer.readableBytes >= Int(length) else { break }
            if flags & Self.flagPongRequest != 0 && flags & Self.flagWarmup == 0 {
                buffer.setInteger(flags & ~Self.flagClient, at: start + 8, endianness: .big)
                let reply = buffer.readSlice(length: Int(length))!
                context.write(Self.wrapOutboundOut(reply), promise: nil)
                wroteSomething = true
            } else {
                buffer.moveReaderIndex(forwardBy: Int(length))
            }
        }
        if buffer.readableBytes > 0 {
            cumulation = buffer
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if wroteSomething {
            wroteSomething = false
            context.flush()
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

let modeFlags: Set<String> = ["--sockperf", "sockperf", "--async"]
let sockperfMode = CommandLine.arguments.dropFirst().contains { $0 == "--sockperf" || $0 == "sockperf" }
let asyncMode = CommandLine.arguments.dropFirst().contains("--async")
let positional = CommandLine.arguments.dropFirst().filter { !modeFlags.contains($0) }
guard let portText = positional.first, let port = Int(portText) else {
    say("usage: nio-echo PORT [LOOPS] [--sockperf]", fd: 2)
    exit(2)
}
let loops = positional.count > 1 ? Int(positional[1]) ?? 1 : 1

let group = MultiThreadedEventLoopGroup(numberOfThreads: loops)

if asyncMode {
    let server = try await ServerBootstrap(group: group)
        .serverChannelOption(.backlog, value: 4096)
        .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
        .bind(host: "127.0.0.1", port: port) { channel in
            channel.eventLoop.makeCompletedFuture {
                try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
            }
        }
    say("listening on 127.0.0.1:\(server.channel.localAddress?.port ?? port) (nio-echo, \(loops) loop(s), NIOAsyncChannel)")
    try await withThrowingDiscardingTaskGroup { tasks in
        try await server.executeThenClose { connections in
            for try await connection in connections {
                tasks.addTask {
                    try? await connection.executeThenClose { inbound, outbound in
                        for try await buffer in inbound { try await outbound.write(buffer) }
                    }
                }
            }
        }
    }
    exit(0)
}

let bootstrap = ServerBootstrap(group: group)
    .serverChannelOption(.backlog, value: 4096)
    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
    .childChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
            if sockperfMode {
                try channel.pipeline.syncOperations.addHandler(SockperfHandler())
            } else {
                try channel.pipeline.syncOperations.addHandler(EchoHandler())
            }
        }
    }

let channel = try bootstrap.bind(host: "127.0.0.1", port: port).wait()
say("listening on 127.0.0.1:\(channel.localAddress?.port ?? port) (nio-echo, \(loops) loop(s), \(sockperfMode ? "sockperf" : "plain") mode)")
try channel.closeFuture.wait()
