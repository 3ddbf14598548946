// swift-tools-version:6.2
import PackageDescription

// Corral: a Linux-native networking runtime, an HTTP/1.1 static-file server on it,
// and a lab that reproduces classic Linux server-scalability experiments.
// Layers, bottom to top: CCorral (C shim) → CorralRuntime → CorralHTTP → CorralLab → corral (CLI).

// No unsafe flags in any target: SwiftPM refuses a package with them as a versioned dependency.
// Dynamic exclusivity checks stay on; the few hot-path properties where the profile showed
// them are marked `@exclusivity(unchecked)` in the source, with the reason next to each.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "corral",
    products: [
        .library(name: "CorralRuntime", targets: ["CorralRuntime"]),
        .library(name: "CorralHTTP", targets: ["CorralHTTP"]),
        .library(name: "CorralLab", targets: ["CorralLab"]),
        .executable(name: "corral", targets: ["corral"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-system.git", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        // HTTPRequest, HTTPResponse, HTTPFields: the HTTP vocabulary of CorralHTTP's public API.
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        // `swift package generate-documentation`: the DocC catalogs (no code of it is linked).
        .package(url: "https://github.com/swiftlang/swift-docc-plugin.git", from: "1.5.0"),
    ],
    targets: [
        // Only what Swift cannot import cleanly from Glibc: macros, GNU-only calls, raw syscalls.
        .target(name: "CCorral", cSettings: [.define("_GNU_SOURCE")]),
        // Event loops (also Swift concurrency executors), sockets, listeners with accept strategies,
        // the gathered write path, the async connection API. No HTTP.
        .target(
            name: "CorralRuntime",
            dependencies: [
                "CCorral",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "HeapModule", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // HTTP/1.1 server on the runtime: the zero-copy request parser, routes with sync and async
        // handlers on swift-http-types, static files, access log, metrics.
        .target(
            name: "CorralHTTP",
            dependencies: [
                "CorralRuntime",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "DequeModule", package: "swift-collections"),
            ],
            swiftSettings: swiftSettings
        ),
        // Experiments, load generators, probes, statistics, JSON and HTML reports.
        .target(
            name: "CorralLab",
            dependencies: [
                "CorralRuntime", "CorralHTTP",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            swiftSettings: swiftSettings
        ),
        // The thin CLI: parses flags, builds configurations, calls the libraries.
        .executableTarget(
            name: "corral",
            dependencies: [
                "CorralRuntime", "CorralHTTP", "CorralLab",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // What the test targets share (the backends they run against); in no product.
        .target(name: "CorralTestSupport", dependencies: ["CorralRuntime"], path: "Tests/CorralTestSupport", swiftSettings: swiftSettings),
        .testTarget(
            name: "CorralRuntimeTests", dependencies: ["CorralRuntime", "CCorral", "CorralTestSupport"], swiftSettings: swiftSettings),
        .testTarget(
            name: "CorralHTTPTests",
            dependencies: [
                "CorralHTTP", "CorralRuntime", "CorralTestSupport", .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CorralLabTests", dependencies: ["CorralLab", "CorralRuntime", "CorralTestSupport"], swiftSettings: swiftSettings),
    ]
)
