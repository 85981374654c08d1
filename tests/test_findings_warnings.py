"""The warnings before every finding: devices, a busy or noisy machine, a probe that under-read."""

import pytest

from mlpbench import report
from mlpbench.formatting import label
from support.fabricate import make_meta, make_run
from support.summaries import built, row, speed_line, steady_runs, summary, weighs


def test_runs_on_different_devices_are_never_compared():
    runs = [make_run("jax", "step", device="cpu", times=(2.0, 1.0, 1.0)),
            make_run("pytorch", "eager", device="gpu", times=(1.0, 0.1, 0.1))]
    text = summary(runs)
    first_lines = text.splitlines()[:4]
    assert any(l.startswith("- WARNING: these runs did not all run on the same kind of device "
                            "(on cpu: JAX step; on gpu: PyTorch eager)") for l in first_lines)
    assert "faster than" not in text and not built(runs)["comparisons"]
    assert row(text, 64, "JAX step")[-1] == "1.00x" and row(text, 64, "PyTorch eager")[-1] == "1.00x"


def test_busy_machine_and_noisy_epochs_are_warned_about_and_said_in_each_finding():
    runs = steady_runs("jax", "step", [0.50, 0.51]) + steady_runs("pytorch", "eager", [1.0, 1.3])
    runs[0].other_cores = 1.6
    # within one run PyTorch's steady epochs 1.0, 1.0, 1.5: the interquartile range is 25% of the median
    runs.append(make_run("pytorch", "eager", repeat=3, times=(2.0, 1.0, 1.0, 1.5), val_accs=(0.8,) * 4))
    b = built(runs, epochs=4, repeats=3)
    text = report.render(b)
    warnings = [l for l in text.splitlines() if l.startswith("- WARNING")]
    assert len(warnings) == 2
    # the wording is the golden summary's to fix; here, which run and how busy
    assert warnings[0].startswith("- WARNING: 1 run(s)")
    assert "JAX step, seed 0, repeat 1: 1.60 cores" in warnings[0]
    assert "PyTorch eager, batch 64: 25%" in warnings[1] and "JAX step" not in warnings[1]
    c = weighs(b, "JAX step", "PyTorch eager")
    assert c.busy_runs == 1 and [(label(k), spread) for k, spread in c.noisy] == [("PyTorch eager", 0.25)]
    line = speed_line(text)
    assert "Suspect" in line and "1 of these 5 runs" in line
    assert "Noisy: PyTorch eager" in line
    # the spread across runs is the interval's business, not a warning: 1.0 against 1.3 is not noisy
    quiet = steady_runs("jax", "step", [0.50, 0.51]) + steady_runs("pytorch", "eager", [1.0, 1.3])
    assert "noisy" not in summary(quiet, epochs=4, repeats=2)
    # without /proc/stat, the 1-minute load average is what is judged
    quiet[0].other_cores, quiet[0].load_avg_1m = None, 0.4
    assert "shared the machine" not in summary(quiet, epochs=4, repeats=2)
    quiet[0].load_avg_1m = 1.4
    assert "shared the machine" in summary(quiet, epochs=4, repeats=2)


@pytest.mark.parametrize("other, busy", [(0.09, False), (0.25, False), (0.35, True), (0.98, True)])
def test_busy_rule_on_measured_figures(other, busy):
    """Quiet machines measured 0.00 to 0.09 cores of other work; a test suite beside the
    benchmark, 0.98 (and it slowed JAX 1.9x): the rule flags more than 0.3."""
    runs = steady_runs("jax", "step", [0.50, 0.52]) + steady_runs("pytorch", "eager", [1.0, 1.02])
    runs[0].other_cores = other
    b = built(runs, epochs=4, repeats=2)
    assert ("shared the machine" in " ".join(b["warnings"])) == busy
    assert weighs(b, "JAX step", "PyTorch eager").busy_runs == int(busy)


def test_a_rate_above_the_measured_peak_is_called_a_probe_that_under_read():
    # 6,400 samples at 3.21 MFLOP each: 411 GFLOP/s in 0.05 s, twice PyTorch's probe; 205 in 0.1 s,
    # half of JAX's.
    runs = [make_run("jax", "step", times=(1.0, 0.1, 0.1)),
            make_run("pytorch", "eager", times=(1.0, 0.05, 0.05))]
    text = report.summary(runs, make_meta())
    warning = next(line for line in text.splitlines() if "above the measured matmul peak" in line)
    assert "(PyTorch eager, batch 64: 205%)" in warning, warning
    assert "JAX step" not in warning
    runs = [make_run("jax", "step", times=(1.0, 0.1, 0.1)),
            make_run("pytorch", "eager", times=(1.0, 0.2, 0.2))]  # 103 GFLOP/s: 51%
    assert "above the measured matmul peak" not in report.summary(runs, make_meta())
    # The probe multiplies in strict fp32: TF32 may pass it without the probe being wrong.
    runs.append(make_run("pytorch", "eager", times=(1.0, 0.05, 0.05), precision="tf32"))
    text = report.summary(runs, make_meta(precision=["highest", "tf32"]))
    assert "| 64 | PyTorch eager (tf32) |" in text and "above the measured matmul peak" not in text
