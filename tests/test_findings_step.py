"""Where a step's time goes: each configuration's steady step (steady epoch over its steps)
split into its products timed alone and the rest; the rest weighed run by run, never where it is
at or below zero."""
import pytest
from scipy import stats as sps

from mlpbench import report
from support.fabricate import make_meta, make_run
from support.summaries import figures

STEPS = 100


def products(framework, seconds, batch=64):
    return {"event": "products", "framework": framework, "batch_size": batch, "hidden": [512, 512],
            "precision": "highest", "threads": None, "flops": batch * 3_209_216, "products_s": seconds,
            "dispatch_s": 1e-6, "products": [], "calls_s": seconds, "program_s": None}


def runs(framework, mode, steadies):
    return [make_run(framework, mode, repeat=i + 1, times=(2.0, s, s), steps=STEPS)
            for i, s in enumerate(steadies)]


def report_of(jax_steadies, torch_steadies, jax_products, torch_products):
    meta = make_meta(repeats=len(jax_steadies))
    meta["products"] = [products("jax", jax_products), products("pytorch", torch_products)]
    return report.build(runs("jax", "step", jax_steadies) + runs("pytorch", "eager", torch_steadies), meta)


def test_the_step_is_the_steady_epoch_over_its_steps_and_the_rest_what_the_products_leave():
    built = report_of([0.20, 0.21, 0.19], [0.30, 0.33, 0.31], 1.5e-3, 1.2e-3)
    [split] = figures(built, "splits")
    jax, torch = split["splits"]["JAX step"], split["splits"]["PyTorch eager"]
    jax_step = sps.gmean([0.20, 0.21, 0.19]) / STEPS
    assert jax["step_s"] == pytest.approx(jax_step) and jax["products_s"] == 1.5e-3
    assert jax["rest_s"] == pytest.approx(jax_step - 1.5e-3)
    assert jax["rest_share"] == pytest.approx(1 - 1.5e-3 / jax_step)
    assert jax["shape_matched_pct"] == pytest.approx(100 * 1.5e-3 / jax_step)
    assert jax["products_gflops"] == pytest.approx(64 * 3_209_216 / 1.5e-3 / 1e9)
    assert torch["rest_s"] == pytest.approx(sps.gmean([0.30, 0.33, 0.31]) / STEPS - 1.2e-3)
    [config] = [c for c in built["configurations"] if c["label"] == "PyTorch eager"]
    assert config["step_split"] == torch
    # the rest, run by run: JAX's 0.5, 0.6 and 0.4 ms against PyTorch's 1.8, 2.1 and 1.9 ms
    [c] = [c for c in built["comparisons"] if c.measure == "rest of a step"]
    rests = {"jax": [s / STEPS - 1.5e-3 for s in (0.20, 0.21, 0.19)],
             "pytorch": [s / STEPS - 1.2e-3 for s in (0.30, 0.33, 0.31)]}
    assert c.fast.framework == "jax" and c.ratio == pytest.approx(sps.gmean(rests["pytorch"])
                                                                   / sps.gmean(rests["jax"]))
    assert c.verdict == "faster" and "per rest of a step" in c.sentence()


def test_a_step_faster_than_its_products_alone_is_said_and_weighed_never():
    built = report_of([0.14, 0.15, 0.16], [0.30, 0.31, 0.32], 1.6e-3, 1.2e-3)
    [split] = figures(built, "splits")
    assert split["splits"]["JAX step"]["rest_s"] < 0 and split["splits"]["JAX step"]["rest_share"] < 0
    [section] = [s for s in built["sections"] if s["id"] == "step"]
    assert "At or below zero for JAX step" in section["findings"][0].text
    assert not [c for c in built["comparisons"] if c.measure == "rest of a step"]
    [row] = [r for r in section["table"][1] if r[1] == "JAX step"]
    assert row[5].startswith("-") and row[6].startswith("-")
