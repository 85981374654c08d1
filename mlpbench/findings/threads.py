"""The section "threads": each configuration at its fewest threads against itself at each larger
count (--threads)."""
from mlpbench.aggregate import group_by
from mlpbench.comparison import comparable, compare
from mlpbench.findings import finding
from mlpbench.formatting import label, setting_note


def thread_findings(stats):
    """Each configuration at its fewest threads against itself at each larger count (--threads):
    what more cores buy each framework, per batch size."""
    out = []
    timed = [c for c in stats if c.threads and stats[c].steady is not None]
    for same in group_by(timed, lambda c: c.key_except("threads")).values():
        base, *more = sorted(same, key=lambda c: c.threads)
        for c in more:
            if not comparable(base, c, stats):
                continue
            name = label(base._replace(threads=None))
            out.append(finding(f"Batch {c.batch_size}{setting_note(c.precision, c.hidden)}, {name}, "
                               f"{base.threads} to {c.threads} threads: ", compare(c, base, stats)))
    return out
