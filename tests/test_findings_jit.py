"""The JIT section: its share of training, break-even, recompilations."""

import pytest
from scipy import stats as sps

from mlpbench.comparison import FASTER, NOT_ENOUGH
from mlpbench.formatting import label
from support.fabricate import make_run
from support.summaries import built, figures, row, summary, weighs


def test_break_even_is_computed_and_never_when_there_is_no_saving():
    runs = [make_run("pytorch", "eager", times=(1.0, 0.9, 0.9)),
            make_run("pytorch", "compile", times=(12.0, 0.8, 0.8)),
            make_run("jax", "step", times=(1.0, 0.5, 0.5)),
            make_run("jax", "nojit", times=(0.9, 0.4, 0.4))]
    b = built(runs)
    even = {f["configuration"]: f for f in figures(b, "outcome")}
    # 1 + (12 - 1) / (0.9 - 0.8), and the saving's own verdict beside it: single runs cannot tell
    assert (even["PyTorch compile"]["outcome"], even["PyTorch compile"]["against"]) == ("breaks even",
                                                                                       "PyTorch eager")
    assert even["PyTorch compile"]["epochs"] == pytest.approx(111.0)
    assert weighs(b, "PyTorch compile", "PyTorch eager").verdict == NOT_ENOUGH
    assert (even["JAX step"]["outcome"], even["JAX step"]["epochs"]) == ("never", None)
    assert label(weighs(b, "JAX step", "JAX nojit").fast) == "JAX nojit"
    # with three runs a side the saving is real, and the break-even is stated as sure as it is
    runs = [make_run("pytorch", m, repeat=r, times=(t0, t * (1 + 0.01 * r), t * (1 + 0.01 * r)))
            for r in (1, 2, 3) for m, t0, t in (("eager", 1.0, 0.9), ("compile", 12.0, 0.6))]
    b = built(runs, repeats=3)
    assert weighs(b, "PyTorch compile", "PyTorch eager").verdict == FASTER
    [f] = figures(b, "outcome")
    # geometric means of 0.909, 0.918, 0.927 and of 0.606, 0.612, 0.618 s; first epochs 1 and 12 s
    saving = sps.gmean([0.9 * 1.01, 0.9 * 1.02, 0.9 * 1.03]) - sps.gmean([0.6 * 1.01, 0.6 * 1.02, 0.6 * 1.03])
    assert f["outcome"] == "breaks even" and f["epochs"] == pytest.approx(1 + 11 / saving)


def test_jit_share_and_its_trend_across_batch_sizes():
    runs = [make_run("jax", "step", batch=64, times=(3.0, 2.0, 2.0)),
            make_run("jax", "step", batch=256, times=(2.0, 1.0, 1.0)),
            make_run("pytorch", "eager", batch=64, times=(2.0, 2.0, 2.0)),
            make_run("pytorch", "eager", batch=256, times=(1.0, 1.0, 1.0))]
    [jax] = [f for f in figures(built(runs), "by_batch_size") if f["configuration"] == "JAX step"]
    assert jax["by_batch_size"] == [{"batch_size": 64, "jit_s": 1.0, "share_pct": pytest.approx(100 / 7)},
                                    {"batch_size": 256, "jit_s": 1.0, "share_pct": 25.0}]
    assert jax["trend"] == "rises" and jax["kind"] == "jit"


def test_a_mode_that_compiles_nothing_has_warm_up_and_a_jit_lost_in_noise_no_trend():
    """PyTorch eager's first epoch over its steady ones is warm-up and noise, negative at times:
    never called JIT, never given a trend. A JIT at or below zero somewhere gets no trend either."""
    runs = [make_run("jax", "step", batch=64, times=(2.5, 2.0, 2.0)),
            make_run("jax", "step", batch=256, times=(0.9, 1.0, 1.0)),
            make_run("pytorch", "eager", batch=64, times=(2.2, 2.0, 2.0)),
            make_run("pytorch", "eager", batch=256, times=(0.9, 1.0, 1.0))]
    b = built(runs)
    found = {f["configuration"]: f for f in figures(b, "by_batch_size")}
    assert (found["PyTorch eager"]["kind"], found["PyTorch eager"]["trend"]) == ("warm-up", None)
    assert (found["JAX step"]["kind"], found["JAX step"]["trend"]) == ("jit", None)
    lines = [f.text for s in b["sections"] if s["id"] == "jit" for f in s["findings"]]
    eager = next(line for line in lines if line.startswith("PyTorch eager"))
    assert "JIT" not in eager and "warm-up" in eager and "as the batch grows" not in eager
    step = next(line for line in lines if line.startswith("JAX step"))
    assert "as the batch grows" not in step and "within the noise" in step


def test_a_recompile_after_epoch_1_is_a_finding():
    runs = [make_run("jax", "step", recompiles={1: 0, 2: 0, 3: 1}), make_run("pytorch", "eager")]
    text = summary(runs)
    assert figures(built(runs), "recompiles") == [{"configuration": "JAX step", "batch_size": 64,
                                                    "recompiles": 1}]
    jit_table = "## The JIT"
    assert (row(text, 64, "JAX step", jit_table)[-1] == "1"
            and row(text, 64, "PyTorch eager", jit_table)[-1] == "-")
