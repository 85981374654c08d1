"""Benchmark the JAX and PyTorch trainers against each other (DESIGN.md section 5).

Every (batch size, repeat, framework, mode) runs as a fresh subprocess, one at a time,
so every run pays its own cold JIT. The children's JSON records become
benchmark_results.csv, training_curves.png, epoch_times.png, summary.md and run_meta.json.
"""
import csv
import datetime
import io
import json
import os
import platform
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import bench_common as bc
import mnist_data
import report

HERE = Path(__file__).resolve().parent
TRAINERS = {"jax": ("assignment_1JAX.py", ("step", "scan")),
            "pytorch": ("assignment_1TORCH.py", ("eager", "compile", "cudagraph"))}
GPU_ONLY_MODES = {"cudagraph"}
RUN_COLUMNS = ("repeat", "seed", "lr", "init", "precision", "device", "device_name",
               "framework_version", "status")
CSV_COLUMNS = tuple(f for f in bc.EPOCH_FIELDS if f != "event") + RUN_COLUMNS + ("test_loss", "test_acc")
EXIT_INTERRUPTED = 130


def parse_args(argv=None):
    parser = bc.OneLineParser(description="Run both trainers per batch size and compare them.")
    parser.add_argument("--batch-sizes", type=bc.positive_int, nargs="+", default=[64, 256, 1024],
                        help="batch sizes to run (default: %(default)s)")
    parser.add_argument("--frameworks", nargs="+", choices=tuple(TRAINERS), default=["jax", "pytorch"],
                        help="frameworks to run (default: %(default)s)")
    parser.add_argument("--modes", nargs="+", default=["step", "eager"],
                        help="modes to run, each with the framework that has it; 'all' = every mode "
                             "this device supports (default: %(default)s)")
    parser.add_argument("--epochs", type=bc.positive_int, default=10, help="epochs per run (default: %(default)s)")
    parser.add_argument("--repeats", type=bc.positive_int, default=1,
                        help="fresh runs of each configuration (default: %(default)s)")
    bc.add_run_flags(parser, init_default="shared")
    parser.add_argument("--out-dir", type=Path, default=Path("results"), help="output folder (default: %(default)s)")
    parser.add_argument("--timeout", type=bc.positive_float, default=1800.0,
                        help="seconds one run may take before it is killed (default: %(default)s)")
    args = parser.parse_args(argv)
    known = {m for _, modes in TRAINERS.values() for m in modes}
    if "all" in args.modes:
        args.modes = [m for m in sorted(known) if m not in GPU_ONLY_MODES or cuda_available(args.device)]
    unknown = sorted(set(args.modes) - known)
    if unknown:
        parser.error(f"unknown mode(s) {', '.join(unknown)}; choose from {', '.join(sorted(known))} or all")
    for mode in args.modes:
        if not any(mode in TRAINERS[f][1] for f in args.frameworks):
            parser.error(f"mode {mode} belongs to none of the frameworks {', '.join(args.frameworks)}")
    for framework in args.frameworks:
        if not set(TRAINERS[framework][1]) & set(args.modes):
            parser.error(f"no mode given for {framework} (its modes: {', '.join(TRAINERS[framework][1])})")
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


def child_command(args, framework, mode, batch_size, extra=()):
    script, _ = TRAINERS[framework]
    return [sys.executable, str(HERE / script), "--mode", mode, "--batch-size", str(batch_size),
            "--epochs", str(args.epochs), "--lr", repr(args.lr), "--seed", str(args.seed),
            "--init", args.init, "--precision", args.precision, "--device", args.device,
            "--train-limit", str(args.train_limit), "--data-dir", str(mnist_data.data_dir(args.data_dir)),
            *extra]


def check_record(record, expected_event, epochs):
    """Why a parsed line is not the record expected next, or None when it is."""
    if not isinstance(record, dict) or record.get("event") not in bc.RECORD_FIELDS:
        return "not a start/epoch/end record"
    missing = [f for f in bc.RECORD_FIELDS[record["event"]] if f not in record]
    if missing:
        return f"{record['event']} record lacks {', '.join(missing)}"
    if record["event"] != expected_event:
        return f"expected event '{expected_event}', got '{record['event']}'"
    if record["event"] == "start" and record["epochs"] != epochs:
        return f"start record says {record['epochs']} epochs, asked for {epochs}"
    return None


def tail(path, lines=15):
    text = Path(path).read_text(errors="replace").strip().splitlines()
    return "\n".join(text[-lines:])


def run_child(command, timeout, epochs, on_epoch):
    """Run one trainer, reading its records as they come. Returns (records, error, stderr tail)."""
    records, error = [], None
    with tempfile.NamedTemporaryFile("w+", suffix=".stderr") as err:
        child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL,
                                 text=True, start_new_session=True)
        lines = queue.Queue()
        threading.Thread(target=lambda: [lines.put(l) for l in child.stdout] + [lines.put(None)],
                         daemon=True).start()
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    error = f"timed out after {timeout:g} s"
                    break
                if line is None:
                    break
                expected = "start" if not records else ("end" if len(records) == epochs + 1 else "epoch")
                try:
                    record = json.loads(line)
                    problem = check_record(record, expected, epochs)
                except json.JSONDecodeError:
                    problem = "not JSON"
                if problem:
                    error = f"malformed output ({problem}): {line.strip()[:200]}"
                    break
                records.append(record)
                if record["event"] == "epoch":
                    on_epoch(record)
        finally:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGKILL)
            code = child.wait()
        if error is None and code != 0:
            error = f"exit code {code}"
        if error is None and (len(records) != epochs + 2):
            error = f"incomplete output: {len(records)} records for {epochs} epochs"
        return records, error, tail(err.name) if error else ""


def csv_rows(run):
    """One CSV row per epoch of a run; the run's test figures on its last row."""
    start = next((r for r in run["records"] if r["event"] == "start"), {})
    end = next((r for r in run["records"] if r["event"] == "end"), {})
    epochs = [r for r in run["records"] if r["event"] == "epoch"]
    rows = []
    for i, record in enumerate(epochs):
        row = {k: record[k] for k in CSV_COLUMNS if k in record}
        row.update({k: start.get(k) for k in RUN_COLUMNS if k in start})
        row.update(repeat=run["repeat"], status="ok" if run["error"] is None else "failed")
        if i == len(epochs) - 1 and end:
            row.update(test_loss=end["test_loss"], test_acc=end["test_acc"])
        rows.append(row)
    return rows


def write_csv(path, runs):
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for run in runs:
        writer.writerows(csv_rows(run))
    mnist_data.write_atomic(path, lambda f: f.write(text.getvalue().encode()))


def write_meta(path, meta, runs):
    meta = dict(meta, runs=[{k: v for k, v in run.items() if k != "records"} for run in runs],
                failed_runs=[f"{r['framework']} {r['mode']} batch {r['batch_size']} repeat {r['repeat']}: "
                             f"{r['error']}" for r in runs if r["error"]])
    mnist_data.write_atomic(path, lambda f: f.write(json.dumps(meta, indent=2).encode()))


class Progress:
    """A bar over all epochs when stderr is a terminal, plain lines otherwise."""

    def __init__(self, total_epochs):
        self.bar = None
        if sys.stderr.isatty():
            from tqdm import tqdm
            self.bar = tqdm(total=total_epochs, unit="epoch", file=sys.stderr, dynamic_ncols=True)

    def run(self, label):
        self.label = label
        if self.bar:
            self.bar.set_description(label)
        else:
            bc.log(f"{label}: started")

    def epoch(self, record, epochs):
        text = f"epoch {record['epoch']}/{epochs}, val acc {record['val_acc']:.4f}, {record['epoch_time_s']:.3f} s"
        if self.bar:
            self.bar.set_postfix_str(text)
            self.bar.update(1)
        else:
            bc.log(f"{self.label}: {text}")

    def message(self, text):
        (self.bar.write if self.bar else bc.log)(text)

    def close(self):
        if self.bar:
            self.bar.close()


def probe_peaks(args):
    """Each framework's fp32 matmul rate on this device: the yardstick for GFLOP/s."""
    probes = {}
    for framework in args.frameworks:
        command = child_command(args, framework, TRAINERS[framework][1][0], args.batch_sizes[0], ["--probe"])
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
            probes[framework] = json.loads(result.stdout.strip().splitlines()[-1])
        except (subprocess.TimeoutExpired, json.JSONDecodeError, IndexError) as e:
            probes[framework] = {"error": str(e) or "no output"}
    return probes


def main(argv=None):
    args = parse_args(argv)
    try:
        mnist_data.load_mnist(args.data_dir)  # fetched and verified once, before any run
    except mnist_data.DataError as e:
        bc.fail(str(e))
    plan = [(framework, mode, batch, repeat)
            for batch in args.batch_sizes for repeat in range(1, args.repeats + 1)
            for framework in args.frameworks for mode in TRAINERS[framework][1] if mode in args.modes]
    meta = {"command": [Path(sys.argv[0]).name, *(sys.argv[1:] if argv is None else argv)],
            "python": platform.python_version(), "platform": platform.platform(),
            "cpu": bc.cpu_name(), "cpu_count": os.cpu_count(),
            "start_time": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}}
    out = args.out_dir
    runs, progress, code = [], None, bc.EXIT_OK
    try:
        bc.log("measuring each framework's matmul peak on this device...")
        meta["probes"] = probe_peaks(args)
        progress = Progress(len(plan) * args.epochs)
        for i, (framework, mode, batch, repeat) in enumerate(plan, start=1):
            progress.run(f"run {i}/{len(plan)} {framework} {mode} batch {batch} repeat {repeat}")
            t0 = time.perf_counter()
            records, error, stderr_tail = run_child(child_command(args, framework, mode, batch), args.timeout,
                                                    args.epochs, lambda r: progress.epoch(r, args.epochs))
            runs.append({"framework": framework, "mode": mode, "batch_size": batch, "repeat": repeat,
                         "wall_s": time.perf_counter() - t0, "error": error, "stderr_tail": stderr_tail,
                         "records": records})
            if error:
                code = bc.EXIT_ERROR
                progress.message(f"FAILED {framework} {mode} batch {batch} repeat {repeat}: {error}\n{stderr_tail}")
            write_csv(out / "benchmark_results.csv", runs)
            write_meta(out / "run_meta.json", meta, runs)
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
        bc.log("interrupted: writing the results of the finished runs")
    finally:
        if progress:
            progress.close()
        meta["end_time"] = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
        meta["interrupted"] = code == EXIT_INTERRUPTED
        write_csv(out / "benchmark_results.csv", runs)
        write_meta(out / "run_meta.json", meta, runs)
        summary = report.summary(runs, meta)
        mnist_data.write_atomic(out / "summary.md", lambda f: f.write(summary.encode()))
        report.plots(runs, out)
    print(summary)
    return code


if __name__ == "__main__":
    sys.exit(main())
