"""The section "step": where a step's time goes. Each configuration's steady step (steady epoch
over steps) against the matrix products that step makes, timed alone at its shapes in the same
framework, precision and thread count (the trainers' `--probe products`, run by the controller
after the timed runs); the rest is everything the framework adds: elementwise kernels, autograd's
bookkeeping, dispatch and Python. The rest of each configuration is weighed against the smallest
rest at its batch size, run by run."""
import dataclasses

from mlpbench.comparison import comparable, weigh
from mlpbench.findings import Finding, finding
from mlpbench.formatting import fmt, fmt_time, label, setting_note
from mlpbench.modes import FRAMEWORKS

REST = "rest of a step"
HEADER = ["Batch Size", "Framework", "Steady step", "Products alone", "Products GFLOP/s", "The rest",
          "Rest share", "% of products' rate", "% of matmul peak"]


def products_key(framework, batch_size, hidden, precision, threads, arm):
    """What the products depend on, of a configuration or a probe record: never the mode."""
    return framework, batch_size, tuple(hidden), precision, threads, arm


def products_by_key(meta):
    """{products_key: the probe record} of the product probes that gave a time."""
    return {products_key(p["framework"], p["batch_size"], p["hidden"], p["precision"], p.get("threads"),
                         p.get("arm")): p
            for p in meta.get("products") or [] if p.get("products_s")}


@dataclasses.dataclass(frozen=True)
class Split:
    """One configuration's steady step, split: the products alone and the rest. The rest can be at
    or below zero, where a compiled step overlaps or fuses what the products alone pay for."""
    step_s: float
    products_s: float
    flops: int
    dispatch_s: float | None  # what one product's call costs, kept out of products_s

    @property
    def rest_s(self):
        return self.step_s - self.products_s

    @property
    def rest_share(self):
        return self.rest_s / self.step_s

    @property
    def products_gflops(self):
        return self.flops / self.products_s / 1e9

    @property
    def shape_matched_pct(self):
        """The step's rate as a share of its framework's rate on its own products alone."""
        return 100 * self.products_s / self.step_s

    def as_dict(self):
        return {"step_s": self.step_s, "products_s": self.products_s, "products_gflops": self.products_gflops,
                "rest_s": self.rest_s, "rest_share": self.rest_share,
                "shape_matched_pct": self.shape_matched_pct, "dispatch_s": self.dispatch_s}


def splits(stats, meta):
    """{config: Split} for each timed configuration whose products were probed."""
    probes, out = products_by_key(meta), {}
    for c, s in stats.items():
        p = probes.get(products_key(c.framework, c.batch_size, c.hidden, c.precision, c.threads, c.arm))
        if p is not None and s.steady is not None:
            out[c] = Split(s.steady / s.steps, p["products_s"], p["flops"], p.get("dispatch_s"))
    return out


def rest_stats(s, split):
    """The configuration's figures with each run's rest of a step as its time: what weigh() pairs
    by repeat. None where a run's rest is at or below zero (no ratio of such times means anything)."""
    rests = tuple(t / s.steps - split.products_s for t in s.steadies)
    return dataclasses.replace(s, steadies=rests) if rests and min(rests) > 0 else None


def table(stats, found):
    rows = [[str(c.batch_size), label(c), fmt_time(x.step_s), fmt_time(x.products_s),
             f"{x.products_gflops:.1f}", ("-" if x.rest_s < 0 else "") + fmt_time(abs(x.rest_s)),
             f"{100 * x.rest_share:.0f}%", f"{x.shape_matched_pct:.0f}%", fmt(stats[c].peak_pct, ".1f") + "%"]
            for c, x in found.items()]
    return (HEADER, rows) if rows else None


def split_findings(stats, found):
    """Per batch size and setting: the products' time and rate in each framework, each
    configuration's rest, and where a step beat its own products timed alone."""
    out = []
    for key in dict.fromkeys(c.key("batch_size", "hidden", "precision", "threads", "arm") for c in found):
        same = [c for c in found if c.key("batch_size", "hidden", "precision", "threads", "arm") == key]
        c0, first = same[0], {}
        for c in same:
            first.setdefault(c.framework, found[c])
        text = (f"Batch {c0.batch_size}{setting_note(c0.precision, c0.hidden)}: the step's matrix products "
                "alone take " + ", ".join(f"{fmt_time(x.products_s)} in {FRAMEWORKS[f]} "
                                          f"({x.products_gflops:.1f} GFLOP/s)" for f, x in first.items())
                + "; the rest of a step: "
                + ", ".join(f"{label(c)} {fmt_time(found[c].rest_s)} ({100 * found[c].rest_share:.0f}%)"
                            for c in same) + ".")
        below = [c for c in same if found[c].rest_s <= 0]
        if below:
            text += (" At or below zero for " + ", ".join(label(c) for c in below) + ": the whole step ran "
                     "at least as fast as its products timed one by one, so the compiled step overlaps or "
                     "fuses what they pay alone; no ratio is built on it.")
        out.append(Finding(text, figures={"batch_size": c0.batch_size, "hidden": list(c0.hidden),
                                          "precision": c0.precision, "threads": c0.threads,
                                          "splits": {label(c): found[c].as_dict() for c in same}}))
    return out


def rest_findings(stats, found):
    """Each configuration's rest against the smallest rest at its batch size and setting, run by
    run, where every run's rest is above zero."""
    out = []
    rests = {c: r for c in found if (r := rest_stats(stats[c], found[c])) is not None}
    for key in dict.fromkeys(c.key_except("framework", "mode", "unroll") for c in rests):
        same = [c for c in rests if c.key_except("framework", "mode", "unroll") == key]
        least = min(same, key=lambda c: rests[c].steady)
        for c in same:
            if c != least and comparable(c, least, stats):
                weighed = dataclasses.replace(weigh(c, rests[c], least, rests[least]), measure=REST)
                out.append(finding(f"Batch {c.batch_size}{setting_note(c.precision, c.hidden)}, the rest "
                                   "of a step (the step less its products alone): ", weighed))
    return out


def step_section_items(stats, found):
    """(findings, table) of the section, from the configurations' splits."""
    return split_findings(stats, found) + rest_findings(stats, found), table(stats, found)
