"""The first section's findings: parity of the curves, the speed verdict between frameworks,
accuracy over seeds, time to accuracy."""
import math
import statistics

import numpy as np
import pytest
from scipy import stats as sps

from mlpbench import report
from mlpbench.aggregate import all_stats
from mlpbench.comparison import EQUIVALENCE, FASTER, NOT_ENOUGH, WITHIN_NOISE, compare
from mlpbench.formatting import label
from mlpbench.inference import PAIRED, WELCH, log_ratio
from support.fabricate import make_run
from support.summaries import accuracy, built, figures, row, speed_line, steady_runs, summary, weighs


def test_parity_says_same_curve_when_curves_agree():
    runs = [make_run("jax", "step", val_accs=(0.80, 0.85, 0.90)),
            make_run("pytorch", "eager", val_accs=(0.80, 0.8501, 0.90))]
    [f] = figures(built(runs), "val_acc_gap")
    assert (f["verdict"], f["batch_size"], f["epochs"], f["configurations"]) == (
        "same curve", 64, 3, ["JAX step", "PyTorch eager"])
    assert f["val_acc_gap"] == pytest.approx(0.0001) and f["train_loss_gap"] == f["val_loss_gap"] == 0


def test_parity_says_do_not_follow_when_curves_differ():
    runs = [make_run("jax", "step", val_accs=(0.80, 0.85, 0.90)),
            make_run("pytorch", "eager", val_accs=(0.80, 0.85, 0.89), train_losses=(1.0, 0.5, 0.4))]
    [f] = figures(built(runs), "val_acc_gap")
    assert f["verdict"] == "not the same curve" and f["val_acc_gap"] == pytest.approx(0.01)
    # the fabricated train losses are 1/epoch: 1/3 against 0.4 at epoch 3; val loss is each + 0.1
    assert [f["train_loss_gap"], f["val_loss_gap"]] == pytest.approx([0.4 - 1 / 3] * 2)


def test_parity_expects_no_match_from_native_inits():
    runs = [make_run("jax", "step", val_accs=(0.80, 0.85, 0.90)),
            make_run("pytorch", "eager", val_accs=(0.70, 0.85, 0.90))]
    [f] = figures(built(runs, init="native"), "val_acc_gap")
    assert f["verdict"] == "different starts" and f["val_acc_gap"] == pytest.approx(0.1)


def test_one_run_each_is_not_enough_evidence_whatever_the_ratio():
    b = built(steady_runs("jax", "step", [0.5]) + steady_runs("pytorch", "eager", [1.0]), epochs=4)
    c = weighs(b, "JAX step", "PyTorch eager")
    assert (label(c.fast), c.ratio, c.interval, c.verdict) == ("JAX step", 2.0, None, NOT_ENOUGH)
    assert c.faster is None
    line = speed_line(report.render(b))
    assert "faster than" not in line and "not enough evidence" in line


def test_near_equal_times_over_three_runs_are_within_noise_not_faster():
    runs = steady_runs("jax", "step", [0.999, 1.001, 1.0]) + steady_runs("pytorch", "eager",
                                                                         [1.0, 1.002, 0.998])
    b = built(runs, epochs=4, repeats=3)
    c = weighs(b, "JAX step", "PyTorch eager")
    assert c.verdict == WITHIN_NOISE and c.faster is None and c.interval[0] < 1 < c.interval[1]


def test_a_clear_gap_is_faster_with_the_interval_of_the_log_run_times_paired_by_repeat():
    fast, slow = [0.50, 0.52, 0.51, 0.49], [1.00, 1.04, 0.98, 1.02]
    b = built(steady_runs("jax", "step", fast) + steady_runs("pytorch", "eager", slow), epochs=4, repeats=4)
    c = weighs(b, "JAX step", "PyTorch eager")
    ci = sps.ttest_rel(np.log(slow), np.log(fast)).confidence_interval(0.95)
    assert c.ratio == pytest.approx(sps.gmean(slow) / sps.gmean(fast))
    assert c.interval == pytest.approx((math.exp(ci.low), math.exp(ci.high)))
    assert (c.verdict, c.faster, c.runs, c.steady_epochs) == (FASTER, c.fast, (4, 4), (12, 12))
    assert label(c.fast) == "JAX step"


def test_cold_and_warm_runs_of_one_repeat_are_not_paired():
    """Warm runs follow every cold run: a cold and a warm run of one repeat are far apart in time,
    so the two are weighed by Welch's interval on all runs, not paired by repeat."""
    cold, warm = [1.00, 1.04, 0.98], [0.90, 0.95, 0.88]
    runs = [make_run("jax", "step", repeat=i + 1, cache=cache, times=(2.0, t, t))
            for cache, times in (("cold", cold), ("warm", warm)) for i, t in enumerate(times)]
    _, stats = all_stats(runs, {}, 0.85)
    a, b = (next(c for c in stats if c.cache == cache) for cache in ("cold", "warm"))
    c = compare(a, b, stats)
    assert c.estimate.method == WELCH and c.estimate.pairs is None
    assert c.interval == pytest.approx(log_ratio(cold, warm).interval)
    # the same runs as two configurations of one cache state are paired
    same = all_stats([make_run("jax", "step", repeat=i + 1, times=(2.0, t, t)) for i, t in enumerate(cold)]
                     + [make_run("pytorch", "eager", repeat=i + 1, times=(2.0, t, t))
                        for i, t in enumerate(warm)], {}, 0.85)[1]
    assert compare(*same, same).estimate.method == PAIRED


def test_the_paired_runs_decide_which_side_is_faster_when_a_partner_is_missing():
    """JAX's third run failed: over all runs PyTorch looks faster, but the two repeats both ran
    say JAX is. The comparison names the side its pairs show, with a ratio of 1 or more."""
    runs = (steady_runs("jax", "step", [1.00, 1.02])
            + steady_runs("pytorch", "eager", [1.10, 1.12, 0.50]))
    c = weighs(built(runs, epochs=4, repeats=3), "JAX step", "PyTorch eager")
    assert label(c.fast) == "JAX step" and c.estimate.pairs == 2 and c.ratio >= 1
    assert c.ratio == pytest.approx(math.sqrt(1.10 / 1.00 * 1.12 / 1.02))


def test_overlapping_runs_are_not_enough_evidence():
    fast, slow = [0.50, 0.70, 0.55], [0.60, 0.52, 0.75]
    c = weighs(built(steady_runs("jax", "step", fast) + steady_runs("pytorch", "eager", slow), epochs=4,
                     repeats=3), "JAX step", "PyTorch eager")
    assert c.interval[0] < 1 / EQUIVALENCE and c.verdict == NOT_ENOUGH and c.faster is None


def test_accuracy_verdict_names_the_higher_framework_with_its_interval():
    jax = [0.9410, 0.9425, 0.9402, 0.9431, 0.9418]
    torch = [0.9301, 0.9322, 0.9290, 0.9330, 0.9305]
    [f] = accuracy(jax, torch)
    diffs = np.subtract(jax, torch)
    half = sps.t.ppf(0.975, len(diffs) - 1) * diffs.std(ddof=1) / math.sqrt(len(diffs))  # by hand
    assert (f["batch_size"], f["seeds"], f["higher"]) == (64, 5, "JAX")
    assert [f["jax_mean"], f["jax_sd"], f["pytorch_mean"], f["pytorch_sd"]] == pytest.approx(
        [statistics.mean(jax), statistics.stdev(jax), statistics.mean(torch), statistics.stdev(torch)])
    assert f["jax_minus_pytorch"] == pytest.approx(diffs.mean())
    assert f["interval"] == pytest.approx([diffs.mean() - half, diffs.mean() + half])
    assert f["p"] == pytest.approx(sps.ttest_rel(jax, torch).pvalue)
    [swapped] = accuracy(torch, jax)
    assert swapped["higher"] == "PyTorch" and swapped["jax_minus_pytorch"] == pytest.approx(-diffs.mean())


def test_accuracy_verdict_says_no_difference_when_the_interval_holds_zero():
    [f] = accuracy([0.9410, 0.9395, 0.9420, 0.9401, 0.9415], [0.9405, 0.9412, 0.9399, 0.9418, 0.9402])
    assert f["higher"] is None and f["interval"][0] < 0 < f["interval"][1]


def test_shared_init_gives_the_same_gap_at_every_seed():
    accs = [0.9410, 0.9395, 0.9420]
    [f] = accuracy(accs, accs, init="shared")
    assert f["higher"] is None and f["jax_minus_pytorch"] == 0 and f["interval"] == [0, 0] and f["p"] is None


def test_one_seed_gives_no_accuracy_verdict():
    assert not accuracy([0.9], [0.8])


def test_time_to_accuracy_counts_epoch_1_and_stops_at_the_first_epoch_that_reaches():
    runs = [make_run("jax", "step", times=(2.0, 1.0, 1.0), val_accs=(0.80, 0.86, 0.90)),
            make_run("pytorch", "eager", times=(1.5, 1.5, 1.5), val_accs=(0.70, 0.80, 0.84))]
    text = summary(runs)
    assert row(text, 64, "JAX step")[10] == "3.00 s (epoch 2)"
    assert row(text, 64, "PyTorch eager")[10] == "not in 3 epochs"
    [f] = figures(built(runs), "reached")
    assert f["reached"] == {"JAX step": {"time_s": 3.0, "epoch": 2, "runs": 1, "of": 1}}
    assert f["not_reached"] == ["PyTorch eager"] and f["target"] == 0.85


def test_target_never_reached_is_itself_the_finding():
    runs = [make_run("jax", "step", batch=1024, val_accs=(0.60, 0.70, 0.72)),
            make_run("pytorch", "eager", batch=1024, val_accs=(0.60, 0.70, 0.7277))]
    [f] = figures(built(runs), "reached")
    assert (f["batch_size"], f["reached"], f["best_val_acc"]) == (1024, {}, 0.7277)
    assert f["not_reached"] == ["JAX step", "PyTorch eager"]
