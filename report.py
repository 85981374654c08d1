"""The controller's outputs computed from the runs' records: summary.md and the two plots.

Every figure and finding here is computed from the records; nothing is written in advance.
"""
import itertools
import math
import statistics

import bench_common as bc
import mnist_data

FLOPS_PER_SAMPLE = bc.flops_per_sample()
NAMES = {"jax": "JAX", "pytorch": "PyTorch"}


def epochs_of(run):
    return [r for r in run["records"] if r["event"] == "epoch"]


def record_of(run, event):
    return next((r for r in run["records"] if r["event"] == event), {})


def steady_time(run):
    """Median epoch time after the first: the first epoch carries the JIT."""
    times = [r["epoch_time_s"] for r in epochs_of(run)[1:]]
    return statistics.median(times) if times else None


def configs(runs):
    """{(batch, framework, mode): [finished runs, one per repeat]} in run order."""
    groups = {}
    for run in runs:
        if run["error"] is None:
            groups.setdefault((run["batch_size"], run["framework"], run["mode"]), []).append(run)
    return groups


def config_stats(repeats, peaks):
    first_epochs = [epochs_of(r)[0] for r in repeats]
    steadies = [s for s in map(steady_time, repeats) if s is not None]
    start = record_of(repeats[0], "start")
    stats = {"first": statistics.median(e["epoch_time_s"] for e in first_epochs),
             "first_step": statistics.median(e["first_step_s"] for e in first_epochs),
             "steady": statistics.median(steadies) if steadies else None,
             "spread": (min(steadies), max(steadies)) if len(steadies) > 1 else None,
             "val_acc": statistics.median(epochs_of(r)[-1]["val_acc"] for r in repeats),
             "test_acc": statistics.median(record_of(r, "end")["test_acc"] for r in repeats),
             "train_time": statistics.median(sum(e["epoch_time_s"] for e in epochs_of(r)) for r in repeats),
             "samples": start["steps_per_epoch"] * start["batch_size"]}
    stats["jit"] = stats["first"] - stats["steady"] if stats["steady"] is not None else None
    stats["samples_per_s"] = stats["samples"] / stats["steady"] if stats["steady"] else None
    stats["gflops"] = stats["samples_per_s"] * FLOPS_PER_SAMPLE / 1e9 if stats["steady"] else None
    peak = peaks.get(start["framework"], {}).get("gflops")
    stats["peak_pct"] = 100 * stats["gflops"] / peak if peak and stats["gflops"] else None
    return stats


def fmt_time(seconds):
    if seconds is None:
        return "n/a"
    return f"{seconds * 1e3:.1f} ms" if abs(seconds) < 1 else f"{seconds:.2f} s"


def fmt(value, spec):
    return "n/a" if value is None else format(value, spec)


def span(values, show):
    """'a' or 'a to b' for the smallest and largest of values."""
    lo, hi = min(values), max(values)
    return show(lo) if show(lo) == show(hi) else f"{show(lo)} to {show(hi)}"


def label(framework, mode):
    return f"{NAMES[framework]} {mode}"


def fastest_per_framework(groups, stats, batch):
    best = {}
    for (b, framework, mode) in groups:
        s = stats[(b, framework, mode)]["steady"]
        if b == batch and s is not None and (framework not in best or s < best[framework][1]):
            best[framework] = (mode, s)
    return best


def parity(groups, batch):
    """Largest gaps between the first repeats' curves at one batch size, across frameworks."""
    curves = {(f, m): epochs_of(rs[0]) for (b, f, m), rs in groups.items() if b == batch}
    gaps = []
    for (a, ca), (b, cb) in itertools.combinations(curves.items(), 2):
        if a[0] == b[0] or len(ca) != len(cb):
            continue
        # A non-finite loss makes the gap infinite: max() alone would drop or keep NaN by position.
        gap = {k: max(abs(x[k] - y[k]) if math.isfinite(x[k] - y[k]) else math.inf for x, y in zip(ca, cb))
               for k in ("val_acc", "train_loss", "val_loss")}
        gaps.append((a, b, gap))
    return gaps


def summary(runs, meta):
    groups, peaks = configs(runs), meta.get("probes", {})
    stats = {key: config_stats(repeats, peaks) for key, repeats in groups.items()}
    settings = meta["settings"]
    lines = ["# JAX vs PyTorch: 784-512-512-10 MLP on MNIST", ""]
    repeats = settings["repeats"]
    lines += [f"{settings['epochs']} epochs of {min((s['samples'] for s in stats.values()), default=0):,} "
              f"samples, batch order and init shared by both frameworks (`--init {settings['init']}`), "
              f"`--precision {settings['precision']}`, lr {settings['lr']}, seed {settings['seed']}, "
              f"{repeats} repeat(s) per configuration.", "",
              "| Batch Size | Framework | First Epoch (JIT) | Avg. Steady State | JIT overhead | Samples/s "
              "| GFLOP/s | % of matmul peak | Final Val Acc | Test Acc | Time vs fastest |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for batch in sorted({b for b, _, _ in groups}):
        keys = [k for k in groups if k[0] == batch]
        fastest = min((stats[k]["steady"] for k in keys if stats[k]["steady"]), default=None)
        for key in keys:
            s = stats[key]
            steady = fmt_time(s["steady"])
            if s["spread"]:
                steady += f" ({fmt_time(s['spread'][0])} to {fmt_time(s['spread'][1])})"
            ratio = f"{s['steady'] / fastest:.2f}x" if fastest and s["steady"] else "n/a"
            lines.append(f"| {batch} | {label(*key[1:])} | {fmt_time(s['first'])} | {steady} | "
                         f"{fmt_time(s['jit'])} | {fmt(s['samples_per_s'], ',.0f')} | {fmt(s['gflops'], '.1f')} | "
                         f"{fmt(s['peak_pct'], '.1f')}% | {s['val_acc']:.4f} | {s['test_acc']:.4f} | {ratio} |")
    lines += ["", "First Epoch includes compilation and warm-up exactly as a user meets them; Avg. Steady State "
              "is the median of epochs 2..E (with repeats: the median across repeats, min to max in brackets); "
              "JIT overhead = First Epoch - Avg. Steady State; GFLOP/s counts "
              f"{FLOPS_PER_SAMPLE / 1e6:.2f} MFLOP per training sample.", ""]
    lines += ["## Findings", ""] + [f"- {f}" for f in findings(groups, stats, peaks, settings)] + [""]
    lines += machine_lines(runs, meta)
    failed = [r for r in runs if r["error"]]
    if failed or meta.get("interrupted"):
        lines += ["", "## Failed runs", ""]
        lines += [f"- {label(r['framework'], r['mode'])}, batch {r['batch_size']}, repeat {r['repeat']}: "
                  f"{r['error']} (stderr tail in run_meta.json)" for r in failed]
        if meta.get("interrupted"):
            lines.append("- the benchmark was interrupted: only the runs above the interruption are reported")
    return "\n".join(lines) + "\n"


def findings(groups, stats, peaks, settings):
    out = []
    for batch in sorted({b for b, _, _ in groups}):
        best = fastest_per_framework(groups, stats, batch)
        if len(best) == 2:
            (fa, (ma, ta)), (fb, (mb, tb)) = sorted(best.items(), key=lambda kv: kv[1][1])
            out.append(f"Batch {batch}: {label(fa, ma)} is {tb / ta:.2f}x faster than {label(fb, mb)} in steady "
                       f"state ({fmt_time(ta)} vs {fmt_time(tb)} per epoch).")
    for framework, mode in dict.fromkeys((f, m) for _, f, m in stats):
        rows = [s for (b, f, m), s in stats.items() if (f, m) == (framework, mode) and s["jit"] is not None]
        if rows:
            share = [100 * s["jit"] / s["train_time"] for s in rows]
            out.append(f"{label(framework, mode)}: the first epoch costs {span([s['jit'] for s in rows], fmt_time)} "
                       f"more than a steady one (its first step alone {span([s['first_step'] for s in rows], fmt_time)}), "
                       f"{span(share, lambda v: f'{v:.1f}%')} of the {settings['epochs']}-epoch training time.")
    for batch in sorted({b for b, _, _ in groups}):
        gaps = parity(groups, batch)
        if gaps:
            worst = {k: max(g[2][k] for g in gaps) for k in ("val_acc", "train_loss", "val_loss")}
            names = ", ".join(label(f, m) for (b, f, m) in groups if b == batch)
            if not all(map(math.isfinite, worst.values())):
                out.append(f"Batch {batch}: the curves of {names} cannot be compared: some losses are not finite.")
                continue
            agree = "follow the same curve" if worst["val_acc"] < 5e-4 else "do NOT follow the same curve"
            if settings["init"] != "shared":
                agree += " (each from its own initialisation, so no match is expected)"
            out.append(f"Batch {batch}: the JAX and PyTorch runs ({names}) {agree}: across frameworks, over "
                       f"{settings['epochs']} epochs, val accuracy differs by at most {worst['val_acc']:.4f}, "
                       f"train loss by at most {worst['train_loss']:.1e}, val loss by at most {worst['val_loss']:.1e}.")
    for (batch, framework, mode), repeats in groups.items():
        bad = [r["epoch"] for r in epochs_of(repeats[0]) if not math.isfinite(r["train_loss"])]
        if bad:
            out.append(f"{label(framework, mode)}, batch {batch}: the run DIVERGED, train loss not finite "
                       f"from epoch {bad[0]} (lr {settings['lr']}); its accuracies mean nothing.")
    rated = [(s["gflops"], key) for key, s in stats.items() if s["gflops"]]
    if rated:
        gflops, (batch, framework, mode) = max(rated)
        peak = peaks.get(framework, {}).get("gflops")
        text = f"Fastest training rate: {gflops:.1f} GFLOP/s ({label(framework, mode)}, batch {batch})"
        out.append(text + (f", {100 * gflops / peak:.0f}% of the {peak:.0f} GFLOP/s fp32 matmul peak that "
                           f"{NAMES[framework]} measured on this device." if peak else "."))
    return out


def machine_lines(runs, meta):
    starts = [record_of(r, "start") for r in runs if record_of(r, "start")]
    versions = sorted({f"{NAMES[s['framework']]} {s['framework_version']}" for s in starts})
    devices = sorted({f"{s['device_name']} ({s['device']})" for s in starts})
    threads = sorted({s["threads"] for s in starts if "threads" in s})
    lines = ["## Machine", "",
             f"- device: {', '.join(devices) or 'n/a'}; host CPU {meta['cpu']}, {meta['cpu_count']} cores",
             f"- {meta['platform']}, Python {meta['python']}, {', '.join(versions) or 'no run finished'}"
             + (f", PyTorch threads {threads}" if threads else ""),
             f"- precision {meta['settings']['precision']}, init {meta['settings']['init']}",
             f"- command: `python {' '.join(meta['command'])}`, {meta['start_time']} to {meta.get('end_time', '?')}"]
    for framework, probe in meta.get("probes", {}).items():
        if "gflops" in probe:
            lines.append(f"- {NAMES[framework]} fp32 matmul peak: {probe['gflops']:.1f} GFLOP/s "
                         f"({probe['matmul_n']}^3 matmul, median of 5)")
    return lines


def plots(runs, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    groups = configs(runs)
    if not groups:
        return
    batches = sorted({b for b, _, _ in groups})
    names = list(dict.fromkeys((f, m) for _, f, m in groups))
    colors = {c: plt.get_cmap("tab10")(i) for i, c in enumerate(names)}
    # Identical curves lie on top of each other: earlier configurations are drawn wider,
    # so every one stays visible as a band around the next.
    widths = {c: 1.2 + 1.6 * (len(names) - 1 - i) for i, c in enumerate(names)}
    markers = {"jax": "o", "pytorch": "x"}
    config_handles = [Line2D([], [], color=colors[c], lw=2, marker=markers[c[0]], label=label(*c)) for c in names]

    height = 3.4 * len(batches) + 1.0
    fig, axes = plt.subplots(len(batches), 2, figsize=(12, height), squeeze=False)
    for row, batch in zip(axes, batches):
        for c in names:
            if (batch, *c) not in groups:
                continue
            recs = epochs_of(groups[(batch, *c)][0])
            x = [r["epoch"] for r in recs]
            style = dict(color=colors[c], lw=widths[c], marker=markers[c[0]], markersize=5, alpha=0.85)
            for ax, metric in zip(row, ("loss", "acc")):
                ax.plot(x, [r[f"train_{metric}"] for r in recs], "-", **style)
                ax.plot(x, [r[f"val_{metric}"] for r in recs], "--", **style)
        row[0].set(title=f"Batch size {batch}: cross-entropy loss", xlabel="epoch", ylabel="loss (nats)")
        row[1].set(title=f"Batch size {batch}: accuracy", xlabel="epoch", ylabel="accuracy (fraction)")
        for ax in row:
            ax.grid(alpha=0.3)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    handles = config_handles + [Line2D([], [], color="gray", ls="-", label="train"),
                                Line2D([], [], color="gray", ls="--", label="validation")]
    fig.suptitle("JAX vs PyTorch training curves on MNIST (first repeat); overlapping lines = identical training",
                 y=1 - 0.12 / height)
    fig.legend(handles=handles, loc="upper center", ncol=len(handles), frameon=False,
               bbox_to_anchor=(0.5, 1 - 0.4 / height))
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.75 / height))
    save(fig, out / "training_curves.png")

    fig, (ax_time, ax_rate) = plt.subplots(1, 2, figsize=(13, 5.5))
    linestyles = dict(zip(batches, ["-", "--", ":", "-."] * 4))
    for (batch, framework, mode), repeats in groups.items():
        for i, run in enumerate(repeats):
            recs = epochs_of(run)
            ax_time.plot([r["epoch"] for r in recs], [r["epoch_time_s"] for r in recs], linestyles[batch],
                         color=colors[(framework, mode)], marker=markers[framework], alpha=1 if i == 0 else 0.4)
    ax_time.set(yscale="log", xlabel="epoch", ylabel="epoch time (s, log scale)",
                title="Time of every epoch, every run (epoch 1 includes the JIT)")
    ax_time.xaxis.set_major_locator(MaxNLocator(integer=True))
    for axis in (ax_time.yaxis.set_major_formatter, ax_time.yaxis.set_minor_formatter):
        axis(FuncFormatter(lambda v, _: f"{v:g}"))
    ax_time.legend(handles=config_handles + [Line2D([], [], color="gray", ls=linestyles[b], label=f"batch {b}")
                                             for b in batches], fontsize=8, ncol=2)
    for c in names:
        rates = []
        for batch in batches:
            per_repeat = [record_of(r, "start")["steps_per_epoch"] * batch / steady_time(r)
                          for r in groups.get((batch, *c), []) if steady_time(r)]
            if per_repeat:
                rates.append((batch, statistics.median(per_repeat), min(per_repeat), max(per_repeat)))
        if rates:
            xs, ys, lo, hi = zip(*rates)
            ax_rate.errorbar(xs, ys, yerr=[[y - l for y, l in zip(ys, lo)], [h - y for y, h in zip(ys, hi)]],
                             color=colors[c], marker=markers[c[0]], capsize=3, label=label(*c))
    ax_rate.set(xscale="log", xlabel="batch size (log scale)", ylabel="training samples / s",
                title="Steady-state throughput (median of epochs 2..E; bars: repeats' range)")
    ax_rate.set_xticks(batches, [str(b) for b in batches])
    ax_rate.minorticks_off()
    ax_rate.set_ylim(bottom=0)
    ax_rate.legend(fontsize=8)
    for ax in (ax_time, ax_rate):
        ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    save(fig, out / "epoch_times.png")


def save(fig, path):
    import matplotlib.pyplot as plt
    mnist_data.write_atomic(path, lambda f: fig.savefig(f, format="png", dpi=110, bbox_inches="tight"))
    plt.close(fig)
