"""summary.md and summary.json: the tables and findings computed from the runs' records and the
machine they ran on. Nothing here is written in advance."""
import json
import math

from mlpbench import comparisons, findings, overheads, sweep
from mlpbench.aggregate import FLOPS_PER_SAMPLE, all_stats, config_of, group_by
from mlpbench.comparison import Finding, comparable, compare, fastest
from mlpbench.formatting import fmt, fmt_bytes, fmt_time, label, model_name
from mlpbench.model import HIDDEN as DEFAULT_HIDDEN
from mlpbench.modes import FRAMEWORKS

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


def compile_table(stats):
    """Epoch 1's first step split into what it is made of, per configuration."""
    header = ["Batch Size", "Framework", "First step", "JAX trace", "JAX lower", "JAX compile",
              "torch.compile", "Graphs", "Graph breaks", "From cache", "Recompiles after epoch 1"]

    def cell(value, show=fmt_time):
        return "-" if value is None else show(value)  # "-": the mode has no such stage
    rows = []
    for c, s in sorted(stats.items(), key=lambda kv: kv[0].batch_size):
        rows.append([str(c.batch_size), label(c), fmt_time(s.first_step)]
                    + [cell(v) for v in (s.jit_trace_s, s.jit_lower_s, s.jit_compile_s, s.compile_s)]
                    + [cell(v, lambda x: f"{x:g}") for v in (s.graphs, s.graph_breaks, s.cache_hits,
                                                              s.recompiles_late)])
    return header, rows


def words(setting):
    """A setting as the command line gave it: one value, or several."""
    return " ".join(map(str, setting)) if isinstance(setting, list) else str(setting)


def width_findings(stats):
    """The sweep's findings: the default pair's ratio by width, the fastest pair's where more
    modes ran, the fit of step time against FLOPs, and the JIT's share by width."""
    out = sweep.ratio_findings(stats)
    if sweep.cells(stats, pair=None) != sweep.cells(stats):
        out += sweep.ratio_findings(stats, pair=None)
    return out + sweep.fit_findings(stats) + sweep.jit_width_findings(stats)


def bullets(lines):
    return [f"- {line}" for line in lines]


def as_finding(item):
    """A section's entry as a Finding: a sentence without a comparison is one too."""
    return item if isinstance(item, Finding) else Finding(item)


TABLE_NOTE = ("First Epoch includes compilation and warm-up exactly as a user meets them; Avg. Steady "
              "State is the median of epochs 2..E (with several runs: their geometric mean, min to max "
              "in brackets); JIT overhead = First Epoch - Avg. Steady State; GFLOP/s counts {flops}; Time "
              "to {target:g} val acc is training time (epoch 1 included, evaluation not) until the end of "
              "the first epoch whose val accuracy reaches it, median over the runs that did; Peak RSS is "
              "the trainer process's peak resident memory.")


def section(id_, title, items, table_=None):
    """id_ names the section for code that looks for it (the title is for readers)."""
    return {"id": id_, "title": title, "table": table_, "findings": [as_finding(f) for f in items]}


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
    warnings = (findings.device_warnings(stats) + findings.noise_warnings(runs, stats, meta.get("cpu_count"))
                + findings.peak_warnings(stats))
    if meta.get("interrupted"):
        warnings.insert(0, "WARNING: the benchmark was interrupted (Ctrl-C or SIGTERM): only the runs that "
                        "finished before it are reported.")
    init = ("batch order and init shared by both frameworks" if settings["init"] == "shared"
            else "batch order shared, each framework's own init")
    sections = [section("findings", "Findings",
                        findings.speed_findings(stats) + findings.accuracy_findings(groups, settings)
                        + findings.time_to_accuracy_findings(stats, target, epochs)
                        + findings.parity_findings(groups, settings) + findings.rate_finding(stats, peaks)),
                section("aa", "A/A: one configuration as both arms (--aa)", comparisons.aa_findings(stats)),
                section("versus", "One thing at a time: paradigm, framework, compiling, settings",
                        comparisons.versus_findings(stats) + comparisons.unroll_findings(stats)
                        + comparisons.precision_findings(stats), comparisons.paradigm_square(stats)),
                section("threads", "Threads: what more cores buy (--threads)",
                        comparisons.thread_findings(stats)),
                section("widths", "Model width: where the framework stops mattering (size_map.png)",
                        width_findings(stats) if len({c.hidden for c in stats}) > 1 else []),
                section("jit", "The JIT: what it costs and when it pays",
                        overheads.jit_share_lines(stats) + overheads.break_even_lines(stats)
                        + overheads.recompile_findings(stats), compile_table(stats)),
                section("caches", "Cold and warm compilation caches", overheads.cache_findings(stats)),
                section("loader", "Input pipeline: torch DataLoader vs device-resident batches",
                        overheads.loader_findings(stats))]
    failed = [f"{label(config_of(r))}, batch {r.spec.batch_size}, seed {r.spec.seed}, "
              + ("the cache-filling run" if r.spec.purpose == "fill" else f"repeat {r.spec.repeat}")
              + f": {r.error} (stderr tail in run_meta.json)" for r in runs if r.error]
    if meta.get("interrupted"):
        failed.append("the benchmark was interrupted: only the runs above the interruption are reported")
    sections = [s for s in sections if s["findings"] or s["table"]]
    return {"schema_version": SCHEMA_VERSION,
            "title": f"JAX vs PyTorch: {models_title(stats)} on MNIST", "warnings": warnings,
            "settings": f"{epochs_text(epochs, stats)}, {init} (`--init {settings['init']}`), "
                        f"`--precision {words(settings['precision'])}`, lr {settings['lr']}, "
                        f"seed(s) {', '.join(map(str, seeds))}; "
                        f"{settings['repeats']} repeat(s) per configuration and seed.",
            "table": main_table(stats, target, epochs),
            "note": TABLE_NOTE.format(flops=flops_text(stats), target=target),
            "sections": sections,
            "comparisons": [c for s in sections for f in s["findings"] for c in f.comparisons],
            "machine": machine_lines(runs, meta), "setup": setup(runs, meta), "failed": failed,
            "configurations": [{**c._asdict(), "label": label(c), **s.as_dict()}
                               for c, s in stats.items()],
            "sweep": sweep.data(stats)}


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


def gpu_lines(gpu, starts):
    """The GPU as nvidia-smi gave it, and the CUDA each framework's runs reported."""
    if not gpu:
        return []
    cuda = sorted({f"{FRAMEWORKS[s['framework']]} {s['cuda']}" for s in starts if s.get("cuda")})
    return [f"GPU: {gpu['name']} ({gpu['memory']}), driver {gpu['driver_version']} "
            f"(CUDA {gpu['cuda_driver']} supported)"
            + (f"; CUDA as the frameworks report it: {', '.join(cuda)}" if cuda else "")]


def probe_readings(probe):
    """Which readings the peak came from: before the runs, after them, or the better of both
    (one probe only, without `readings`, for runs too short to drift)."""
    if "readings" not in probe:
        return ""
    before, after = probe["readings"]
    if before is None:
        return "; read after the runs only: the probe before them failed"
    if after is None:
        return "; read before the runs only: the probe after them failed"
    return f"; the better of {before:.1f} before the runs and {after:.1f} after"


def framework_env(meta, starts):
    """The environment variables that change either framework, as the runs and the controller
    recorded them."""
    return {k: v for s in starts for k, v in (s.get("env") or {}).items()} | (meta.get("env") or {})


def kernel_lines(meta, starts):
    """What decides the kernels: each framework's libraries, the CPU's vector extensions, and the
    environment variables set that change either framework. Absent from runs that predate them."""
    kernels = sorted({f"{FRAMEWORKS[s['framework']]}: {s['kernels']}" for s in starts if s.get("kernels")})
    extensions = meta.get("cpu_extensions") or next((s["cpu_extensions"] for s in starts
                                                     if s.get("cpu_extensions")), None)
    env = framework_env(meta, starts)
    lines = [f"kernels: {'; '.join(kernels)}"] if kernels else []
    if extensions:
        lines.append(f"CPU vector extensions: {', '.join(extensions)}")
    if env:
        lines.append("environment that changes the frameworks: "
                     + ", ".join(f"{k}={v}" for k, v in sorted(env.items())))
    return lines


def setup(runs, meta):
    """The machine and the settings the benchmark's runs share, as data: what --compare lists
    where two results folders differ. Per framework, the values its runs reported."""
    starts, settings = [r.start for r in runs if r.start], meta["settings"]
    facts = {"cpu": meta.get("cpu"), "cores": meta.get("cpu_count"),
             "cpu_extensions": meta.get("cpu_extensions") or [], "gpu": (meta.get("gpu") or {}).get("name"),
             "python": meta.get("python"), "platform": meta.get("platform")}
    facts["frameworks"] = {}
    for framework in FRAMEWORKS:
        mine = [s for s in starts if s["framework"] == framework]
        facts["frameworks"][framework] = {
            **{field.removeprefix("framework_"): sorted({s[field] for s in mine if s.get(field) is not None})
               for field in ("framework_version", "kernels", "threads", "device_name", "flax_version")},
            "matmul_peak_gflops": meta.get("probes", {}).get(framework, {}).get("gflops")}
    facts["env"] = framework_env(meta, starts)
    for key in ("epochs", "train_limit", "init", "lr", "seeds", "repeats", "target_acc"):
        facts[key] = settings.get(key)
    return facts


def machine_lines(runs, meta):
    starts = [r.start for r in runs if r.start]
    versions = sorted({f"{FRAMEWORKS[s['framework']]} {s['framework_version']}" for s in starts}
                      | {f"Flax {s['flax_version']}" for s in starts if s.get("flax_version")})
    devices = sorted({f"{s['device_name']} ({s['device']})" for s in starts})
    threads = {FRAMEWORKS[f]: sorted({s["threads"] for s in starts
                                      if s["framework"] == f and s.get("threads")})
               for f in FRAMEWORKS}  # JAX's: XLA's CPU pool; PyTorch's: torch.get_num_threads()
    threads = ", ".join(f"{name} {counts}" for name, counts in threads.items() if counts)
    lines = [f"device: {', '.join(devices) or 'n/a'}; host CPU {meta['cpu']}, {meta['cpu_count']} cores",
             f"{meta['platform']}, Python {meta['python']}, {', '.join(versions) or 'no run finished'}"
             + (f"; CPU threads: {threads}" if threads else ""),
             f"precision {words(meta['settings']['precision'])}, init {meta['settings']['init']}",
             *gpu_lines(meta.get("gpu"), starts), *kernel_lines(meta, starts),
             f"command: `python {' '.join(meta['command'])}`, "
             f"{meta['start_time']} to {meta.get('end_time', '?')}"]
    for framework, probe in meta.get("probes", {}).items():
        if "gflops" in probe:
            lines.append(f"{FRAMEWORKS[framework]} fp32 matmul peak: {probe['gflops']:.1f} GFLOP/s "
                         f"({probe['matmul_n']}^3 matmul, median of 5{probe_readings(probe)})")
    loads = [r.load_avg_1m for r in runs if r.load_avg_1m is not None]
    others = [r.other_cores for r in runs if r.other_cores is not None]
    if loads:
        lines.append(f"1-minute load average at the start of each run: {min(loads):.2f} to {max(loads):.2f}"
                     + (f"; cores kept busy by other processes during the runs: {min(others):.2f} to "
                        f"{max(others):.2f}" if others else ""))
    return lines
