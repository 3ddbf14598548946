#!/usr/bin/env bash
# Builds the libFuzzer harness for CorralHTTP's request parser and runs it.
#
#   Fuzz/run.sh [SECONDS] [JOBS]
#
# SECONDS: fuzzing time (default 60). JOBS: parallel libFuzzer processes (default 1; with more,
# `-jobs=JOBS -workers=JOBS`: independent fuzzers sharing corpus-work/, each for SECONDS, each
# their logs gathered in the run's log; their executions are summed). -fork mode was slower here.
# Fuzzes a scratch copy of Fuzz/corpus/ in Fuzz/corpus-work/ (gitignored, kept between runs so
# coverage accumulates); crash/leak inputs land in Fuzz/artifacts/. Prints executions, exec/s and
# findings; exits non-zero if libFuzzer found a crash, a leak, a timeout or ran out of memory.
# Extra libFuzzer flags can be passed in FUZZ_FLAGS (e.g. FUZZ_FLAGS="-seed=1").
set -euo pipefail

SECONDS_TO_RUN=${1:-60}
JOBS=${2:-1}
HERE=$(cd "$(dirname "$0")" && pwd)
cd "$HERE"

# -sanitize=fuzzer needs compiler-rt's libFuzzer. The Swift toolchain ships it
# (usr/lib/clang/*/lib/linux/libclang_rt.fuzzer-*.a); install Debian's clang runtime only if not.
if ! ls "$(dirname "$(dirname "$(readlink -f "$(command -v swiftc)")")")"/lib/clang/*/lib/linux/libclang_rt.fuzzer-*.a \
    >/dev/null 2>&1; then
    echo "run.sh: toolchain has no libclang_rt.fuzzer; installing Debian's clang runtime" >&2
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get install -y "$(apt-cache search --names-only '^libclang-rt-[0-9]+-dev$' | sort -V | tail -1 | cut -d' ' -f1)"
fi

echo "== build (release, -sanitize=fuzzer,address)"
swift build -c release --package-path "$HERE" \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library 2>&1 \
    | grep -Ev 'warning:|^ *[0-9]* \||^ *\||^\[#|^$' || true
BIN="$(swift build -c release --package-path "$HERE" -Xswiftc -sanitize=fuzzer,address \
    -Xswiftc -parse-as-library --show-bin-path)/FuzzHTTPParser"
[ -x "$BIN" ] || { echo "run.sh: build failed" >&2; exit 2; }

mkdir -p corpus-work artifacts
cp -n corpus/* corpus-work/ 2>/dev/null || true
LOG="$HERE/artifacts/run-$(date -u +%Y%m%dT%H%M%SZ).log"

FLAGS=(-max_len=4096 -print_final_stats=1 -max_total_time="$SECONDS_TO_RUN" -timeout=10 -rss_limit_mb=2048
    -detect_leaks=1 -artifact_prefix="$HERE/artifacts/")
if [ "$JOBS" -gt 1 ]; then FLAGS+=(-jobs="$JOBS" -workers="$JOBS"); fi
# shellcheck disable=SC2206
FLAGS+=(${FUZZ_FLAGS:-})

echo "== $BIN ${FLAGS[*]} corpus-work (log: $LOG)"
set +e
rm -f artifacts/fuzz-*.log
# Swift's own crash backtracer would race ASan's report; libFuzzer and ASan report instead.
(cd artifacts && SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
    "$BIN" "${FLAGS[@]}" "$HERE/corpus-work" >"$LOG" 2>&1)
STATUS=$?
# With -jobs, each process logs to artifacts/fuzz-N.log, which the parent also copies into its
# output (so the run's log already holds every process's final stats): drop the copies.
rm -f artifacts/fuzz-*.log
set -e

# Executions: -print_final_stats' stat::number_of_executed_units, summed over the processes.
set +o pipefail
EXECS=$(grep -Eo 'stat::number_of_executed_units: [0-9]+' "$LOG" | awk '{s += $2} END {print s + 0}')
if [ "$EXECS" -eq 0 ]; then EXECS=$(grep -Eo '^#[0-9]+' "$LOG" | tail -1 | tr -d '#'); fi
EXECS=${EXECS:-0}
RATE=$(grep -Eo 'stat::average_exec_per_sec: [0-9]+' "$LOG" | awk '{s += $2} END {print s + 0}')
if [ "$RATE" -eq 0 ]; then RATE=$(( ${EXECS:-0} / (SECONDS_TO_RUN > 0 ? SECONDS_TO_RUN : 1) )); fi
CRASHES=$(grep -cE 'ERROR: (libFuzzer|AddressSanitizer)|Fatal error|==[0-9]+== ?ERROR' "$LOG" || true)
LEAKS=$(grep -c 'ERROR: LeakSanitizer' "$LOG" || true)
TIMEOUTS=$(grep -cE 'ERROR: libFuzzer: (timeout|out-of-memory)' "$LOG" || true)
COV=$(grep -Eo 'cov: [0-9]+' "$LOG" | tail -1 | awk '{print $2}')
set -o pipefail

echo "== results"
echo "date:        $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "seconds:     $SECONDS_TO_RUN, jobs: $JOBS (log: $LOG)"
echo "executions:  ${EXECS:-0}"
echo "exec/s:      $RATE"
echo "coverage:    ${COV:-?} edges; corpus-work: $(ls corpus-work | wc -l) inputs"
echo "crashes:     $CRASHES (leaks: $LEAKS, timeouts/oom: $TIMEOUTS)"
echo "libFuzzer exit status: $STATUS"
if [ "$STATUS" -ne 0 ] || [ "$CRASHES" -gt 0 ] || [ "$LEAKS" -gt 0 ]; then
    echo "== findings (artefacts in $HERE/artifacts/):"
    grep -E -A3 'ERROR:|Fatal error|precondition|Test unit written' "$LOG" | head -40
    exit 1
fi
