// swift-tools-version:6.1
import PackageDescription

// Small servers written on CorralRuntime's async API, as a user of the library would write them.
// A separate package that depends on Corral by path; Scripts/checks/examples.sh builds, runs and
// drives each one with a real client (a socket, pymemcache, curl).
let package = Package(
    name: "corral-examples",
    dependencies: [
        .package(name: "corral", path: ".."),
    ],
    targets: [
        .executableTarget(name: "AsyncEcho", dependencies: [.product(name: "CorralRuntime", package: "corral")]),
        .executableTarget(name: "KeyValue", dependencies: [.product(name: "CorralRuntime", package: "corral")]),
        .executableTarget(name: "HelloHTTP", dependencies: [.product(name: "CorralRuntime", package: "corral")]),
    ]
)
