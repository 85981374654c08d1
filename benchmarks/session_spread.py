"""The spread between sessions of the same code on one machine: --compare's session allowance
(docs/method.md, "Across sessions").

    python benchmarks/session_spread.py FOLDER FOLDER ... [--json OUT]

Each FOLDER is one session (one controller invocation) of the same command. Per configuration,
each session's centre is the mean of its runs' log steady times; a one-way random-effects
analysis of variance (sessions as groups, runs within them) splits their spread into the runs'
own noise and the sessions' effect, whose variance is (MSB - MSW) / runs per session. The
configurations are pooled, and the interval takes the sessions less one as its degrees of
freedom: a slow hour slows every configuration of a session alike, so the configurations are not
independent witnesses of it."""
import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
from scipy import stats as sps

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mlpbench.aggregate import all_stats  # noqa: E402
from mlpbench.formatting import label  # noqa: E402
from mlpbench.results import read_results  # noqa: E402


def session_logs(folders):
    """{(label, batch): [[log steady of each run] per session]} for the configurations every
    session ran."""
    per = []
    for folder in folders:
        runs, meta = read_results(folder)
        _, stats = all_stats(runs, meta.get("probes", {}), 0.85)
        per.append({(label(c), c.batch_size): [math.log(t) for t in s.steadies] for c, s in stats.items()
                    if len(s.steadies) >= 2})
    shared = set.intersection(*(set(p) for p in per))
    return {k: [p[k] for p in per] for k in sorted(shared, key=lambda k: (k[1], k[0]))}


def components(groups):
    """(between-session variance, within-session variance, MSB, MSW, n0) of one configuration."""
    k, sizes = len(groups), np.array([len(g) for g in groups])
    means = np.array([np.mean(g) for g in groups])
    grand = np.concatenate(groups).mean()
    msb = float(np.sum(sizes * (means - grand) ** 2) / (k - 1))
    msw = float(sum(np.sum((np.array(g) - np.mean(g)) ** 2) for g in groups) / (sizes.sum() - k))
    n0 = (sizes.sum() - np.sum(sizes**2) / sizes.sum()) / (k - 1)
    return max((msb - msw) / n0, 0.0), msw, msb, msw, n0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if len(args.folders) < 3:
        parser.error("give three sessions or more")
    logs = session_logs(args.folders)
    k = len(args.folders)
    rows, between, within = [], [], []
    for key, groups in logs.items():
        b, w, msb, msw, n0 = components(groups)
        between.append(b)
        within.append(w)
        rows.append({"configuration": key[0], "batch_size": key[1], "session_sd": math.sqrt(b),
                     "run_sd": math.sqrt(w), "session_means": [float(np.mean(g)) for g in groups]})
        print(f"{key[0]:>24}, batch {key[1]:>4}: session log-SD {math.sqrt(b):.4f}, "
              f"run log-SD {math.sqrt(w):.4f}")
    pooled = float(np.mean(between))
    df = k - 1
    lo, hi = (math.sqrt(pooled * df / sps.chi2.ppf(q, df)) for q in (0.95, 0.05))
    print(f"pooled session log-SD over {len(logs)} configurations and {k} sessions: {math.sqrt(pooled):.4f} "
          f"(90% interval {lo:.4f} to {hi:.4f}, {df} degrees of freedom); run log-SD "
          f"{math.sqrt(float(np.mean(within))):.4f}")
    if args.json:
        args.json.write_text(json.dumps({"folders": [f.name for f in args.folders], "sessions": k,
                                         "session_sd": math.sqrt(pooled), "interval_90": [lo, hi],
                                         "df": df, "run_sd": math.sqrt(float(np.mean(within))),
                                         "configurations": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
