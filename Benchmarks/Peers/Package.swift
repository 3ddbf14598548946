// swift-tools-version:6.1
import PackageDescription

// The peers Corral is measured against, built from swift-nio and hummingbird on this machine.
// A separate package so the root package never depends on SwiftNIO.
// Build: swift build -c release --package-path Benchmarks/Peers
let package = Package(
    name: "corral-peers",
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        // TCP echo on NIOPosix: plain byte echo, or sockperf's framing with --sockperf.
        .executableTarget(
            name: "nio-echo",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Sources/nio-echo"
        ),
        // Minimal static-file server on NIOHTTP1: files read into memory at start-up.
        .executableTarget(
            name: "nio-http",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Sources/nio-http"
        ),
        // The issue-10 hello (GET / → "Hello, world\n") on NIOHTTP1.
        .executableTarget(
            name: "nio-hello",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Sources/nio-hello"
        ),
        // The issue-10 hello on Hummingbird 2: an async route, as its users write it.
        .executableTarget(
            name: "hummingbird-hello",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/hummingbird-hello"
        ),
    ]
)
