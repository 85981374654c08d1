"""Findings that weigh one thing at a time: every pair of modes that the modes table weighs
(paradigm against framework, what compiling or a CUDA graph buys), the sweep of scan's unroll,
and TF32 against strict fp32 (docs/design.md, "Statistics and findings")."""
from mlpbench import modes
from mlpbench.findings import comparable, setting_note, speed_sentence
from mlpbench.formatting import fmt_time, label


def setting(c):
    """What two configurations must share to be weighed against each other."""
    return c.batch, c.input, c.cache, c.precision, c.hidden


def fastest(configs, stats):
    timed = [c for c in configs if stats[c].steady is not None]
    return min(timed, key=lambda c: stats[c].steady) if timed else None


def versus_findings(stats):
    """Each mode against each mode it is weighed against (modes.Versus), at the same batch
    size, input, cache and precision; where a mode ran with several unrolls (scan), its
    fastest one stands for it."""
    out = []
    for c in stats:
        same = [o for o in stats if setting(o) == setting(c)]
        if c != fastest([o for o in same if o.mode == c.mode], stats):
            continue
        for versus in modes.mode(c.mode).weighed_against:
            other = fastest([o for o in same if o.mode == versus.other], stats)
            if other is None or not comparable(c, other, stats):
                continue
            fast, slow = sorted((c, other), key=lambda k: stats[k].steady)
            out.append((c.batch, f"Batch {c.batch}{setting_note(c.precision, c.hidden)}, {versus.changes}: "
                        + speed_sentence(fast, slow, stats)))
    return [text for _, text in sorted(out, key=lambda t: t[0])]


def unroll_findings(stats):
    """Scan's steady epoch per unroll, and the fastest against the least unrolled."""
    out = []
    scans = [c for c in stats if c.mode == "scan" and stats[c].steady is not None]
    for key in dict.fromkeys(setting(c) for c in scans):
        rows = sorted((c for c in scans if setting(c) == key), key=lambda c: c.unroll or 1)
        if len(rows) < 2:
            continue
        best, base = fastest(rows, stats), rows[0]
        text = (f"Batch {key[0]}{setting_note(key[3], key[4])}, JAX scan by unroll: "
                + ", ".join(f"{c.unroll or 1}: {fmt_time(stats[c].steady)}" for c in rows)
                + " per steady epoch; ")
        if best == base:
            text += f"the least unrolled ({base.unroll or 1}) is the fastest."
        else:
            text += speed_sentence(best, base, stats)
        out.append(text)
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
        fast, slow = sorted((c, strict), key=lambda k: stats[k].steady)
        out.append(f"Batch {c.batch}, {label(strict)}, TF32 against strict fp32: "
                   + speed_sentence(fast, slow, stats)[:-1]
                   + f"; final val accuracy {s.val_acc:.4f} with TF32, {stats[strict].val_acc:.4f} strict.")
    return out
