#!/usr/bin/env bash
# Every test suite (runtime, HTTP, lab) under ThreadSanitizer and AddressSanitizer.
#
#   bash Scripts/sanitizers.sh              # both, thread first, all suites
#   bash Scripts/sanitizers.sh thread       # one of them (thread | address)
#   FILTER=CorralHTTPTests bash Scripts/sanitizers.sh address   # one suite
#
# Each sanitizer builds into its own scratch directory (.build-tsan, .build-asan: gitignored),
# so it never invalidates the normal debug build. The full log of each run is kept in
# SCRATCH/sanitizer.log; a summary of every sanitizer report (the first frames of each stack)
# is printed at the end. Prints how long each build and each test run took. Exits non-zero if
# any build fails, any test fails, or any sanitizer report is printed (TSan makes the process
# exit 66 after a report; ASan aborts at the first error).
set -uo pipefail
cd "$(dirname "$0")/.."

FILTER="${FILTER:-.}"
KINDS=("$@")
[ ${#KINDS[@]} -eq 0 ] && KINDS=(thread address)

# halt_on_error=0: let TSan report every race of the run, not just the first.
# second_deadlock_stack=1: both stacks for lock-order inversions.
export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=0:second_deadlock_stack=1:history_size=4}"
# LeakSanitizer needs ptrace; containers often forbid it. Keep it on where it works,
# turn it off (and say so) where it cannot run.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
# Leaks that belong to the toolchain, not to Corral: XCTest's own bookkeeping at exit, and the
# weak-reference side table Foundation.Process.run() leaves behind (tests spawn `corral` with it).
# Everything else LeakSanitizer finds is reported.
LSAN_SUPPRESSIONS="$(mktemp "${TMPDIR:-/tmp}/corral-lsan.XXXXXX")"
trap 'rm -f "$LSAN_SUPPRESSIONS"' EXIT
printf '%s\n' 'leak:libXCTest.so' 'leak:Foundation7ProcessC3run' >"$LSAN_SUPPRESSIONS"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$LSAN_SUPPRESSIONS:print_suppressions=0}"

status=0
summary=()
for kind in "${KINDS[@]}"; do
  case "$kind" in
    thread) scratch=.build-tsan ;;
    address) scratch=.build-asan ;;
    *) echo "unknown sanitizer '$kind' (thread | address)" >&2; exit 2 ;;
  esac
  mkdir -p "$scratch"
  log="$scratch/sanitizer.log"
  echo "== swift test --sanitize=$kind --filter $FILTER (scratch $scratch, log $log)"

  start=$(date +%s)
  # Others may be editing sources in this tree; swiftc refuses a file "modified during the
  # build", so retry that (and only that) a few times.
  build_rc=1
  for attempt in 1 2 3 4; do
    swift build --build-tests --sanitize="$kind" --scratch-path "$scratch" >"$log" 2>&1
    build_rc=$?
    [ "$build_rc" -eq 0 ] && break
    grep -q 'was modified during the build' "$log" || break
    [ "$attempt" -lt 4 ] && echo "   (a source file changed during the build: building again)"
  done
  if [ "$build_rc" -ne 0 ]; then
    tail -40 "$log"
    echo "FAIL: build with --sanitize=$kind"
    summary+=("$kind: BUILD FAILED after $(( $(date +%s) - start )) s")
    status=1
    continue
  fi
  built=$(date +%s)

  env_opts=()
  if [ "$kind" = address ] && ! grep -q 'detect_leaks=0' <<<"$ASAN_OPTIONS"; then
    # Probe whether LSan can run here (it needs ptrace on the process); if not, disable it.
    probe=$(mktemp -d)
    printf 'int main(){return 0;}\n' >"$probe/p.c"
    if clang -fsanitize=address "$probe/p.c" -o "$probe/p" 2>/dev/null \
        && ! ASAN_OPTIONS=detect_leaks=1 "$probe/p" 2>&1 | grep -q 'LeakSanitizer has encountered a fatal error'; then
      :
    else
      echo "NOTE: LeakSanitizer cannot run here (no ptrace?): leak detection off"
      env_opts=(ASAN_OPTIONS="${ASAN_OPTIONS/detect_leaks=1/detect_leaks=0}")
    fi
    rm -rf "$probe"
  fi

  # CORRAL_SANITIZER tells the tests that resident memory is not the program's own (shadow
  # memory): assertions on RSS are skipped, the exact ones on connection buffers stay.
  env "${env_opts[@]}" CORRAL_SANITIZER="$kind" swift test --skip-build --sanitize="$kind" --scratch-path "$scratch" --filter "$FILTER" \
    >>"$log" 2>&1
  rc=$?
  end=$(date +%s)

  reports=$(grep -c -E '^(WARNING: ThreadSanitizer|==[0-9]+==ERROR: (Address|Leak)Sanitizer)' "$log")
  echo "   build $(( built - start )) s, tests $(( end - built )) s, exit $rc, sanitizer reports: $reports"
  # swift-testing's summary and XCTest's (the runtime's tests are swift-testing ones)
  grep -E '(Test run with [0-9]+ tests?|Executed [0-9]+ tests?)' "$log" | sed -E 's/^[[:space:]]+//; s/^/   /'
  if [ "$reports" -gt 0 ]; then
    echo "   --- reports (first frames of each; full text in $log) ---"
    # Each report: its headline plus the first 12 lines after it.
    awk '/^WARNING: ThreadSanitizer|==[0-9]+==ERROR: (Address|Leak)Sanitizer/ {n=14} n>0 {print "   " $0; n--}' "$log" \
      | head -400
  fi
  if [ "$rc" -ne 0 ] || [ "$reports" -gt 0 ]; then
    grep -E "error: |failed \(" "$log" | grep -v '^Test Suite' | head -20 | sed 's/^/   /'
    summary+=("$kind: FAILED (exit $rc, $reports reports) — build $(( built - start )) s, tests $(( end - built )) s")
    status=1
  else
    summary+=("$kind: ok — build $(( built - start )) s, tests $(( end - built )) s")
  fi
done

echo "== sanitizers"
for line in "${summary[@]}"; do echo "   $line"; done
exit $status
