"""The loader section: DataLoader input against device-resident batches."""
import pytest

from mlpbench.comparison import NOT_ENOUGH
from support.fabricate import make_run
from support.summaries import built, figures, weighs

RUNS = [make_run("jax", "step", times=(2.0, 1.0, 1.0)),
        make_run("jax", "step", input="loader", times=(3.0, 2.0, 2.0)),
        make_run("pytorch", "eager", times=(1.5, 1.5, 1.5))]


def test_the_loaders_cost_per_epoch_step_and_image_against_device_resident_batches():
    b = built(RUNS)
    [loader] = figures(b, "extra_s_per_epoch")
    assert loader == {"batch_size": 64, "extra_s_per_epoch": 1.0, "extra_ms_per_step": 10.0,
                      "extra_us_per_image": pytest.approx(1e6 / 6400)}
    assert weighs(b, "JAX step (loader)", "JAX step").ratio == 2.0


def test_frameworks_are_weighed_on_device_resident_runs_not_the_loaders():
    c = weighs(built(RUNS), "JAX step", "PyTorch eager")
    assert c.ratio == 1.5 and c.verdict == NOT_ENOUGH
