"""The section "aa": each configuration that ran as two identical arms (--aa) against itself, and
what this machine can detect with these runs."""
from mlpbench.comparison import comparable, compare
from mlpbench.findings import finding
from mlpbench.formatting import setting_note
from mlpbench.inference import POWER


def aa_findings(stats):
    """Each configuration that ran as two arms (--aa) against itself, with what this machine can
    detect with these runs: the ratio it would call faster 80% of the time, and the critical
    ratio, where the interval would just exclude 1."""
    out = []
    for a in stats:
        b = a._replace(arm="B")
        if (a.arm != "A" or b not in stats or stats[a].steady is None or stats[b].steady is None
                or not comparable(a, b, stats)):
            continue
        c = compare(a, b, stats)
        e = c.estimate
        tail = (f" With these runs and this spread, this machine would call a true "
                f"{e.detectable_ratio():.2f}x faster {100 * POWER:.0f}% of the time (critical ratio, where "
                f"the interval just excludes 1: {e.ratio_that_excludes_1():.3f}x)." if e.se is not None else
                " With one run a side no ratio can be called faster: run --repeats 3 or more.")
        out.append(finding(f"Batch {a.batch_size}{setting_note(a.precision, a.hidden)}, A/A (one "
                           "configuration as both arms, side by side, each first in half the repeats): ",
                           c, tail))
    return out
