# Shared by the checks that print TAP-like lines (`ok - …` / `not ok - …`): sourced, not run
# (it lives in a subdirectory so that Scripts/test.sh, which runs every Scripts/checks/*.sh,
# does not run it).
#
#   source Scripts/checks/lib/tap.sh   # from the repository root
#   require_tools curl python3      # `not ok` and exit 1 when one is missing
#   ok "what passed"; notok "what failed" "why"; summary   # `N passed, M failed`

PASSED=0
FAILED=0

ok() { PASSED=$((PASSED + 1)); echo "ok - $1"; }
notok() { FAILED=$((FAILED + 1)); echo "not ok - $1${2:+ ($2)}"; }
summary() { echo "$PASSED passed, $FAILED failed"; }

require_tools() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "not ok - $tool is not installed (Scripts/setup.sh installs it)"; exit 1; }
  done
}
