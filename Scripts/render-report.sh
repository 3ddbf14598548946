#!/bin/sh
# Render lab report pages with headless Chromium and fail on a blank or broken page.
#
# Usage: Scripts/render-report.sh PAGE.html|REPORT_DIR [OUT_DIR]
#   Renders PAGE.html (or every *.html in REPORT_DIR) to OUT_DIR/NAME.png
#   (default OUT_DIR: the page's own directory) at 1280x4000 (tall enough for a results table and the charts below it).
#
# Why these checks: a missing PNG means Chromium failed; a tiny file or a nearly
# one-colour image means a blank page (white screen, page not found, CSS hiding
# everything). File size alone is not robust (a big error page compresses to a
# respectable size, a sparse valid page can be small), so the PNG is decoded with the
# Python standard library (zlib + PNG row filters) and we require
#   - at least 16 distinct colours (text anti-aliasing plus chart colours), and
#   - at least 2 % of pixels differing from the dominant (background) colour, over the rows
#     down to the last one with anything drawn (a short page is not diluted by the blank
#     canvas below it),
#   - at least 3 of the chart palette colours when the page holds an <svg>
#     (charts really drew bars/lines, not just empty frames).
set -eu

TARGET=${1:?usage: render-report.sh PAGE.html|REPORT_DIR [OUT_DIR]}
OUT_DIR=${2:-}
CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)}
[ -n "$CHROMIUM" ] || { echo "render-report: chromium not found (apt-get install chromium)" >&2; exit 2; }

if [ -d "$TARGET" ]; then
    PAGES=$(ls "$TARGET"/*.html 2>/dev/null || true)
else
    PAGES=$TARGET
fi
[ -n "$PAGES" ] || { echo "render-report: no HTML pages in $TARGET" >&2; exit 1; }

status=0
for page in $PAGES; do
    [ -f "$page" ] || { echo "render-report: $page: no such file" >&2; status=1; continue; }
    abs=$(cd "$(dirname "$page")" && pwd)/$(basename "$page")
    dir=${OUT_DIR:-$(dirname "$abs")}
    mkdir -p "$dir"
    png=$dir/$(basename "$page" .html).png
    rm -f "$png"
    profile=$(mktemp -d)
    # --virtual-time-budget lets layout settle; a private profile keeps runs independent.
    timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --hide-scrollbars \
        --user-data-dir="$profile" --virtual-time-budget=2000 \
        --screenshot="$png" --window-size=1280,4000 "file://$abs" >/dev/null 2>&1 || true
    rm -rf "$profile"
    if grep -q "<svg" "$abs"; then want_charts=1; else want_charts=0; fi
    if python3 - "$png" "$want_charts" <<'PY'
import struct, sys, zlib, os
from collections import Counter

path, want_charts = sys.argv[1], sys.argv[2] == "1"
def fail(msg):
    print(f"render-report: {path}: {msg}", file=sys.stderr)
    sys.exit(1)

if not os.path.exists(path):
    fail("no PNG written (chromium failed)")
size = os.path.getsize(path)
if size < 10_000:
    fail(f"PNG is only {size} bytes: blank page")

data = open(path, "rb").read()
if data[:8] != b"\x89PNG\r\n\x1a\n":
    fail("not a PNG")
pos, idat, hdr = 8, [], None
while pos < len(data):
    length, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + length]
    if kind == b"IHDR":
        hdr = struct.unpack(">IIBBBBB", body)
    elif kind == b"IDAT":
        idat.append(body)
    pos += 12 + length
width, height, depth, ctype, _, _, interlace = hdr
if depth != 8 or ctype not in (2, 6) or interlace:
    fail(f"unsupported PNG layout depth={depth} colour={ctype} interlace={interlace}")
bpp = 3 if ctype == 2 else 4
stride = width * bpp
raw = zlib.decompress(b"".join(idat))
prev = bytearray(stride)
colours = Counter()
rows = []
for y in range(height):
    f = raw[y * (stride + 1)]
    line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    if f == 1:
        for i in range(bpp, stride):
            line[i] = (line[i] + line[i - bpp]) & 255
    elif f == 2:
        line = bytearray((a + b) & 255 for a, b in zip(line, prev))
    elif f == 3:
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            line[i] = (line[i] + ((left + prev[i]) >> 1)) & 255
    elif f == 4:
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    prev = line
    # Count every second pixel of every second row: plenty for the statistics.
    if y % 2 == 0:
        row = Counter(bytes(line[x:x + 3]) for x in range(0, stride, bpp * 2))
        colours.update(row)
        rows.append(row)
dominant, _ = colours.most_common(1)[0]
used = max((i for i, row in enumerate(rows) if sum(row.values()) != row[dominant]), default=0) + 1
total = sum(sum(row.values()) for row in rows[:used])
ink = 1 - sum(row[dominant] for row in rows[:used]) / total
palette = ["0072B2", "E69F00", "009E73", "D55E00", "CC79A7", "56B4E9", "F0E442"]
present = [p for p in palette if colours.get(bytes.fromhex(p), 0) >= 20]
print(f"render-report: {path}: {width}x{height}, {size} bytes, {len(colours)} colours, "
      f"{ink:.1%} ink, chart colours {present}")
if len(colours) < 16:
    fail(f"only {len(colours)} distinct colours: blank or broken page")
if ink < 0.02:
    fail(f"only {ink:.2%} of pixels differ from the background: nearly blank page")
if want_charts and len(present) < 3:
    fail("page has charts but fewer than 3 chart colours are visible: empty charts?")
PY
    then :; else status=1; fi
done
exit $status
