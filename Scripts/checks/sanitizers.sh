#!/usr/bin/env bash
# The runtime's tests under ThreadSanitizer and AddressSanitizer + LeakSanitizer (issue 5):
# about three minutes on 2 CPUs, mostly the two instrumented builds (.build-tsan, .build-asan).
set -euo pipefail
cd "$(dirname "$0")/../.."
exec bash Scripts/sanitizers.sh
