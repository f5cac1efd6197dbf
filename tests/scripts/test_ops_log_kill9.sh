#!/usr/bin/env bash
# A rank's log file holds every line its console has shown, even when the rank dies by SIGKILL:
# the trainer is killed the moment its console shows step 5, and RUN/logs/rank-0.log must hold
# that very line (and the start-up lines before it).
source "$(dirname "$0")/lib_ops.sh"
ops_setup log_kill9
T=$OPS_SCRATCH
ops_pack "$T/data" 256

# The console is read line by line through a FIFO, and the trainer is killed the moment the
# first step line at batch 5 arrives ("[epoch/E][batch/B]\t..."), a millisecond or so later.
mkfifo "$T/console"
"$OPS_BIN/dcgan-train" --data "$T/data" --out "$T/run" --steps 1000000 "${OPS_TRAIN_ARGS[@]}" \
  2> "$T/console" &
pid=$!
OPS_PIDS+=("$pid")
: > "$T/shown.txt"
while IFS= read -r -t 120 line; do
  printf '%s\n' "$line" >> "$T/console.log"
  if [[ "$line" =~ \[1/[0-9]+\]\[5/[0-9]+\] ]]; then
    kill -9 "$pid"
    printf '%s\n' "$line" > "$T/shown.txt"
    break
  fi
done < "$T/console"
wait "$pid" 2>/dev/null
[ -s "$T/shown.txt" ] || { tail -n 20 "$T/console.log"; ops_fail "no step 5 on the console in 120 s"; ops_finish; }
shown=$(sed -E 's/^[0-9-]+ [0-9:.]+ //' "$T/shown.txt")  # the line without its timestamp
echo "console showed: $shown"
log=$T/run/logs/rank-0.log
ops_check "rank-0.log exists" test -f "$log"
ops_check "rank-0.log holds the line the console showed" grep -a -q -F -- "$shown" "$log"
ops_check "rank-0.log holds the placement line" grep -a -q -F "placement" "$log"
ops_finish
