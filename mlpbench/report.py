"""summary.md: the tables and findings computed from the runs' records and the machine they
ran on. Nothing here is written in advance."""
from mlpbench import comparisons, overheads
from mlpbench import findings as fd
from mlpbench.aggregate import FLOPS_PER_SAMPLE, all_stats, config_of
from mlpbench.findings import comparable
from mlpbench.formatting import fmt, fmt_bytes, fmt_time, label
from mlpbench.modes import FRAMEWORKS

MAIN_COLUMNS = ("Batch Size", "Framework", "First Epoch (JIT)", "Avg. Steady State", "JIT overhead",
                "Samples/s", "GFLOP/s", "% of matmul peak", "Final Val Acc", "Test Acc", "Time to {target}",
                "Peak RSS", "Time vs fastest")


def table(header, rows):
    return (["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            + ["| " + " | ".join(r) + " |" for r in rows])


def main_row(c, s, fastest, epochs):
    steady = fmt_time(s.steady)
    if s.spread:
        steady += f" ({fmt_time(s.spread[0])} to {fmt_time(s.spread[1])})"
    tta = f"{fmt_time(s.tta)} (epoch {s.tta_epoch:g})" if s.tta is not None else f"not in {epochs} epochs"
    ratio = f"{s.steady / fastest:.2f}x" if s.steady and fastest else "n/a"
    return [str(c.batch), label(c), fmt_time(s.first), steady, fmt_time(s.jit), fmt(s.samples_per_s, ",.0f"),
            fmt(s.gflops, ".1f"), fmt(s.peak_pct, ".1f") + "%", f"{s.val_acc:.4f}", f"{s.test_acc:.4f}", tta,
            fmt_bytes(s.peak_rss), ratio]


def main_table(stats, target, epochs):
    on_gpu = any(s.peak_device is not None for s in stats.values())
    rows = []
    for batch in sorted({c.batch for c in stats}):
        keys = [c for c in stats if c.batch == batch]
        for c in keys:
            s = stats[c]
            same_device = [stats[k].steady for k in keys if stats[k].steady and comparable(c, k, stats)]
            rows.append(main_row(c, s, min(same_device) if same_device else None, epochs))
            if on_gpu:
                rows[-1].insert(-1, fmt_bytes(s.peak_device))
    header = [h.format(target=f"{target:g} val acc") for h in MAIN_COLUMNS]
    if on_gpu:
        header.insert(-1, "Peak device memory")
    return table(header, rows)


def compile_table(stats):
    """Epoch 1's first step split into what it is made of, per configuration."""
    header = ["Batch Size", "Framework", "First step", "JAX trace", "JAX lower", "JAX compile",
              "torch.compile", "Graphs", "Graph breaks", "From cache", "Recompiles after epoch 1"]

    def cell(value, show=fmt_time):
        return "-" if value is None else show(value)  # "-": the mode has no such stage
    rows = []
    for c, s in sorted(stats.items(), key=lambda kv: kv[0].batch):
        rows.append([str(c.batch), label(c), fmt_time(s.first_step)]
                    + [cell(v) for v in (s.jit_trace_s, s.jit_lower_s, s.jit_compile_s, s.compile_s)]
                    + [cell(v, lambda x: f"{x:g}") for v in (s.graphs, s.graph_breaks, s.cache_hits,
                                                              s.recompiles_late)])
    return table(header, rows)


def words(setting):
    """A setting as the command line gave it: one value, or several."""
    return " ".join(map(str, setting)) if isinstance(setting, list) else str(setting)


def bullets(lines):
    return [f"- {line}" for line in lines]


def summary(runs, meta):
    settings, peaks = meta["settings"], meta.get("probes", {})
    target, epochs = settings.get("target_acc", 0.85), settings["epochs"]
    groups, stats = all_stats(runs, peaks, target)
    seeds = settings.get("seeds") or [settings.get("seed", 0)]
    samples = min((s.samples for s in stats.values()), default=0)
    lines = ["# JAX vs PyTorch: 784-512-512-10 MLP on MNIST", ""]
    warnings = fd.device_warnings(stats) + fd.noise_warnings(runs, stats, meta.get("cpu_count"))
    lines += bullets(warnings) + ([""] if warnings else [])
    init = ("batch order and init shared by both frameworks" if settings["init"] == "shared"
            else "batch order shared, each framework's own init")
    lines += [f"{epochs} epochs of {samples:,} samples, {init} (`--init {settings['init']}`), "
              f"`--precision {words(settings['precision'])}`, lr {settings['lr']}, "
              f"seed(s) {', '.join(map(str, seeds))}; "
              f"{settings['repeats']} repeat(s) per configuration and seed.", ""]
    lines += main_table(stats, target, epochs)
    lines += ["", "First Epoch includes compilation and warm-up exactly as a user meets them; "
              "Avg. Steady State is the median of epochs 2..E "
              "(with several runs: the median across runs, min to max in brackets); "
              "JIT overhead = First Epoch - Avg. Steady State; GFLOP/s counts "
              f"{FLOPS_PER_SAMPLE / 1e6:.2f} MFLOP per training sample; "
              f"Time to {target:g} val acc is training time (epoch 1 included, evaluation not) "
              "until the end of the first epoch whose val accuracy reaches it, "
              "median over the runs that did; Peak RSS is the trainer process's peak resident memory.", ""]
    found = (fd.speed_findings(stats) + fd.accuracy_findings(groups, settings)
             + fd.time_to_accuracy_findings(stats, target, epochs) + fd.parity_findings(groups, settings)
             + fd.rate_finding(stats, peaks))
    lines += ["## Findings", ""] + bullets(found) + [""]
    weighed = (comparisons.versus_findings(stats) + comparisons.unroll_findings(stats)
               + comparisons.precision_findings(stats))
    if weighed:
        lines += (["## One thing at a time: paradigm, framework, compiling, settings", ""] + bullets(weighed)
                  + [""])
    lines += ["## The JIT: what it costs and when it pays", ""] + compile_table(stats) + [""]
    jit = (overheads.jit_share_lines(stats) + overheads.break_even_lines(stats)
           + overheads.recompile_findings(stats))
    lines += bullets(jit) + [""]
    cache = overheads.cache_findings(stats)
    if cache:
        lines += ["## Cold and warm compilation caches", ""] + bullets(cache) + [""]
    loader = overheads.loader_findings(stats)
    if loader:
        lines += (["## Input pipeline: torch DataLoader vs device-resident batches", ""]
                  + bullets(loader) + [""])
    lines += machine_lines(runs, meta)
    failed = [r for r in runs if r.error]
    if failed or meta.get("interrupted"):
        lines += ["", "## Failed runs", ""]
        lines += [f"- {label(config_of(r))}, batch {r.spec.batch_size}, seed {r.spec.seed}, "
                  + ("the cache-filling run" if r.spec.purpose == "fill" else f"repeat {r.spec.repeat}")
                  + f": {r.error} (stderr tail in run_meta.json)" for r in failed]
        if meta.get("interrupted"):
            lines.append("- the benchmark was interrupted: only the runs above the interruption are reported")
    return "\n".join(lines) + "\n"


def gpu_lines(gpu, starts):
    """The GPU as nvidia-smi gave it, and the CUDA each framework's runs reported."""
    if not gpu:
        return []
    cuda = sorted({f"{FRAMEWORKS[s['framework']]} {s['cuda']}" for s in starts if s.get("cuda")})
    return [f"- GPU: {gpu['name']} ({gpu['memory']}), driver {gpu['driver_version']} "
            f"(CUDA {gpu['cuda_driver']} supported)"
            + (f"; CUDA as the frameworks report it: {', '.join(cuda)}" if cuda else "")]


def machine_lines(runs, meta):
    starts = [r.start for r in runs if r.start]
    versions = sorted({f"{FRAMEWORKS[s['framework']]} {s['framework_version']}" for s in starts})
    devices = sorted({f"{s['device_name']} ({s['device']})" for s in starts})
    threads = sorted({s["threads"] for s in starts if s.get("threads")})
    lines = ["## Machine", "",
             f"- device: {', '.join(devices) or 'n/a'}; host CPU {meta['cpu']}, {meta['cpu_count']} cores",
             f"- {meta['platform']}, Python {meta['python']}, {', '.join(versions) or 'no run finished'}"
             + (f", PyTorch threads {threads}" if threads else ""),
             f"- precision {words(meta['settings']['precision'])}, init {meta['settings']['init']}",
             *gpu_lines(meta.get("gpu"), starts),
             f"- command: `python {' '.join(meta['command'])}`, "
             f"{meta['start_time']} to {meta.get('end_time', '?')}"]
    for framework, probe in meta.get("probes", {}).items():
        if "gflops" in probe:
            lines.append(f"- {FRAMEWORKS[framework]} fp32 matmul peak: {probe['gflops']:.1f} GFLOP/s "
                         f"({probe['matmul_n']}^3 matmul, median of 5)")
    loads = [r.load_avg_1m for r in runs if r.load_avg_1m is not None]
    others = [r.other_cores for r in runs if r.other_cores is not None]
    if loads:
        lines.append(f"- 1-minute load average at the start of each run: {min(loads):.2f} to {max(loads):.2f}"
                     + (f"; cores kept busy by other processes during the runs: {min(others):.2f} to "
                        f"{max(others):.2f}" if others else ""))
    return lines
