#!/usr/bin/env bash
# The test command: unit and loopback tests, then checks that drive the real binary with
# clients no one here wrote (curl, Python's http.client), a real browser (Chromium), and the
# runtime's tests again under ThreadSanitizer and AddressSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --build-tests
swift test --skip-build
# Every Scripts/checks/*.sh: dependable-package (a fixture depends on this repo by URL and tag),
# docs (DocC, warnings as errors), examples and http-examples (build the Examples/ package and
# drive each example with real clients), http-integration, lab-report, sanitizers (every suite
# under TSan and ASan).
for check in Scripts/checks/*.sh; do
  [ -e "$check" ] || continue
  echo "== $check"
  bash "$check"
done
