"""Benchmark the JAX and PyTorch trainers against each other (docs/design.md, "Controller").

Every configuration (batch size, model, framework, mode, input, cache, precision, unroll), seed
and repeat runs as a fresh subprocess, one at a time, so every run pays its own JIT. The
children's JSON records become benchmark_results.csv, training_curves.png, epoch_times.png,
summary.md, summary.json and run_meta.json, and with several widths size_map.png.
"""
import datetime
import shutil
import signal
import sys
import time
from pathlib import Path

from mlpbench import cli, compare_folders, data, modes
from mlpbench.children import LoadMeter, Progress, run_child, run_probe
from mlpbench.formatting import run_label
from mlpbench.machine import best_probes, gpu_facts, machine_facts
from mlpbench.options import parse_args
from mlpbench.outputs import write_outputs
from mlpbench.plan import plan
from mlpbench.records import EXIT_ERROR, EXIT_OK, Run, RunSpec
from mlpbench.results import ResultsError, read_results, write_csv, write_meta

# Runs shorter than this leave the machine no time to drift: their peaks are probed once.
REPROBE_AFTER_S = 60
EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143


class Terminated(Exception):
    """SIGTERM, a scheduler's stop: handled like Ctrl-C."""


def probe_peaks(args):
    """Each framework's fp32 matmul rate on this device: the yardstick for GFLOP/s."""
    return {framework: run_probe(cli.child_command(args, RunSpec(framework, modes.names(framework)[0],
                                                                 args.batch_sizes[0], seed=args.seeds[0]),
                                                   ["--probe"]))[-1]
            for framework in args.frameworks}


def probe_products(args, specs):
    """The matrix products of one step, timed alone, per framework, batch size, model, precision,
    thread count and arm of the timed runs (findings.step); after the runs, outside them, one
    child for every batch size."""
    groups = {}
    for s in specs:
        if s.purpose == "timed":
            groups.setdefault((s.framework, s.hidden, s.precision, s.threads, s.arm), (s, []))[1].append(
                s.batch_size)
    return [{**record, "arm": spec.arm}
            for spec, batches in groups.values()
            for record in run_probe(cli.child_command(args, spec, ["--probe", "products", "--probe-batches",
                                                                   *map(str, dict.fromkeys(batches))]),
                                    env=cli.arm_of(args, spec).environ())]


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


def run_all(args, specs, meta, runs):
    """Each planned run in turn, the CSV and run_meta.json rewritten after each; returns the exit code."""
    out, code = args.out_dir, EXIT_OK
    progress = Progress(sum(cli.spec_epochs(args, s) for s in specs))
    meter = LoadMeter()
    try:
        for i, spec in enumerate(specs, start=1):
            label = run_label(spec)
            progress.run(f"run {i}/{len(specs)} {label}")
            epochs = cli.spec_epochs(args, spec)
            load, t0 = meter.start(), time.perf_counter()
            records, error, stderr_tail = run_child(cli.child_command(args, spec), args.timeout, epochs,
                                                    lambda r, epochs=epochs: progress.epoch(r, epochs),
                                                    env=cli.arm_of(args, spec).environ())
            runs.append(Run(spec, records, error, stderr_tail, wall_s=time.perf_counter() - t0,
                            load_avg_1m=load, other_cores=meter.other_cores()))
            if error:
                code = EXIT_ERROR
                progress.message(f"FAILED {label}: {error}\n{stderr_tail}")
            write_csv(out / "benchmark_results.csv", runs)
            write_meta(out / "run_meta.json", meta, runs)
    finally:
        progress.close()
    return code


def main(argv=None):
    args = parse_args(argv)
    if args.from_dir:
        return rebuild(args)
    if args.compare:
        return compare_folders.main(*args.compare, args.out_dir)
    try:
        data.load_mnist(args.data_dir)  # fetched and verified once, before any run
        if "loader" in args.input:
            data.torchvision_root(args.data_dir)
    except data.DataError as e:
        cli.fail(str(e))
    prepare_cache(args)
    specs = plan(args)
    meta = {"command": [Path(sys.argv[0]).name, *(sys.argv[1:] if argv is None else argv)],
            **machine_facts(), "gpu": gpu_facts() if args.device != "cpu" else None,
            "start_time": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "arms": [a.describe() for a in args.arms],
            "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()
                         if k != "arms"}}
    out, runs, code = args.out_dir, [], EXIT_OK
    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        cli.log("measuring each framework's matmul peak on this device...")
        meta["probes"] = probe_peaks(args)
        t0 = time.perf_counter()
        code = run_all(args, specs, meta, runs)
        cli.log("timing each step's matrix products alone...")
        meta["products"] = probe_products(args, specs)
        if time.perf_counter() - t0 >= REPROBE_AFTER_S:
            cli.log("measuring the matmul peaks again, after the runs...")
            meta["probes"] = best_probes(meta["probes"], probe_peaks(args))
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
        cli.log("interrupted: writing the results of the finished runs")
    except Terminated:
        code = EXIT_TERMINATED
        cli.log("terminated: writing the results of the finished runs")
    finally:
        signal.signal(signal.SIGTERM, previous)
        meta["end_time"] = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
        # A signal during the second probe loses no run: the first probe's peaks stand.
        meta["interrupted"] = code in (EXIT_INTERRUPTED, EXIT_TERMINATED) and len(runs) < len(specs)
        write_csv(out / "benchmark_results.csv", runs)
        write_meta(out / "run_meta.json", meta, runs)
        summary = write_outputs(out, runs, meta)
    print(summary)
    return code


def rebuild(args):
    """--from: the outputs of a results folder rewritten from its records by today's code."""
    try:
        runs, meta = read_results(args.from_dir)
    except ResultsError as e:
        cli.fail(str(e))
    print(write_outputs(args.out_dir, runs, meta))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
