#!/usr/bin/env bash
# The soak (bench/soak.sh) in 3 minutes: 2 CPU ranks, SIGUSR1 at 1 and 2 minutes (2 preemptions,
# each resumed with --resume), the closing stop at 3, the final resume to its end, a sample every
# 10 s. The straight run trains beside the soak (--straight beside), from nothing and through no
# stop, so nothing replays the soak's steps after it; and the soak runs at nice 10, so the tests
# beside it take the CPU first and it trains on what they leave (7,000 steps under ctest -j2
# on 2 cores). Checks: the final checkpoint equals the straight run's of the same step
# bit for bit; per rank, RSS grows at most 10% from the first settled sample (attempt 1's second,
# the first after it trained) to any later settled one, of any attempt: every attempt runs the
# same step on the same buffers, so a resumed process is comparable with the first once both
# have trained (bench/soak_report.py defines "settled"); descriptors flat (max - min <= 2 over
# those samples). Throughput is shown, not checked: ctest runs other tests beside this one. Then
# the numbers of the soak's own files: 4 stops (exit 75, 75, 75, then 0), every stop a distinct
# step, and at least 12 samples.
set -euo pipefail
root=${DCGAN_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dcgan-soak-short.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

rc=0
nice -n 10 bash "$root/bench/soak.sh" --minutes 3 --preempt-every 1 --sample-every 10 --rss-from 0 \
  --rss-max-pct 10 --fd-range 2 --tput-pct 0 --straight beside --work "$tmp/soak" > "$tmp/soak.out" 2>&1 || rc=$?
cat "$tmp/soak.out"
[ "$rc" = 0 ] || fail "bench/soak.sh exited $rc"
verdict=$(tail -n 1 "$tmp/soak.out")
[ "$verdict" = "soak: PASS" ] || fail "the verdict is '$verdict'"

events=$tmp/soak/events.tsv
stops=$(awk -F'\t' '$2 == "stop"' "$events" | wc -l)
[ "$stops" = 4 ] || fail "expected 4 stops (2 preemptions, the closing stop, the end), got $stops"
steps=$(awk -F'\t' '$2 == "stop" && $4 != "end" {print $4}' "$events" | sort -un | wc -l)
[ "$steps" = 3 ] || fail "expected 3 distinct stop steps, got $steps"
samples=$(cut -f1 "$tmp/soak/samples.tsv" | sort -u | wc -l)
[ "$samples" -ge 12 ] || fail "expected at least 12 samples in 3 minutes, got $samples"
for check in "RSS from" "fds over" "final checkpoint against the straight run"; do
  # Each criterion's line, with its numbers, must say ok.
  line=$(grep -F "$check" "$tmp/soak.out" || true)
  [[ "$line" == ok:* ]] || fail "criterion '$check': ${line:-missing}"
done
grep -qF "checkpoint.toml: 4 fingerprints equal" "$tmp/soak.out" || fail "the 4 fingerprints"

[ "$fails" = 0 ] || { echo "$fails check(s) failed"; exit 1; }
echo "PASS: $samples samples, $stops stops"
