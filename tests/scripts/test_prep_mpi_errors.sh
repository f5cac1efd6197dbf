#!/usr/bin/env bash
# dcgan-prep pack under mpirun -np 2 (Note [Errors under mpirun], data_prep/prep_main.cpp): an
# error that every rank hits prints once, one that only rank 1 hits prints once naming rank 1,
# distinct errors print once each with their rank, a --config that only rank 1 lacks stops both
# ranks before pack starts; rank 1 prints nothing itself; exit codes as documented; no hang. Each
# case compares the exact error lines.
source "$(dirname "$0")/lib_ops.sh"
prep="$OPS_BIN/dcgan-prep"
[ -x "$prep" ] || { echo "FAIL: $prep is not built"; exit 1; }
OPS_SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/dcgan-prep-mpi-errors.XXXXXX")
trap ops_cleanup EXIT
T=$OPS_SCRATCH
set -m  # each run in its own process group, so a hung one is stopped whole

# A folder of four PNGs in name order: a b c good (an inspect grid), d not an image. With
# --images-per-shard 2, shard 0 (a, b) is rank 0's and shard 1 (c, d) rank 1's.
"$prep" pack --source synthetic --count 64 --size 8 --out "$T/syn" --no-progress >/dev/null 2>&1 &&
  "$prep" inspect "$T/syn" --grid "$T/grid.png" >/dev/null || { echo "FAIL: test data"; exit 1; }
mkdir "$T/in" "$T/both"
for n in a b c; do cp "$T/grid.png" "$T/in/$n.png"; done
echo "not an image" > "$T/in/d.png"
cp "$T/in/"* "$T/both/" && cp "$T/in/d.png" "$T/both/a.png"  # a bad on rank 0 as well

# case_np2 NAME CODE LINE... -- FLAGS...: dcgan-prep FLAGS on 2 ranks (60 s at most) exits CODE
# and prints exactly the LINEs as its error lines ("dcgan-prep: error: LINE"), none from rank 1.
# With NP=1, FLAGS may go on with ": -np 1 dcgan-prep FLAGS2" for a rank 1 of its own.
case_np2() {
  local name=$1 code=$2 want=() pid; shift 2
  while [ "$1" != -- ]; do want+=("dcgan-prep: error: $1"); shift; done; shift
  ( ops_mpirun "${NP:-2}" "$prep" "$@" ) > "$T/$name.out" 2>&1 &
  pid=$!
  OPS_PIDS+=("$pid")
  ops_wait_exit "$pid" 60 || { ops_fail "$name: still running after 60 s"; return; }
  local got; got=$(grep -o 'dcgan-prep: error: .*' "$T/$name.out" || true)
  local from_rank1; from_rank1=$(grep -c '\[r1/2\]' "$T/$name.out" || true)
  if [ "$OPS_RC" = "$code" ] && [ "$got" = "$(printf '%s\n' "${want[@]}")" ] && [ "$from_rank1" = 0 ]; then
    ops_pass "$name: exit $code, ${#want[@]} error line(s), none from rank 1"
  else
    ops_fail "$name: exit $OPS_RC (wanted $code), $from_rank1 line(s) from rank 1, error lines:"
    printf '  got:    %s\n' "$got"; printf '  wanted: %s\n' "${want[@]}"; sed 's/^/  | /' "$T/$name.out"
  fi
}

# Usage errors every rank hits alike: while parsing, a CLI11 check, pack's own check.
case_np2 missing-option 2 "--source is required (see dcgan-prep --help)" -- \
  pack --out "$T/x"
case_np2 bad-value 2 "--on-bad-image: maybe not in {skip,fail} (see dcgan-prep --help)" -- \
  pack --source synthetic --out "$T/x" --on-bad-image maybe
case_np2 bad-channels 2 "--channels 2: expected 1 or 3" -- \
  pack --source synthetic --out "$T/x" --channels 2
# A non-empty --out (rank 0 decides for the job) and a missing source directory (data: exit 3).
case_np2 out-not-empty 2 "--out '$T/in' is not empty (HINT: pass --overwrite to replace it)" -- \
  pack --source synthetic --count 4 --out "$T/in"
case_np2 missing-input 3 "input folder '$T/nope' does not exist" -- \
  pack --source folder --input "$T/nope" --out "$T/x"

# Only rank 1 reads d.png: one line that names rank 1, exit 3, no manifest.
common=(--size 16 --images-per-shard 2 --on-bad-image fail --no-progress)
case_np2 rank1-bad-image 3 "rank 1: image $T/in/d.png is neither JPEG nor PNG" -- \
  pack --source folder --input "$T/in" --out "$T/o1" "${common[@]}"
ops_check "no manifest after rank 1 failed" test ! -e "$T/o1/manifest.json"
# Each rank reads a bad image of its own: two lines in source order, each naming its rank.
case_np2 both-bad-images 3 "rank 0: image $T/both/a.png is neither JPEG nor PNG" \
  "rank 1: image $T/both/d.png is neither JPEG nor PNG" -- \
  pack --source folder --input "$T/both" --out "$T/o2" "${common[@]}"

# A --config file that rank 1 cannot read (as on a node without it): rank 1 fails while parsing,
# rank 0 does not; both stop before pack's collectives, and nothing is written.
printf '[pack]\nsource = "synthetic"\ncount = 8\nsize = 8\nout = "%s/o3"\n' "$T" > "$T/pack.ini"
NP=1 case_np2 config-on-rank0-only 2 \
  "rank 1: $T/missing.ini was not readable (missing?) (see dcgan-prep --help)" -- \
  --config "$T/pack.ini" pack --no-progress : -np 1 "$prep" --config "$T/missing.ini" pack
ops_check "nothing written when rank 1 could not parse" test ! -e "$T/o3"
ops_finish
