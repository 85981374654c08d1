"""The section "arms": each configuration under each arm (--arm) against itself under the first
arm, and what the arms' runs recorded differently: interpreter, versions, the GEMM path each
framework's matrix products took, and the environment."""
from mlpbench.comparison import comparable, compare
from mlpbench.findings import Finding, finding
from mlpbench.formatting import label, setting_note
from mlpbench.modes import FRAMEWORKS

# What the start records say of an arm, per framework: the facts that make it another environment.
FACTS = (("framework_version", "version"), ("python_version", "Python"), ("gemm_path", "GEMM path"),
         ("flax_version", "Flax"))


def arm_names(meta):
    """The arms in the order --arm gave them (the first is what the others are weighed against);
    [] for a benchmark without named arms (--aa's A and B have their own section)."""
    if meta["settings"].get("aa"):
        return []
    return [a["name"] for a in meta.get("arms") or []]


def arm_findings(stats, names):
    out = []
    if len(names) < 2:
        return out
    base = names[0]
    for c in stats:
        b = c._replace(arm=base)
        if c.arm in (None, base) or b not in stats or stats[c].steady is None or stats[b].steady is None \
                or not comparable(c, b, stats):
            continue
        out.append(finding(f"Batch {c.batch_size}{setting_note(c.precision, c.hidden)}, "
                           f"{label(c._replace(arm=None))}, arm {c.arm} against arm {base}: ",
                           compare(c, b, stats)))
    return out


def recorded(runs, names):
    """{arm: {framework or "env": {fact: sorted values}}} from the runs' start records; the
    environment variables under "env", whichever framework's runs recorded them."""
    out = {}
    for r in runs:
        if r.start and r.spec.arm in names:
            mine = out.setdefault(r.spec.arm, {})
            facts = mine.setdefault(r.spec.framework, {})
            for key, _ in FACTS:
                if r.start.get(key):
                    facts.setdefault(key, set()).add(str(r.start[key]))
            for var, value in (r.start.get("env") or {}).items():
                mine.setdefault("env", {}).setdefault(var, set()).add(value)
    return {a: {f: {k: sorted(v) for k, v in facts.items()} for f, facts in by_f.items()}
            for a, by_f in out.items()}


def difference_findings(runs, names):
    """One sentence per arm: each fact its runs recorded that differs from another arm's."""
    facts = recorded(runs, names)
    if len(facts) < 2:
        return []
    out, named = [], dict(FACTS)
    for arm in names:
        mine, others = facts.get(arm, {}), [facts[o] for o in facts if o != arm]
        parts = []
        for group in dict.fromkeys([*mine, *(g for o in others for g in o)]):
            keys = dict.fromkeys([*mine.get(group, {}), *(k for o in others for k in o.get(group, {}))])
            for k in keys:
                value = mine.get(group, {}).get(k)
                if all(o.get(group, {}).get(k) == value for o in others):
                    continue
                if group == "env":
                    parts.append(f"{k}={', '.join(value)}" if value else f"{k} not set")
                elif value:
                    parts.append(f"{FRAMEWORKS[group]} {named.get(k, k)} {', '.join(value)}")
        out.append(Finding(f"Arm {arm}: " + ("; ".join(parts) or "nothing recorded differs") + ".",
                           figures={"arm": arm, "recorded": mine}))
    return out
