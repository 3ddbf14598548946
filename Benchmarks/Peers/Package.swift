// swift-tools-version:6.1
import PackageDescription

// The peers Corral is measured against, built from swift-nio on this machine.
// A separate package so the root package never depends on SwiftNIO.
// Build: swift build -c release --package-path Benchmarks/Peers
let package = Package(
    name: "corral-peers",
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
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
    ]
)
