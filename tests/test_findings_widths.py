"""The width sweep: the map's cells, the fit, the JIT's share by width."""
import json

import pytest
from scipy import stats as sps

from mlpbench import model, report
from mlpbench.aggregate import all_stats
from mlpbench.comparison import FASTER, WITHIN_NOISE
from mlpbench.findings import widths
from support.fabricate import make_meta, make_run
from support.summaries import WIDTHS, sweep_runs


def test_map_cells_are_each_widths_ratio_and_interval():
    step_s = {("jax", 128): 1e-3, ("pytorch", 128): 2e-3, ("jax", 512): 2e-3, ("pytorch", 512): 2.02e-3,
              ("jax", 2048): 10e-3, ("pytorch", 2048): 9.9e-3}
    _, stats = all_stats(sweep_runs(step_s), {}, 0.85)
    cells = widths.cells(stats)
    assert sorted(cells) == [(128, 64), (512, 64), (2048, 64)]
    for w in WIDTHS:
        steady = {f: sps.gmean(stats[c].steadies) for c in stats if c.hidden == (w, w) for f in [c.framework]}
        cell = cells[(w, 64)]  # PyTorch over JAX, whichever is faster: its interval turns with it
        assert cell.ratio == pytest.approx(steady["pytorch"] / steady["jax"])
        assert cell.interval[0] < cell.ratio < cell.interval[1]
        assert (cell.jax.hidden, cell.pytorch.hidden, cell.jax.framework) == ((w, w), (w, w), "jax")
    assert cells[(128, 64)].interval[0] > 1 and cells[(128, 64)].verdict == FASTER
    assert cells[(512, 64)].verdict == WITHIN_NOISE and cells[(2048, 64)].verdict == WITHIN_NOISE
    assert cells[(2048, 64)].ratio < 1 and cells[(2048, 64)].comparison.fast == cells[(2048, 64)].pytorch
    [f] = widths.ratio_findings(stats)
    assert f.figures["pytorch_over_jax"] == {w: cells[(w, 64)].ratio for w in WIDTHS}
    assert f.figures["pytorch_over_jax"][128] == pytest.approx(2.0)
    assert (f.figures["within_noise"], f.figures["within_noise_from"], f.figures["jax_faster"]) == (
        [512, 2048], 512, [128])
    assert f.comparisons == tuple(cells[(w, 64)].comparison for w in WIDTHS)


@pytest.mark.parametrize("pytorch_s, within, since, jax, pytorch", [
    ({128: 2e-3, 512: 2.02e-3, 2048: 8e-3}, [512], None, [128], [2048]),
    ({128: 1.01e-3, 512: 2.02e-3, 2048: 9.9e-3}, [128, 512, 2048], 128, [], []),
    ({128: 2e-3, 512: 3e-3, 2048: 15e-3}, [], None, [128, 512, 2048], [])])
def test_which_widths_are_within_noise_and_who_is_faster_at_the_others(pytorch_s, within, since, jax,
                                                                       pytorch):
    jax_s = {128: 1e-3, 512: 2e-3, 2048: 10e-3}
    step_s = {**{("jax", w): t for w, t in jax_s.items()},
              **{("pytorch", w): t for w, t in pytorch_s.items()}}
    [f] = widths.ratio_findings(all_stats(sweep_runs(step_s), {}, 0.85)[1])
    assert (f.figures["within_noise"], f.figures["within_noise_from"]) == (within, since)
    assert (f.figures["jax_faster"], f.figures["pytorch_faster"], f.figures["not_enough_evidence"]) == (
        jax, pytorch, [])


def test_fit_recovers_fixed_cost_and_rate_and_names_the_bound():
    """Step times made exactly as fixed + FLOPs / rate: the fit gives them back, and a cell is
    dispatch-bound where the fixed cost is more than half a step."""
    fixed, rate, batch = 400e-6, 100e9, 64
    step_s = {(f, w): fixed + batch * model.flops_per_sample(model.layer_sizes((w, w))) / rate
              for f in ("jax", "pytorch") for w in WIDTHS}
    _, stats = all_stats(sweep_runs(step_s, repeats=1), {}, 0.85)
    fits = widths.fits(stats)
    assert len(fits) == 2
    for f in fits:
        assert f.fixed_s == pytest.approx(fixed, rel=1e-3) and f.rate == pytest.approx(rate, rel=1e-3)
    [f] = [f.figures for f in widths.fit_findings(stats) if f.figures["configuration"] == "JAX step"]
    shares = {w: fixed / (fixed + batch * model.flops_per_sample(model.layer_sizes((w, w))) / rate)
              for w in WIDTHS}
    assert shares[128] > 0.5 > shares[512] > shares[2048]
    assert f["fixed_s"] == pytest.approx(fixed, rel=1e-3)
    assert f["rate_flops_per_s"] == pytest.approx(rate, rel=1e-3)
    assert f["r_squared"] == pytest.approx(1.0) and f["fixed_share"] == pytest.approx(shares, rel=1e-3)
    assert f["bound"] == {128: "dispatch", 512: "compute", 2048: "compute"}


def test_summary_json_holds_the_table_and_the_sweep():
    step_s = {("jax", 128): 1e-3, ("pytorch", 128): 2e-3, ("jax", 2048): 10e-3, ("pytorch", 2048): 9.9e-3}
    built = report.build(sweep_runs(step_s), make_meta(repeats=3))
    assert json.loads(report.as_json(built))["sweep"]["cells"]  # strict JSON, what summary.json holds
    by_model = {(c["hidden"], c["framework"]): c for c in built["configurations"]}
    # three runs 0.99, 1.00 and 1.01 times 2 ms a step: their geometric mean
    assert by_model[((128, 128), "pytorch")]["steady"] == pytest.approx(0.2 * (0.99 * 1.01) ** (1 / 3))
    assert {(c["width"], c["batch_size"]) for c in built["sweep"]["cells"]} == {(128, 64), (2048, 64)}
    header, rows = built["table"]
    assert header[1] == "Model" and rows[0][1] == "784-128-128-10"
    vs_fastest = {(r[1], r[2]): r[-1] for r in rows}  # within a model: two things never change at once
    assert vs_fastest[("784-2048-2048-10", "JAX step")] == "1.01x"
    assert vs_fastest[("784-2048-2048-10", "PyTorch eager")] == "1.00x"
    assert report.render(built) == report.summary(sweep_runs(step_s), make_meta(repeats=3))
    assert built["title"] == "JAX vs PyTorch: 784-W-W-10 MLPs, W = 128, 2048, on MNIST"


def test_jit_share_by_width_is_a_finding():
    runs = [make_run("jax", "step", hidden=(w, w), times=(2.0 + t, t, t))
            for w, t in ((128, 0.5), (2048, 5.0))]
    # JIT = first - steady = 2 s; training = 2 + 3t
    [f] = widths.jit_width_findings(all_stats(runs, {}, 0.85)[1])
    assert [w["width"] for w in f.figures["by_width"]] == [128, 2048]
    assert [w["jit_s"] for w in f.figures["by_width"]] == pytest.approx([2.0, 2.0])
    assert [w["share_pct"] for w in f.figures["by_width"]] == pytest.approx([200 / 3.5, 200 / 17])
    assert (f.figures["configuration"], f.figures["batch_size"], f.figures["trend"]) == (
        "JAX step", 64, "falls")
