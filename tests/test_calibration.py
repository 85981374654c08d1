"""The speed verdict is a claim with an error rate: simulated A/A comparisons (both sides drawn
from one distribution) must be called "faster" at most 6% of the time at every run count the tool
accepts, and a real 1.3x must be found with three runs a side (docs/design.md, "Statistics and
findings"). The verdict comes from comparison.judge, the function every finding calls."""
import math

import numpy as np
import pytest
from scipy import stats as sps

from mlpbench.comparison import EQUIVALENCE, FASTER, NOT_ENOUGH, WITHIN_NOISE, judge, verdict_of
from mlpbench.inference import HSU, WELCH, RatioEstimate, log_ratio

# The rate's standard error at 5% is 0.49 points: Welch's count sits at 2% to 4.5% in these cases
# (docs/design.md), two or more standard errors under the 6% bar.
TRIALS = 2000
STEADY_EPOCHS = 9  # the default command's epochs 2..10


def lognormal_runs(rng, n, truth=1.0):
    """Run medians with a 5% log-normal spread from run to run."""
    return truth * np.exp(rng.normal(0, 0.05, n))


def heavy_tailed_runs(rng, n, truth=1.0):
    """The same run-to-run spread, and heavy tails: 10% of runs slowed 1.05 to 1.3x (a busy
    moment of the host), 10% of epochs slowed 1.1 to 2.5x (a spike); each run's median of its
    steady epochs, as the aggregate takes it."""
    slowed = np.where(rng.random(n) < 0.1, rng.uniform(1.05, 1.3, n), 1)
    runs = truth * np.exp(rng.normal(0, 0.05, n)) * slowed
    epochs = runs[:, None] * np.exp(rng.normal(0, 0.02, (n, STEADY_EPOCHS)))
    spikes = rng.random(epochs.shape) < 0.1
    epochs = np.where(spikes, epochs * rng.uniform(1.1, 2.5, epochs.shape), epochs)
    return np.median(epochs, axis=1)


def faster_rate(draw, n_a, n_b, truth=1.0, seed=0):
    rng = np.random.default_rng(seed)
    calls = [judge(draw(rng, n_a, truth), draw(rng, n_b))[1] for _ in range(TRIALS)]
    return calls.count(FASTER) / TRIALS


@pytest.mark.parametrize("draw", [lognormal_runs, heavy_tailed_runs])
@pytest.mark.parametrize("n_a, n_b", [(2, 2), (3, 3), (5, 5), (10, 10), (2, 5), (10, 3)])
def test_identical_configurations_are_called_faster_at_most_6_percent_of_the_time(draw, n_a, n_b):
    rate = faster_rate(draw, n_a, n_b)
    assert rate <= 0.06, f"{draw.__name__}, {n_a} against {n_b} runs: 'faster' in {100 * rate:.1f}% of trials"


@pytest.mark.parametrize("n_a, n_b", [(1, 1), (6, 1), (1, 6)])
def test_one_run_on_a_side_is_never_a_verdict_but_not_enough_evidence(n_a, n_b):
    rng = np.random.default_rng(0)
    for _ in range(200):
        estimate, verdict = judge(lognormal_runs(rng, n_a, 1.5), lognormal_runs(rng, n_b))
        assert verdict == NOT_ENOUGH and estimate.interval is None
        assert estimate.ratio_that_excludes_1() is None


def test_a_real_1_3x_is_found_with_three_runs_a_side():
    assert faster_rate(lognormal_runs, 3, 3, truth=1.3) >= 0.80


def test_the_interval_is_welchs_on_the_log_run_times():
    """Checked against scipy's own Welch t-test, and the ratio is the geometric means'."""
    slow, fast = [1.0, 1.1, 0.9, 1.2], [0.5, 0.55, 0.45, 0.52]
    estimate = log_ratio(slow, fast)
    ci = sps.ttest_ind(np.log(slow), np.log(fast), equal_var=False).confidence_interval(0.95)
    assert estimate.method == WELCH
    assert estimate.interval == pytest.approx((math.exp(ci.low), math.exp(ci.high)), rel=1e-9)
    assert estimate.ratio == pytest.approx(sps.gmean(slow) / sps.gmean(fast), rel=1e-12)
    # unequal counts: Welch's standard error, Hsu's degrees of freedom (the smaller count less one)
    fast = fast[:3]
    estimate = log_ratio(slow, fast)
    se = math.sqrt(np.var(np.log(slow), ddof=1) / 4 + np.var(np.log(fast), ddof=1) / 3)
    half = sps.t.ppf(0.975, 2) * se
    assert (estimate.method, estimate.df) == (HSU, 2)
    r = estimate.ratio
    assert estimate.interval == pytest.approx((r * math.exp(-half), r * math.exp(half)))
    # one run on a side: no interval, whatever the other side has
    assert log_ratio([1.0], fast).interval is None and log_ratio(slow, [0.5]).interval is None


def test_the_smallest_ratio_called_faster_is_where_the_interval_just_excludes_1():
    estimate = log_ratio([1.0, 1.02, 0.99], [1.01, 0.98, 1.0])
    edge = estimate.ratio_that_excludes_1()
    assert edge > 1
    # the same spread, the slow side moved by just over and just under that ratio
    shifted = [x * edge * 1.001 / estimate.ratio for x in (1.0, 1.02, 0.99)]
    assert judge(shifted, [1.01, 0.98, 1.0])[1] == FASTER
    shifted = [x * edge * 0.999 / estimate.ratio for x in (1.0, 1.02, 0.99)]
    assert judge(shifted, [1.01, 0.98, 1.0])[1] != FASTER


@pytest.mark.parametrize("interval, verdict", [
    ((1.01, 1.2), FASTER), ((0.7, 0.95), FASTER), ((0.95, 1.05), WITHIN_NOISE),
    ((1 / EQUIVALENCE, EQUIVALENCE), WITHIN_NOISE), ((0.95, 1.2), NOT_ENOUGH), ((0.5, 3.0), NOT_ENOUGH),
    (None, NOT_ENOUGH)])
def test_the_verdict_is_read_from_the_interval_and_the_margin(interval, verdict):
    assert verdict_of(RatioEstimate(1.0, interval, WELCH, 0.1, 4.0)) == verdict
