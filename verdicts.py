"""Statistics and verdicts: the runs' records aggregated per configuration, intervals from
scipy.stats, and the findings sentences computed from them (never written in advance)."""
import itertools
import math
import statistics
from typing import NamedTuple

import numpy as np

import bench_common as bc

FLOPS_PER_SAMPLE = bc.flops_per_sample()
NAMES = {"jax": "JAX", "pytorch": "PyTorch"}
NOISY_SPREAD = 0.10  # of the median, as torch.utils.benchmark warns
# The uncompiled mode each compiled mode is weighed against for break-even.
UNCOMPILED = {"compile": "eager", "cudagraph": "eager", "step": "nojit", "scan": "nojit"}


class Config(NamedTuple):
    batch: int
    framework: str
    mode: str
    input: str
    cache: str


def config_of(run):
    return Config(run["batch_size"], run["framework"], run["mode"], run.get("input", "device"),
                  run.get("cache", "cold"))


def label(config):
    text = f"{NAMES[config.framework]} {config.mode}"
    return text + "".join([" (loader)"] * (config.input == "loader") + [" (warm cache)"] * (config.cache == "warm"))


def epochs_of(run):
    return [r for r in run["records"] if r["event"] == "epoch"]


def record_of(run, event):
    return next((r for r in run["records"] if r["event"] == event), {})


def steady_time(run):
    """Median epoch time after the first: the first epoch carries the JIT."""
    times = [r["epoch_time_s"] for r in epochs_of(run)[1:]]
    return statistics.median(times) if times else None


def time_to_target(run, target):
    """(training seconds, epoch) until validation accuracy first reaches target, epoch 1's
    compilation included and evaluation excluded; None when it never does."""
    elapsed = 0.0
    for record in epochs_of(run):
        elapsed += record["epoch_time_s"]
        if record["val_acc"] >= target:
            return elapsed, record["epoch"]
    return None


def representative(runs, seed):
    """The run a curve is drawn from: the first of the given seed, else the first."""
    return next((r for r in runs if r["seed"] == seed), runs[0])


def configs(runs):
    """{Config: [finished timed runs]} in run order."""
    groups = {}
    for run in runs:
        if run["error"] is None and run.get("purpose", "timed") == "timed":
            groups.setdefault(config_of(run), []).append(run)
    return groups


def median_of(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def config_stats(runs, peaks, target):
    firsts = [epochs_of(r)[0] for r in runs]
    steadies = [s for s in map(steady_time, runs) if s is not None]
    start = record_of(runs[0], "start")
    reached = [t for t in (time_to_target(r, target) for r in runs) if t]
    s = {"runs": len(runs), "first": median_of(e["epoch_time_s"] for e in firsts),
         "first_step": median_of(e["first_step_s"] for e in firsts), "steadies": steadies,
         "steady": median_of(steadies), "spread": (min(steadies), max(steadies)) if len(steadies) > 1 else None,
         "val_acc": median_of(epochs_of(r)[-1]["val_acc"] for r in runs),
         "best_val_acc": max(max(e["val_acc"] for e in epochs_of(r)) for r in runs),
         "test_acc": median_of(record_of(r, "end")["test_acc"] for r in runs),
         "train_time": median_of(sum(e["epoch_time_s"] for e in epochs_of(r)) for r in runs),
         "samples": start["steps_per_epoch"] * start["batch_size"], "steps": start["steps_per_epoch"],
         "devices": sorted({record_of(r, "start")["device"] for r in runs}),
         "tta": median_of(t for t, _ in reached), "tta_epoch": median_of(e for _, e in reached),
         "reached": len(reached),
         "recompiles_late": recompiles_after_first(runs),
         "peak_rss": median_of(record_of(r, "end").get("peak_rss_bytes") for r in runs),
         "peak_device": median_of(record_of(r, "end").get("peak_device_bytes") for r in runs)}
    for key in ("jit_trace_s", "jit_lower_s", "jit_compile_s", "compile_s", "graphs", "graph_breaks", "cache_hits"):
        s[key] = median_of(e.get(key) for e in firsts)
    s["jit"] = s["first"] - s["steady"] if s["steady"] is not None else None
    s["samples_per_s"] = s["samples"] / s["steady"] if s["steady"] else None
    s["gflops"] = s["samples_per_s"] * FLOPS_PER_SAMPLE / 1e9 if s["steady"] else None
    peak = peaks.get(start["framework"], {}).get("gflops")
    s["peak_pct"] = 100 * s["gflops"] / peak if peak and s["gflops"] else None
    return s


def recompiles_after_first(runs):
    """Most compilations after epoch 1 in any run; None where the mode cannot count them."""
    counts = [[e.get("recompiles") for e in epochs_of(r)[1:]] for r in runs]
    known = [sum(c for c in run if c is not None) for run in counts if any(c is not None for c in run)]
    return max(known) if known else None


def all_stats(runs, peaks, target):
    groups = configs(runs)
    return groups, {c: config_stats(rs, peaks, target) for c, rs in groups.items()}


# --- statistics ------------------------------------------------------------------------

def ratio_interval(slow, fast, level=0.95):
    """95% percentile-bootstrap interval of median(slow) / median(fast), resampling each
    configuration's runs; None with fewer than two runs on either side."""
    if len(slow) < 2 or len(fast) < 2:
        return None
    from scipy import stats as sps  # about 1 s to import: only runs that get an interval pay it
    result = sps.bootstrap((np.asarray(slow), np.asarray(fast)),
                           lambda a, b, axis: np.median(a, axis=axis) / np.median(b, axis=axis),
                           vectorized=True, n_resamples=9999, confidence_level=level, method="percentile",
                           rng=np.random.default_rng(0))
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def paired_difference(a, b, level=0.95):
    """Mean of a - b over pairs, its 95% t-interval and p-value (scipy's paired t-test).
    Identical differences have no spread to test: the interval is that one value, p None."""
    diffs = np.asarray(a) - np.asarray(b)
    if np.ptp(diffs) == 0:
        return float(diffs[0]), (float(diffs[0]), float(diffs[0])), None
    from scipy import stats as sps  # about 1 s to import: only several seeds pay it
    result = sps.ttest_rel(a, b)
    ci = result.confidence_interval(level)
    return float(diffs.mean()), (float(ci.low), float(ci.high)), float(result.pvalue)


# --- formatting ------------------------------------------------------------------------

def fmt_time(seconds):
    if seconds is None:
        return "n/a"
    return f"{seconds * 1e3:.1f} ms" if abs(seconds) < 1 else f"{seconds:.2f} s"


def fmt(value, spec):
    return "n/a" if value is None else format(value, spec)


def fmt_bytes(value):
    return "n/a" if value is None else f"{value / 2**20:,.0f} MiB"


# --- verdicts --------------------------------------------------------------------------

def comparable(a, b, stats):
    """Runs on different kinds of device are never compared."""
    return stats[a]["devices"] == stats[b]["devices"] and len(stats[a]["devices"]) == 1


def device_warnings(stats):
    kinds = {}
    for config, s in stats.items():
        for device in s["devices"]:
            kinds.setdefault(device, []).append(label(config))
    if len(kinds) < 2:
        return []
    where = "; ".join(f"on {d}: {', '.join(dict.fromkeys(names))}" for d, names in sorted(kinds.items()))
    return [f"WARNING: these runs did not all run on the same kind of device ({where}). Speeds across "
            "devices are not compared: those pairs are left out of every ratio below."]


def busy_cores(run):
    """How busy other work kept the machine during a run: the cores other processes used,
    or where that was not measured, the 1-minute load average at the run's start."""
    measured = run.get("other_cores")
    return (measured if measured is not None else run.get("load_avg_1m")) or 0


def noise_warnings(runs, stats, cpu_count):
    out = []
    half = (cpu_count or 2) / 2
    busy = [r for rs in configs(runs).values() for r in rs if busy_cores(r) > half]
    if busy:
        worst = max(busy, key=busy_cores)
        out.append(f"WARNING: {len(busy)} run(s) shared the machine with other work (other processes kept more "
                   f"than {half:g} of {cpu_count} cores busy; worst: {label(config_of(worst))}, seed "
                   f"{worst['seed']}, repeat {worst['repeat']}: {fmt(worst.get('other_cores'), '.1f')} cores, "
                   f"1-min load {fmt(worst.get('load_avg_1m'), '.2f')} at its start). Their times are suspect.")
    noisy = [(c, s) for c, s in stats.items()
             if s["spread"] and s["steady"] and (s["spread"][1] - s["spread"][0]) / s["steady"] > NOISY_SPREAD]
    if noisy:
        out.append(f"WARNING: noisy measurements: the steady epochs of {len(noisy)} configuration(s) range more "
                   f"than {100 * NOISY_SPREAD:.0f}% of their median across runs: " + "; ".join(
                       f"{label(c)}, batch {c.batch}: {fmt_time(s['spread'][0])} to {fmt_time(s['spread'][1])} "
                       f"({100 * (s['spread'][1] - s['spread'][0]) / s['steady']:.0f}%)" for c, s in noisy) + ".")
    return out


def speed_sentence(fast, slow, groups, stats):
    """'X is N x faster than Y', with its interval or the word that it is one measurement."""
    tf, ts = stats[fast]["steady"], stats[slow]["steady"]
    if f"{ts / tf:.2f}" == "1.00":
        text = f"{label(fast)} and {label(slow)} take the same time per steady epoch ({fmt_time(tf)} vs {fmt_time(ts)}"
    else:
        text = (f"{label(fast)} is {ts / tf:.2f}x faster than {label(slow)} in steady state "
                f"({fmt_time(tf)} vs {fmt_time(ts)} per epoch")
    interval = ratio_interval(stats[slow]["steadies"], stats[fast]["steadies"])
    if interval is None:
        return text + "; a single measurement each, no interval)."
    lo, hi = interval
    text += f"; 95% bootstrap interval {lo:.2f}x to {hi:.2f}x over {stats[fast]['runs']} and {stats[slow]['runs']} runs)"
    return text + (": within noise." if lo <= 1 <= hi else ".")


def speed_findings(groups, stats):
    out = []
    for batch, input_ in dict.fromkeys((c.batch, c.input) for c in stats):
        # Warm-cache runs differ from cold ones in epoch 1 only: the steady state is compared cold.
        cache = "cold" if any((c.batch, c.input, c.cache) == (batch, input_, "cold") for c in stats) else "warm"
        best = {}
        for c, s in stats.items():
            if (c.batch, c.input, c.cache) == (batch, input_, cache) and s["steady"] is not None:
                if c.framework not in best or s["steady"] < stats[best[c.framework]]["steady"]:
                    best[c.framework] = c
        if len(best) == 2:
            fast, slow = sorted(best.values(), key=lambda c: stats[c]["steady"])
            if comparable(fast, slow, stats):
                out.append(f"Batch {batch}: " + speed_sentence(fast, slow, groups, stats))
    return out


def accuracy_findings(groups, settings):
    """Final validation accuracy per framework over seeds, and the paired JAX - PyTorch gap."""
    out = []
    for batch in sorted({c.batch for c in groups}):
        per_seed = {}
        for c, runs in groups.items():
            if c.batch == batch:
                for r in runs:
                    per_seed.setdefault(c.framework, {}).setdefault(r["seed"], []).append(epochs_of(r)[-1]["val_acc"])
        if len(per_seed) < 2:
            continue
        seeds = sorted(set(per_seed["jax"]) & set(per_seed["pytorch"]))
        if len(seeds) < 2:
            continue
        jax, torch = ([statistics.mean(per_seed[f][s]) for s in seeds] for f in ("jax", "pytorch"))
        mean, (lo, hi), p = paired_difference(jax, torch)
        text = (f"Batch {batch}, final val accuracy over {len(seeds)} seeds (mean ± SD): JAX "
                f"{statistics.mean(jax):.4f} ± {statistics.stdev(jax):.4f}, PyTorch {statistics.mean(torch):.4f} ± "
                f"{statistics.stdev(torch):.4f}; JAX - PyTorch = {mean:+.4f}, 95% interval {lo:+.4f} to {hi:+.4f}")
        text += f" (paired t-test by seed, p = {p:.2g}): " if p is not None else " (the same gap at every seed): "
        if lo > 0 or hi < 0:
            higher = "JAX" if mean > 0 else "PyTorch"
            text += f"{higher} is higher, by {abs(mean):.4f} ({abs(mean) * 1e4:.0f} of 10,000 validation images)."
        else:
            text += "no difference detected."
        if settings.get("init") == "shared":
            text += (" With --init shared both start from identical weights by construction, so this compares "
                     "their arithmetic, not their initialisations.")
        out.append(text)
    return out


def time_to_accuracy_findings(stats, target, epochs):
    out = []
    for batch in sorted({c.batch for c in stats}):
        rows = [(c, s) for c, s in stats.items() if c.batch == batch and c.cache == "cold"] or \
               [(c, s) for c, s in stats.items() if c.batch == batch]
        done = sorted(((s["tta"], c, s) for c, s in rows if s["tta"] is not None), key=lambda t: t[0])
        if not done:
            best = max(s["best_val_acc"] for _, s in rows)
            out.append(f"Batch {batch}: no run reached val accuracy {target:g} in {epochs} epochs "
                       f"(best {best:.4f}).")
            continue
        parts = [f"{label(c)} {fmt_time(t)} (epoch {s['tta_epoch']:g}"
                 + (f", {s['reached']} of {s['runs']} runs)" if s["reached"] < s["runs"] else ")")
                 for t, c, s in done]
        missing = [label(c) for c, s in rows if s["tta"] is None]
        out.append(f"Batch {batch}: time to val accuracy {target:g} (training time, epoch 1 included): "
                   + ", ".join(parts) + (f"; not reached in {epochs} epochs: {', '.join(missing)}" if missing else "")
                   + ".")
    return out


def jit_share_lines(stats):
    """The JIT overhead as a share of training time, per mode across batch sizes, and which
    way it moves as the batch grows."""
    out = []
    for name in dict.fromkeys((c.framework, c.mode, c.input, c.cache) for c in stats):
        rows = sorted((c.batch, s) for c, s in stats.items() if (c.framework, c.mode, c.input, c.cache) == name
                      and s["jit"] is not None and s["train_time"])
        if not rows:
            continue
        shares = [100 * s["jit"] / s["train_time"] for _, s in rows]
        text = f"{label(Config(0, *name))}: JIT overhead " + ", ".join(
            f"{fmt_time(s['jit'])} = {share:.1f}% of training at batch {b}" for (b, s), share in zip(rows, shares))
        if len(rows) > 1:
            diffs = np.diff(shares)
            trend = ("falls" if (diffs < 0).all() else "rises" if (diffs > 0).all() else "does not move one way")
            text += f"; the share {trend} as the batch grows"
        out.append(text + ".")
    return out


def break_even_lines(groups, stats):
    """Epochs after which a compiled mode's total time drops below its uncompiled one's:
    1 + (first-epoch difference) / (steady-state saving per epoch)."""
    out = []
    for c, s in stats.items():
        base = c._replace(mode=UNCOMPILED.get(c.mode, ""))
        if base not in stats and base.mode in bc.UNCACHED_MODES:
            base = base._replace(cache="cold")  # eager has no warm runs: its cold ones are the same
        if base not in stats or not comparable(c, base, stats) or s["steady"] is None:
            continue
        b = stats[base]
        saving, cost = b["steady"] - s["steady"], s["first"] - b["first"]
        head = f"Batch {c.batch}: {label(c)} against {label(base)}: "
        interval = ratio_interval(b["steadies"], s["steadies"])
        if interval and interval[0] <= 1 <= interval[1]:
            out.append(head + f"the steady-state saving ({fmt_time(saving)} per epoch) is within noise "
                       f"(ratio interval {interval[0]:.2f}x to {interval[1]:.2f}x): no break-even can be claimed.")
        elif saving <= 0:
            out.append(head + f"never breaks even: it is not faster per steady epoch ({fmt_time(s['steady'])} vs "
                       f"{fmt_time(b['steady'])}).")
        elif cost <= 0:
            out.append(head + f"ahead from epoch 1 (first epoch {fmt_time(s['first'])} vs {fmt_time(b['first'])}).")
        else:
            out.append(head + f"breaks even after {1 + cost / saving:,.1f} epochs (compile cost {fmt_time(cost)} "
                       f"/ saving {fmt_time(saving)} per epoch)" + ("." if interval else "; single measurements."))
    return out


def recompile_findings(stats):
    return [f"{label(c)}, batch {c.batch}: {s['recompiles_late']:g} recompilation(s) after epoch 1: compile cost "
            "counted as steady state (a second input shape, an uncommitted input)."
            for c, s in stats.items() if s["recompiles_late"]]  # None or 0: nothing to report


def cache_findings(stats):
    out = []
    for c, s in stats.items():
        cold = c._replace(cache="cold")
        if c.cache != "warm" or cold not in stats:
            continue
        k = stats[cold]
        compile_key = "compile_s" if s.get("compile_s") is not None else "jit_compile_s"
        text = (f"{label(cold)}, batch {c.batch}: first epoch {fmt_time(k['first'])} cold, {fmt_time(s['first'])} "
                f"with a warm cache ({fmt_time(k['first'] - s['first'])} saved")
        if s.get(compile_key) is not None and k.get(compile_key) is not None:
            text += f"; compile {fmt_time(k[compile_key])} -> {fmt_time(s[compile_key])}"
        if s.get("cache_hits") is not None:
            text += f"; {s['cache_hits']:g} program(s) read from the cache"
        out.append(text + ").")
    return out


def loader_findings(stats):
    out = []
    for c, s in stats.items():
        device = c._replace(input="device")
        if c.input != "loader" or device not in stats or s["steady"] is None or stats[device]["steady"] is None:
            continue
        d, extra = stats[device], s["steady"] - stats[device]["steady"]
        out.append(f"Batch {c.batch}, {label(device)}: DataLoader input {fmt_time(s['steady'])} vs device-resident "
                   f"{fmt_time(d['steady'])} per steady epoch: {'+' if extra >= 0 else '-'}{fmt_time(abs(extra))} "
                   f"per epoch, {extra / s['steps'] * 1e3:+.2f} ms per step ({s['steps']} steps), "
                   f"{extra / s['samples'] * 1e6:+.1f} µs per image; {s['steady'] / d['steady']:.2f}x the "
                   "device-resident time.")
    return out


def parity_findings(groups, settings):
    """Largest gaps between the curves of different frameworks at one batch size (first seed,
    first repeat of each configuration)."""
    out = []
    seed = (settings.get("seeds") or [settings.get("seed", 0)])[0]
    for batch in sorted({c.batch for c in groups}):
        curves = {c: epochs_of(representative(rs, seed))
                  for c, rs in groups.items() if c.batch == batch}
        gaps = []
        for (a, ca), (b, cb) in itertools.combinations(curves.items(), 2):
            if a.framework == b.framework or len(ca) != len(cb):
                continue
            # A non-finite loss makes the gap infinite: max() alone would drop or keep NaN by position.
            gaps.append({k: max(abs(x[k] - y[k]) if math.isfinite(x[k] - y[k]) else math.inf for x, y in zip(ca, cb))
                         for k in ("val_acc", "train_loss", "val_loss")})
        if not gaps:
            continue
        worst = {k: max(g[k] for g in gaps) for k in ("val_acc", "train_loss", "val_loss")}
        names = ", ".join(dict.fromkeys(label(c) for c in curves))
        if not all(map(math.isfinite, worst.values())):
            out.append(f"Batch {batch}: the curves of {names} cannot be compared: some losses are not finite.")
            continue
        if settings.get("init") == "shared":
            agree = "follow the same curve" if worst["val_acc"] < 5e-4 else "do NOT follow the same curve"
        else:  # different starting weights: the accuracy verdict over seeds is the comparison
            agree = f"start from different weights (--init {settings.get('init')}), so no match is expected (seed {seed})"
        out.append(f"Batch {batch}: the JAX and PyTorch runs ({names}) {agree}: across frameworks, over "
                   f"{len(next(iter(curves.values())))} epochs, val accuracy differs by at most {worst['val_acc']:.4f}, "
                   f"train loss by at most {worst['train_loss']:.1e}, val loss by at most {worst['val_loss']:.1e}.")
    for c, runs in groups.items():
        bad = [r["epoch"] for r in epochs_of(runs[0]) if not math.isfinite(r["train_loss"])]
        if bad:
            out.append(f"{label(c)}, batch {c.batch}: the run DIVERGED, train loss not finite from epoch {bad[0]} "
                       f"(lr {settings.get('lr')}); its accuracies mean nothing.")
    return out


def rate_finding(stats, peaks):
    rated = [(s["gflops"], c) for c, s in stats.items() if s["gflops"]]
    if not rated:
        return []
    gflops, c = max(rated)
    peak = peaks.get(c.framework, {}).get("gflops")
    text = f"Fastest training rate: {gflops:.1f} GFLOP/s ({label(c)}, batch {c.batch})"
    return [text + (f", {100 * gflops / peak:.0f}% of the {peak:.0f} GFLOP/s fp32 matmul peak that "
                    f"{NAMES[c.framework]} measured on this device." if peak else ".")]
