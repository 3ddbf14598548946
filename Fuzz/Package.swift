// swift-tools-version:6.1
import PackageDescription

// libFuzzer harness for CorralHTTP's request parser and request semantics. Separate from the
// root package so its sanitizer flags never touch the normal build. Build and run with
// `Fuzz/run.sh [SECONDS] [JOBS]` (see Fuzz/README.md).
let package = Package(
    name: "CorralFuzz",
    dependencies: [.package(name: "corral", path: "..")],
    targets: [
        // Declares LLVMFuzzerRunDriver, which the harness's entry point calls.
        .target(name: "CFuzzDriver"),
        .executableTarget(
            name: "FuzzHTTPParser",
            dependencies: ["CFuzzDriver", .product(name: "CorralHTTP", package: "corral")]
        ),
    ]
)
