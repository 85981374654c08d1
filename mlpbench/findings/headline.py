"""The summary's first section (id "findings"): the fastest mode of each framework against the
other's with an interval, accuracy over seeds, time to accuracy, parity of the curves and the
fastest rate."""
import itertools
import math
import statistics

from mlpbench.aggregate import (
    group_by,
    representative,
)
from mlpbench.comparison import comparable, compare, fastest
from mlpbench.findings import Finding, finding
from mlpbench.formatting import fmt_time, label, setting_note
from mlpbench.inference import paired_difference
from mlpbench.modes import FRAMEWORKS


def by_setting(config):
    """What the accuracy and parity verdicts hold fixed across frameworks and modes."""
    return config.key("batch_size", "precision", "hidden")


def speed_findings(stats):
    """The fastest mode of each framework against the other's, per batch size, input,
    precision and model: each comparison changes the framework and nothing else the user set."""
    out = []
    groups = group_by(stats, lambda c: c.key("batch_size", "input", "precision", "hidden", "threads", "arm"))
    for (batch, *_), same in groups.items():
        # Warm-cache runs differ from cold ones in epoch 1 only: the steady state is compared cold.
        cache = "cold" if any(c.cache == "cold" for c in same) else "warm"
        best = {f: fastest([c for c in same if c.cache == cache and c.framework == f], stats)
                for f in FRAMEWORKS}
        if None not in best.values() and comparable(best["jax"], best["pytorch"], stats):
            out.append(finding(f"Batch {batch}: ", compare(best["jax"], best["pytorch"], stats)))
    return out


def accuracy_findings(groups, settings):
    """Final validation accuracy per framework over seeds, and the paired JAX - PyTorch gap."""
    out = []
    for (batch, precision, hidden), same in sorted(group_by(groups, by_setting).items()):
        per_seed = {}
        for c in same:
            for r in groups[c]:
                final = r.epochs[-1]["val_acc"]
                per_seed.setdefault(c.framework, {}).setdefault(r.spec.seed, []).append(final)
        if len(per_seed) < 2:
            continue
        seeds = sorted(set(per_seed["jax"]) & set(per_seed["pytorch"]))
        if len(seeds) < 2:
            continue
        jax, torch = ([statistics.mean(per_seed[f][s]) for s in seeds] for f in ("jax", "pytorch"))
        mean, (lo, hi), p = paired_difference(jax, torch)
        higher = ("JAX" if mean > 0 else "PyTorch") if lo > 0 or hi < 0 else None
        figures = {"batch_size": batch, "seeds": len(seeds), "jax_mean": statistics.mean(jax),
                   "jax_sd": statistics.stdev(jax), "pytorch_mean": statistics.mean(torch),
                   "pytorch_sd": statistics.stdev(torch), "jax_minus_pytorch": mean, "interval": [lo, hi],
                   "p": p, "higher": higher}
        text = (f"Batch {batch}{setting_note(precision, hidden)}, final val accuracy over {len(seeds)} seeds "
                f"(mean ± SD): JAX "
                f"{statistics.mean(jax):.4f} ± {statistics.stdev(jax):.4f}, "
                f"PyTorch {statistics.mean(torch):.4f} ± {statistics.stdev(torch):.4f}; "
                f"JAX - PyTorch = {mean:+.4f}, 95% interval {lo:+.4f} to {hi:+.4f}")
        text += (f" (paired t-test by seed, p = {p:.2g}): " if p is not None
                 else " (the same gap at every seed): ")
        if higher:
            text += (f"{higher} is higher, by {abs(mean):.4f} "
                     f"({abs(mean) * 1e4:.0f} of 10,000 validation images).")
        else:
            text += "no difference detected."
        if settings.get("init") == "shared":
            text += (" With --init shared both start from identical weights by construction, "
                     "so this compares their arithmetic, not their initialisations.")
        out.append(Finding(text, figures=figures))
    return out


def time_to_accuracy_findings(stats, target, epochs):
    out = []
    for batch in sorted({c.batch_size for c in stats}):
        rows = [(c, s) for c, s in stats.items() if c.batch_size == batch and c.cache == "cold"] or \
               [(c, s) for c, s in stats.items() if c.batch_size == batch]
        done = sorted(((s.tta, c, s) for c, s in rows if s.tta is not None), key=lambda t: t[0])
        figures = {"batch_size": batch, "target": target,
                   "reached": {label(c): {"time_s": t, "epoch": s.tta_epoch, "runs": s.reached, "of": s.runs}
                               for t, c, s in done},
                   "not_reached": [label(c) for c, s in rows if s.tta is None]}
        if not done:
            best = max(s.best_val_acc for _, s in rows)
            out.append(Finding(f"Batch {batch}: no run reached val accuracy {target:g} in {epochs} epochs "
                               f"(best {best:.4f}).", figures=figures | {"best_val_acc": best}))
            continue
        parts = [f"{label(c)} {fmt_time(t)} (epoch {s.tta_epoch:g}"
                 + (f", {s.reached} of {s.runs} runs)" if s.reached < s.runs else ")")
                 for t, c, s in done]
        missing = figures["not_reached"]
        out.append(Finding(f"Batch {batch}: time to val accuracy {target:g} (training time, epoch 1 "
                           "included): " + ", ".join(parts)
                           + (f"; not reached in {epochs} epochs: {', '.join(missing)}" if missing else "")
                           + ".", figures=figures))
    return out


def curve_gap(a, b):
    """The largest gap between two curves per figure; a non-finite loss makes it infinite
    (max() alone would drop or keep NaN by position)."""
    return {k: max(abs(x[k] - y[k]) if math.isfinite(x[k] - y[k]) else math.inf
                   for x, y in zip(a, b, strict=True))
            for k in ("val_acc", "train_loss", "val_loss")}


def parity_findings(groups, settings):
    """Largest gaps between the curves of different frameworks at one batch size and
    precision (first seed, first repeat of each configuration)."""
    out = []
    seed = (settings.get("seeds") or [settings.get("seed", 0)])[0]
    for (batch, precision, hidden), same in sorted(group_by(groups, by_setting).items()):
        curves = {c: representative(groups[c], seed).epochs for c in same}
        gaps = [curve_gap(ca, cb) for (a, ca), (b, cb) in itertools.combinations(curves.items(), 2)
                if a.framework != b.framework and len(ca) == len(cb)]
        if not gaps:
            continue
        worst = {k: max(g[k] for g in gaps) for k in ("val_acc", "train_loss", "val_loss")}
        names = ", ".join(dict.fromkeys(label(c) for c in curves))
        if not all(map(math.isfinite, worst.values())):
            out.append(Finding(f"Batch {batch}: the curves of {names} cannot be compared: "
                               "some losses are not finite.",
                               figures={"batch_size": batch, "verdict": "not finite"}))
            continue
        if settings.get("init") == "shared":
            verdict = "same curve" if worst["val_acc"] < 5e-4 else "not the same curve"
            agree = ("follow the same curve" if verdict == "same curve"
                     else "do NOT follow the same curve")
        else:  # different starting weights: the accuracy verdict over seeds is the comparison
            verdict = "different starts"
            agree = (f"start from different weights (--init {settings.get('init')}), "
                     f"so no match is expected (seed {seed})")
        epochs = len(next(iter(curves.values())))
        out.append(Finding(f"Batch {batch}{setting_note(precision, hidden)}: the JAX and PyTorch runs "
                           f"({names}) {agree}: across frameworks, over {epochs} epochs, "
                           f"val accuracy differs by at most {worst['val_acc']:.4f}, "
                           f"train loss by at most {worst['train_loss']:.1e}, "
                           f"val loss by at most {worst['val_loss']:.1e}.",
                           figures={"batch_size": batch, "verdict": verdict, "epochs": epochs,
                                    "configurations": list(dict.fromkeys(label(c) for c in curves)),
                                    **{f"{k}_gap": v for k, v in worst.items()}}))
    for c, runs in groups.items():
        for run in runs:  # every seed and repeat: one that diverged is not hidden by the others
            bad = [r["epoch"] for r in run.epochs if not math.isfinite(r["train_loss"])]
            which = f" (seed {run.spec.seed}, repeat {run.spec.repeat})" if len(runs) > 1 else ""
            if bad:
                out.append(Finding(f"{label(c)}, batch {c.batch_size}{which}: the run DIVERGED, "
                                   f"train loss not finite from epoch {bad[0]} "
                                   f"(lr {settings.get('lr')}); its accuracies mean nothing.",
                                   figures={"configuration": label(c), "batch_size": c.batch_size,
                                            "seed": run.spec.seed, "repeat": run.spec.repeat,
                                            "diverged_from_epoch": bad[0]}))
    return out


def rate_finding(stats, peaks):
    rated = [(s.gflops, c) for c, s in stats.items() if s.gflops]
    if not rated:
        return []
    gflops, c = max(rated)
    peak = peaks.get(c.framework, {}).get("gflops")
    text = f"Fastest training rate: {gflops:.1f} GFLOP/s ({label(c)}, batch {c.batch_size})"
    figures = {"gflops": gflops, "configuration": label(c), "batch_size": c.batch_size, "peak_gflops": peak,
               "peak_pct": 100 * gflops / peak if peak else None}
    return [Finding(text + (f", {100 * gflops / peak:.0f}% of the {peak:.0f} GFLOP/s fp32 matmul peak that "
                            f"{FRAMEWORKS[c.framework]} measured on this device." if peak else "."),
                    figures=figures)]
