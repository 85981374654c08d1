import csv
import dataclasses
import json
import os
import shlex
import signal
import statistics
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
import torch

import compare_results
from mlpbench import machine, modes, options, plan, results
from mlpbench.aggregate import BUSY_CORES, FLOPS_PER_SAMPLE, Config
from mlpbench.children import LoadMeter
from mlpbench.formatting import fmt_bytes, fmt_time, label
from mlpbench.model import shared_init
from support import reference, smoke
from support.helpers import ROOT


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def assert_png(path):
    content = Path(path).read_bytes()
    assert content[:8] == b"\x89PNG\r\n\x1a\n" and len(content) > 20_000
    import matplotlib.image
    height, width, _ = matplotlib.image.imread(path).shape
    assert height > 400 and width > 800


def number(text):
    return float(text) if text not in ("", None) else None


# --- one real benchmark: benchmarks/gpu_check.sh --smoke, every CPU mode, each compiler cold and warm ---

N, BATCH, EPOCHS, LR = 1050, 100, 2, 0.1  # the smoke's settings: 50 images dropped, a wrong denominator shows
CPU_MODES = tuple(m.name for m in modes.MODES.values() if not m.gpu_only)


@pytest.fixture(scope="module")
def smoke_out(mnist_dir):
    """The GPU check's sequence with tiny settings on this CPU, as the suite's one real run of
    the controller (tests/support/smoke.py starts it in the background): its "all" part is every
    CPU mode cold, JAX's scan and torch.compile's functional step (fullgraph) warm as well: two
    cold Inductor builds (compile, and the fill of fullgraph's cache) and one warm. The kernels
    part after it reads that part's warm compile cache. Running it here also keeps the script
    from rotting."""
    return smoke.result(mnist_dir)


@pytest.fixture(scope="module")
def benchmark(smoke_out):
    out = smoke_out / "all"
    return out, (smoke_out / "all.log").read_text(), read_csv(out / "benchmark_results.csv")


def runs_of(rows):
    runs = {}
    for r in rows:
        runs.setdefault((r["framework"], r["mode"], r["cache"], r["repeat"]), []).append(r)
    return runs


def test_all_modes_on_a_cpu_are_every_mode_but_the_cuda_graphs(benchmark):
    out, log, rows = benchmark
    assert set(CPU_MODES) == {"step", "scan", "nojit", "nnx", "nnx-split", "eager", "compile", "func",
                              "fullgraph"}
    assert tuple(rows[0]) == results.CSV_COLUMNS
    ran = {(r["framework"], r["mode"], r["cache"]) for r in rows}
    assert ran == ({(m.framework, m.name, "cold") for m in modes.MODES.values()
                    if m.name in CPU_MODES and m.name != "fullgraph"}
                   | {("jax", "scan", "warm"), ("pytorch", "fullgraph", "warm")})
    assert len(rows) == len(ran) * EPOCHS
    assert all(r["status"] == "ok" and r["init"] == "shared" and r["device"] == "cpu" for r in rows)
    # without --threads: JAX's pool is one thread per core the process may use, PyTorch's its default
    threads = {"jax": machine.schedulable_cpus(), "pytorch": torch.get_num_threads()}
    assert all(int(r["threads"]) == threads[r["framework"]] for r in rows)
    summary = (out / "summary.md").read_text()
    assert log.rstrip().endswith(summary.strip())  # printed as well as written
    for mode in ("scan", "compile", "nojit", "func"):
        assert f"| {BATCH} | {modes.mode(mode).display} |" in summary
    assert f"| {BATCH} | PyTorch fullgraph (warm cache) |" in summary
    assert "cudagraph" not in summary
    for name in ("training_curves.png", "epoch_times.png"):
        assert_png(out / name)


def test_every_mode_reports_the_reference_figures(benchmark, split):
    """Each run's records, whatever its mode and cache, against the float64 reference: a
    fault in one mode (its batch order, its update, its split) shows here."""
    _, _, rows = benchmark
    expected, end = reference.train(split, shared_init(0), reference.Schedule(0, EPOCHS, N, BATCH, LR))
    assert expected[-1]["val_acc"] > expected[0]["val_acc"] + 0.05  # it learns at this lr
    for key, run in runs_of(rows).items():
        records = [dict(r, event="epoch",
                        **{k: float(r[k]) for k in ("train_loss", "train_acc", "val_loss", "val_acc")})
                   for r in run]
        records.append({"event": "end", "test_loss": float(run[-1]["test_loss"]),
                        "test_acc": float(run[-1]["test_acc"])})
        assert [int(r["epoch"]) for r in run] == list(range(1, EPOCHS + 1)), key
        reference.assert_matches(records, expected, end, N // BATCH * BATCH)


def test_summary_table_is_recomputed_from_the_csv_and_probes(benchmark):
    out, _, rows = benchmark
    summary = (out / "summary.md").read_text()
    meta = json.loads((out / "run_meta.json").read_text())
    probes, runs_s = meta["probes"], sum(r["wall_s"] for r in meta["runs"])
    steady = {k: statistics.median(float(r["epoch_time_s"]) for r in run[1:])
              for k, run in runs_of(rows).items()}
    fastest = min(steady.values())
    for (framework, mode, cache, _), run in runs_of(rows).items():
        name = label(Config(BATCH, framework, mode, "device", cache))
        line = next(l for l in summary.splitlines() if l.startswith(f"| {BATCH} | {name} |"))
        cells = [c.strip() for c in line.strip("|").split("|")]
        first, s = float(run[0]["epoch_time_s"]), steady[(framework, mode, cache, "1")]
        gflops = N // BATCH * BATCH / s * FLOPS_PER_SAMPLE / 1e9
        assert cells[2:5] == [fmt_time(first), fmt_time(s), fmt_time(first - s)]
        assert cells[5] == f"{N // BATCH * BATCH / s:,.0f}" and cells[6] == f"{gflops:.1f}"
        # Runs that took REPROBE_AFTER_S or more are followed by a second probe, and the peak is
        # the better of the two; shorter ones keep the first. This part's runs take about that long
        # on the AMD EPYC VM, so either branch may be the one checked. (The runs' wall times add
        # up to less than the span the controller measures, gaps between runs left out.)
        if "readings" in probes[framework]:
            assert probes[framework]["gflops"] == max(probes[framework]["readings"])
            assert len(probes[framework]["readings"]) == 2
        else:
            assert runs_s < compare_results.REPROBE_AFTER_S
        assert cells[7] == f"{100 * gflops / probes[framework]['gflops']:.1f}%"
        assert cells[8:10] == [f"{float(run[-1]['val_acc']):.4f}", f"{float(run[-1]['test_acc']):.4f}"]
        assert cells[10] == f"not in {EPOCHS} epochs"  # 0.85 is far above two epochs on 1,000 images
        assert cells[11] == fmt_bytes(float(run[-1]["peak_rss_bytes"]))
        assert cells[12] == f"{s / fastest:.2f}x"
    assert "follow the same curve:" in summary and "do NOT follow" not in summary


def test_compile_stages_recompiles_and_memory_are_recorded(benchmark):
    _, _, rows = benchmark
    for (_, mode, _, _), run in runs_of(rows).items():
        first, later = run[0], run[1:]
        first_step = float(first["first_step_s"])
        assert 0 < first_step <= float(first["epoch_time_s"])
        if mode in ("step", "scan"):
            stages = [float(first[k]) for k in ("jit_trace_s", "jit_lower_s", "jit_compile_s")]
            assert all(s > 0 for s in stages) and sum(stages) <= first_step
        if mode in ("compile", "fullgraph"):
            assert 0 < float(first["compile_s"]) <= first_step
        if mode == "compile":  # zero_grad() and batch_loss.backward() break the graph: Dynamo traces neither
            assert int(first["graphs"]) > 1 and int(first["graph_breaks"]) >= 1
        if mode == "fullgraph":  # forward, backward, update and totals: one graph
            assert (first["graphs"], first["graph_breaks"]) == ("1", "0")
        # no compilation after epoch 1, in any mode that can count them (PyTorch's compiled ones, JAX's)
        counted = modes.mode(mode).compiled or modes.mode(mode).framework == "jax"
        assert [r["recompiles"] for r in later] == (["0"] * len(later) if counted else [""] * len(later))
        peak = float(run[-1]["peak_rss_bytes"])
        assert N * 784 * 4 + 10_000 * 784 * 4 * 2 < peak < 64 * 2**30  # above the float32 splits it holds
        assert run[-1]["peak_device_bytes"] == ""  # no GPU allocator on a CPU


def test_warm_runs_read_the_cache_the_fill_runs_wrote(benchmark):
    out, _, rows = benchmark
    cache = out.parent / "compile-cache"  # the smoke's one cache, which --compile-cache names
    jax_files = list((cache / "jax").iterdir())
    inductor_files = [p for p in (cache / "inductor").rglob("*") if p.is_file()]
    assert jax_files and inductor_files
    for (_, mode, kind, _), run in runs_of(rows).items():
        hits = run[0]["cache_hits"]
        if kind == "cold" or not modes.mode(mode).cacheable:
            assert hits == "", (mode, kind)
        else:
            assert int(hits) >= 1, (mode, kind)
    meta = json.loads((out / "run_meta.json").read_text())
    fills = [r for r in meta["runs"] if r["purpose"] == "fill"]
    assert sorted(r["mode"] for r in fills) == ["fullgraph", "scan"]
    assert all(r["error"] is None and r["framework_version"] and r["device"] == "cpu" for r in fills)
    summary = json.loads((out / "summary.json").read_text())
    [section] = [s for s in summary["sections"] if s["id"] == "caches"]
    cached = {f["figures"]["configuration"]: f["figures"] for f in section["findings"]}
    assert set(cached) == {"JAX scan"}  # the one mode that ran both ways
    assert all(f["cache_hits"] >= 1 and f["compile_warm_s"] < f["compile_cold_s"] for f in cached.values()
               if f["compile_cold_s"] is not None)


# --- the controller's own logic, with a fake trainer ------------------------------------

def behaviours(monkeypatch, by_batch):
    """What the fake trainer's run of each batch size does (tests/support/fake_trainer.py)."""
    monkeypatch.setenv("FAKE_BEHAVIOURS", json.dumps({str(b): what for b, what in by_batch.items()}))


def test_failing_children_keep_the_other_runs(fake_trainers, monkeypatch):
    behaviours(monkeypatch, {300: "crash", 400: "hang", 500: "garbage"})
    out = fake_trainers / "out"
    t0 = time.monotonic()
    code = compare_results.main(["--repeats", "1",
                                 "--batch-sizes", "100", "300", "400", "500", "200", "--epochs", "3",
                                 "--timeout", "1", "--out-dir", str(out)])
    assert code == 1
    assert time.monotonic() - t0 < 60
    rows = read_csv(out / "benchmark_results.csv")
    ok = [r for r in rows if r["status"] == "ok"]
    assert len(ok) == 2 * 2 * 3 and {r["batch_size"] for r in ok} == {"100", "200"}
    assert {r["batch_size"] for r in rows if r["status"] == "failed"} <= {"300", "400", "500"}
    meta = json.loads((out / "run_meta.json").read_text())
    errors = {(r["batch_size"], r["framework"]): r for r in meta["runs"] if r["error"]}
    assert len(errors) == 6
    assert errors[(300, "jax")]["error"] == "exit code 3" and "boom" in errors[(300, "jax")]["stderr_tail"]
    assert errors[(400, "jax")]["error"].startswith("timed out after 1 s")
    assert errors[(500, "pytorch")]["error"].startswith("malformed output")
    with pytest.raises(ProcessLookupError):  # the hung child was killed, not left behind
        os.kill(int((fake_trainers / "hung.pid").read_text()), 0)
    summary = (out / "summary.md").read_text()
    assert "## Failed runs" in summary and "timed out after 1 s" in summary
    assert "| 200 | JAX step |" in summary and "| 300 |" not in summary
    for name in ("training_curves.png", "epoch_times.png"):
        assert_png(out / name)


@pytest.fixture
def ctrl_c_raises():
    """Ctrl-C as a terminal delivers it: KeyboardInterrupt. A suite started in the background by a
    script inherits SIGINT ignored, and a stop the controller must handle would never arrive."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.mark.parametrize("signal_, code", [("ctrl-c", 130), ("sigterm", 143)])
def test_ctrl_c_and_sigterm_keep_finished_runs(fake_trainers, monkeypatch, ctrl_c_raises, signal_, code):
    behaviours(monkeypatch, {600: signal_})
    batch, word = "600", "interrupted"
    out = fake_trainers / "out"
    assert compare_results.main(["--repeats", "1", "--batch-sizes", "100", batch, "200", "--epochs", "2",
                                 "--out-dir", str(out)]) == code
    rows = read_csv(out / "benchmark_results.csv")
    assert {r["batch_size"] for r in rows} == {"100"} and len(rows) == 2 * 2
    meta = json.loads((out / "run_meta.json").read_text())
    assert meta["interrupted"] is True
    assert all("readings" not in p for p in meta["probes"].values())  # no second probe after a stop
    assert word in (out / "summary.md").read_text()
    assert_png(out / "training_curves.png")


def test_the_peak_is_the_better_probe_and_a_stop_during_the_second_loses_no_run(fake_trainers, monkeypatch,
                                                                                ctrl_c_raises):
    # Probes are counted across the controller's children: jax, pytorch before the runs, then after.
    monkeypatch.setattr(compare_results, "REPROBE_AFTER_S", 0)
    monkeypatch.setenv("FAKE_PROBE_COUNT", str(fake_trainers / "probes"))
    monkeypatch.setenv("FAKE_PROBES", json.dumps(["drift", "fail", "drift", "drift"]))
    out = fake_trainers / "out"
    assert compare_results.main(["--repeats", "1",
                                 "--batch-sizes", "100", "--epochs", "2", "--out-dir", str(out)]) == 0
    probes = json.loads((out / "run_meta.json").read_text())["probes"]
    assert probes["jax"]["gflops"] == 102.0 and probes["jax"]["readings"] == [100.0, 102.0]
    assert probes["pytorch"]["gflops"] == 103.0 and probes["pytorch"]["readings"] == [None, 103.0]
    summary = (out / "summary.md").read_text()
    assert "the better of 100.0 before the runs and 102.0 after" in summary
    assert "read after the runs only: the probe before them failed" in summary
    (fake_trainers / "probes").unlink()
    monkeypatch.setenv("FAKE_PROBES", json.dumps(["succeed", "succeed", "ctrl-c"]))
    out = fake_trainers / "stopped"
    assert compare_results.main(["--repeats", "1",
                                 "--batch-sizes", "100", "--epochs", "2", "--out-dir", str(out)]) == 130
    meta = json.loads((out / "run_meta.json").read_text())
    assert meta["interrupted"] is False and len(meta["runs"]) == 2  # every run finished
    assert meta["probes"]["jax"]["gflops"] == 100.0 and "readings" not in meta["probes"]["jax"]
    assert "interrupted" not in (out / "summary.md").read_text()
    # Runs shorter than REPROBE_AFTER_S are probed once.
    (fake_trainers / "probes").unlink()
    monkeypatch.setattr(compare_results, "REPROBE_AFTER_S", 3600)
    out = fake_trainers / "short"
    assert compare_results.main(["--repeats", "1",
                                 "--batch-sizes", "100", "--epochs", "2", "--out-dir", str(out)]) == 0
    assert len((fake_trainers / "probes").read_text()) == 2


def test_every_seed_and_repeat_is_a_fresh_process_and_the_spread_is_the_csvs(fake_trainers):
    out = fake_trainers / "out"
    code = compare_results.main(["--repeats", "1",
                                 "--batch-sizes", "100", "--epochs", "3", "--seeds", "3", "5",
                                 "--repeats", "2", "--out-dir", str(out)])
    assert code == 0
    rows = read_csv(out / "benchmark_results.csv")
    runs = {}
    for r in rows:
        runs.setdefault((r["framework"], r["seed"], r["repeat"]), []).append(r)
    assert sorted(runs) == sorted((f, s, p) for f in ("jax", "pytorch") for s in ("3", "5")
                                  for p in ("1", "2"))
    assert all(float(r["load_avg_1m"]) >= 0 and float(r["other_cores"]) >= 0 for r in rows)
    meta = json.loads((out / "run_meta.json").read_text())
    assert meta["settings"]["seeds"] == [3, 5]
    assert meta["cpu_extensions"] == machine.cpu_extensions()  # the machine's, once for all runs
    assert meta["env"]["CUDA_VISIBLE_DEVICES"] == "" and "PATH" not in meta["env"]
    assert sorted((r["seed"], r["repeat"]) for r in meta["runs"] if r["framework"] == "jax") == [
        (3, 1), (3, 2), (5, 1), (5, 2)]
    summary = (out / "summary.md").read_text()
    for framework, name in (("jax", "JAX step"), ("pytorch", "PyTorch eager")):
        steadies = [statistics.median(float(r["epoch_time_s"]) for r in run[1:])
                    for (f, _, _), run in runs.items() if f == framework]
        assert len(set(steadies)) == 4  # four processes, four timings
        cell = next(l for l in summary.splitlines()
                    if l.startswith(f"| 100 | {name} |")).split("|")[4].strip()
        assert cell == (f"{fmt_time(statistics.geometric_mean(steadies))} ({fmt_time(min(steadies))} to "
                        f"{fmt_time(max(steadies))})")
    assert "Batch 100, final val accuracy over 2 seeds" in summary
    assert "95% interval" in summary


def test_nnx_modes_need_flax_named_they_are_refused_in_one_line_and_all_leaves_them_out(
        tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(options, "installed", lambda package: package is None)
    with pytest.raises(SystemExit) as stop:
        options.parse_args(["--modes", "nnx", "--out-dir", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and len(err) == 1 and "mode nnx needs flax" in err[0]
    args = options.parse_args(["--modes", "all", "--out-dir", str(tmp_path)])
    assert "nnx" not in args.modes and "nnx-split" not in args.modes and "step" in args.modes
    assert capsys.readouterr().err.strip() == ("--modes all leaves out nnx, nnx-split: flax is not "
                                               "installed")
    monkeypatch.undo()
    assert {"nnx", "nnx-split"} <= set(options.parse_args(["--modes", "all", "--out-dir",
                                                                    str(tmp_path)]).modes)


def test_exclude_leaves_out_a_modes_cold_or_warm_runs(tmp_path, capsys):
    """What the smoke's "all" uses to build each compiler once cold and once warm."""
    flags = ["--frameworks", "jax", "--modes", "step", "scan", "--batch-sizes", "100", "--repeats", "1",
             "--out-dir", str(tmp_path)]
    args = options.parse_args([*flags, "--cache", "both", "--exclude", "step@warm", "scan@cold"])
    assert [(s.mode, s.cache, s.purpose) for s in plan.plan(args)] == [
        ("step", "cold", "timed"), ("scan", "warm", "fill"), ("scan", "warm", "timed")]
    for bad in (["--cache", "warm", "--exclude", "step@warm"],
                ["--cache", "both", "--exclude", "nojit@cold"]):
        with pytest.raises(SystemExit) as stop:
            options.parse_args([*flags, *bad])
        assert stop.value.code == 2 and "MODE@" in capsys.readouterr().err


def test_warm_cache_fills_once_per_configuration_then_times_against_it(fake_trainers):
    out = fake_trainers / "out"
    code = compare_results.main(["--repeats", "1",
                                 "--batch-sizes", "100", "--epochs", "2", "--modes", "step", "eager", "scan",
                                 "--cache", "both", "--out-dir", str(out)])
    assert code == 0
    meta = json.loads((out / "run_meta.json").read_text())
    plan = [(r["framework"], r["mode"], r["cache"], r["purpose"]) for r in meta["runs"]]
    assert plan == [("jax", "scan", "cold", "timed"), ("jax", "step", "cold", "timed"),
                    ("pytorch", "eager", "cold", "timed"), ("jax", "scan", "warm", "fill"),
                    ("jax", "step", "warm", "fill"), ("jax", "scan", "warm", "timed"),
                    ("jax", "step", "warm", "timed")]
    assert all(r["error"] is None for r in meta["runs"])  # fill runs asked for --epochs 1 and gave it
    cache = str((out / "compile-cache").resolve())
    assert meta["settings"]["compile_cache"] == cache and (out / "compile-cache").is_dir()
    rows = read_csv(out / "benchmark_results.csv")
    assert len(rows) == 5 * 2  # fill runs are not timed results
    assert {(r["cache"], r["compile_cache"]) for r in rows} == {("cold", ""), ("warm", cache)}


def test_unrolls_and_precisions_are_configurations_of_their_own(fake_trainers):
    """Each scan unroll and each precision is a configuration: its own runs, CSV rows and
    table row, so the sweep and the TF32 comparison are findings, not hand comparisons."""
    out = fake_trainers / "out"
    code = compare_results.main(["--repeats", "1", "--batch-sizes", "100", "--epochs", "3",
                                 "--modes", "step", "scan", "eager", "--unroll", "1", "8",
                                 "--precision", "highest", "tf32", "--out-dir", str(out)])
    assert code == 0
    meta = json.loads((out / "run_meta.json").read_text())
    assert [(r["mode"], r["precision"], r["unroll"]) for r in meta["runs"]] == [
        ("scan", "highest", 1), ("scan", "highest", 8), ("scan", "tf32", 1), ("scan", "tf32", 8),
        ("step", "highest", None), ("step", "tf32", None),
        ("eager", "highest", None), ("eager", "tf32", None)]
    rows = read_csv(out / "benchmark_results.csv")
    assert {(r["mode"], r["precision"], r["unroll"]) for r in rows} == {
        ("step", "highest", ""), ("step", "tf32", ""), ("scan", "highest", "1"), ("scan", "highest", "8"),
        ("scan", "tf32", "1"), ("scan", "tf32", "8"), ("eager", "highest", ""), ("eager", "tf32", "")}
    summary = (out / "summary.md").read_text()
    for name in ("JAX scan", "JAX scan (unroll 8)", "JAX scan (tf32)", "JAX scan (unroll 8) (tf32)",
                 "PyTorch eager (tf32)"):
        assert f"| 100 | {name} |" in summary
    assert ("- Batch 100, JAX scan by unroll: 1: " in summary
            and "- Batch 100 (tf32), JAX scan by unroll" in summary)
    assert "- Batch 100, JAX scan (unroll 8), TF32 against strict fp32: " in summary


def test_loader_input_skips_modes_that_need_device_batches(fake_trainers):
    out = fake_trainers / "out"
    code = compare_results.main(["--repeats", "1",
                                 "--batch-sizes", "100", "--epochs", "2", "--modes", "step", "scan", "eager",
                                 "--input", "device", "loader", "--workers", "2", "--out-dir", str(out)])
    assert code == 0
    rows = read_csv(out / "benchmark_results.csv")
    assert sorted({(r["mode"], r["input"], r["workers"]) for r in rows}) == [
        ("eager", "device", ""), ("eager", "loader", "2"), ("scan", "device", ""), ("step", "device", ""),
        ("step", "loader", "2")]


@pytest.mark.parametrize("flags", [
    ("--batch-sizes",), ("--batch-sizes", "0"), ("--batch-sizes", "64", "-1"), ("--frameworks", "tensorflow"),
    ("--modes", "warp"), ("--frameworks", "jax", "--modes", "eager"),
    ("--frameworks", "jax", "pytorch", "--modes", "step"),
    ("--epochs", "0"), ("--repeats", "0"), ("--lr", "nan"), ("--timeout", "0"), ("--train-limit", "0"),
    ("--batch-sizes", "1024", "--train-limit", "500"), ("--seeds",), ("--seeds", "x"), ("--target-acc", "0"),
    ("--target-acc", "1.5"), ("--input", "disk"), ("--workers", "-1"), ("--workers", "2"),
    ("--input", "loader", "--modes", "scan"), ("--cache", "hot"),
    ("--compile-cache", "/tmp/x"), ("--cache", "warm", "--modes", "eager"),
    ("--cache", "warm", "--compile-cache", "/proc/x/y"), ("--unroll", "4"),
    ("--modes", "step", "scan", "--unroll", "0"), ("--precision", "fp16"), ("--precision",),
    ("--widths", "-1"), ("--widths", "x"), ("--widths",), ("--exclude", "nojit@64"),
    ("--modes", "all", "--exclude", "nojit@63")])
def test_bad_flags_exit_2_with_one_line(flags, capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        options.parse_args([*flags, "--out-dir", str(tmp_path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_default_modes_and_seeds(tmp_path):
    args = options.parse_args(["--out-dir", str(tmp_path)])
    assert args.modes == ["step", "eager"] and args.seeds == [0] and args.input == ["device"]
    assert args.cache == "cold" and args.target_acc == 0.85 and args.batch_sizes == [64, 256, 1024]
    assert options.parse_args(["--seed", "4", "--out-dir", str(tmp_path)]).seeds == [4]


def test_unwritable_out_dir_exits_2(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(SystemExit) as exit_info:
        options.parse_args(["--out-dir", str(blocker / "sub")])
    assert exit_info.value.code == 2


def test_bad_data_exits_2_before_any_run(tmp_path, monkeypatch, capsys):
    def corrupt(data_dir):
        raise compare_results.data.DataError("train-images-idx3-ubyte: SHA-256 mismatch")
    monkeypatch.setattr(compare_results.data, "load_mnist", corrupt)
    with pytest.raises(SystemExit) as exit_info:
        compare_results.main(["--out-dir", str(tmp_path / "out")])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip() == "error: train-images-idx3-ubyte: SHA-256 mismatch"
    assert not (tmp_path / "out" / "benchmark_results.csv").exists()


# --- benchmarks/gpu_check.sh --smoke: every part ran and packed ----------------------------

def test_gpu_check_smoke_ran_its_parts_and_packed_them(smoke_out):
    parts = [line.split("\t") for line in (smoke_out / "parts.tsv").read_text().splitlines()]
    assert [p[0] for p in parts] == [*smoke.PARTS, "total"]  # under --smoke kernels comes last
    assert all(p[1] == "0" and float(p[2]) >= 0 for p in parts)
    with tarfile.open(smoke_out.parent / "check.tar.gz") as tar:
        names = tar.getnames()
    assert "check/all/summary.md" in names and "check/all/benchmark_results.csv" in names
    assert "check/kernels.json" in names and "check/all.log" in names
    kernels = json.loads((smoke_out / "kernels.json").read_text())
    assert {"jax scan unroll 1", "jax scan unroll 16", "pytorch fullgraph"} <= {k["step"] for k in kernels}


def test_gpu_check_versions_part_names_both_frameworks_and_the_gpu(tmp_path, monkeypatch, capsys):
    """benchmarks/versions.py, the check's first part, in this process (both frameworks are loaded)."""
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import versions
    monkeypatch.setattr(sys, "argv", ["versions.py", str(tmp_path / "versions.json")])
    versions.main()
    written = json.loads((tmp_path / "versions.json").read_text())
    assert written == json.loads(capsys.readouterr().out)
    import jax
    import torch
    assert (written["torch"], written["jax"]) == (torch.__version__, jax.__version__)
    assert "gpu" in written and "pytorch_error" not in written and "jax_error" not in written


@pytest.mark.parametrize("smoke", [["--smoke"], []], ids=["smoke", "gpu"])
def test_gpu_check_plans_every_part_with_flags_the_controller_accepts(smoke, tmp_path):
    """Every part's command, as --plan prints it, through the controller's own parser: a flag
    that the controller no longer accepts fails here, on the CPU, not on the GPU."""
    parts = ["versions", "tests", "fast", "unroll", "cmdbuf", "precision", "all", "kernels"]
    script = str(ROOT / "benchmarks" / "gpu_check.sh")
    result = subprocess.run(["bash", script, str(tmp_path / "plan"), *smoke, "--plan", *parts],
                            capture_output=True, text=True, timeout=120, cwd=ROOT,
                            env={**os.environ, "PYTHON": sys.executable})
    assert result.returncode == 0, result.stderr
    plan = dict(line.split("\t", 1) for line in result.stdout.splitlines())
    assert sorted(plan) == sorted(parts)
    for name, command in plan.items():
        argv = shlex.split(command)
        while argv[0] == "env" or "=" in argv[0]:
            argv.pop(0)
        assert argv[0] == sys.executable
        if name == "versions":
            assert argv[1:] == ["benchmarks/versions.py", str(tmp_path / "plan" / "versions.json")]
        if name == "tests":
            assert argv[1:4] == ["-m", "pytest", "-rs"] and argv[-1] == "tests/test_gpu.py"
        if argv[1] != "compare_results.py":
            continue
        args = options.parse_args(argv[2:])
        assert args.out_dir == tmp_path / "plan" / name
        if name in ("unroll", "cmdbuf"):
            assert args.frameworks == ["jax"] and args.modes == ["scan"] and len(args.unroll) >= 2
        if name == "precision":
            assert args.precision == ["highest", "tf32"]
    assert not (tmp_path / "plan" / "all" / "benchmark_results.csv").exists()  # nothing ran


# --- model widths: the order of the runs, the outputs, a run the system kills -------------

def test_widths_sit_in_a_serpentine_and_every_other_repeat_runs_backwards(tmp_path):
    """Drift on a shared machine must look like neither a width nor a framework effect: both
    frameworks at one width side by side, consecutive widths meeting on one framework, and the
    second repeat the first backwards (tests/test_plan.py checks the balance in general)."""
    args = options.parse_args(["--widths", "128", "512", "2048", "--batch-sizes", "64", "256",
                                       "--repeats", "2", "--out-dir", str(tmp_path)])
    runs = plan.plan(args)
    assert len(runs) == 3 * 2 * 2 * 2 and len(set(runs)) == len(runs)
    groups = [runs[i:i + 2] for i in range(0, len(runs), 2)]  # one width, both frameworks
    assert all(a.hidden == b.hidden and a.batch_size == b.batch_size for a, b in groups)
    first = [(g[0].framework, g[0].batch_size, g[0].hidden[0]) for g in groups[:6]]
    assert first == [("jax", 64, 128), ("pytorch", 64, 512), ("jax", 64, 2048),
                     ("pytorch", 256, 128), ("jax", 256, 512), ("pytorch", 256, 2048)]
    repeat_1, repeat_2 = runs[:12], runs[12:]
    assert [dataclasses.replace(r, repeat=2) for r in repeat_1[::-1]] == repeat_2
    # repeats are outermost: every configuration's first run comes before any second
    last_first = max(i for i, r in enumerate(runs) if r.repeat == 1)
    assert last_first < min(i for i, r in enumerate(runs) if r.repeat == 2)


BURN = "import time\nt = time.process_time()\nwhile time.process_time() - t < {}: pass"


def burn(cpu_seconds):
    """A process that keeps one core busy for that much CPU time."""
    return [sys.executable, "-c", BURN.format(cpu_seconds)]


def test_the_load_meter_counts_other_processes_work_and_never_the_runs_own(quiet_machine):
    """The busy rule on real processes: a run whose own child keeps a core busy is quiet; the same
    run beside a neighbour that burns a core is busy."""
    meter = LoadMeter()
    meter.start()
    subprocess.run(burn(1.0), check=True)  # the run: a child of ours, a core's worth of work
    quiet = meter.other_cores()
    neighbour = subprocess.Popen(burn(60))  # not waited for during the run: someone else's work
    try:
        time.sleep(0.3)
        meter.start()
        subprocess.run(burn(1.0), check=True)
        busy = meter.other_cores()
    finally:
        neighbour.kill()
        neighbour.wait()
    assert quiet < BUSY_CORES < busy, (quiet, busy)


def test_a_run_the_system_kills_is_a_failed_run_that_says_so(fake_trainers, monkeypatch):
    """Out of memory at a huge width shows as exit -9 with no message: worded, and the others go on."""
    behaviours(monkeypatch, {300: "oom"})
    out = fake_trainers / "out"
    code = compare_results.main(["--repeats", "1",
                                 "--batch-sizes", "100", "300", "--epochs", "2", "--out-dir", str(out)])
    assert code == 1
    rows = read_csv(out / "benchmark_results.csv")
    failed = [r for r in rows if r["status"] == "failed"]
    assert len(failed) == 2 and {r["error"] for r in failed} == {"killed by SIGKILL: out of memory?"}
    assert all(r["batch_size"] == "300" and r["hidden"] == "512x512" for r in failed)
    assert len([r for r in rows if r["status"] == "ok"]) == 2 * 2
    assert "repeat 1: killed by SIGKILL: out of memory?" in (out / "summary.md").read_text()


def test_a_real_run_says_where_each_steps_time_goes_and_which_gemm_path_it_took(benchmark):
    """The smoke's products, timed alone after its runs: a record per framework (one per batch
    size), their FLOPs the model's, a split per timed configuration whose step is its steady epoch
    over its steps, in summary.json, the section and step_split.png; and each run's GEMM path."""
    out, _, rows = benchmark
    meta = json.loads((out / "run_meta.json").read_text())
    products = {(p["framework"], p["batch_size"]): p for p in meta["products"]}
    assert set(products) == {("jax", BATCH), ("pytorch", BATCH)}
    for p in products.values():
        assert p["flops"] == BATCH * FLOPS_PER_SAMPLE == sum(x["flops"] for x in p["products"])
        assert len(p["products"]) == 8 and 0 < p["dispatch_s"] < min(x["seconds"] for x in p["products"])
        assert p["products_s"] == pytest.approx(sum(x["seconds"] - p["dispatch_s"] for x in p["products"]))
    assert products[("jax", BATCH)]["program_s"] > 0 and products[("pytorch", BATCH)]["program_s"] is None
    summary = json.loads((out / "summary.json").read_text())
    [section] = [s for s in summary["sections"] if s["id"] == "step"]
    assert section["table"] and section["findings"]
    timed = [c for c in summary["configurations"] if c["steady"] is not None]
    for c in timed:
        split = c["step_split"]
        assert split["step_s"] == pytest.approx(c["steady"] / c["steps"])
        assert split["products_s"] == products[(c["framework"], c["batch_size"])]["products_s"]
        assert split["rest_s"] == pytest.approx(split["step_s"] - split["products_s"])
        assert split["shape_matched_pct"] == pytest.approx(100 * split["products_s"] / split["step_s"])
    assert_png(out / "step_split.png")
    paths = {r["framework"]: r["start_record"]["gemm_path"] for r in meta["runs"] if r["start_record"]}
    assert paths["jax"].startswith("XLA") and ("MKL" in paths["pytorch"] or "BLAS" in paths["pytorch"])
