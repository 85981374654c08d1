"""Statistical inference on the aggregated figures (docs/design.md, "Statistics and findings"): the
t-interval of a ratio of run times, paired by repeat where both sides ran in the same repeats and
Welch's otherwise, the power of that interval, and the paired t-interval of a difference, all from
scipy.stats. No verdicts and no sentences here: comparison.py decides, formatting writes. The
interval arithmetic takes numpy arrays as well as numbers, so that tests/test_calibration.py
simulates tens of thousands of comparisons through the very code every finding uses."""
import dataclasses
import math
from dataclasses import dataclass

import numpy as np

LEVEL = 0.95
# "Within noise" is an equivalence claim, tested as two one-sided tests at 5% each: the 90%
# interval inside the margin (Schuirmann's TOST).
EQUIVALENCE_LEVEL = 0.90
POWER = 0.80  # what "a ratio this machine would detect" means: called faster this often
WELCH = "Welch t-interval of the log run times, Hsu's degrees of freedom"
PAIRED = "t-interval of the log run times, paired by repeat"
ACROSS = "Welch t-interval of the log run times, widened by the session allowance"


@dataclass(frozen=True)
class RatioEstimate:
    """slow / fast as the ratio of the geometric means of each side's run times (paired: the
    geometric mean of the paired ratios), and its t-interval.

    Run times are near log-normal (a slow run is slow by a factor), so log times are compared.
    Paired by repeat, drift that moves both runs of a repeat alike (the machine slowing over a
    session) falls out of each difference; the plan reverses the order of every other repeat, so
    drift between the two runs of a pair changes sign from repeat to repeat and widens the
    interval instead of moving it. Welch's interval, for runs with no partner in the other side's
    repeats (two saved sessions, cold against warm caches), holds its 5% error rate with two runs a
    side, where a percentile bootstrap of two runs calls identical configurations different a third
    of the time (tests/test_calibration.py)."""
    ratio: float
    interval: tuple | None  # (low, high) of the ratio at LEVEL; None with a single run on either side
    method: str | None
    se: float | None  # standard error of the log ratio
    df: float | None  # the t distribution's degrees of freedom
    pairs: int | None = None  # repeats the two sides were paired in (PAIRED only)

    def inverted(self):
        """The same estimate of fast / slow: the ratio and its interval turned over."""
        lo_hi = (1 / self.interval[1], 1 / self.interval[0]) if self.interval else None
        return dataclasses.replace(self, ratio=1 / self.ratio, interval=lo_hi)

    def interval_at(self, level):
        """(low, high) of the ratio at another level (the 90% interval of the equivalence test)."""
        if self.se is None:
            return None
        lo, hi = ratio_interval(math.log(self.ratio), self.se, self.df, level)
        return float(lo), float(hi)

    def ratio_that_excludes_1(self, level=LEVEL):
        """The critical ratio: the smallest whose interval would just exclude 1 with this spread
        and these run counts. A true ratio of this size is called faster only about half the time;
        detectable_ratio is what this machine finds reliably."""
        if self.se is None:
            return None
        return math.exp(t_quantile(level, self.df) * self.se)

    def detectable_ratio(self, power=POWER, level=LEVEL):
        """The true ratio that an interval with this spread and these run counts calls faster with
        probability `power` (docs/method.md, "The speed verdict")."""
        if self.se is None:
            return None
        return float(np.exp(detectable_log_ratio(self.se, self.df, power, level)))


def t_quantile(level, df):
    from scipy import stats as sps  # about 1 s to import: only a run that gets an interval pays it
    return sps.t.ppf(0.5 + level / 2, df)


def ratio_interval(log_ratio_, se, df, level=LEVEL):
    """(low, high) of exp(log_ratio_) at `level`; numbers or arrays."""
    half = t_quantile(level, df) * se
    return np.exp(log_ratio_ - half), np.exp(log_ratio_ + half)


def detectable_log_ratio(se, df, power=POWER, level=LEVEL):
    """The true log ratio at which the t statistic (non-central t, non-centrality log ratio / se)
    exceeds the critical value with probability `power`. The far tail (a true slowdown called a
    speed-up) is under 0.1% at these powers and is left out."""
    from scipy import optimize
    from scipy import stats as sps
    if se == 0:
        return 0.0
    crit = t_quantile(level, df)
    # scipy's nct turns NaN far out; 3 crit + 10 brackets every power below 0.999 at df 1 and up
    return optimize.brentq(lambda nc: sps.nct.sf(crit, df, nc) - power, 0.0, 3 * crit + 10) * se


def paired_log_ratios(slow, fast):
    """(log ratio, standard error, degrees of freedom) of run times paired along the last axis:
    slow[..., i] and fast[..., i] ran in the same repeat. Numbers or arrays of trials."""
    d = np.log(np.asarray(slow, float)) - np.log(np.asarray(fast, float))
    n = d.shape[-1]
    return d.mean(axis=-1), d.std(axis=-1, ddof=1) / math.sqrt(n), n - 1


def paired_log_ratio(slow, fast):
    """RatioEstimate of run times `slow` over `fast`, paired: slow[i] and fast[i] share a repeat,
    two pairs or more (comparison.judge weighs fewer unpaired)."""
    d, se, df = paired_log_ratios(slow, fast)
    d, se = float(d), float(se)
    lo, hi = ratio_interval(d, se, df)
    return RatioEstimate(math.exp(d), (float(lo), float(hi)), PAIRED, se, float(df), pairs=len(slow))


def welch_log_ratios(slow, fast):
    """(log ratio, standard error, degrees of freedom) of unpaired run times along the last axis:
    Welch's standard error with Hsu's count, the smaller side's runs less one. Welch-Satterthwaite's
    estimated count is liberal with few runs: A/A pairs called faster 7.1% of the time at 3
    against 10, and 6.2% at 2 against 2 with 0.5% and 5% run noise. Numbers or arrays of trials."""
    a, b = np.log(np.asarray(slow, float)), np.log(np.asarray(fast, float))
    na, nb = a.shape[-1], b.shape[-1]
    se = np.sqrt(a.var(axis=-1, ddof=1) / na + b.var(axis=-1, ddof=1) / nb)
    return a.mean(axis=-1) - b.mean(axis=-1), se, min(na, nb) - 1


def across_log_ratios(slow, fast, allowance):
    """(log ratio, standard error, degrees of freedom) of two sessions' run times (two saved
    folders): Welch's, with each session's own effect added, a normal of log-SD `allowance`
    (docs/method.md, "Across sessions"). The effect's variance is taken as known, so the degrees
    of freedom are Satterthwaite's for the within-session part alone. Numbers or arrays."""
    d, se, df = welch_log_ratios(slow, fast)
    total = np.sqrt(se**2 + 2 * allowance**2)
    return d, total, np.where(se > 0, df * (total / np.where(se > 0, se, 1)) ** 4, np.inf)


def across_log_ratio(slow, fast, allowance):
    """RatioEstimate of two sessions' run times, `slow` over `fast` (across_log_ratios); no
    interval with a single run on either side, or with no allowance (folders of two machines)."""
    if len(slow) < 2 or len(fast) < 2 or allowance is None:
        d = np.log(np.asarray(slow, float)).mean() - np.log(np.asarray(fast, float)).mean()
        return RatioEstimate(float(np.exp(d)), None, None, None, None)
    d, se, df = across_log_ratios(slow, fast, allowance)
    d, se, df = float(d), float(se), float(df)
    lo, hi = ratio_interval(d, se, df)
    return RatioEstimate(math.exp(d), (float(lo), float(hi)), ACROSS, se, df)


def log_ratio(slow, fast, level=LEVEL):
    """RatioEstimate of the run times `slow` over `fast` (seconds, one per run), unpaired (Welch)."""
    if len(slow) < 2 or len(fast) < 2:
        # A single run shows nothing of the drift between runs. Borrowing the other side's spread
        # for it called A/A pairs faster 7.2% of the time at 6 runs against 1 once runs had heavy
        # tails (tests/test_calibration.py): no interval, so no verdict but "not enough evidence".
        d = np.log(np.asarray(slow, float)).mean() - np.log(np.asarray(fast, float)).mean()
        return RatioEstimate(float(np.exp(d)), None, None, None, None)
    d, se, df = welch_log_ratios(slow, fast)
    d, se = float(d), float(se)
    lo, hi = ratio_interval(d, se, df, level)
    return RatioEstimate(math.exp(d), (float(lo), float(hi)), WELCH, se, float(df))


def paired_difference(a, b, level=LEVEL):
    """Mean of a - b over pairs, its 95% t-interval and p-value (scipy's paired t-test).
    Identical differences have no spread to test: the interval is that one value, p None."""
    diffs = np.asarray(a) - np.asarray(b)
    if np.ptp(diffs) == 0:
        return float(diffs[0]), (float(diffs[0]), float(diffs[0])), None
    from scipy import stats as sps  # about 1 s to import: only several seeds pay it
    result = sps.ttest_rel(a, b)
    ci = result.confidence_interval(level)
    return float(diffs.mean()), (float(ci.low), float(ci.high)), float(result.pvalue)
