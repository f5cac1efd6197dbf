"""The table and verdict of bench/soak.sh, from its samples.tsv and events.tsv (standard library only).

samples.tsv: t_ms attempt rank pid rss_kb private_kb fds step (one row per rank per sample)
events.tsv:  t_ms kind attempt detail (kind: start | signal (detail: USR1) | stop (detail: the stop
             step, or "end" for a normal end))

Definitions (each process is one attempt; a resume starts new processes):
  settled     a sample of an attempt after the first one that saw it train (a metrics line past
              the step it started from): earlier ones fall in start-up (MPI, data, checkpoint
              loading, the first steps' allocations); settled ones compare processes doing the
              same work.
  RSS growth  per rank, over the settled samples from --rss-from-min on: the largest against the
              first (and the last against the first, shown). Settled samples of different
              attempts are comparable because every attempt runs the same step on the same
              buffers; what a resume adds over the run (more checkpoints, metrics lines, event
              files) must not grow memory either.
  fds flat    per rank, max - min <= --fd-range over the settled samples of all attempts: every
              attempt opens the same files (shards, logs, event file, MPI's sockets), so a count
              that climbs within an attempt or from one attempt to the next is a leak.
  img/s       per interval between two samples, (step now - step before) * global batch / wall
              seconds: everything the trainer does (FD, checkpoints, TensorBoard) counts. An
              interval that holds a stop or a start (and the first, start-up) is marked and left
              out; the others are clean and must lie within --tput-pct of their median.
"""
import argparse
import statistics
import sys


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", required=True)
    p.add_argument("--events", required=True)
    p.add_argument("--global-batch", type=int, required=True)
    p.add_argument("--rss-from-min", type=float, default=5)
    p.add_argument("--rss-max-pct", type=float, default=5)
    p.add_argument("--fd-range", type=int, default=2)
    p.add_argument("--tput-pct", type=float, default=10, help="0: shown, not checked")
    p.add_argument("--bits-ok", type=int, required=True)
    p.add_argument("--bits-detail", required=True)
    p.add_argument("--cpu", default="?")
    return p.parse_args()


def load_samples(path):
    """{t_ms: {"attempt": a, "step": s, rank: (rss_kb, private_kb, fds)}} in time order."""
    samples = {}
    with open(path) as f:
        for line in f:
            t, attempt, rank, _pid, rss, priv, fds, step = (int(x) for x in line.split("\t"))
            row = samples.setdefault(t, {"attempt": attempt, "step": step})
            row[rank] = (rss, priv, fds)
    return dict(sorted(samples.items()))


def load_events(path):
    with open(path) as f:
        return [(int(t), kind, int(a), s) for t, kind, a, s in (l.rstrip("\n").split("\t") for l in f)]


def intervals(samples, events, global_batch):
    """{t_ms: (img_per_s, mark)} for the interval that ends at each sample."""
    out, prev_t, prev_step = {}, None, 0
    for t, row in samples.items():
        lo = -1 if prev_t is None else prev_t
        seconds = (t - (0 if prev_t is None else prev_t)) / 1000
        rate = (row["step"] - prev_step) * global_batch / seconds
        mark = "start-up" if prev_t is None else ""
        if prev_t is not None and any(lo < et <= t for et, kind, _, _ in events):
            mark = "restart"
        out[t] = (rate, mark)
        prev_t, prev_step = t, row["step"]
    return out


def settled_times(samples, events):
    """The samples taken after an earlier sample of the same attempt had seen it train."""
    start_step = {1: 0}
    for _, kind, attempt, step in events:
        if kind == "stop" and step.isdigit():
            start_step[attempt + 1] = int(step)
    trained, out = set(), []
    for t, row in samples.items():
        a = row["attempt"]
        if a in trained:
            out.append(t)
        elif row["step"] > start_step.get(a, 0):
            trained.add(a)
    return out


def mib(kb):
    return f"{kb / 1024:.1f}"


def print_table(samples, rates, ranks):
    head = ["time", "att"] + [f"RSS r{r}" for r in ranks] + [f"priv r{r}" for r in ranks]
    head += [f"fds r{r}" for r in ranks] + ["img/s", "marked"]
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---:" for _ in head[:-1]) + "|---|")
    for t, row in samples.items():
        rate, mark = rates[t]
        cells = [f"{t // 60000}:{t // 1000 % 60:02d}", str(row["attempt"])]
        cells += [mib(row[r][0]) for r in ranks] + [mib(row[r][1]) for r in ranks]
        cells += [str(row[r][2]) for r in ranks] + [f"{rate:.0f}", mark]
        print("| " + " | ".join(cells) + " |")
    print("(RSS and private memory in MiB; time = m:ss since the first start; att = attempt)")


def check_rss(samples, settled, ranks, from_min, max_pct):
    times = [t for t in settled if t >= from_min * 60000]
    if len(times) < 2:
        return False, f"RSS: only {len(times)} settled samples from minute {from_min:g}"
    parts, ok = [], True
    for r in ranks:
        base = samples[times[0]][r][0]
        worst = max(samples[t][r][0] for t in times) / base - 1
        last = samples[times[-1]][r][0] / base - 1
        ok &= worst * 100 <= max_pct
        parts.append(f"r{r} {mib(base)} MiB, max {worst * 100:+.1f}%, end {last * 100:+.1f}%")
    return ok, (f"RSS from {times[0] / 60000:.1f} min ({len(times)} settled samples), limit "
                f"+{max_pct:g}%: " + "; ".join(parts))


def check_fds(samples, settled, ranks, fd_range):
    if len(settled) < 2:
        return False, f"fds: only {len(settled)} settled samples"
    parts, ok = [], True
    for r in ranks:
        counts = [samples[t][r][2] for t in settled]
        ok &= max(counts) - min(counts) <= fd_range
        parts.append(f"r{r} {min(counts)}..{max(counts)}")
    return ok, f"fds over {len(settled)} settled samples, max-min <= {fd_range}: " + "; ".join(parts)


def check_throughput(rates, pct):
    clean = [rate for rate, mark in rates.values() if not mark]
    if len(clean) < 2:
        return pct <= 0, f"img/s: only {len(clean)} clean intervals"
    median = statistics.median(clean)
    dev = max(abs(x / median - 1) for x in clean) * 100
    text = (f"img/s over {len(clean)} clean intervals: median {median:.0f}, min {min(clean):.0f}, "
            f"max {max(clean):.0f}, largest deviation {dev:.1f}%")
    if pct <= 0:
        return True, text + " (not checked)"
    return dev <= pct, text + f", limit {pct:g}%"


def main():
    a = parse_args()
    samples, events = load_samples(a.samples), load_events(a.events)
    if not samples:
        print("soak: FAIL: no samples")
        return 1
    ranks = sorted(k for k in next(iter(samples.values())) if isinstance(k, int))
    rates = intervals(samples, events, a.global_batch)
    settled = settled_times(samples, events)
    print_table(samples, rates, ranks)
    stops = [e for e in events if e[1] == "stop"]
    print(f"{len(stops)} stops ({len(stops) - 2} preemptions, the closing stop and the final "
          f"resume's end), {len(samples)} samples, CPU: {a.cpu}")
    signalled = {attempt: t for t, kind, attempt, _ in events if kind == "signal"}
    waits = [(t - signalled[att]) / 1000 for t, kind, att, _ in stops if att in signalled]
    if waits:
        print(f"SIGUSR1 to the launcher's exit (75): {min(waits):.1f} to {max(waits):.1f} s")
    with open(a.bits_detail) as f:
        detail = " / ".join(l.strip() for l in f if l.strip())
    results = [
        check_rss(samples, settled, ranks, a.rss_from_min, a.rss_max_pct),
        check_fds(samples, settled, ranks, a.fd_range),
        check_throughput(rates, a.tput_pct),
        (a.bits_ok == 1, f"final checkpoint against the straight run: {detail}"),
    ]
    for ok, text in results:
        print(("ok: " if ok else "FAIL: ") + text)
    failed = sum(1 for ok, _ in results if not ok)
    print("soak: PASS" if failed == 0 else f"soak: FAIL ({failed} of {len(results)} criteria)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
