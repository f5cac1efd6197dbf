"""The table and verdict of bench/soak.sh, from its samples.tsv and events.tsv (standard library only).

samples.tsv: t_ms attempt rank pid rss_kb private_kb fds step cpu_ticks machine_busy machine_steal
             (one row per rank per sample; cpu_ticks: the rank's user + system time; the machine's
             busy and steal ticks from /proc/stat, the same in every row of a sample)
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
              out; the others are clean.
  other %     per interval, the CPU time the machine spent outside the ranks (other processes,
              the launcher, this script) plus the time the hypervisor took (steal), as a share of
              all cores' wall time. A clean interval above --contended-pct is marked contended:
              the ranks did not have the machine to themselves.
  img/CPU-s   per interval, the images over the ranks' own CPU seconds (user + system): the
              trainer's rate, whatever else ran.
  throughput  the clean, uncontended intervals in time order are cut into thirds; it passes when
              the median img/s of each third lies within --tput-pct of the median of all. Single
              intervals are shown with their scatter, not checked: on 2 shared cores a rank's
              rate differs from process to process and from minute to minute by more than 10%
              with no other load, and 2 ranks in lock-step add each other's hiccups.
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
    p.add_argument("--hz", type=int, default=100, help="clock ticks per second (getconf CLK_TCK)")
    p.add_argument("--cores", type=int, default=2)
    p.add_argument("--contended-pct", type=float, default=10)
    return p.parse_args()


def load_samples(path):
    """{t_ms: {"attempt": a, "step": s, "busy": b, "steal": st, rank: (rss_kb, private_kb, fds,
    cpu_ticks)}} in time order."""
    samples = {}
    with open(path) as f:
        for line in f:
            t, attempt, rank, _pid, rss, priv, fds, step, ticks, busy, steal = (
                int(x) for x in line.split("\t"))
            row = samples.setdefault(t, {"attempt": attempt, "step": step, "busy": busy,
                                         "steal": steal})
            row[rank] = (rss, priv, fds, ticks)
    return dict(sorted(samples.items()))


def load_events(path):
    with open(path) as f:
        return [(int(t), kind, int(a), s) for t, kind, a, s in (l.rstrip("\n").split("\t") for l in f)]


class Interval:
    """The interval that ends at a sample: img/s, and for a clean one img/CPU-s and other %."""

    def __init__(self, rate, mark, per_cpu_s=None, other_pct=None):
        self.rate, self.mark = rate, mark
        self.per_cpu_s, self.other_pct = per_cpu_s, other_pct


def intervals(samples, events, global_batch, ranks, hz, cores, contended_pct):
    """{t_ms: Interval} for the interval that ends at each sample."""
    out, prev_t, prev = {}, None, None
    for t, row in samples.items():
        lo = -1 if prev_t is None else prev_t
        seconds = (t - (0 if prev_t is None else prev_t)) / 1000
        images = (row["step"] - (prev["step"] if prev else 0)) * global_batch
        if prev_t is None:
            out[t] = Interval(images / seconds, "start-up")
        elif any(lo < et <= t for et, _, _, _ in events):
            out[t] = Interval(images / seconds, "restart")
        else:  # the same processes at both ends: their CPU times subtract
            own = sum(row[r][3] - prev[r][3] for r in ranks) / hz
            other = ((row["busy"] - prev["busy"]) / hz - own + (row["steal"] - prev["steal"]) / hz)
            other_pct = 100 * other / (seconds * cores)
            out[t] = Interval(images / seconds, "contended" if other_pct > contended_pct else "",
                              images / own if own > 0 else 0.0, other_pct)
        prev_t, prev = t, row
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
    head += [f"fds r{r}" for r in ranks] + ["img/s", "img/CPU-s", "other %", "marked"]
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---:" for _ in head[:-1]) + "|---|")
    for t, row in samples.items():
        iv = rates[t]
        cells = [f"{t // 60000}:{t // 1000 % 60:02d}", str(row["attempt"])]
        cells += [mib(row[r][0]) for r in ranks] + [mib(row[r][1]) for r in ranks]
        cells += [str(row[r][2]) for r in ranks] + [f"{iv.rate:.0f}"]
        cells += ["" if iv.per_cpu_s is None else f"{iv.per_cpu_s:.0f}"]
        cells += ["" if iv.other_pct is None else f"{iv.other_pct:.1f}", iv.mark]
        print("| " + " | ".join(cells) + " |")
    print("(RSS and private memory in MiB; time = m:ss since the first start; att = attempt; "
          "other % = the machine's CPU outside the ranks plus steal, of all cores)")


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


def spread(values):
    """(median, largest relative deviation from it in %)."""
    median = statistics.median(values)
    return median, max(abs(x / median - 1) for x in values) * 100


def check_throughput(rates, pct):
    """Drift, not scatter: the median img/s of each third of the uncontended clean intervals lies
    within pct of the median of all of them. Single intervals scatter on a small shared machine
    without any trend (see docs/running.md); a trainer that slows itself down (a leak, a list
    that grows, a slower step, longer waits) moves a whole third."""
    clean = [iv for iv in rates.values() if iv.mark in ("", "contended")]
    alone = [iv.rate for iv in clean if not iv.mark]
    thirds = [alone[k * len(alone) // 3:(k + 1) * len(alone) // 3] for k in range(3)]
    if min(len(t) for t in thirds) < 2:
        return pct <= 0, (f"img/s: only {len(alone)} uncontended clean intervals of {len(clean)} "
                          "clean ones (at least 6 needed)")
    median, dev = spread(alone)
    windows = [statistics.median(t) for t in thirds]
    drift = max(abs(w / median - 1) for w in windows) * 100
    cpu_median, cpu_dev = spread([iv.per_cpu_s for iv in clean])
    others = [iv.other_pct for iv in clean]
    text = (f"img/s over {len(alone)} uncontended clean intervals: median {median:.0f}; by "
            f"thirds {' / '.join(f'{w:.0f}' for w in windows)}, largest drift {drift:.1f}% "
            f"(single intervals {min(alone):.0f} to {max(alone):.0f}, {dev:.1f}%; img/CPU-s "
            f"median {cpu_median:.0f}, {cpu_dev:.1f}%; other load {min(others):.1f} to "
            f"{max(others):.1f}%)")
    if pct <= 0:
        return True, text + " (not checked)"
    return drift <= pct, text + f", limit {pct:g}%"


def main():
    a = parse_args()
    samples, events = load_samples(a.samples), load_events(a.events)
    if not samples:
        print("soak: FAIL: no samples")
        return 1
    ranks = sorted(k for k in next(iter(samples.values())) if isinstance(k, int))
    rates = intervals(samples, events, a.global_batch, ranks, a.hz, a.cores, a.contended_pct)
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
