import csv
import json
import os
import shutil
import statistics
import time
from pathlib import Path

import pytest

import compare_results
import report
from conftest import ROOT, run_script


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def assert_png(path):
    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    import matplotlib.image
    height, width, _ = matplotlib.image.imread(path).shape
    assert height > 400 and width > 800


def test_end_to_end_on_a_subset(mnist_dir, tmp_path):
    out = tmp_path / "out"
    result = run_script("compare_results.py", "--train-limit", 2000, "--epochs", 2, "--batch-sizes", 100, 200,
                        "--out-dir", out, "--data-dir", mnist_dir, timeout=600)
    assert result.returncode == 0, result.stderr
    rows = read_csv(out / "benchmark_results.csv")
    assert tuple(rows[0]) == compare_results.CSV_COLUMNS
    assert len(rows) == 2 * 2 * 2  # frameworks x batch sizes x epochs
    assert {(r["framework"], r["mode"]) for r in rows} == {("jax", "step"), ("pytorch", "eager")}
    assert all(r["status"] == "ok" and r["init"] == "shared" and r["precision"] == "highest" for r in rows)
    assert [bool(r["test_acc"]) for r in rows] == [False, True] * 4
    for name in ("training_curves.png", "epoch_times.png"):
        assert_png(out / name)
    summary = (out / "summary.md").read_text()
    assert result.stdout.strip() == summary.strip()  # printed as well as written
    # every table figure is the one recomputed from the CSV
    for (framework, mode, batch) in {(r["framework"], r["mode"], r["batch_size"]) for r in rows}:
        run = [r for r in rows if (r["framework"], r["mode"], r["batch_size"]) == (framework, mode, batch)]
        first, steady = float(run[0]["epoch_time_s"]), statistics.median(float(r["epoch_time_s"]) for r in run[1:])
        line = next(l for l in summary.splitlines() if l.startswith(f"| {batch} | {report.label(framework, mode)} |"))
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[2] == report.fmt_time(first)
        assert cells[3] == report.fmt_time(steady)
        assert cells[4] == report.fmt_time(first - steady)
        assert cells[5] == f"{(2000 // int(batch)) * int(batch) / steady:,.0f}"
        assert cells[8] == f"{float(run[-1]['val_acc']):.4f}"
        assert cells[9] == f"{float(run[-1]['test_acc']):.4f}"
    assert "follow the same curve" in summary and "faster than" in summary
    meta = json.loads((out / "run_meta.json").read_text())
    assert meta["failed_runs"] == [] and len(meta["runs"]) == 4
    assert all(meta["probes"][f]["gflops"] > 0 for f in ("jax", "pytorch"))
    assert meta["command"][0] == "compare_results.py" and meta["end_time"]


@pytest.fixture
def fake_trainers(tmp_path, monkeypatch):
    """Both frameworks served by tests/fake_trainer.py, under the trainers' file names."""
    for framework, (script, modes) in compare_results.TRAINERS.items():
        fake = tmp_path / f"{framework}_fake.py"
        shutil.copy(ROOT / "tests" / "fake_trainer.py", fake)
        monkeypatch.setitem(compare_results.TRAINERS, framework, (str(fake), modes))
    monkeypatch.setenv("FAKE_PID_FILE", str(tmp_path / "hung.pid"))
    monkeypatch.setattr(compare_results.mnist_data, "load_mnist", lambda data_dir: None)
    return tmp_path


def test_failing_children_keep_the_other_runs(fake_trainers, capsys):
    out = fake_trainers / "out"
    t0 = time.monotonic()
    code = compare_results.main(["--batch-sizes", "100", "300", "400", "500", "200", "--epochs", "3",
                                 "--timeout", "4", "--out-dir", str(out)])
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
    assert errors[(400, "jax")]["error"].startswith("timed out after 4 s")
    assert errors[(500, "pytorch")]["error"].startswith("malformed output")
    with pytest.raises(ProcessLookupError):  # the hung child was killed, not left behind
        os.kill(int((fake_trainers / "hung.pid").read_text()), 0)
    summary = (out / "summary.md").read_text()
    assert "## Failed runs" in summary and "timed out after 4 s" in summary
    assert "| 200 | JAX step |" in summary and "| 300 |" not in summary
    for name in ("training_curves.png", "epoch_times.png"):
        assert_png(out / name)


def test_interrupt_keeps_finished_runs_and_exits_130(fake_trainers):
    out = fake_trainers / "out"
    code = compare_results.main(["--batch-sizes", "100", "600", "200", "--epochs", "2", "--out-dir", str(out)])
    assert code == 130
    rows = read_csv(out / "benchmark_results.csv")
    assert {r["batch_size"] for r in rows} == {"100"} and len(rows) == 2 * 2
    meta = json.loads((out / "run_meta.json").read_text())
    assert meta["interrupted"] is True
    assert "interrupted" in (out / "summary.md").read_text()


@pytest.mark.parametrize("flags", [
    ("--batch-sizes",), ("--batch-sizes", "0"), ("--batch-sizes", "64", "-1"), ("--frameworks", "tensorflow"),
    ("--modes", "warp"), ("--frameworks", "jax", "--modes", "eager"), ("--frameworks", "jax", "pytorch", "--modes", "step"),
    ("--epochs", "0"), ("--repeats", "0"), ("--timeout", "0"), ("--lr", "nan"),
    ("--batch-sizes", "100", "--train-limit", "50"), ("--train-limit", "60000"),
], ids=" ".join)
def test_bad_flags_exit_2_with_one_line(flags, tmp_path):
    result = run_script("compare_results.py", *flags, "--out-dir", tmp_path / "out")
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "out" / "benchmark_results.csv").exists()


def test_unwritable_out_dir_exits_2(tmp_path):
    (tmp_path / "file").write_text("x")
    result = run_script("compare_results.py", "--out-dir", tmp_path / "file" / "out")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "--out-dir" in result.stderr


def test_bad_data_exits_2_before_any_run(tmp_path, monkeypatch, capsys):
    def corrupt(data_dir):
        raise compare_results.mnist_data.DataError("train-images-idx3-ubyte: SHA-256 mismatch")
    monkeypatch.setattr(compare_results.mnist_data, "load_mnist", corrupt)
    with pytest.raises(SystemExit) as exit_info:
        compare_results.main(["--out-dir", str(tmp_path / "out")])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip() == "error: train-images-idx3-ubyte: SHA-256 mismatch"
    assert not (tmp_path / "out" / "benchmark_results.csv").exists()
