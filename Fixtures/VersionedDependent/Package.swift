// swift-tools-version:6.1
import PackageDescription

// A package that depends on Corral the way a user's package does: by URL and version. SwiftPM
// refuses a versioned dependency whose targets carry unsafe flags, so resolving and building
// this proves the runtime is usable as one. CI points the URL at a fresh clone of this
// repository tagged 0.1.0 (Scripts/checks/dependable-package.sh); the clone's directory must be
// called `corral`, the package identity used below.
let corralURL = Context.environment["CORRAL_PACKAGE_URL"] ?? "https://github.com/corral-server/corral.git"

let package = Package(
    name: "versioned-dependent",
    dependencies: [
        .package(url: corralURL, from: "0.1.0"),
    ],
    targets: [
        .executableTarget(
            name: "VersionedDependent",
            dependencies: [.product(name: "CorralRuntime", package: "corral")]
        ),
    ]
)
