#!/usr/bin/env bash
# Every suite's tests under ThreadSanitizer and AddressSanitizer + LeakSanitizer: about ten
# minutes on 2 CPUs, mostly the two instrumented builds (.build-tsan, .build-asan).
set -euo pipefail
cd "$(dirname "$0")/../.."
exec bash Scripts/sanitizers.sh
