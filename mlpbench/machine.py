"""What the machine is and what a process used of it: the CPU's name, peak resident memory,
and the matmul probe's timing (framework-neutral; each trainer supplies its matmul)."""
import platform
import statistics
import sys
import time


def proc_field(path, key):
    """The text after the colon on the first line of a /proc file that starts with key; None
    where the file or the line is not there (off Linux)."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def proc_kib(path, key):
    """A /proc figure reported in kB ("VmHWM:   459972 kB"), in bytes; None where absent."""
    text = proc_field(path, key)
    return int(text.split()[0]) * 1024 if text else None


def cpu_name():
    return proc_field("/proc/cpuinfo", "model name") or platform.processor() or platform.machine()


# The CPU features that decide which matmul kernels the frameworks' libraries pick.
VECTOR_FLAGS = ("sse4_2", "avx", "f16c", "fma", "amx")
# Environment variables that change what either framework does (threads, kernels, compilers).
FRAMEWORK_ENV = ("XLA_", "JAX_", "TF_CPP_", "TORCH", "OMP_", "MKL_", "KMP_", "OPENBLAS_",
                 "CUDA_VISIBLE_DEVICES", "LD_PRELOAD")


def cpu_id():
    """The CPU's vendor, family, model and stepping as /proc/cpuinfo gives them: two CPUs sold
    under one name ("AMD EPYC" is Zen 4 at family 25 and Zen 5 at family 26) are told apart
    here; None off Linux."""
    fields = {k: proc_field("/proc/cpuinfo", key) for k, key in
              (("vendor", "vendor_id"), ("family", "cpu family"), ("model", "model\t"),
               ("stepping", "stepping"))}
    if fields["family"] is None:
        return None
    return {k: v if k == "vendor" or v is None or not v.isdigit() else int(v) for k, v in fields.items()}


def cpu_extensions():
    """The CPU's vector extensions as /proc/cpuinfo lists them ("avx2", "avx512f", ...), or None
    where it is not there."""
    flags = proc_field("/proc/cpuinfo", "flags")
    return sorted(x for x in flags.split() if x.startswith(VECTOR_FLAGS)) if flags is not None else None


def framework_env():
    """{name: value} of the environment variables set here that change either framework (an
    OPENBLAS_CORETYPE slows numpy; XLA_FLAGS, OMP_NUM_THREADS and TORCHINDUCTOR_* change the
    steps themselves)."""
    import os
    return {k: v for k, v in sorted(os.environ.items()) if k.startswith(FRAMEWORK_ENV)}


def machine_facts():
    """What run_meta.json records of the machine and the Python that ran the controller."""
    import os
    return {"python": platform.python_version(), "platform": platform.platform(), "cpu": cpu_name(),
            "cpu_count": os.cpu_count(), "cpu_extensions": cpu_extensions(), "cpu_id": cpu_id(),
            "env": framework_env()}


def schedulable_cpus():
    """The cores this process may run on: the size of XLA's CPU thread pool (it is sized by
    them; a 2048^3 matmul in JAX kept 1.97 of 2 cores busy)."""
    import os
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def restrict_cpus(n):
    """Let this process (and every thread it starts later) run on its first n allowed cores.
    JAX has no public thread setting: XLA sizes its CPU pool from this affinity when the backend
    starts (jax-ml/jax#1539), so it must run before the first jax.devices(); PyTorch is
    restricted alike, and its pool set with torch.set_num_threads as well."""
    import os
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:n])


def available_memory():
    """Bytes of memory this machine can give a new process now (Linux's MemAvailable, else the
    free pages), or None where neither is known."""
    available = proc_kib("/proc/meminfo", "MemAvailable:")
    if available is not None:
        return available
    import os
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def peak_rss_bytes():
    """The process's peak resident memory in bytes: Linux's VmHWM, else ru_maxrss."""
    peak = proc_kib("/proc/self/status", "VmHWM:")
    if peak is not None:
        return peak
    try:
        import resource
    except ImportError:  # Windows
        return None
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024  # bytes on macOS, KiB elsewhere


def median_seconds(run, repeats=5):
    """Median wall time of run(), which must return only once the device has finished.
    One untimed call first: library loading, compilation and first launch are not timed."""
    run()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


# A batch of calls lasts at least this long: far above perf_counter's resolution and one call's
# jitter, short enough that 8 products at 7 batches each take about a second.
BATCH_S = 0.02


def per_call_seconds(call, sync, repeats=7):
    """The median over `repeats` batches of one call's time, each batch as many calls as fill
    BATCH_S, then one sync (the framework's own: block_until_ready, torch.cuda.synchronize).
    Several calls per batch keep the timer's overhead out of microsecond products; the median
    keeps a preempted batch out."""
    def batch(n):
        t0 = time.perf_counter()
        for _ in range(n):
            out = call()
        sync(out)
        return time.perf_counter() - t0

    sync(call())  # compilation, first launch and library loading untimed
    n = 1
    while (first := batch(n)) < BATCH_S:
        n *= 2
    return statistics.median([first / n] + [batch(n) / n for _ in range(repeats - 1)])


def products_record(framework, device_name, args, batch_size, timing):
    """The step's products timed alone (docs/design.md, "Records"). timing is (timed, floor_s,
    program_s): timed, [(product, seconds of one call)], each counted less floor_s, what a 1 x 1 x 1
    product costs the same way (the framework's dispatch and the timer's share, kept out of the
    products' time); program_s, all of them in one compiled program, one dispatch (JAX)."""
    timed, floor_s, program_s = timing
    seconds = [t for _, t in timed]
    flops = sum(p.flops for p, _ in timed)
    return {"event": "products", "framework": framework, "device_name": device_name,
            "batch_size": batch_size, "hidden": list(args.hidden), "precision": args.precision,
            "threads": args.threads, "flops": flops,
            "products": [{**p._asdict(), "flops": p.flops, "seconds": t} for p, t in timed],
            "dispatch_s": floor_s, "products_s": sum(max(t - floor_s, 0.0) for t in seconds),
            "calls_s": sum(seconds), "program_s": program_s}


def probe_record(framework, device_name, precision, n, seconds):
    """Median seconds of an n x n x n fp32 matmul as a GFLOP/s record."""
    return {"event": "probe", "framework": framework, "device_name": device_name,
            "precision": precision, "matmul_n": n, "matmul_s": seconds,
            "gflops": 2 * n ** 3 / seconds / 1e9}


def best_probes(before, after):
    """Each framework's matmul peak as the better of its readings before and after the runs. A
    peak is what the device can do, and a shared machine drifts: one sweep's probe read 177 GFLOP/s
    at its start, where the same PyTorch had read 303 an hour before and its runs then reached 253.
    `readings` keeps both, None for a probe that failed."""
    merged = {}
    for framework, first in before.items():
        pair = (first, after.get(framework, {"error": "not run"}))
        good = [p for p in pair if "gflops" in p]
        best = max(good, key=lambda p: p["gflops"], default=first)
        merged[framework] = {**best, "readings": [p.get("gflops") for p in pair]}
    return merged


def gpu_facts():
    """The first visible NVIDIA GPU's name, memory, driver and the CUDA version its driver
    supports, from nvidia-smi; None where there is none (no GPU, none visible, or no nvidia-smi)."""
    import os
    import re
    import subprocess
    # The GPU the frameworks will see: nvidia-smi ignores CUDA_VISIBLE_DEVICES, so it is asked for
    # that one, and a run with every GPU hidden (as the tests and --device cpu do) has none.
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.split(",")[0].strip() in ("", "-1"):
        return None
    which = [f"--id={visible.split(',')[0].strip()}"] if visible else []
    try:
        query = subprocess.run(["nvidia-smi", *which, "--query-gpu=name,driver_version,memory.total",
                                "--format=csv,noheader"], capture_output=True, text=True, timeout=30)
        header = subprocess.run(["nvidia-smi"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    if query.returncode != 0 or not query.stdout.strip():
        return None
    name, driver, memory = (field.strip() for field in query.stdout.splitlines()[0].split(","))
    cuda = re.search(r"CUDA Version:\s*([\d.]+)", header)
    return {"name": name, "driver_version": driver, "memory": memory,
            "cuda_driver": cuda.group(1) if cuda else None}


def gpu_memory_bytes(gpu):
    """nvidia-smi's memory.total ("81559 MiB") in bytes, or None."""
    try:
        value, unit = gpu["memory"].split()
        return int(value) * {"MiB": 2**20, "GiB": 2**30}[unit]
    except (TypeError, KeyError, ValueError):
        return None
