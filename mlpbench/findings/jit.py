"""The section "jit": what compiling costs and when it pays. The first epoch's share of training,
break-even against the uncompiled mode, recompilations, and the table of epoch 1's first step."""
from mlpbench import modes
from mlpbench.aggregate import group_by
from mlpbench.comparison import WITHIN_NOISE, comparable, compare
from mlpbench.findings import Finding
from mlpbench.formatting import fmt_time, label, trend


def jit_share_lines(stats):
    """The first epoch's overhead as a share of training time, per mode across batch sizes. For a
    mode that compiles, that is its JIT, and which way its share moves as the batch grows; for one
    that compiles nothing it is warm-up and noise (and can be negative), so no trend is built on
    it. Nor on a JIT whose share is at or below zero somewhere: it is lost in the noise there."""
    out = []
    for same in group_by(stats, lambda c: c.key_except("batch_size")).values():
        rows = sorted((c.batch_size, stats[c]) for c in same
                      if stats[c].jit is not None and stats[c].train_time)
        if not rows:
            continue
        compiled = modes.mode(same[0].mode).compiled
        shares = [100 * s.jit / s.train_time for _, s in rows]
        overheads = ", ".join(f"{fmt_time(s.jit)} = {share:.1f}% of training at batch {b}"
                              for (b, s), share in zip(rows, shares, strict=True))
        trend_ = trend(shares) if compiled and len(rows) > 1 and min(shares) > 0 else None
        if compiled:
            text = f"{label(same[0])}: JIT overhead {overheads}"
            if trend_:
                text += f"; the share {trend_} as the batch grows"
            elif len(rows) > 1:
                text += "; at or below zero at some batch size, so within the noise there"
        else:
            text = (f"{label(same[0])} compiles nothing: its first epoch over its steady ones, "
                    f"warm-up and noise, {overheads}")
        out.append(Finding(text + ".", figures={
            "configuration": label(same[0]), "kind": "jit" if compiled else "warm-up", "trend": trend_,
            "by_batch_size": [{"batch_size": b, "jit_s": s.jit, "share_pct": share}
                              for (b, s), share in zip(rows, shares, strict=True)]}))
    return out


def break_even_baselines(config, stats):
    """The configurations a mode pays up front against (the modes table's break_even entries)."""
    for versus in modes.mode(config.mode).weighed_against:
        if not versus.break_even:
            continue
        base = config._replace(mode=versus.other, unroll=None)
        if base not in stats and not modes.mode(versus.other).cacheable:
            base = base._replace(cache="cold")  # eager has no warm runs: its cold ones are the same
        if (base in stats and comparable(config, base, stats) and stats[config].steady is not None
                and stats[base].steady is not None):
            yield base


def break_even_lines(stats):
    """Epochs after which a compiled mode's total time drops below its uncompiled one's:
    1 + (first-epoch difference) / (steady-state saving per epoch)."""
    out = []
    for c, s in stats.items():
        for base in break_even_baselines(c, stats):
            b = stats[base]
            saving, cost = b.steady - s.steady, s.first - b.first
            head = f"Batch {c.batch_size}: {label(c)} against {label(base)}: "
            weighed = compare(c, base, stats)
            # The steady-state ratio and what it rests on: a break-even is only as sure as the saving.
            basis = (f"steady epoch {weighed.ratio_of(c):.2f}x {label(base)}'s, {weighed.verdict_phrase()}: "
                     f"{weighed.evidence()}")
            epochs = None
            if weighed.verdict == WITHIN_NOISE:
                outcome = "within noise"
                text = head + f"no break-even can be claimed: the steady epochs are within noise ({basis})."
            elif weighed.fast == base or saving <= 0:
                outcome = "never"
                text = head + (f"never breaks even: it is not faster per steady epoch "
                               f"({fmt_time(s.steady)} vs {fmt_time(b.steady)}; {basis}).")
            elif cost <= 0:
                outcome, epochs = "from epoch 1", 1.0
                text = head + (f"ahead from epoch 1 (first epoch {fmt_time(s.first)} vs "
                               f"{fmt_time(b.first)}; {basis}).")
            else:
                outcome, epochs = "breaks even", 1 + cost / saving
                text = head + (f"breaks even after {epochs:,.1f} epochs (compile cost "
                               f"{fmt_time(cost)} / saving {fmt_time(saving)} per epoch; {basis}).")
            out.append(Finding(text, (weighed,), {"batch_size": c.batch_size, "configuration": label(c),
                                                  "against": label(base), "outcome": outcome,
                                                  "epochs": epochs, "cost_s": cost, "saving_s": saving}))
    return out


def recompile_findings(stats):
    return [Finding(f"{label(c)}, batch {c.batch_size}: {s.recompiles_late:g} recompilation(s) after "
                    "epoch 1: compile cost counted as steady state (a second input shape, an uncommitted "
                    "input).",
                    figures={"configuration": label(c), "batch_size": c.batch_size,
                             "recompiles": s.recompiles_late})
            for c, s in stats.items() if s.recompiles_late]  # None or 0: nothing to report


def compile_table(stats):
    """Epoch 1's first step split into what it is made of, per configuration."""
    header = ["Batch Size", "Framework", "First step", "JAX trace", "JAX lower", "JAX compile",
              "torch.compile", "Graphs", "Graph breaks", "From cache", "Recompiles after epoch 1"]

    def cell(value, show=fmt_time):
        return "-" if value is None else show(value)  # "-": the mode has no such stage
    rows = []
    for c, s in sorted(stats.items(), key=lambda kv: kv[0].batch_size):
        rows.append([str(c.batch_size), label(c), fmt_time(s.first_step)]
                    + [cell(v) for v in (s.jit_trace_s, s.jit_lower_s, s.jit_compile_s, s.compile_s)]
                    + [cell(v, lambda x: f"{x:g}") for v in (s.graphs, s.graph_breaks, s.cache_hits,
                                                              s.recompiles_late)])
    return header, rows
