"""Statistical inference on the aggregated figures, from scipy.stats: the bootstrap interval
of a ratio of medians and the paired t-interval of a difference (docs/design.md, "Statistics
and findings"). An interval is computed once per pair of samples, however often it is asked for."""
import functools

import numpy as np


def ratio_interval(slow, fast, level=0.95):
    """95% percentile-bootstrap interval of median(slow) / median(fast), resampling each
    configuration's runs; None with fewer than two runs on either side."""
    if len(slow) < 2 or len(fast) < 2:
        return None
    return _bootstrap(tuple(slow), tuple(fast), level)


@functools.lru_cache(maxsize=None)
def _bootstrap(slow, fast, level):
    from scipy import stats as sps  # about 1 s to import: only runs that get an interval pay it
    result = sps.bootstrap((np.asarray(slow), np.asarray(fast)),
                           lambda a, b, axis: np.median(a, axis=axis) / np.median(b, axis=axis),
                           vectorized=True, n_resamples=9999, confidence_level=level, method="percentile",
                           rng=np.random.default_rng(0))
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def paired_difference(a, b, level=0.95):
    """Mean of a - b over pairs, its 95% t-interval and p-value (scipy's paired t-test).
    Identical differences have no spread to test: the interval is that one value, p None."""
    diffs = np.asarray(a) - np.asarray(b)
    if np.ptp(diffs) == 0:
        return float(diffs[0]), (float(diffs[0]), float(diffs[0])), None
    from scipy import stats as sps  # about 1 s to import: only several seeds pay it
    result = sps.ttest_rel(a, b)
    ci = result.confidence_interval(level)
    return float(diffs.mean()), (float(ci.low), float(ci.high)), float(result.pvalue)
