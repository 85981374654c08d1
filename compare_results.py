"""Benchmark the JAX and PyTorch trainers against each other (DESIGN.md section 5).

Every (batch size, input, cache, seed, repeat, framework, mode) runs as a fresh subprocess,
one at a time, so every run pays its own JIT. The children's JSON records become
benchmark_results.csv, training_curves.png, epoch_times.png, summary.md and run_meta.json.
"""
import csv
import datetime
import io
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bench_common as bc
import child_runs
import mnist_data
import plots
import report
from fileio import write_atomic
from verdicts import record_of

HERE = Path(__file__).resolve().parent
SCRIPTS = {"jax": "assignment_1JAX.py", "pytorch": "assignment_1TORCH.py"}
START_COLUMNS = ("seed", "lr", "init", "precision", "device", "device_name", "framework_version") + bc.START_EXTRAS
RUN_COLUMNS = ("repeat", "cache", "load_avg_1m", "other_cores", "status")
END_COLUMNS = ("test_loss", "test_acc") + bc.END_EXTRAS
CSV_COLUMNS = (tuple(f for f in bc.EPOCH_FIELDS + bc.EPOCH_EXTRAS if f != "event")
               + START_COLUMNS + RUN_COLUMNS + END_COLUMNS)
EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143


class Terminated(Exception):
    """SIGTERM, a scheduler's stop: handled like Ctrl-C."""


def parse_args(argv=None):
    parser = bc.OneLineParser(description="Run both trainers per batch size and compare them.")
    parser.add_argument("--batch-sizes", type=bc.positive_int, nargs="+", default=[64, 256, 1024],
                        help="batch sizes to run (default: %(default)s)")
    parser.add_argument("--frameworks", nargs="+", choices=tuple(bc.MODES), default=["jax", "pytorch"],
                        help="frameworks to run (default: %(default)s)")
    parser.add_argument("--modes", nargs="+", default=list(bc.DEFAULT_MODES),
                        help="modes to run, each with the framework that has it; 'all' = every mode "
                             "this device supports (default: %(default)s)")
    parser.add_argument("--epochs", type=bc.positive_int, default=10, help="epochs per run (default: %(default)s)")
    parser.add_argument("--repeats", type=bc.positive_int, default=1,
                        help="fresh runs of each configuration and seed: they only re-time (default: %(default)s)")
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        help="seeds to run, each changing init and batch order (default: --seed alone)")
    parser.add_argument("--input", nargs="+", choices=bc.INPUTS, default=["device"],
                        help="device-resident batches, a torchvision DataLoader, or both (default: %(default)s)")
    parser.add_argument("--target-acc", type=bc.fraction, default=0.85,
                        help="validation accuracy for the time-to-accuracy figures (default: %(default)s)")
    parser.add_argument("--cache", choices=("cold", "warm", "both"), default="cold",
                        help="cold: every run compiles from scratch; warm: a cache is filled by one "
                             "untimed run per configuration, then timed runs use it (default: %(default)s)")
    parser.add_argument("--compile-cache", type=Path, default=None, metavar="DIR",
                        help="the cache folder for --cache warm/both (default: OUT_DIR/compile-cache, emptied first)")
    bc.add_run_flags(parser, init_default="shared")
    parser.add_argument("--out-dir", type=Path, default=Path("results"), help="output folder (default: %(default)s)")
    parser.add_argument("--timeout", type=bc.positive_float, default=1800.0,
                        help="seconds one run may take before it is killed (default: %(default)s)")
    args = parser.parse_args(argv)
    known = {m for modes in bc.MODES.values() for m in modes}
    if "all" in args.modes:
        args.modes = [m for f in args.frameworks for m in bc.MODES[f]
                      if m not in bc.GPU_ONLY_MODES or cuda_available(args.device)]
    unknown = sorted(set(args.modes) - known)
    if unknown:
        parser.error(f"unknown mode(s) {', '.join(unknown)}; choose from {', '.join(sorted(known))} or all")
    for mode in args.modes:
        if not any(mode in bc.MODES[f] for f in args.frameworks):
            parser.error(f"mode {mode} belongs to none of the frameworks {', '.join(args.frameworks)}")
    for framework in args.frameworks:
        if not set(bc.MODES[framework]) & set(args.modes):
            parser.error(f"no mode given for {framework} (its modes: {', '.join(bc.MODES[framework])})")
    if args.input == ["loader"] and set(args.modes) <= set(bc.DEVICE_INPUT_ONLY_MODES):
        parser.error(f"--input loader feeds one batch per step; modes {', '.join(args.modes)} need --input device")
    if args.workers and "loader" not in args.input:
        parser.error("--workers applies to --input loader only")
    if args.cache != "cold" and set(args.modes) <= set(bc.UNCACHED_MODES):
        parser.error(f"--cache {args.cache}: modes {', '.join(args.modes)} compile nothing a cache could keep")
    if args.compile_cache and args.cache == "cold":
        parser.error("--compile-cache is the folder of --cache warm or both; cold runs use no cache")
    args.seeds = list(dict.fromkeys(args.seeds)) if args.seeds else [args.seed]
    bc.check_batch_sizes(parser, args.batch_sizes, args.train_limit)
    try:
        args.out_dir.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=args.out_dir).close()
    except OSError as e:
        parser.error(f"--out-dir {args.out_dir} is not writable ({e.strerror or e})")
    return args


def cuda_available(device):
    if device == "cpu":
        return False
    try:
        import torch
        return torch.cuda.is_available()
    except ImportError:
        return False


def plan(args):
    """Every run, in order. Warm configurations are preceded by their untimed cache-filling
    runs; modes that compile nothing run once, without a cache, whatever --cache says."""
    caches = {"cold": ["cold"], "warm": ["warm"], "both": ["cold", "warm"]}[args.cache]
    runs = []
    for batch in args.batch_sizes:
        for input_ in args.input:
            pairs = [(f, m) for f in args.frameworks for m in bc.MODES[f] if m in args.modes
                     and not (input_ == "loader" and m in bc.DEVICE_INPUT_ONLY_MODES)]
            cached = [(f, m) for f, m in pairs if m not in bc.UNCACHED_MODES]
            spec = {"batch_size": batch, "input": input_}

            def timed(which, cache):
                return [dict(spec, framework=f, mode=m, cache=cache, seed=seed, repeat=repeat, purpose="timed")
                        for seed in args.seeds for repeat in range(1, args.repeats + 1) for f, m in which]
            runs += timed(pairs if "cold" in caches else [p for p in pairs if p not in cached], "cold")
            if "warm" in caches:
                runs += [dict(spec, framework=f, mode=m, cache="warm", seed=args.seeds[0], repeat=0, purpose="fill")
                         for f, m in cached]
                runs += timed(cached, "warm")
    return runs


def spec_epochs(args, spec):
    """A cache-filling run needs one epoch: every program is built in the first."""
    return 1 if spec.get("purpose") == "fill" else args.epochs


def child_command(args, spec, extra=()):
    command = [sys.executable, str(HERE / SCRIPTS[spec["framework"]]), "--mode", spec["mode"],
               "--batch-size", str(spec["batch_size"]), "--epochs", str(spec_epochs(args, spec)),
               "--lr", repr(args.lr), "--seed", str(spec["seed"]), "--init", args.init,
               "--precision", args.precision, "--device", args.device, "--train-limit", str(args.train_limit),
               "--data-dir", str(mnist_data.data_dir(args.data_dir)), "--input", spec["input"], *extra]
    if spec["input"] == "loader":
        command += ["--workers", str(args.workers)]
    if spec["cache"] == "warm":
        command += ["--compile-cache", str(args.compile_cache)]
    return command


def run_label(spec):
    words = [spec["framework"], spec["mode"], f"batch {spec['batch_size']}"]
    words += [f"input {spec['input']}"] * (spec["input"] != "device")
    words += [f"{spec['cache']} cache"] * (spec["cache"] != "cold")
    words += ["(filling the cache)"] if spec["purpose"] == "fill" else [f"seed {spec['seed']}", f"repeat {spec['repeat']}"]
    return " ".join(words)


def csv_rows(run):
    """One CSV row per epoch of a run; the run's test figures and peak memory on its last row."""
    start, end = record_of(run, "start"), record_of(run, "end")
    epochs = [r for r in run["records"] if r["event"] == "epoch"]
    rows = []
    for i, record in enumerate(epochs):
        row = {k: record[k] for k in CSV_COLUMNS if k in record}
        row.update({k: start.get(k) for k in START_COLUMNS})
        row.update({k: run.get(k) for k in RUN_COLUMNS}, status="ok" if run["error"] is None else "failed")
        if i == len(epochs) - 1:
            row.update({k: end.get(k) for k in END_COLUMNS})
        rows.append(row)
    return rows


def write_csv(path, runs):
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for run in runs:
        if run["purpose"] == "timed":
            writer.writerows(csv_rows(run))
    write_atomic(path, lambda f: f.write(text.getvalue().encode()))


def write_meta(path, meta, runs):
    def describe(run):
        start = record_of(run, "start")
        return dict({k: v for k, v in run.items() if k != "records"},
                    **{k: start.get(k) for k in ("framework_version", "device", "device_name")})
    meta = dict(meta, runs=[describe(r) for r in runs],
                failed_runs=[f"{run_label(r)}: {r['error']}" for r in runs if r["error"]])
    write_atomic(path, lambda f: f.write(json.dumps(meta, indent=2).encode()))


def probe_peaks(args):
    """Each framework's fp32 matmul rate on this device: the yardstick for GFLOP/s."""
    probes = {}
    for framework in args.frameworks:
        spec = {"framework": framework, "mode": bc.MODES[framework][0], "batch_size": args.batch_sizes[0],
                "seed": args.seeds[0], "input": "device", "cache": "cold"}
        try:
            result = subprocess.run(child_command(args, spec, ["--probe"]), capture_output=True, text=True,
                                    timeout=300, stdin=subprocess.DEVNULL)
            probes[framework] = json.loads(result.stdout.strip().splitlines()[-1])
        except (subprocess.TimeoutExpired, json.JSONDecodeError, IndexError) as e:
            probes[framework] = {"error": str(e) or "no output"}
    return probes


def prepare_cache(args):
    if args.cache == "cold":
        return
    if args.compile_cache is None:
        # Ours to empty: "warm" then means filled by this benchmark's own runs.
        args.compile_cache = args.out_dir / "compile-cache"
        shutil.rmtree(args.compile_cache, ignore_errors=True)
    args.compile_cache = args.compile_cache.resolve()
    args.compile_cache.mkdir(parents=True, exist_ok=True)


def on_sigterm(signum, frame):
    raise Terminated


def main(argv=None):
    args = parse_args(argv)
    try:
        mnist_data.load_mnist(args.data_dir)  # fetched and verified once, before any run
        if "loader" in args.input:
            mnist_data.torchvision_root(args.data_dir)
    except mnist_data.DataError as e:
        bc.fail(str(e))
    prepare_cache(args)
    specs = plan(args)
    meta = {"command": [Path(sys.argv[0]).name, *(sys.argv[1:] if argv is None else argv)],
            "python": platform.python_version(), "platform": platform.platform(),
            "cpu": bc.cpu_name(), "cpu_count": os.cpu_count(),
            "start_time": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}}
    out, runs, progress, code = args.out_dir, [], None, bc.EXIT_OK
    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        bc.log("measuring each framework's matmul peak on this device...")
        meta["probes"] = probe_peaks(args)
        progress = child_runs.Progress(sum(spec_epochs(args, s) for s in specs))
        meter = child_runs.LoadMeter()
        for i, spec in enumerate(specs, start=1):
            label = run_label(spec)
            progress.run(f"run {i}/{len(specs)} {label}")
            epochs = spec_epochs(args, spec)
            load, t0 = meter.start(), time.perf_counter()
            records, error, stderr_tail = child_runs.run_child(child_command(args, spec), args.timeout, epochs,
                                                               lambda r: progress.epoch(r, epochs))
            runs.append(dict(spec, wall_s=time.perf_counter() - t0, load_avg_1m=load,
                             other_cores=meter.other_cores(), error=error, stderr_tail=stderr_tail,
                             records=records))
            if error:
                code = bc.EXIT_ERROR
                progress.message(f"FAILED {label}: {error}\n{stderr_tail}")
            write_csv(out / "benchmark_results.csv", runs)
            write_meta(out / "run_meta.json", meta, runs)
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
        bc.log("interrupted: writing the results of the finished runs")
    except Terminated:
        code = EXIT_TERMINATED
        bc.log("terminated: writing the results of the finished runs")
    finally:
        signal.signal(signal.SIGTERM, previous)
        if progress:
            progress.close()
        meta["end_time"] = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
        meta["interrupted"] = code in (EXIT_INTERRUPTED, EXIT_TERMINATED)
        write_csv(out / "benchmark_results.csv", runs)
        write_meta(out / "run_meta.json", meta, runs)
        summary = report.summary(runs, meta)
        write_atomic(out / "summary.md", lambda f: f.write(summary.encode()))
        # Both take every run: they draw the finished, timed ones (verdicts.configs).
        plots.training_curves(runs, out / "training_curves.png", args.target_acc)
        plots.epoch_times(runs, out / "epoch_times.png")
    print(summary)
    return code


if __name__ == "__main__":
    sys.exit(main())
