"""The comparison value: two configurations' steady epochs weighed once, with the ratio, its interval,
the method, the evidence on each side and the verdict (docs/design.md, "Statistics and findings").
Every ratio the outputs print, in sentences, tables, summary.json and size_map.png, is read from a
Comparison; decisions are taken on its numbers, never on formatted text."""
import math
from dataclasses import dataclass

import numpy as np

from mlpbench.aggregate import NOISY_EPOCHS, Config
from mlpbench.formatting import fmt_time, label
from mlpbench.inference import (
    EQUIVALENCE_LEVEL,
    LEVEL,
    PAIRED,
    POWER,
    RatioEstimate,
    across_log_ratio,
    log_ratio,
    paired_log_ratio,
    ratio_interval,
)

FASTER, WITHIN_NOISE, NOT_ENOUGH = "faster", "within noise", "not enough evidence"
# The spread of one configuration's steady time between sessions of the same code on one
# machine, beyond its runs' own noise (a log-SD): what --compare widens its interval by
# (docs/method.md, "Across sessions"; benchmarks/session_spread.py measures it).
SESSION_ALLOWANCE = 0.078
ALLOWANCE_SOURCE = "7 sessions of the same code over two hours on the 2-core Zen 4 EPYC"
VERDICTS = (FASTER, WITHIN_NOISE, NOT_ENOUGH)
# "Within noise" claims more than an interval that holds 1: that the two differ by less than this
# factor either way (an equivalence margin). It is tested as two one-sided tests, the 90% interval
# inside the margin, so a true 1.10x is called "within noise" at most 5% of the time
# (tests/test_calibration.py). An interval that holds 1 but reaches past the margin says only that
# the runs cannot tell: "not enough evidence". 10%: the smallest gap the summary's speed findings
# are about; three quiet runs a side on the 2-core VMs give 90% intervals about ±5% wide.
EQUIVALENCE = 1.10


def verdicts(log_ratio, se, df):
    """The verdict of each estimate (numbers or arrays): "faster" where the 95% interval excludes
    1; else "within noise" where the 90% interval lies inside the margin; else "not enough
    evidence". Where both hold (a small, sure difference), "faster" wins: it is the stronger
    claim, and its error rate is the one the A/A tests bound. An interval that touches 1 (1.00 to
    1.00 from identical runs) excludes nothing."""
    lo, hi = ratio_interval(log_ratio, se, df, LEVEL)
    elo, ehi = ratio_interval(log_ratio, se, df, EQUIVALENCE_LEVEL)
    within = (elo >= 1 / EQUIVALENCE) & (ehi <= EQUIVALENCE)
    return np.where((lo > 1) | (hi < 1), FASTER, np.where(within, WITHIN_NOISE, NOT_ENOUGH))


def verdict_of(estimate):
    """The verdict an estimate supports (verdicts), or "not enough evidence" with no interval."""
    if estimate.interval is None:
        return NOT_ENOUGH
    return str(verdicts(math.log(estimate.ratio), estimate.se, estimate.df))


def paired_runs(slow, fast, slow_blocks, fast_blocks):
    """(slow, fast) run times of the repeats both sides ran in, in one order; None where a side
    has no repeats to pair by or ran twice in one."""
    if not slow_blocks or not fast_blocks:
        return None
    a, b = dict(zip(slow_blocks, slow, strict=True)), dict(zip(fast_blocks, fast, strict=True))
    if len(a) < len(slow) or len(b) < len(fast):
        return None
    shared = [k for k in a if k in b]
    return [a[k] for k in shared], [b[k] for k in shared]


def judge(slow, fast, slow_blocks=(), fast_blocks=(), across=False):
    """(RatioEstimate, verdict) of run times `slow` against `fast`: the one place a verdict is made.
    blocks: the repeat each run ran in. Paired by repeat where two repeats or more hold a run of
    each side (runs without a partner are left out); otherwise, and without blocks, Welch's
    interval on all the runs. across: two sessions (saved folders), whose runs share no time:
    Welch's interval widened by the session allowance (its value, or None for folders of two
    machines, where no allowance holds and no interval is given)."""
    if across is not False:
        estimate = across_log_ratio(slow, fast, across)
        return estimate, verdict_of(estimate)
    pairs = paired_runs(slow, fast, slow_blocks, fast_blocks)
    if pairs is not None and len(pairs[0]) >= 2:
        estimate = paired_log_ratio(*pairs)
    else:
        estimate = log_ratio(slow, fast)
    return estimate, verdict_of(estimate)


@dataclass(frozen=True)
class Comparison:
    """Two configurations' steady epochs: `fast` is the side with the lower geometric mean of its
    runs' steady times, `ratio` = slow / fast >= 1. `faster` names a side only when the verdict
    says so."""
    fast: Config
    slow: Config
    fast_steady: float  # each side's Avg. Steady State (the runs' geometric mean), as the table shows it
    slow_steady: float
    estimate: RatioEstimate
    verdict: str
    runs: tuple  # (fast, slow)
    steady_epochs: tuple  # steady epochs behind each side, all runs
    busy_runs: int  # runs on either side during which other work kept the machine busy
    spreads: tuple  # (fast, slow): each side's largest within-run spread of its steady epochs, or None
    names: tuple = ()  # (fast, slow) as the sentence names them; by default their labels. Two saved
    # folders' runs of one configuration (--compare) are named by their folders.
    measure: str = "steady epoch"  # what the runs' times are: "rest of a step" weighs what a step
    # spends beyond its matrix products (findings.step)

    @property
    def ratio(self):
        return self.estimate.ratio

    @property
    def interval(self):
        return self.estimate.interval

    @property
    def side_names(self):
        """(fast, slow) as the sentences name them."""
        return self.names or (label(self.fast), label(self.slow))

    def noisy_sides(self, sides):
        """(side, within-run spread) for each of `sides` (fast first) whose epochs are noisy within a run."""
        return tuple((s, x) for s, x in zip(sides, self.spreads, strict=True)
                     if x is not None and x > NOISY_EPOCHS)

    @property
    def noisy(self):
        """(config, within-run spread) for each noisy side."""
        return self.noisy_sides((self.fast, self.slow))

    @property
    def faster(self):
        return self.fast if self.verdict == FASTER else None

    def steady_of(self, config):
        return self.fast_steady if config == self.fast else self.slow_steady

    def ratio_of(self, config):
        """config's time over the other side's."""
        if config not in (self.fast, self.slow):
            raise ValueError(f"{label(config)} is neither side of this comparison")
        return self.ratio if config == self.slow else 1 / self.ratio

    def verdict_phrase(self):
        """The verdict with the side it names: "JAX step faster", "within noise"."""
        return f"{self.side_names[0]} faster" if self.faster else self.verdict

    def evidence(self):
        """What the verdict rests on, in brackets after the times."""
        runs = f"{self.runs[0]} and {self.runs[1]} runs"
        if self.interval is None:
            single = "a single run each" if self.runs == (1, 1) else f"{runs}, a single run on one side"
            return f"{single}: the drift between runs cannot be seen; --repeats 3 or more gives an interval"
        lo, hi = self.interval
        if self.estimate.method == PAIRED:
            pairs = self.estimate.pairs
            over = (f"{pairs} runs a side" if self.runs == (pairs, pairs)
                    else f"{runs}, {pairs} of them in the same repeats")
            return f"{100 * LEVEL:.0f}% interval {lo:.2f}x to {hi:.2f}x over {over}, paired by repeat"
        return f"{100 * LEVEL:.0f}% interval {lo:.2f}x to {hi:.2f}x over {runs}"

    def sentence(self):
        fast, slow = self.side_names
        times = f"{fmt_time(self.fast_steady)} vs {fmt_time(self.slow_steady)} per {self.measure}"
        if self.verdict == FASTER:
            text = f"{fast} is {self.ratio:.2f}x faster than {slow} ({times}; {self.evidence()})."
        elif self.verdict == WITHIN_NOISE:
            elo, ehi = self.estimate.interval_at(EQUIVALENCE_LEVEL)
            text = (f"{fast} and {slow} are within noise, {self.ratio:.2f}x ({times}; {self.evidence()}; "
                    f"{100 * EQUIVALENCE_LEVEL:.0f}% interval {elo:.2f}x to {ehi:.2f}x, inside "
                    f"{EQUIVALENCE:.2f}x either way).")
        else:
            why = "" if self.interval is None else ", too wide to tell"
            text = (f"not enough evidence that {fast} or {slow} is faster: {self.ratio:.2f}x in {fast}'s "
                    f"favour ({times}; {self.evidence()}{why}).")
        if self.busy_runs:
            text += (f" Suspect: the machine was busy during {self.busy_runs} of these "
                     f"{sum(self.runs)} runs.")
        for name, spread in self.noisy_sides(self.side_names):
            text += (f" Noisy: {name}'s steady epochs vary within a run "
                     f"(interquartile range {100 * spread:.0f}% of the median).")
        return text

    def as_dict(self):
        """summary.json's comparison object (docs/design.md, "summary.json")."""
        e = self.estimate
        fast, slow = self.side_names
        return {"fast": fast, "slow": slow,
                "fast_config": self.fast._asdict(), "slow_config": self.slow._asdict(),
                "fast_steady_s": self.fast_steady, "slow_steady_s": self.slow_steady,
                "ratio": e.ratio, "interval": list(e.interval) if e.interval else None, "level": LEVEL,
                "equivalence_interval": list(e.interval_at(EQUIVALENCE_LEVEL)) if e.interval else None,
                "equivalence_level": EQUIVALENCE_LEVEL, "equivalence_margin": EQUIVALENCE,
                "method": e.method, "pairs": e.pairs, "verdict": self.verdict,
                "faster": fast if self.faster else None,
                "ratio_that_excludes_1": e.ratio_that_excludes_1(),
                "detectable_ratio": e.detectable_ratio(), "power": POWER,
                "runs": list(self.runs), "steady_epochs": list(self.steady_epochs),
                "busy_runs": self.busy_runs, "noisy": [n for n, _ in self.noisy_sides(self.side_names)],
                "measure": self.measure, "sentence": self.sentence()}


def comparable(a, b, stats):
    """Runs on different kinds of device are never compared."""
    return stats[a].devices == stats[b].devices and len(stats[a].devices) == 1


def compare(a, b, stats):
    """The Comparison of configurations a and b (keys of stats, each with a steady time)."""
    return weigh(a, stats[a], b, stats[b])


def weigh(a, sa, b, sb, names=(), across=False):
    """The Comparison of configuration a, whose figures are sa (a ConfigStats), and b with sb;
    names: what to call a and b, where their labels would not tell them apart. Runs are paired by
    repeat when both ran in one cache state of one session: warm-cache runs follow every cold run
    and fill (plan.plan), so a warm run and a cold run of one repeat are far apart in time and
    Welch's unpaired interval weighs them; two saved folders (--compare) are two sessions,
    weighed `across` them (judge)."""
    if sa.steady is None or sb.steady is None:
        raise ValueError(f"{label(a)} or {label(b)} has no steady epoch to compare")
    sides = [(a, sa, names[:1]), (b, sb, names[1:])]
    (fast, sf, nf), (slow, ss, ns) = sorted(sides, key=lambda side: side[1].steady)
    blocks = (ss.blocks, sf.blocks) if across is False and a.cache == b.cache else ((), ())
    estimate, verdict = judge(ss.steadies, sf.steadies, *blocks, across=across)
    if estimate.ratio < 1:  # paired without a run whose partner failed: the pairs decide the sides
        (fast, sf, nf), (slow, ss, ns), estimate = (slow, ss, ns), (fast, sf, nf), estimate.inverted()
    return Comparison(fast, slow, sf.steady, ss.steady, estimate, verdict, runs=(sf.runs, ss.runs),
                      steady_epochs=(sf.steady_epochs, ss.steady_epochs),
                      busy_runs=sf.busy_runs + ss.busy_runs,
                      spreads=(sf.epoch_spread, ss.epoch_spread),
                      names=nf + ns)


def fastest(configs, stats):
    """The configuration with the lowest steady time (its runs' geometric mean), or None."""
    timed = [c for c in configs if stats[c].steady is not None]
    return min(timed, key=lambda c: stats[c].steady) if timed else None
