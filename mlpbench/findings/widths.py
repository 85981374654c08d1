"""The section "widths": where the framework stops mattering, across model widths. Per (width,
batch) cell, PyTorch's steady epoch over JAX's; per framework, mode and batch size, a fit of
step time = fixed cost + FLOPs / rate across the widths, which says which cells are dispatch-
bound and which compute-bound; and how the JIT's share of training moves with the width."""
from dataclasses import dataclass

import numpy as np

from mlpbench.aggregate import Config, group_by
from mlpbench.comparison import NOT_ENOUGH, WITHIN_NOISE, Comparison, comparable, compare, fastest
from mlpbench.findings import Finding
from mlpbench.formatting import fmt_time, label, trend
from mlpbench.model import flops_per_sample, layer_sizes

DEFAULT_PAIR = ("step", "eager")  # JAX's and PyTorch's default modes


def width(config):
    return config.hidden[0]


def sizes(config):
    return layer_sizes(config.hidden)


@dataclass(frozen=True)
class Cell:
    """One (width, batch) cell of the map: PyTorch's steady epoch over JAX's, from their Comparison."""
    width: int
    batch_size: int
    jax: Config  # the configuration of each side
    pytorch: Config
    comparison: Comparison

    @property
    def ratio(self):
        """PyTorch's time over JAX's: above 1, JAX is faster."""
        return self.comparison.ratio_of(self.pytorch)

    @property
    def interval(self):
        """The interval of that ratio, or None."""
        interval = self.comparison.interval
        if interval is None or self.comparison.slow == self.pytorch:
            return interval
        return 1 / interval[1], 1 / interval[0]

    @property
    def verdict(self):
        return self.comparison.verdict

    def as_dict(self):
        return {"width": self.width, "batch_size": self.batch_size, "jax_mode": self.jax.mode,
                "pytorch_mode": self.pytorch.mode, "pytorch_over_jax": self.ratio,
                "pytorch_over_jax_interval": list(self.interval) if self.interval else None,
                "comparison": self.comparison.as_dict()}


# The map is drawn from device-resident, cold-cache, strict-fp32 runs only.
MAP_SETTING = ("device", "cold", "highest")


def comparable_setting(c):
    return c.key("input", "cache", "precision")


def most_threads(keys):
    """With --threads, the map is drawn at the largest thread count (None: all cores, the default)."""
    counts = {c.threads for c in keys}
    return None if None in counts or not counts else max(counts)


def cells(stats, pair=DEFAULT_PAIR):
    """{(width, batch): Cell} for the given (JAX mode, PyTorch mode), or with pair None the
    fastest mode of each framework in each cell; cold, device-resident, strict fp32 runs."""
    out = {}
    keys = [c for c in stats if comparable_setting(c) == MAP_SETTING
            and stats[c].steady is not None]
    keys = [c for c in keys if c.threads == most_threads(keys)]
    for (w, batch), here in sorted(group_by(keys, lambda c: (width(c), c.batch_size)).items()):
        sides = {framework: fastest([c for c in here if c.framework == framework and mode in (None, c.mode)],
                                    stats)
                 for framework, mode in zip(("jax", "pytorch"), pair or (None, None), strict=True)}
        if None not in sides.values() and comparable(sides["jax"], sides["pytorch"], stats):
            j, p = sides["jax"], sides["pytorch"]
            out[(w, batch)] = Cell(w, batch, j, p, compare(j, p, stats))
    return out


def width_verdicts(row):
    """The widths of a row of cells by verdict, and the width from which on every wider cell is
    within noise (None where the widths within noise are not the widest ones)."""
    within = [c.width for c in row if c.verdict == WITHIN_NOISE]
    tail = within and within == [c.width for c in row[-len(within):]]
    return {"within_noise": within, "within_noise_from": within[0] if tail else None,
            "jax_faster": [c.width for c in row if c.comparison.faster == c.jax],
            "pytorch_faster": [c.width for c in row if c.comparison.faster == c.pytorch],
            "not_enough_evidence": [c.width for c in row if c.verdict == NOT_ENOUGH]}


def verdicts_by_width(v, widths):
    """width_verdicts as a clause: "within noise from width W on; JAX faster at 128"."""
    if len(v["within_noise"]) == widths:
        return "within noise at every width"
    if v["within_noise_from"] is not None:
        head = f"within noise from width {v['within_noise_from']} on"
    else:
        within = v["within_noise"]
        head = "within noise at " + (f"width {', '.join(map(str, within))}" if within else "no width")
    parts = [head]
    for name, key in (("JAX", "jax_faster"), ("PyTorch", "pytorch_faster"), (None, "not_enough_evidence")):
        if v[key]:
            what = f"{name} faster at" if name else "not enough evidence at"
            parts.append(f"{what} {', '.join(map(str, v[key]))}")
    return "; ".join(parts)


def ratio_findings(stats, pair=DEFAULT_PAIR):
    """Per batch size, how PyTorch's time over JAX's moves with the width, and from which
    width on the two are within noise."""
    grid = cells(stats, pair)
    out = []
    for batch in sorted({b for _, b in grid}):
        row = [grid[k] for k in sorted(grid) if k[1] == batch]
        if len(row) < 2:
            continue
        names = (f"{label(row[0].pytorch, model=False)} / {label(row[0].jax, model=False)}" if pair
                 else "fastest PyTorch / fastest JAX")
        text = (f"Batch {batch}, {names} steady time by width: "
                + ", ".join(f"{c.width}: {c.ratio:.2f}x" + (f" [{c.interval[0]:.2f}, {c.interval[1]:.2f}]"
                                                              if c.interval else "") for c in row))
        suspect = sum(c.comparison.busy_runs for c in row)
        noisy = sorted({label(k) for c in row for k, _ in c.comparison.noisy})
        verdicts = width_verdicts(row)
        text += "; " + verdicts_by_width(verdicts, len(row)) + (
            f" ({suspect} of these runs were on a busy machine: suspect)" if suspect else "") + (
            f" (noisy within runs: {', '.join(noisy)})" if noisy else "") + "."
        out.append(Finding(text, tuple(c.comparison for c in row),
                           {"batch_size": batch, "pytorch_over_jax": {c.width: c.ratio for c in row},
                            **verdicts}))
    return out


@dataclass(frozen=True)
class Fit:
    """step time = fixed + FLOPs / rate, fitted across widths for one framework, mode and batch."""
    config: Config  # one of the fitted configurations: its framework, mode, batch size and settings
    fixed_s: float
    rate: float  # FLOP/s; inf where the time did not grow with the work
    r_squared: float | None
    points: tuple  # ((width, FLOPs per step, seconds per step), ...)

    @property
    def batch_size(self):
        return self.config.batch_size

    def fixed_share(self, flops):
        return self.fixed_s / (self.fixed_s + flops / self.rate)


def fits(stats):
    """A least-squares line through (FLOPs per step, seconds per step) for every framework,
    mode and batch size that ran at two widths or more (scipy.stats.linregress)."""
    from scipy import stats as sps
    out = []
    keys = [c for c in stats if comparable_setting(c) == MAP_SETTING and stats[c].steady]
    for members in group_by(keys, lambda c: c.key_except("batch_size", "hidden")).values():
        for batch, cs in sorted(group_by(members, lambda c: c.batch_size).items()):
            cs = sorted(cs, key=width)
            if len({width(c) for c in cs}) < 2:
                continue
            points = tuple((width(c), flops_per_sample(sizes(c)) * batch, stats[c].steady / stats[c].steps)
                           for c in cs)
            x, y = np.array([p[1] for p in points], float), np.array([p[2] for p in points])
            line = sps.linregress(x, y)
            fixed = max(float(line.intercept), 0.0)  # a negative intercept is no fixed cost
            rate = 1 / line.slope if line.slope > 0 else float("inf")
            out.append(Fit(cs[0], fixed, rate, float(line.rvalue ** 2) if len(points) > 2 else None,
                           points))
    return out


def fit_findings(stats):
    """Each fit, and which of its cells are dispatch-bound (the fixed cost is most of a step)."""
    out = []
    for f in fits(stats):
        bound = ", ".join(f"{w}: {'dispatch' if f.fixed_share(flops) > 0.5 else 'compute'}-bound "
                          f"({100 * f.fixed_share(flops):.0f}% fixed)" for w, flops, _ in f.points)
        rate = f"{f.rate / 1e9:,.0f} GFLOP/s" if np.isfinite(f.rate) else "no rate (time did not grow)"
        fit_quality = f", R² {f.r_squared:.3f}" if f.r_squared is not None else ", two points: exact"
        shares = {w: f.fixed_share(flops) for w, flops, _ in f.points}
        name, widths = label(f.config, model=False), ", ".join(str(p[0]) for p in f.points)
        out.append(Finding(f"{name}, batch {f.batch_size}: step time = {fmt_time(f.fixed_s)} + FLOPs / "
                           f"{rate} (fit over widths {widths}{fit_quality}); {bound}.",
                           figures={"configuration": name, "batch_size": f.batch_size, "fixed_s": f.fixed_s,
                                    "rate_flops_per_s": f.rate, "r_squared": f.r_squared,
                                    "fixed_share": shares,
                                    "bound": {w: "dispatch" if x > 0.5 else "compute"
                                              for w, x in shares.items()}}))
    return out


def jit_width_findings(stats):
    """The JIT's share of training time across widths, per framework, mode and batch size:
    the write-up's amortization claim along the second axis."""
    out = []
    keys = [c for c in stats if stats[c].jit is not None and stats[c].train_time]
    for row in group_by(keys, lambda c: c.key_except("hidden")).values():
        row = sorted(row, key=width)
        if len({width(c) for c in row}) < 2:
            continue
        shares = [100 * stats[c].jit / stats[c].train_time for c in row]
        out.append(Finding(f"{label(row[0], model=False)}, batch {row[0].batch_size}: JIT overhead "
                           + ", ".join(f"{fmt_time(stats[c].jit)} = {s:.1f}% of training at width {width(c)}"
                                       for c, s in zip(row, shares, strict=True))
                           + f"; the share {trend(shares)} as the width grows.",
                           figures={"configuration": label(row[0], model=False),
                                    "batch_size": row[0].batch_size, "trend": trend(shares),
                                    "by_width": [{"width": width(c), "jit_s": stats[c].jit, "share_pct": s}
                                                 for c, s in zip(row, shares, strict=True)]}))
    return out


def data(stats):
    """The sweep as numbers for summary.json: every cell of the map (both pairs) and every fit."""
    return {"cells": [c.as_dict() for c in cells(stats).values()],
            "fastest_cells": [c.as_dict() for c in cells(stats, pair=None).values()],
            "fits": [{"framework": f.config.framework, "mode": f.config.mode, "batch_size": f.batch_size,
                      "fixed_s": f.fixed_s, "rate_flops_per_s": f.rate if np.isfinite(f.rate) else None,
                      "r_squared": f.r_squared,
                      "points": [{"width": w, "flops_per_step": x, "s_per_step": y} for w, x, y in f.points]}
                     for f in fits(stats)] if len({width(c) for c in stats}) > 1 else []}


def width_findings(stats):
    """The sweep's findings: the default pair's ratio by width, the fastest pair's where more
    modes ran, the fit of step time against FLOPs, and the JIT's share by width."""
    out = ratio_findings(stats)
    if cells(stats, pair=None) != cells(stats):
        out += ratio_findings(stats, pair=None)
    return out + fit_findings(stats) + jit_width_findings(stats)
