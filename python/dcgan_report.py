"""dcgan-report: one self-contained HTML page of a dcgan-train run directory.

The page holds the loss curves and, for the DCGAN, the D outputs; the throughput; FD over steps
(when the run measured it with --eval-every); the progression of the sample grids; and the
run's config. Plots come from matplotlib (Debian's python3-matplotlib). Every image is embedded
as a data URI, so the file needs no network and no other file.

  dcgan-report RUN [--out FILE]   (default RUN/report.html)

Exit codes: 0 ok, 2 usage error, 3 a run directory without metrics.jsonl or config.toml.
"""
import argparse
import base64
import html
import io
import json
import os
import re
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

GRIDS_SHOWN = 8  # sample grids in the progression, evenly spaced, the last included
STYLE = """
body { font-family: sans-serif; margin: 24px; color: #222; }
h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 28px; }
.plots { display: flex; flex-wrap: wrap; gap: 12px; }
.plot { border: 2px solid rgb(0, 150, 136); }
.grids { display: flex; flex-wrap: wrap; gap: 12px; }
.grid figure { margin: 0; } .grid img { border: 2px solid rgb(156, 39, 176); width: 256px;
  image-rendering: pixelated; }
figcaption { font-size: 12px; text-align: center; }
table { border-collapse: collapse; font-size: 13px; }
td { border: 1px solid #ccc; padding: 2px 8px; font-family: monospace; }
"""


def fail(code, message):
    print(f"dcgan-report: error: {message}", file=sys.stderr)
    sys.exit(code)


def data_uri(png_bytes):
    return "data:image/png;base64," + base64.b64encode(png_bytes).decode("ascii")


def plot(title, series, ylabel, log=False):
    """series: [(label, [(step, value)])] -> PNG bytes."""
    fig, ax = plt.subplots(figsize=(5.2, 3.2), dpi=100)
    for label, points in series:
        if points:
            ax.plot([s for s, _ in points], [v for _, v in points], label=label, linewidth=1.4)
    ax.set_title(title, fontsize=11)
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    if log:
        ax.set_yscale("log")
    ax.grid(True, alpha=0.3)
    if len(series) > 1:
        ax.legend(fontsize=8)
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    plt.close(fig)
    return out.getvalue()


def read_config(path):
    rows = []
    for line in open(path):
        line = line.strip()
        if line and not line.startswith("#"):
            rows.append(line)
    return rows


def main():
    p = argparse.ArgumentParser(prog="dcgan-report", description=__doc__.split("\n")[0])
    p.add_argument("run", help="dcgan-train run directory")
    p.add_argument("--out", help="HTML file to write (default RUN/report.html)")
    a = p.parse_args()
    metrics_path = os.path.join(a.run, "metrics.jsonl")
    config_path = os.path.join(a.run, "config.toml")
    for path in (metrics_path, config_path):
        if not os.path.isfile(path):
            fail(3, f"{path} does not exist (is {a.run} a dcgan-train run directory?)")
    rows = []
    for n, line in enumerate(open(metrics_path), 1):
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as e:
            fail(3, f"{metrics_path}:{n}: {e}")
    if not rows:
        fail(3, f"{metrics_path} is empty: the run logged no step yet")
    config = read_config(config_path)
    model = next((r.split("=", 1)[1].strip().strip('"') for r in config
                  if r.startswith("model ")), "dcgan").strip("'")

    def curve(key):
        return [(r["step"], r[key]) for r in rows if r.get(key) is not None]

    plots = []
    if model == "dcgan":
        plots.append(plot("Losses", [("loss_d", curve("loss_d")), ("loss_g", curve("loss_g"))],
                          "BCE"))
        plots.append(plot("D outputs", [("D(x)", curve("d_x")), ("D(G(z)) before D's update",
                                                                curve("d_g_z1")),
                                        ("D(G(z)) after", curve("d_g_z2"))], "probability"))
    elif model == "vae":
        plots.append(plot("Loss (SSE + beta KL)", [("loss", curve("loss"))], "per image"))
        plots.append(plot("Reconstruction and KL", [("rec_mse", curve("rec_mse")),
                                                    ("kl", curve("kl"))], "value", log=True))
    else:
        plots.append(plot("Reconstruction MSE", [("rec_mse", curve("rec_mse"))], "MSE", log=True))
    plots.append(plot("Throughput", [("images/s", curve("images_per_s"))], "images/s (all ranks)"))
    if curve("fd"):
        plots.append(plot("FD", [("fd", curve("fd"))], "FD", log=True))

    samples = os.path.join(a.run, "samples")
    grids = []
    if os.path.isdir(samples):
        for prefix in ("step", "recon"):
            files = sorted(f for f in os.listdir(samples) if re.fullmatch(prefix + r"-\d+\.png", f))
            if len(files) > GRIDS_SHOWN:
                pick = [round(i * (len(files) - 1) / (GRIDS_SHOWN - 1)) for i in range(GRIDS_SHOWN)]
                files = [files[i] for i in sorted(set(pick))]
            for f in files:
                step = int(f.split("-")[1].split(".")[0])
                grids.append((prefix, step, open(os.path.join(samples, f), "rb").read()))

    last = rows[-1]
    name = os.path.basename(os.path.abspath(a.run))
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(name)}"
             f"</title><style>{STYLE}</style></head><body>",
             f"<h1>dcgan-train run {html.escape(name)}: {html.escape(model)}, step {last['step']}"
             f" (epoch {last.get('epoch', 0)})</h1>",
             "<h2>Curves</h2><div class='plots'>"]
    parts += [f"<img class='plot' alt='plot' src='{data_uri(png)}'>" for png in plots]
    parts.append("</div><h2>Sample grids</h2><div class='grids'>")
    for prefix, step, png in grids:
        kind = "fixed noise" if prefix == "step" else "reconstructions"
        parts.append(f"<div class='grid'><figure><img alt='{prefix} {step}' src='{data_uri(png)}'>"
                     f"<figcaption>step {step}, {kind}</figcaption></figure></div>")
    parts.append("</div><h2>Config</h2><table>")
    for line in config:
        if "=" in line:
            key, value = line.split("=", 1)
            parts.append(f"<tr><td>{html.escape(key.strip())}</td>"
                         f"<td>{html.escape(value.strip())}</td></tr>")
        else:
            parts.append(f"<tr><td colspan='2'><b>{html.escape(line)}</b></td></tr>")
    parts.append("</table></body></html>\n")
    out = a.out or os.path.join(a.run, "report.html")
    tmp = f"{out}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        f.write("".join(parts))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, out)
    print(f"dcgan-report: wrote {out} ({len(plots)} plots, {len(grids)} grids)", file=sys.stderr)


if __name__ == "__main__":
    main()
