"""Statistical inference on the aggregated figures (docs/design.md, "Statistics and findings"): the
t-interval of a ratio of run times and the paired t-interval of a difference, both from scipy.stats.
No verdicts and no sentences here: comparison.py decides, formatting writes."""
import math
from dataclasses import dataclass

import numpy as np

LEVEL = 0.95
WELCH = "Welch t-interval of the log run times"
HSU = "Welch t-interval of the log run times, Hsu's degrees of freedom (unequal run counts)"


@dataclass(frozen=True)
class RatioEstimate:
    """slow / fast as the ratio of the geometric means of each side's run times, and its t-interval.

    Run times are near log-normal (a slow run is slow by a factor), so the two sides' log times are
    compared. Welch's interval holds its 5% error rate with two runs a side (about 2% in the A/A
    simulation of tests/test_calibration.py), where a percentile bootstrap of two runs is the range
    of the observed ratios and calls identical configurations different a third of the time."""
    ratio: float
    interval: tuple | None  # (low, high) of the ratio; None with a single run on either side
    method: str | None
    se: float | None  # standard error of the log ratio
    df: float | None  # the t distribution's degrees of freedom

    def ratio_that_excludes_1(self, level=LEVEL):
        """The smallest ratio whose interval would just exclude 1 with this spread and these run
        counts: below it, a real difference cannot be told from this machine's noise."""
        if self.se is None:
            return None
        return math.exp(t_quantile(level, self.df) * self.se)


def t_quantile(level, df):
    from scipy import stats as sps  # about 1 s to import: only a run that gets an interval pays it
    return float(sps.t.ppf(0.5 + level / 2, df))


def log_ratio(slow, fast, level=LEVEL):
    """RatioEstimate of the run times `slow` over `fast` (seconds, one per run)."""
    a, b = np.log(np.asarray(slow, float)), np.log(np.asarray(fast, float))
    d = float(a.mean() - b.mean())
    na, nb = len(a), len(b)
    if na < 2 or nb < 2:
        # A single run shows nothing of the drift between runs. Borrowing the other side's spread
        # for it called A/A pairs faster 7.2% of the time at 6 runs against 1 once runs had heavy
        # tails (tests/test_calibration.py): no interval, so no verdict but "not enough evidence".
        return RatioEstimate(math.exp(d), None, None, None, None)
    va, vb = a.var(ddof=1) / na, b.var(ddof=1) / nb
    se = math.sqrt(va + vb)
    if na != nb:
        # Welch-Satterthwaite's count is liberal with few, unequal runs (A/A pairs called faster
        # 7.1% of the time at 3 against 10): Hsu's conservative count there.
        df, method = min(na, nb) - 1, HSU
    else:  # Welch-Satterthwaite; with no spread on either side the pooled count stands in
        df = (va + vb) ** 2 / (va ** 2 / (na - 1) + vb ** 2 / (nb - 1)) if se > 0 else na + nb - 2
        method = WELCH
    half = t_quantile(level, df) * se
    return RatioEstimate(math.exp(d), (math.exp(d - half), math.exp(d + half)), method, se, float(df))


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
