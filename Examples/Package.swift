// swift-tools-version:6.1
import PackageDescription

// Programs built on Corral as a user would build them: a separate package that depends on the
// repository by path. `swift run -c release --package-path Examples NAME ...`.
let package = Package(
    name: "corral-examples",
    dependencies: [
        .package(name: "corral", path: ".."),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        // HTTP hello, the benchmark subject of issue 10: `hello --port P --loops N` answers
        // GET / with "Hello, world\n" through a route whose handler is async (--sync: a
        // synchronous handler, run on the loop without a task).
        .executableTarget(
            name: "hello",
            dependencies: [
                .product(name: "CorralHTTP", package: "corral"),
                .product(name: "CorralRuntime", package: "corral"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // A small JSON API (a notes store) with static files, tested with curl and Python's
        // http.client (Examples/json-api/check.sh).
        .executableTarget(
            name: "json-api",
            dependencies: [
                .product(name: "CorralHTTP", package: "corral"),
                .product(name: "CorralRuntime", package: "corral"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ]
)
