"""Reading what the report builds (findings, figures, table rows, comparisons), and runs
fabricated for the speed, accuracy and width tests."""
from mlpbench import report
from mlpbench.formatting import label
from support.fabricate import make_meta, make_run


def summary(runs, **settings):
    return report.summary(runs, make_meta(**settings))


def findings(text, prefix):
    """The bullet lines that start with prefix (the '- ' taken off)."""
    return [line[2:] for line in text.splitlines() if line.startswith("- " + prefix)]


def figures(report_, key):
    """The figures of every finding that states `key`: what the tests check; the sentences that
    state them are fixed once, by the golden summary (tests/golden/summary.md)."""
    return [f.figures for s in report_["sections"] for f in s["findings"] if key in f.figures]


def row(text, batch, name, after="# JAX vs PyTorch"):
    """The cells of a table row, in the first table after the line that starts with `after`."""
    lines = text.splitlines()
    lines = lines[next(i for i, l in enumerate(lines) if l.startswith(after)):]
    line = next(l for l in lines if l.startswith(f"| {batch} | {name} |"))
    return [c.strip() for c in line.strip("|").split("|")]


def steady_runs(framework, mode, steadies, batch=64):
    return [make_run(framework, mode, batch=batch, repeat=i + 1, times=(2.0, s, s, s)[:4],
                     val_accs=(0.8, 0.85, 0.9, 0.9)) for i, s in enumerate(steadies)]


def speed_line(text, batch=64):
    """The finding that weighs the two frameworks at a batch size."""
    return next(f for f in findings(text, f"Batch {batch}: ") if " is faster" in f or "faster than" in f
                or "within noise" in f)


def built(runs, **settings):
    return report.build(runs, make_meta(**settings))


def weighs(report_, a, b):
    """The one comparison, among those the findings rendered, of the configurations labelled a and b."""
    found = {(c.fast, c.slow): c for c in report_["comparisons"] if {label(c.fast), label(c.slow)} == {a, b}}
    assert len(found) == 1, found
    return next(iter(found.values()))


def weighed(text):
    """The bullets of the section that weighs one thing at a time."""
    lines = text.splitlines()
    start = lines.index("## One thing at a time: paradigm, framework, compiling, settings") + 2
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("## "))
    return [line[2:] for line in lines[start:end] if line.startswith("- ")]


def seeded(framework, accs, batch=64):
    return [make_run(framework, "step" if framework == "jax" else "eager", batch=batch, seed=s,
                     val_accs=(0.5, 0.6, acc)) for s, acc in enumerate(accs)]


def accuracy(jax, torch, init="native"):
    """The accuracy verdict's figures over as many seeds as each list has values."""
    seeds = list(range(len(jax)))
    return figures(built(seeded("jax", jax) + seeded("pytorch", torch), init=init, seeds=seeds),
                   "jax_minus_pytorch")


WIDTHS = (128, 512, 2048)


def sweep_runs(step_s, repeats=3, batch=64, steps=100):
    """Made-up runs whose steady step time is step_s[(framework, width)] (s), with a spread."""
    runs = []
    for (framework, w), t in step_s.items():
        for r in range(repeats):
            # the two frameworks' spreads run opposite ways, so the ratios paired by repeat vary too
            spread = 0.01 * (r - (repeats - 1) / 2) * (1 if framework == "jax" else -1)
            steady = t * steps * (1 + spread)
            mode = "step" if framework == "jax" else "eager"
            runs.append(make_run(framework, mode, batch=batch, repeat=r + 1, hidden=(w, w), steps=steps,
                                 times=(steady + 1.0, steady, steady)))
    return runs
