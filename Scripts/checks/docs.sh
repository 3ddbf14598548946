#!/usr/bin/env bash
# The DocC catalogs (CorralRuntime.docc, CorralHTTP.docc) build, and every symbol link in them
# resolves: swift-docc-plugin with warnings as errors. Archives land in
# .build-docc/plugins/Swift-DocC/outputs/ (gitignored scratch of its own, so the debug build of
# the tests is not invalidated).
set -euo pipefail
cd "$(dirname "$0")/../.."
swift package --scratch-path .build-docc generate-documentation \
  --target CorralRuntime --target CorralHTTP --warnings-as-errors
