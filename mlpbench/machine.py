"""What the machine is and what a process used of it: the CPU's name, peak resident memory,
and the matmul probe's timing (framework-neutral; each trainer supplies its matmul)."""
import platform
import statistics
import sys
import time


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def peak_rss_bytes():
    """The process's peak resident memory in bytes: Linux's VmHWM, else ru_maxrss."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024  # reported in kB
    except OSError:
        pass
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


def probe_record(framework, device_name, precision, n, seconds):
    """Median seconds of an n x n x n fp32 matmul as a GFLOP/s record."""
    return {"event": "probe", "framework": framework, "device_name": device_name,
            "precision": precision, "matmul_n": n, "matmul_s": seconds,
            "gflops": 2 * n ** 3 / seconds / 1e9}
