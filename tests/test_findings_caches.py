"""The caches section: a first epoch with a cold and a warm compilation cache."""
import pytest

from support.fabricate import make_run
from support.summaries import built, figures, weighs


def test_a_warm_cache_saves_its_compile_and_counts_the_programs_it_read():
    runs = [make_run("jax", "step", times=(2.0, 1.0, 1.0), first={"jit_compile_s": 0.8, "cache_hits": None}),
            make_run("jax", "step", cache="warm", times=(1.2, 1.0, 1.0),
                     first={"jit_compile_s": 0.02, "cache_hits": 1}),
            make_run("pytorch", "eager", times=(1.5, 1.5, 1.5))]
    b = built(runs)
    [cache] = figures(b, "cache_hits")
    assert cache == {"configuration": "JAX step", "batch_size": 64, "first_cold_s": 2.0, "first_warm_s": 1.2,
                     "saved_s": pytest.approx(0.8), "compile_cold_s": 0.8, "compile_warm_s": 0.02,
                     "cache_hits": 1}
    # the steady state is weighed on cold runs: the warm one differs in epoch 1 only
    assert weighs(b, "JAX step", "PyTorch eager").ratio == 1.5
