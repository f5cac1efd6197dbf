#!/usr/bin/env bash
# dcgan-report of a short DCGAN run (with FD) and of an AE run: one self-contained HTML file (no
# URL outside it; every image a data URI: 4 plots and 4 grids for the DCGAN), rendered by headless
# Chromium. The screenshot must show the plots (their teal frames, with matplotlib's line colours
# inside) and the grids (their purple frames, with the grids' black padding inside). The progress
# line: on a terminal (script(1) gives one) dcgan-train draws "[step/total] ... img/s  ETA" lines
# in place with \r; into a file it writes none, and the log lines are as before.
set -euo pipefail
BIN="${DCGAN_BIN_DIR:?set by ctest}"
PY="${DCGAN_PYTHON:-python3}"
here="$(dirname "${BASH_SOURCE[0]}")"
source "$here/lib_cli.sh"
for need in /usr/bin/python3 chromium; do
  command -v "$need" >/dev/null || { echo "SKIP: no $need (launch/setup.sh installs python3-matplotlib and chromium)"; exit 77; }
done
/usr/bin/python3 -c "import matplotlib, PIL" 2>/dev/null || { echo "SKIP: Debian's python3 has no matplotlib"; exit 77; }

"$BIN/dcgan-prep" pack --source synthetic --count 64 --size 32 --channels 3 --out "$tmp/data" >/dev/null 2>&1
"$PY" "$here/eval_features.py" "$tmp/f.pt" 3
common=(--data "$tmp/data" --nz 16 --ngf 8 --ndf 8 --batch-size 8 --log-every 2 --sample-every 2
        --device cpu --threads 1)
"$BIN/dcgan-train" "${common[@]}" --out "$tmp/run" --steps 8 --eval-every 2 --eval-features "$tmp/f.pt" \
  --eval-samples 16 >"$tmp/train.out" 2>&1 || { cat "$tmp/train.out"; fail "training"; }
grep -q $'\r' "$tmp/train.out" && fail "a progress line went into a file"
grep -q "ETA" "$tmp/train.out" && fail "a progress line went into a file"
grep -q "\[0/1\]\[1/8\]" "$tmp/train.out" || fail "the log lines changed"

"$BIN/dcgan-report" "$tmp/run" 2>"$tmp/report.err" || { cat "$tmp/report.err"; fail "dcgan-report"; }
grep -q "wrote $tmp/run/report.html (4 plots, 4 grids)" "$tmp/report.err" || { cat "$tmp/report.err"; fail "report summary"; }
html="$tmp/run/report.html"
[ "$(grep -o 'src=.data:image/png;base64,' "$html" | wc -l)" = 8 ] || fail "expected 8 embedded images"
! grep -qE "(https?|file|ftp)://|src=.[^d]" "$html" || fail "the report refers to something outside itself"

timeout 120 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1300,1400 \
  --screenshot="$tmp/shot.png" "file://$html" >"$tmp/chromium.out" 2>&1 || { cat "$tmp/chromium.out"; fail "chromium"; }
/usr/bin/python3 - "$tmp/shot.png" <<'PYEOF' || fail "the screenshot"
import sys
from PIL import Image
im = Image.open(sys.argv[1]).convert("RGB")
w, h = im.size
px = im.load()
def frames(colour):
    """Frames drawn in `colour` (2 px CSS borders): every run of 100+ such pixels in a row is a
    frame's top or bottom edge, 2 rows each; returns the frame count and the rows they span."""
    runs, rows = 0, []
    for y in range(h):
        run = 0
        for x in range(w + 1):
            if x < w and px[x, y] == colour:
                run += 1
                continue
            if run > 100:
                runs += 1
                rows.append(y)
            run = 0
    return runs // 4, rows
def count(colour, box):
    x0, y0, x1, y1 = box
    return sum(1 for y in range(y0, y1) for x in range(x0, x1) if px[x, y] == colour)
n_plots, plot_rows = frames((0, 150, 136))
n_grids, grid_rows = frames((156, 39, 176))
assert n_plots == 4, f"{n_plots} plot frames"
assert n_grids == 4, f"{n_grids} grid frames"
plot_edges, grid_edges = plot_rows, grid_rows
ys = sorted(plot_edges)
blue = count((31, 119, 180), (0, ys[0], w, ys[-1]))  # matplotlib's first line colour
orange = count((255, 127, 14), (0, ys[0], w, ys[-1]))
assert blue > 200 and orange > 50, (blue, orange)
gy = sorted(grid_edges)
black = count((0, 0, 0), (0, gy[0], w, gy[-1]))  # the grids' padding
assert black > 2000, black
print(f"screenshot {w}x{h}: {n_plots} plot frames, {n_grids} grid frames, "
      f"{blue} blue and {orange} orange line pixels, {black} black grid pixels")
PYEOF

# An AE run's report: its own curves (rec_mse), reconstruction grids.
"$BIN/dcgan-train" "${common[@]}" --model ae --out "$tmp/ae" --steps 4 >/dev/null 2>&1 || fail "ae training"
"$BIN/dcgan-report" "$tmp/ae" --out "$tmp/ae.html" 2>"$tmp/ae.err" || { cat "$tmp/ae.err"; fail "ae report"; }
grep -q "(2 plots, 2 grids)" "$tmp/ae.err" || { cat "$tmp/ae.err"; fail "ae report contents"; }
expect 3 "$tmp/none/metrics.jsonl does not exist" -- "$BIN/dcgan-report" "$tmp/none"

# The progress line on a terminal.
script -qfec "$BIN/dcgan-train ${common[*]} --out $tmp/tty --steps 6" /dev/null >"$tmp/tty.out" 2>&1 || { cat "$tmp/tty.out"; fail "training on a pty"; }
grep -q $'\r' "$tmp/tty.out" || fail "no progress line on a terminal"
grep -qE "\[6/6\] [0-9]+ img/s  ETA 0:00:00  Loss_D: " "$tmp/tty.out" || { cat -v "$tmp/tty.out" | tail -5; fail "the last progress line"; }
echo "test_report: ok"
