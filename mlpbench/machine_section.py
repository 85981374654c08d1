"""summary.md's Machine section and summary.json's `setup`: the CPU, GPU, versions, kernels,
environment, matmul peaks and load the runs recorded, as lines to read and as data for
--compare and the machines page."""
from mlpbench.formatting import words
from mlpbench.modes import FRAMEWORKS


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


def recorded_env(meta, starts):
    """The environment variables that change either framework, as the runs and the controller
    recorded them."""
    return {k: v for s in starts for k, v in (s.get("env") or {}).items()} | (meta.get("env") or {})


def kernel_lines(meta, starts):
    """What decides the kernels: each framework's libraries, the CPU's vector extensions, and the
    environment variables set that change either framework. Absent from runs that predate them."""
    kernels = sorted({f"{FRAMEWORKS[s['framework']]}: {s['kernels']}" for s in starts if s.get("kernels")})
    extensions = meta.get("cpu_extensions") or next((s["cpu_extensions"] for s in starts
                                                     if s.get("cpu_extensions")), None)
    env = recorded_env(meta, starts)
    lines = [f"kernels: {'; '.join(kernels)}"] if kernels else []
    paths = sorted({f"{FRAMEWORKS[s['framework']]}: {s['gemm_path']}" for s in starts if s.get("gemm_path")})
    if paths:
        lines.append(f"GEMM path (the code the matrix products run): {'; '.join(paths)}")
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
    facts = {"cpu": meta.get("cpu"), "cpu_id": meta.get("cpu_id"), "cores": meta.get("cpu_count"),
             "cpu_extensions": meta.get("cpu_extensions") or [], "gpu": (meta.get("gpu") or {}).get("name"),
             "python": meta.get("python"), "platform": meta.get("platform")}
    facts["frameworks"] = {}
    for framework in FRAMEWORKS:
        mine = [s for s in starts if s["framework"] == framework]
        facts["frameworks"][framework] = {
            **{field.removeprefix("framework_"): sorted({s[field] for s in mine if s.get(field) is not None})
               for field in ("framework_version", "kernels", "threads", "device_name", "flax_version",
                             "gemm_path")},
            "matmul_peak_gflops": meta.get("probes", {}).get(framework, {}).get("gflops")}
    facts["env"] = recorded_env(meta, starts)
    for key in ("epochs", "train_limit", "init", "lr", "seeds", "repeats", "target_acc"):
        facts[key] = settings.get(key)
    return facts


def cpu_id_text(cpu_id):
    """" (cpu family 25, model 17, stepping 1)": what tells two CPUs sold under one name apart."""
    if not cpu_id:
        return ""
    return f" (cpu family {cpu_id['family']}, model {cpu_id['model']}, stepping {cpu_id['stepping']})"


def machine_lines(runs, meta):
    starts = [r.start for r in runs if r.start]
    versions = sorted({f"{FRAMEWORKS[s['framework']]} {s['framework_version']}" for s in starts}
                      | {f"Flax {s['flax_version']}" for s in starts if s.get("flax_version")})
    devices = sorted({f"{s['device_name']} ({s['device']})" for s in starts})
    threads = {FRAMEWORKS[f]: sorted({s["threads"] for s in starts
                                      if s["framework"] == f and s.get("threads")})
               for f in FRAMEWORKS}  # JAX's: XLA's CPU pool; PyTorch's: torch.get_num_threads()
    threads = ", ".join(f"{name} {counts}" for name, counts in threads.items() if counts)
    lines = [f"device: {', '.join(devices) or 'n/a'}; host CPU {meta['cpu']}"
             f"{cpu_id_text(meta.get('cpu_id'))}, {meta['cpu_count']} cores",
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
