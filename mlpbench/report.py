"""summary.md and summary.json: the tables and findings computed from the runs' records and the
machine they ran on. Nothing here is written in advance."""
import json
import math

from mlpbench.aggregate import FLOPS_PER_SAMPLE, all_stats, config_of, group_by
from mlpbench.comparison import comparable, compare, fastest
from mlpbench.findings import (
    aa,
    arms,
    caches,
    headline,
    jit,
    loader,
    section,
    step,
    threads,
    versus,
    warnings,
    widths,
)
from mlpbench.formatting import fmt, fmt_bytes, fmt_time, label, model_name, words
from mlpbench.machine_section import machine_lines, setup
from mlpbench.model import HIDDEN as DEFAULT_HIDDEN

MAIN_COLUMNS = ("Batch Size", "Framework", "First Epoch (JIT)", "Avg. Steady State", "JIT overhead",
                "Samples/s", "GFLOP/s", "% of matmul peak", "Final Val Acc", "Test Acc", "Time to {target}",
                "Peak RSS", "Time vs fastest")


def table(header, rows):
    return (["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            + ["| " + " | ".join(r) + " |" for r in rows])


# summary.json's layout (docs/design.md, "summary.json"); a change of what a field means bumps it.
# 2: configurations name the batch size batch_size and carry threads; `setup` holds the machine
# facts and settings as data, for --compare.
# 3: `setup` keeps each framework's facts under frameworks.<jax|pytorch> (was "JAX version", ...);
# sections carry an `id`; compare.json's settings name their framework and fact.
SCHEMA_VERSION = 4


def main_row(c, s, versus_fastest, epochs):
    steady = fmt_time(s.steady)
    if s.spread:
        steady += f" ({fmt_time(s.spread[0])} to {fmt_time(s.spread[1])})"
    tta = f"{fmt_time(s.tta)} (epoch {s.tta_epoch:g})" if s.tta is not None else f"not in {epochs} epochs"
    ratio = f"{versus_fastest.ratio_of(c):.2f}x" if versus_fastest else "n/a"
    return [str(c.batch_size), label(c), fmt_time(s.first), steady, fmt_time(s.jit),
            fmt(s.samples_per_s, ",.0f"),
            fmt(s.gflops, ".1f"), fmt(s.peak_pct, ".1f") + "%", f"{s.val_acc:.4f}", f"{s.test_acc:.4f}", tta,
            fmt_bytes(s.peak_rss), ratio]


def main_table(stats, target, epochs):
    """A row per configuration, by batch size (and model, where several ran); time vs fastest
    against the fastest of the same batch size and model on the same device, from their
    Comparison (the fastest by the comparisons' centre, the geometric mean of its runs)."""
    on_gpu = any(s.peak_device is not None for s in stats.values())
    widths = len({c.hidden for c in stats}) > 1
    rows = []
    # all_stats orders configurations by batch size, then model: the table's order.
    for keys in group_by(stats, lambda c: c.batch_size).values():
        for c in keys:
            s = stats[c]
            best = fastest([k for k in keys if k.hidden == c.hidden and comparable(c, k, stats)], stats)
            versus = compare(c, best, stats) if best is not None and s.steady is not None else None
            rows.append(main_row(c, s, versus, epochs))
            if widths:
                rows[-1][1:2] = [model_name(c.hidden), label(c, model=False)]
            if on_gpu:
                rows[-1].insert(-1, fmt_bytes(s.peak_device))
    header = [h.format(target=f"{target:g} val acc") for h in MAIN_COLUMNS]
    if widths:
        header.insert(1, "Model")
    if on_gpu:
        header.insert(-1, "Peak device memory")
    return header, rows


def models_title(stats):
    hidden = sorted({c.hidden for c in stats}) or [DEFAULT_HIDDEN]
    if len(hidden) == 1:
        return f"{model_name(hidden[0])} MLP"
    if all(len(h) == 2 and h[0] == h[1] for h in hidden):
        return f"784-W-W-10 MLPs, W = {', '.join(str(h[0]) for h in hidden)},"
    return f"MLPs {', '.join(model_name(h) for h in hidden)}"


def flops_text(stats):
    per_model = {c.hidden: s.flops_per_sample for c, s in stats.items()} or {DEFAULT_HIDDEN: FLOPS_PER_SAMPLE}
    if len(per_model) == 1:
        return f"{next(iter(per_model.values())) / 1e6:.2f} MFLOP per training sample"
    return "each model's FLOPs per training sample (" + ", ".join(
        f"{model_name(h)}: {f / 1e6:.2f} MFLOP" for h, f in sorted(per_model.items())) + ")"


def bullets(lines):
    return [f"- {line}" for line in lines]


TABLE_NOTE = ("First Epoch includes compilation and warm-up exactly as a user meets them; Avg. Steady "
              "State is the median of epochs 2..E (with several runs: their geometric mean, min to max "
              "in brackets); JIT overhead = First Epoch - Avg. Steady State; GFLOP/s counts {flops}; Time "
              "to {target:g} val acc is training time (epoch 1 included, evaluation not) until the end of "
              "the first epoch whose val accuracy reaches it, median over the runs that did; Peak RSS is "
              "the trainer process's peak resident memory.")


def epochs_text(epochs, stats):
    """How many epochs, of how many samples. The partial last batch is dropped, so an epoch's size
    depends on the batch size: of 50,000 images, 49,984 at batch 64 and 49,152 at 1024."""
    per_batch = dict(sorted({c.batch_size: s.samples for c, s in stats.items()}.items()))
    if len(set(per_batch.values())) <= 1:
        return f"{epochs} epochs of {next(iter(per_batch.values()), 0):,} samples"
    return f"{epochs} epochs ({', '.join(f'{n:,} samples at batch {b}' for b, n in per_batch.items())})"


def build(runs, meta):
    """What summary.md says, as data: computed once, rendered as markdown (render) and written
    as summary.json with every configuration's figures and the width sweep's cells and fits."""
    settings, peaks = meta["settings"], meta.get("probes", {})
    target, epochs = settings.get("target_acc", 0.85), settings["epochs"]
    groups, stats = all_stats(runs, peaks, target, meta.get("cpu_count"))
    seeds = settings.get("seeds") or [settings.get("seed", 0)]
    splits = step.splits(stats, meta)
    warnings_ = (warnings.device_warnings(stats) + warnings.noise_warnings(runs, stats, meta.get("cpu_count"))
                 + warnings.peak_warnings(stats))
    if meta.get("interrupted"):
        warnings_.insert(0, "WARNING: the benchmark was interrupted (Ctrl-C or SIGTERM): only the runs that "
                        "finished before it are reported.")
    init = ("batch order and init shared by both frameworks" if settings["init"] == "shared"
            else "batch order shared, each framework's own init")
    sections = [section("findings", "Findings",
                        headline.speed_findings(stats) + headline.accuracy_findings(groups, settings)
                        + headline.time_to_accuracy_findings(stats, target, epochs)
                        + headline.parity_findings(groups, settings) + headline.rate_finding(stats, peaks)),
                section("aa", "A/A: one configuration as both arms (--aa)", aa.aa_findings(stats)),
                section("arms", "Arms: one environment against another, in one session (--arm)",
                        arms.difference_findings(runs, arms.arm_names(meta))
                        + arms.arm_findings(stats, arms.arm_names(meta))),
                section("versus", "One thing at a time: paradigm, framework, compiling, settings",
                        versus.versus_findings(stats) + versus.unroll_findings(stats)
                        + versus.precision_findings(stats), versus.paradigm_square(stats)),
                section("threads", "Threads: what more cores buy (--threads)",
                        threads.thread_findings(stats)),
                section("widths", "Model width: where the framework stops mattering (size_map.png)",
                        widths.width_findings(stats) if len({c.hidden for c in stats}) > 1 else []),
                section("jit", "The JIT: what it costs and when it pays",
                        jit.jit_share_lines(stats) + jit.break_even_lines(stats)
                        + jit.recompile_findings(stats), jit.compile_table(stats)),
                section("step", "Where a step's time goes: its matrix products alone, and the rest",
                        *step.step_section_items(stats, splits)),
                section("caches", "Cold and warm compilation caches", caches.cache_findings(stats)),
                section("loader", "Input pipeline: torch DataLoader vs device-resident batches",
                        loader.loader_findings(stats))]
    failed = [f"{label(config_of(r))}, batch {r.spec.batch_size}, seed {r.spec.seed}, "
              + ("the cache-filling run" if r.spec.purpose == "fill" else f"repeat {r.spec.repeat}")
              + f": {r.error} (stderr tail in run_meta.json)" for r in runs if r.error]
    if meta.get("interrupted"):
        failed.append("the benchmark was interrupted: only the runs above the interruption are reported")
    sections = [s for s in sections if s["findings"] or s["table"]]
    return {"schema_version": SCHEMA_VERSION,
            "title": f"JAX vs PyTorch: {models_title(stats)} on MNIST", "warnings": warnings_,
            "settings": f"{epochs_text(epochs, stats)}, {init} (`--init {settings['init']}`), "
                        f"`--precision {words(settings['precision'])}`, lr {settings['lr']}, "
                        f"seed(s) {', '.join(map(str, seeds))}; "
                        f"{settings['repeats']} repeat(s) per configuration and seed.",
            "table": main_table(stats, target, epochs),
            "note": TABLE_NOTE.format(flops=flops_text(stats), target=target),
            "sections": sections,
            "comparisons": [c for s in sections for f in s["findings"] for c in f.comparisons],
            "machine": machine_lines(runs, meta), "setup": setup(runs, meta), "failed": failed,
            "configurations": [{**c._asdict(), "label": label(c), **s.as_dict(),
                                "step_split": splits[c].as_dict() if c in splits else None}
                               for c, s in stats.items()],
            "sweep": widths.data(stats)}


def as_json(report):
    """summary.json's text: strict JSON, a figure that is not finite (no fitted rate) as null."""
    def finite(value):
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            return {k: finite(v) for k, v in value.items()}
        return [finite(v) for v in value] if isinstance(value, (list, tuple)) else value
    sections = [{**s, "findings": [f.as_dict() for f in s["findings"]]} for s in report["sections"]]
    report = {**report, "comparisons": [c.as_dict() for c in report["comparisons"]], "sections": sections}
    return json.dumps(finite(report), indent=1, default=str, allow_nan=False)


def render(report):
    """summary.md from build()'s data."""
    lines = [f"# {report['title']}", ""]
    lines += bullets(report["warnings"]) + ([""] if report["warnings"] else [])
    lines += [report["settings"], ""] + table(*report["table"]) + ["", report["note"], ""]
    for s in report["sections"]:
        lines += [f"## {s['title']}", ""] + (table(*s["table"]) + [""] if s["table"] else [])
        lines += bullets(f.text for f in s["findings"]) + [""]
    lines += ["## Machine", ""] + bullets(report["machine"])
    if report["failed"]:
        lines += ["", "## Failed runs", ""] + bullets(report["failed"])
    return "\n".join(lines) + "\n"


def summary(runs, meta):
    return render(build(runs, meta))
