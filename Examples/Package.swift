// swift-tools-version:6.1
import PackageDescription

// Programs written on Corral as a user of the library would write them: small servers on
// CorralRuntime's async API, and HTTP applications on CorralHTTP's router. A separate package
// that depends on Corral by path; Scripts/checks/examples.sh and Scripts/checks/http-examples.sh
// build, run and drive each one with a real client (a socket, pymemcache, curl, Python's
// http.client). `swift run -c release --package-path Examples NAME ...`.
let package = Package(
    name: "corral-examples",
    dependencies: [
        .package(name: "corral", path: ".."),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        .executableTarget(name: "AsyncEcho", dependencies: [.product(name: "CorralRuntime", package: "corral")]),
        .executableTarget(name: "KeyValue", dependencies: [.product(name: "CorralRuntime", package: "corral")]),
        .executableTarget(name: "HelloHTTP", dependencies: [.product(name: "CorralRuntime", package: "corral")]),
        // HTTP hello, the benchmark subject of issue 10: `hello --port P --loops N` answers
        // GET / with "Hello, world\n" through a router route whose handler is async (--sync: a
        // synchronous handler, run on the loop without a task).
        .executableTarget(
            name: "hello",
            dependencies: [
                .product(name: "CorralHTTP", package: "corral"),
                .product(name: "CorralRuntime", package: "corral"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // A small JSON API (a notes store) with static files, CORS middleware and graceful
        // shutdown in a ServiceGroup (Scripts/checks/http-examples.sh drives it).
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
