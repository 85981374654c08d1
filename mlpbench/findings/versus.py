"""The section "versus": one thing at a time. Every pair of modes that the modes table weighs
(paradigm against framework, what compiling or a CUDA graph buys), the paradigm-by-framework
square, the sweep of scan's unroll, and TF32 against strict fp32."""
from mlpbench import modes
from mlpbench.aggregate import group_by
from mlpbench.comparison import comparable, compare, fastest
from mlpbench.findings import Finding, finding
from mlpbench.formatting import fmt_time, label, setting_note


def setting(c):
    """What two configurations must share to be weighed against each other: every field but
    the framework, the mode and scan's unroll (a mode's fastest unroll stands for it)."""
    return c.key_except("framework", "mode", "unroll")


def versus_findings(stats):
    """Each mode against each mode it is weighed against (modes.Versus), at the same setting
    (batch size, input, cache, precision, model, arm and threads); where a mode ran with several
    unrolls (scan), its fastest one stands for it."""
    out = []
    for c in stats:
        same = [o for o in stats if setting(o) == setting(c)]
        if c != fastest([o for o in same if o.mode == c.mode], stats):
            continue
        for versus in modes.mode(c.mode).weighed_against:
            other = fastest([o for o in same if o.mode == versus.other], stats)
            if other is None or not comparable(c, other, stats):
                continue
            out.append((c.batch_size, finding(f"Batch {c.batch_size}{setting_note(c.precision, c.hidden)}, "
                                         f"{versus.changes}: ", compare(c, other, stats))))
    return [f for _, f in sorted(out, key=lambda t: t[0])]


def paradigm_square(stats):
    """Paradigm by framework: per setting and framework, the fastest mode of each paradigm and its
    steady epoch ("-" where none ran), as (header, rows); None where no framework ran both
    paradigms. The findings above it weigh the pairs one thing at a time."""
    paradigms = (modes.FUNCTIONAL, modes.OBJECT_ORIENTED)
    timed = [c for c in stats if stats[c].steady is not None]
    rows = []
    for same in group_by(timed, setting).values():
        cells = {(c.framework, p): fastest([o for o in same if o.framework == c.framework
                                            and modes.mode(o.mode).paradigm == p], stats)
                 for c in same for p in paradigms}
        if not any(all(cells[f, p] for p in paradigms) for f, _ in cells):
            continue
        c = same[0]
        for framework in dict.fromkeys(o.framework for o in same):
            shown = [cells[framework, p] for p in paradigms]
            rows.append([f"{c.batch_size}{setting_note(c.precision, c.hidden)}", modes.FRAMEWORKS[framework]]
                        + [f"{o.mode} {fmt_time(stats[o].steady)}" if o else "-" for o in shown])
    if not rows:
        return None
    return ["Batch Size", "Framework", "Functional (fastest mode)", "Object-oriented (fastest mode)"], rows


def unroll_findings(stats):
    """Scan's steady epoch per unroll, and the fastest against the least unrolled."""
    out = []
    scans = [c for c in stats if c.mode == "scan" and stats[c].steady is not None]
    for key in dict.fromkeys(setting(c) for c in scans):
        rows = sorted((c for c in scans if setting(c) == key), key=lambda c: c.unroll or 1)
        if len(rows) < 2 or not all(comparable(rows[0], c, stats) for c in rows):
            continue
        best, base = fastest(rows, stats), rows[0]
        text = (f"Batch {base.batch_size}{setting_note(base.precision, base.hidden)}, JAX scan by unroll: "
                + ", ".join(f"{c.unroll or 1}: {fmt_time(stats[c].steady)}" for c in rows)
                + " per steady epoch; ")
        if best == base:
            out.append(Finding(text + f"the least unrolled ({base.unroll or 1}) is the fastest."))
        else:
            out.append(finding(text, compare(best, base, stats)))
    return out


def precision_findings(stats):
    """TF32 against strict fp32 for every configuration that ran with both: speed and the
    final accuracy each reached."""
    out = []
    for c, s in stats.items():
        strict = c._replace(precision="highest")
        if c.precision != "tf32" or strict not in stats or not comparable(c, strict, stats):
            continue
        if s.steady is None or stats[strict].steady is None:
            continue
        out.append(finding(f"Batch {c.batch_size}, {label(strict)}, TF32 against strict fp32: ",
                           compare(c, strict, stats),
                           f" Final val accuracy {s.val_acc:.4f} with TF32, "
                           f"{stats[strict].val_acc:.4f} strict."))
    return out
