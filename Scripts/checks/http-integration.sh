#!/usr/bin/env bash
# `corral serve` driven by clients nobody on this project wrote: curl here, Python's
# http.client in http_integration.py. Builds nothing: Scripts/test.sh has already built the
# debug binary (CORRAL=path to use another one).
#
#   bash Scripts/checks/http-integration.sh
#
# One line per check, `ok - …` / `not ok - …`, then `N passed, M failed`; exits non-zero on
# any failure. The server and the temporary root are always cleaned up. Everything talks to
# 127.0.0.1 only, and every client call has a time limit (the whole check takes a few seconds).
set -uo pipefail
cd "$(dirname "$0")/../.."
source Scripts/checks/lib/tap.sh

[ $# -eq 0 ] || { echo "usage: $0 (no arguments; CORRAL=path selects the binary)" >&2; exit 2; }
CORRAL="${CORRAL:-.build/debug/corral}"

if [ ! -x "$CORRAL" ]; then
  echo "not ok - no corral binary at $CORRAL (Scripts/test.sh builds it; or set CORRAL=path)"
  exit 1
fi
require_tools curl python3 cmp

WORK=$(mktemp -d "${TMPDIR:-/tmp}/corral-integration.XXXXXX")
ROOT="$WORK/root"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -KILL "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

check() { # check NAME DETAIL COMMAND...: ok if COMMAND succeeds
  local name="$1" detail="$2"; shift 2
  if "$@"; then ok "$name"; else notok "$name" "$detail"; fi
}

# --- the root --------------------------------------------------------------------------------
mkdir -p "$ROOT/sub" "$ROOT/noindex"
printf '<!doctype html><title>corral</title><p>root index\n' >"$ROOT/index.html"
printf 'Hello, world\n' >"$ROOT/hello.txt"                     # 13 bytes
head -c 204800 /dev/urandom >"$ROOT/random.bin"                # 200 KiB: past the cache, sendfile
printf 'a file with a space in its name\n' >"$ROOT/a b.txt"
printf '<!doctype html><p>nested index\n' >"$ROOT/sub/index.html"
printf 'not an index\n' >"$ROOT/noindex/note.txt"
ln -s /etc/passwd "$ROOT/escape"                               # leads out of the root
ln -s hello.txt "$ROOT/inner"                                  # stays inside
mkfifo "$ROOT/pipe"                                            # would block an open(2) for reading
[ "$(stat -c %s "$ROOT/hello.txt")" = 13 ] || { echo "not ok - fixture hello.txt is not 13 bytes"; exit 1; }
PASSWD_LINE=$(head -1 /etc/passwd)                             # what must never come back

# --- the server ------------------------------------------------------------------------------
"$CORRAL" serve "$ROOT" --host 127.0.0.1 --port 0 --loops 2 >"$WORK/server.out" 2>"$WORK/server.err" &
SERVER_PID=$!
PORT=""
for _ in $(seq 100); do   # up to 10 s for the first line
  line=$(head -1 "$WORK/server.out" 2>/dev/null)
  if [[ "$line" =~ ^listening\ on\ ([^ ]+):([0-9]+) ]]; then PORT="${BASH_REMATCH[2]}"; break; fi
  kill -0 "$SERVER_PID" 2>/dev/null || break
  sleep 0.1
done
if ! [[ "$PORT" =~ ^[0-9]+$ ]]; then
  notok "corral serve starts and prints 'listening on HOST:PORT'" \
    "first line: '$(head -1 "$WORK/server.out" 2>/dev/null)'; stderr: $(tail -5 "$WORK/server.err" | tr '\n' ' ')"
  summary
  exit 1
fi
ok "corral serve starts ($line)"
BASE="http://127.0.0.1:$PORT"

# fetch ARGS...: one curl call; head in $H, body in $B, status in $CODE, bytes in $SIZE.
H="$WORK/h"; B="$WORK/b"
fetch() {
  local out
  rm -f "$H" "$B"; : >"$H"; : >"$B"
  out=$(curl -sS --http1.1 --max-time 10 -D "$H" -o "$B" -w '%{http_code} %{size_download}' "$@" 2>"$WORK/curl.err")
  CODE="${out%% *}"; SIZE="${out##* }"
}
# hdr NAME: the value of header NAME in the last head of $H (case-insensitive, CR stripped)
hdr() {
  tr -d '\r' <"$H" | awk -v want="$(tr '[:upper:]' '[:lower:]' <<<"$1")" '
    /^HTTP\// { value = "" }
    { i = index($0, ":"); if (i > 0 && tolower(substr($0, 1, i - 1)) == want) { v = substr($0, i + 1); sub(/^[ \t]+/, "", v); sub(/[ \t]+$/, "", v); value = v } }
    END { print value }'
}
has_passwd() { grep -qF -- "$PASSWD_LINE" "$B"; }

# --- curl: bodies byte for byte and their headers --------------------------------------------
fetch "$BASE/hello.txt"
check "curl GET /hello.txt → 200, 13 bytes identical" "status $CODE, $SIZE bytes" \
  eval '[ "$CODE" = 200 ] && cmp -s "$B" "$ROOT/hello.txt"'
check "curl GET /hello.txt: Content-Length 13, Content-Type text/plain" \
  "Content-Length '$(hdr content-length)', Content-Type '$(hdr content-type)'" \
  eval '[ "$(hdr content-length)" = 13 ] && [[ "$(hdr content-type)" == text/plain* ]]'
DATE=$(hdr date); LASTMOD=$(hdr last-modified); ETAG=$(hdr etag)
check "curl GET /hello.txt: Date and Last-Modified are IMF-fixdates, ETag present" \
  "Date '$DATE', Last-Modified '$LASTMOD', ETag '$ETAG'" \
  eval '[[ "$DATE" =~ ^[A-Z][a-z]{2},\ [0-9]{2}\ [A-Z][a-z]{2}\ [0-9]{4}\ [0-9]{2}:[0-9]{2}:[0-9]{2}\ GMT$ ]] &&
        [[ "$LASTMOD" =~ GMT$ ]] && [ -n "$ETAG" ]'

fetch "$BASE/random.bin"
check "curl GET /random.bin → 200, 200 KiB identical (cmp)" "status $CODE, $SIZE bytes" \
  eval '[ "$CODE" = 200 ] && cmp -s "$B" "$ROOT/random.bin"'
check "curl GET /random.bin: Content-Length 204800" "'$(hdr content-length)', type '$(hdr content-type)'" \
  eval '[ "$(hdr content-length)" = 204800 ]'

fetch "$BASE/"
check "curl GET / → 200 index.html, text/html" "status $CODE, type '$(hdr content-type)'" \
  eval '[ "$CODE" = 200 ] && cmp -s "$B" "$ROOT/index.html" && [[ "$(hdr content-type)" == text/html* ]]'
fetch "$BASE/sub/"
check "curl GET /sub/ → 200 nested index.html" "status $CODE" \
  eval '[ "$CODE" = 200 ] && cmp -s "$B" "$ROOT/sub/index.html"'
fetch "$BASE/noindex/"
check "curl GET /noindex/ (directory without index.html) → 403, as nginx" "status $CODE" eval '[ "$CODE" = 403 ]'
fetch "$BASE/sub?q=1"
check "curl GET /sub?q=1 → 301 to /sub/?q=1 (relative links resolve in the directory)" \
  "status $CODE, Location '$(hdr location)'" eval '[ "$CODE" = 301 ] && [ "$(hdr location)" = "/sub/?q=1" ]'
fetch "$BASE/hello.txt/"
check "curl GET /hello.txt/ → 404" "status $CODE" eval '[ "$CODE" = 404 ]'
fetch "$BASE/pipe"
check "curl GET /pipe (a FIFO) → 404 at once, and the server goes on" "status $CODE" eval '[ "$CODE" = 404 ]'
fetch "$BASE/missing.txt"
check "curl GET /missing.txt → 404" "status $CODE" eval '[ "$CODE" = 404 ]'
fetch "$BASE/a%20b.txt"
check "curl GET /a%20b.txt (percent-encoded space) → 200, identical" "status $CODE" \
  eval '[ "$CODE" = 200 ] && cmp -s "$B" "$ROOT/a b.txt"'

# --- HEAD ------------------------------------------------------------------------------------
fetch -I "$BASE/random.bin"
check "curl -I /random.bin → 200, Content-Length 204800, no body" \
  "status $CODE, Content-Length '$(hdr content-length)', $(($(stat -c %s "$B") - $(stat -c %s "$H"))) extra bytes" \
  eval '[ "$CODE" = 200 ] && [ "$(hdr content-length)" = 204800 ] && cmp -s "$B" "$H"'
# (with -I curl writes the head to -o as well: the output file must be exactly the head)

# --- ranges ----------------------------------------------------------------------------------
fetch -r 0-99 "$BASE/random.bin"
check "curl -r 0-99 /random.bin → 206, exact 100 bytes, Content-Range bytes 0-99/204800" \
  "status $CODE, $SIZE bytes, Content-Range '$(hdr content-range)'" \
  eval '[ "$CODE" = 206 ] && cmp -s "$B" <(head -c 100 "$ROOT/random.bin") &&
        [ "$(hdr content-range)" = "bytes 0-99/204800" ] && [ "$(hdr content-length)" = 100 ]'
fetch -r 100000-100099 "$BASE/random.bin"
check "curl -r 100000-100099 /random.bin → 206, exact bytes from the middle" "status $CODE, $SIZE bytes" \
  eval '[ "$CODE" = 206 ] && cmp -s "$B" <(tail -c +100001 "$ROOT/random.bin" | head -c 100)'
fetch -r 7-11 "$BASE/hello.txt"
check "curl -r 7-11 /hello.txt (cached file) → 206 'world'" "status $CODE, body '$(cat "$B")'" \
  eval '[ "$CODE" = 206 ] && [ "$(cat "$B")" = world ] && [ "$(hdr content-range)" = "bytes 7-11/13" ]'
fetch -r 999999999- "$BASE/random.bin"
check "curl -r 999999999- /random.bin → 416, Content-Range bytes */204800" \
  "status $CODE, Content-Range '$(hdr content-range)'" \
  eval '[ "$CODE" = 416 ] && [ "$(hdr content-range)" = "bytes */204800" ]'

# --- conditionals ----------------------------------------------------------------------------
fetch -H "If-None-Match: $ETAG" "$BASE/hello.txt"
check "curl If-None-Match: <the ETag> → 304, empty body" "status $CODE, $SIZE bytes" \
  eval '[ "$CODE" = 304 ] && [ "$SIZE" = 0 ] && [ ! -s "$B" ]'
fetch -H "If-None-Match: \"not-the-etag\"" "$BASE/hello.txt"
check "curl If-None-Match: <another ETag> → 200" "status $CODE" \
  eval '[ "$CODE" = 200 ] && cmp -s "$B" "$ROOT/hello.txt"'
fetch -H "If-Modified-Since: $LASTMOD" "$BASE/hello.txt"
check "curl If-Modified-Since: <Last-Modified> → 304, empty body" "status $CODE, $SIZE bytes" \
  eval '[ "$CODE" = 304 ] && [ "$SIZE" = 0 ]'
fetch "$BASE/random.bin"; BIG_ETAG=$(hdr etag)
fetch -H "If-None-Match: $BIG_ETAG" "$BASE/random.bin"
check "curl If-None-Match on the sendfile path (/random.bin) → 304, empty body" "status $CODE, $SIZE bytes" \
  eval '[ "$CODE" = 304 ] && [ "$SIZE" = 0 ]'

# --- root safety -----------------------------------------------------------------------------
for path in "/../etc/passwd" "/../../../../etc/passwd" "/%2e%2e/%2e%2e/etc/passwd" "/%2E%2E/%2e%2E/etc/passwd" \
            "/..%2f..%2fetc%2fpasswd" "/sub/../../etc/passwd" "/a%00b" "/hello.txt%00.html" \
            "/%252e%252e/etc/passwd"; do
  fetch --path-as-is "$BASE$path"
  check "curl --path-as-is $path → 400 or 404, nothing from outside the root" "status $CODE, $SIZE bytes" \
    eval '{ [ "$CODE" = 400 ] || [ "$CODE" = 404 ]; } && ! has_passwd'
done
fetch "$BASE/escape"
check "curl /escape (symlink to /etc/passwd) → 403 or 404, never its content" "status $CODE, $SIZE bytes" \
  eval '{ [ "$CODE" = 403 ] || [ "$CODE" = 404 ]; } && ! has_passwd'
fetch "$BASE/inner"
check "curl /inner (symlink to hello.txt inside the root) → 200, identical" "status $CODE" \
  eval '[ "$CODE" = 200 ] && cmp -s "$B" "$ROOT/hello.txt"'

# --- methods ---------------------------------------------------------------------------------
fetch -X POST --data x=1 "$BASE/hello.txt"
check "curl POST → 405 with Allow: GET, HEAD" "status $CODE, Allow '$(hdr allow)'" \
  eval '[ "$CODE" = 405 ] && [ "$(hdr allow)" = "GET, HEAD" ]'
fetch -X DELETE "$BASE/hello.txt"
check "curl DELETE → 405 with Allow: GET, HEAD" "status $CODE, Allow '$(hdr allow)'" \
  eval '[ "$CODE" = 405 ] && [ "$(hdr allow)" = "GET, HEAD" ]'
fetch -X BREW "$BASE/hello.txt"
check "curl BREW (unknown method) → 501" "status $CODE" eval '[ "$CODE" = 501 ]'

# --- keep-alive: several URLs in one curl invocation share one connection ---------------------
connects=$(curl -sS --http1.1 --max-time 10 -w '%{num_connects}\n' \
  -o /dev/null "$BASE/hello.txt" -o /dev/null "$BASE/random.bin" -o /dev/null "$BASE/index.html" 2>"$WORK/curl.err")
total=0; for n in $connects; do total=$((total + n)); done
check "curl: three URLs in one invocation reuse one keep-alive connection" "num_connects: $(echo $connects)" \
  eval '[ "$total" = 1 ] && [ "$(wc -w <<<"$connects")" = 3 ]'
# ... including after a 404 and a 405 (they must not close the connection)
connects=$(curl -sS --http1.1 --max-time 10 -w '%{num_connects}\n' \
  -o /dev/null "$BASE/missing.txt" -o /dev/null -X POST "$BASE/hello.txt" 2>"$WORK/curl.err")
total=0; for n in $connects; do total=$((total + n)); done
check "curl: a 404 then a 405 on one keep-alive connection" "num_connects: $(echo $connects)" \
  eval '[ "$total" = 1 ]'

# --- Python's http.client: keep-alive, HTTP/1.0, pipelining -----------------------------------
# (the helper exits 0 when it ran to the end, whatever its checks found; anything else is a crash)
while IFS= read -r line; do
  case "$line" in
    "ok - "*) PASSED=$((PASSED + 1)); echo "$line" ;;
    "not ok - "*) FAILED=$((FAILED + 1)); echo "$line" ;;
    "python-exit "*) [ "${line#python-exit }" = 0 ] || notok "http_integration.py ran to the end" "exit ${line#python-exit }" ;;
    *) echo "$line" ;;
  esac
done < <(timeout 120 python3 Scripts/checks/http_integration.py 127.0.0.1 "$PORT" "$ROOT" 2>&1; echo "python-exit $?")

# --- the server is still healthy, then SIGTERM drains and exits 0 -----------------------------
check "the server is still running after all the checks" "it exited: $(tail -3 "$WORK/server.err" | tr '\n' ' ')" \
  kill -0 "$SERVER_PID"
kill -TERM "$SERVER_PID" 2>/dev/null
rc=""
for _ in $(seq 150); do   # up to 15 s
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then wait "$SERVER_PID"; rc=$?; break; fi
  sleep 0.1
done
check "SIGTERM: the server drains and exits 0" "exit '${rc:-still running after 15 s}'; stderr: $(tail -3 "$WORK/server.err" | tr '\n' ' ')" \
  eval '[ "$rc" = 0 ]'
[ -n "$rc" ] && SERVER_PID=""

summary
[ "$FAILED" = 0 ]
