#!/usr/bin/env bash
# The HTTP examples (Examples/: `hello`, the issue-10 benchmark subject, and `json-api`) built
# as a user would build them (a package that depends on Corral by path) and driven by clients
# nobody on this project wrote: curl, and Python's http.client (http_examples.py).
#
#   bash Scripts/checks/http-examples.sh
#
# One line per check, `ok - …` / `not ok - …`, then `N passed, M failed`; exits non-zero on
# any failure. Servers are always stopped. Everything talks to 127.0.0.1 only, and every client
# call has a time limit.
set -uo pipefail
cd "$(dirname "$0")/../.."
source Scripts/checks/lib/tap.sh

[ $# -eq 0 ] || { echo "usage: $0 (no arguments)" >&2; exit 2; }
require_tools curl python3

echo "== swift build --package-path Examples --product hello / json-api"
for product in hello json-api; do
  swift build --package-path Examples --product "$product" 2>&1 | tail -1 \
    || { echo "not ok - Examples: $product does not build"; exit 1; }
done
BIN="$(swift build --package-path Examples --show-bin-path)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/corral-examples.XXXXXX")
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM


# start NAME LOG COMMAND...: runs a server, waits (10 s at most) for its "listening on HOST:PORT"
# line and sets PORT.
start() {
  local log="$2"; shift 2
  "$@" >"$log" 2>&1 &
  PIDS+=($!)
  SERVER=$!
  for _ in $(seq 1 100); do
    PORT=$(sed -n 's/^listening on [0-9.]*:\([0-9]*\).*/\1/p' "$log" | head -1)
    [ -n "$PORT" ] && return 0
    kill -0 "$SERVER" 2>/dev/null || break
    sleep 0.1
  done
  return 1
}

stop() { # stop NAME: SIGTERM, then the exit status must be 0 within 10 s
  kill -TERM "$SERVER"
  for _ in $(seq 1 100); do kill -0 "$SERVER" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$SERVER" 2>/dev/null; then notok "$1: SIGTERM stops it" "still running after 10 s"; return; fi
  wait "$SERVER"; local status=$?
  [ "$status" = 0 ] && ok "$1: SIGTERM stops it, exit 0" || notok "$1: SIGTERM stops it" "exit $status"
}

# --- hello: GET / → the 13 bytes, text/plain, async and sync --------------------------------
for mode in async sync; do
  flag=""; [ "$mode" = sync ] && flag="--sync"
  FREE=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  if ! start "hello $mode" "$WORK/hello-$mode.log" "$BIN/hello" --port "$FREE" --loops 1 $flag; then
    notok "hello ($mode) starts" "$(tail -3 "$WORK/hello-$mode.log")"; continue
  fi
  out=$(curl -sS -m 5 -D "$WORK/h" "http://127.0.0.1:$PORT/")
  if [ "$out" = "Hello, world" ] && grep -qi '^content-type: text/plain' "$WORK/h" && grep -qi '^content-length: 13' "$WORK/h"; then
    ok "hello ($mode): GET / is 'Hello, world\\n', text/plain, 13 bytes"
  else
    notok "hello ($mode): GET /" "$(head -c 200 "$WORK/h")"
  fi
  code=$(curl -sS -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/other")
  [ "$code" = 404 ] && ok "hello ($mode): other paths are 404" || notok "hello ($mode): other paths are 404" "$code"
  stop "hello ($mode)"
done

# --- json-api ---------------------------------------------------------------------------------
if ! start json-api "$WORK/json-api.log" "$BIN/json-api" --port 0 --loops 2 --root Examples/json-api/public; then
  notok "json-api starts" "$(tail -3 "$WORK/json-api.log")"
else
  API="http://127.0.0.1:$PORT"
  body=$(curl -sS -m 5 -X POST -H 'Content-Type: application/json' -d '{"text":"first"}' -D "$WORK/h" "$API/api/notes")
  if [ "$body" = '{"id":1,"text":"first"}' ] && grep -qi '^location: /api/notes/1' "$WORK/h" && grep -q ' 201 ' "$WORK/h"; then
    ok "curl: POST /api/notes is 201 with the note and its Location"
  else
    notok "curl: POST /api/notes" "$body"
  fi
  # curl sends Expect: 100-continue for this body: the handler reads it, so 100 comes first.
  big=$(python3 -c 'import json; print(json.dumps({"text": "x" * 2000000}))')
  code=$(printf '%s' "$big" | curl -sS -m 10 -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -H 'Expect: 100-continue' --data-binary @- "$API/api/notes")
  [ "$code" = 413 ] && ok "curl: a body over the handler's limit is 413" || notok "curl: body over the limit" "$code"
  body=$(curl -sS -m 5 "$API/api/notes/1")
  [ "$body" = '{"id":1,"text":"first"}' ] && ok "curl: GET /api/notes/1" || notok "curl: GET /api/notes/1" "$body"
  code=$(curl -sS -m 5 -o /dev/null -w '%{http_code}' "$API/api/notes/abc")
  [ "$code" = 400 ] && ok "curl: a parameter that is not a number is 400" || notok "curl: /api/notes/abc" "$code"
  code=$(curl -sS -m 5 -o /dev/null -w '%{http_code}' -X OPTIONS -H 'Origin: http://example' "$API/api/notes")
  [ "$code" = 204 ] && ok "curl: CORS preflight is 204 (middleware)" || notok "curl: CORS preflight" "$code"
  if curl -sS -m 5 -D - -o /dev/null "$API/api/notes" | grep -qi '^access-control-allow-origin: \*'; then
    ok "curl: API responses allow any origin (middleware)"
  else
    notok "curl: API responses allow any origin"
  fi
  if curl -sS -m 5 "$API/" | grep -q '<h1>Notes</h1>'; then ok "curl: GET / is the static index"; else notok "curl: GET / is the static index"; fi
  [ "$(curl -sS -m 5 "$API/health")" = ok ] && ok "curl: GET /health (a synchronous handler)" || notok "curl: GET /health"
  if python3 Scripts/checks/http_examples.py "$PORT"; then ok "http.client: the API over one keep-alive connection"; else notok "http.client: the API"; fi
  stop json-api
fi

summary
[ "$FAILED" = 0 ]
