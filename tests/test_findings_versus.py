"""One thing at a time: pairs of modes, scan's unroll, TF32."""

import pytest
from scipy import stats as sps

from mlpbench import report
from mlpbench.comparison import FASTER, NOT_ENOUGH
from mlpbench.formatting import fmt_time, label
from support.fabricate import make_run
from support.summaries import built, figures, summary, weighed, weighs


def test_each_pair_weighs_the_one_thing_the_modes_table_says_it_changes():
    runs = [make_run("pytorch", "eager", times=(2.0, 1.0, 1.0)),
            make_run("pytorch", "func", times=(2.0, 1.5, 1.5)),
            make_run("jax", "nojit", times=(20.0, 18.0, 18.0)),
            make_run("jax", "step", times=(2.0, 0.6, 0.6)),
            make_run("jax", "scan", times=(2.0, 0.4, 0.4)),
            make_run("pytorch", "compile", times=(25.0, 0.9, 0.9)),
            make_run("pytorch", "fullgraph", times=(30.0, 0.5, 0.5)),
            make_run("jax", "nnx", times=(3.0, 0.75, 0.75)),
            make_run("jax", "nnx-split", times=(2.5, 0.625, 0.625))]
    b = built(runs)
    lines = weighed(report.render(b))
    section = next(s for s in b["sections"] if s["id"] == "versus")
    pairs = {(f.text.split(":")[0], label(c.fast), label(c.slow)): round(c.ratio, 4)
             for f in section["findings"] for c in f.comparisons}
    assert pairs == {
        ("Batch 64, paradigm (both eager PyTorch)", "PyTorch eager", "PyTorch func"): 1.5,
        ("Batch 64, framework (both functional, uncompiled)", "PyTorch func", "JAX nojit"): 12.0,
        ("Batch 64, framework (both functional, compiled)", "PyTorch fullgraph", "JAX step"): 1.2,
        ("Batch 64, framework (both functional, compiled)", "JAX scan", "PyTorch fullgraph"): 1.25,
        ("Batch 64, what torch.compile buys (functional PyTorch)", "PyTorch fullgraph", "PyTorch func"): 3.0,
        ("Batch 64, one graph against one that Dynamo breaks (compiled PyTorch)", "PyTorch fullgraph",
         "PyTorch compile"): 1.8,
        ("Batch 64, what torch.compile buys (object-oriented PyTorch)", "PyTorch compile", "PyTorch eager"):
            round(1 / 0.9, 4),
        ("Batch 64, what jax.jit buys (functional JAX)", "JAX step", "JAX nojit"): 30.0,
        ("Batch 64, what jax.jit buys (functional JAX)", "JAX scan", "JAX nojit"): 45.0,
        ("Batch 64, a whole epoch in one call (compiled JAX)", "JAX scan", "JAX step"): 1.5,
        # the paradigm square's JAX half (Flax NNX)
        ("Batch 64, paradigm (both compiled JAX)", "JAX step", "JAX nnx"): 1.25,
        ("Batch 64, framework (both object-oriented, compiled)", "JAX nnx", "PyTorch compile"): 1.2,
        ("Batch 64, what NNX's object bookkeeping costs per step (Flax NNX)", "JAX nnx-split", "JAX nnx"):
            1.2}
    # the paradigm square: each framework's fastest functional and object-oriented mode
    assert section["table"] == (["Batch Size", "Framework", "Functional (fastest mode)",
                                 "Object-oriented (fastest mode)"],
                                [["64", "JAX", "scan 400.0 ms", "nnx-split 625.0 ms"],
                                 ["64", "PyTorch", "fullgraph 500.0 ms", "compile 900.0 ms"]])
    # single runs: every one of them is "not enough evidence", and none says "faster than"
    assert {c.verdict for f in section["findings"] for c in f.comparisons} == {NOT_ENOUGH}
    assert not any("faster than" in line for line in lines)
    # every pair the table names, once, and nothing else: 2 func, 4 fullgraph, 1 compile, 1 step, 2 scan,
    # 2 nnx, 1 nnx-split
    assert len(lines) == 13
    # the break-even of what compiling buys stays in the JIT section
    assert [(f["against"], f["outcome"]) for f in figures(b, "outcome")
            if f["configuration"] == "PyTorch fullgraph"] == [("PyTorch func", "breaks even")]


def test_unroll_sweep_names_the_fastest_with_its_interval():
    steadies = {1: [0.80, 0.82, 0.79], 4: [0.50, 0.52, 0.51], 8: [0.40, 0.41, 0.39], 16: [0.45, 0.44, 0.46]}
    runs = [make_run("jax", "scan", unroll=u, repeat=i + 1, times=(2.0, s, s)) for u, ss in steadies.items()
            for i, s in enumerate(ss)]
    runs += [make_run("pytorch", "eager", times=(2.0, 1.0, 1.0))]
    b = built(runs, repeats=3)
    line = next(l for l in weighed(report.render(b)) if "by unroll" in l)
    per_unroll = ", ".join(f"{u}: {fmt_time(sps.gmean(ss))}" for u, ss in steadies.items())
    assert line.startswith(f"Batch 64, JAX scan by unroll: {per_unroll} per steady epoch; "
                           "JAX scan (unroll 8) is ")
    c = weighs(b, "JAX scan (unroll 8)", "JAX scan")
    assert label(c.fast) == "JAX scan (unroll 8)" and c.verdict == FASTER
    assert 1 < c.interval[0] <= c.ratio <= c.interval[1]
    assert c.ratio == pytest.approx(sps.gmean(steadies[1]) / sps.gmean(steadies[8]))
    assert "| 64 | JAX scan (unroll 8) |" in summary(runs, repeats=3)


def test_tf32_is_weighed_against_strict_fp32_and_never_against_the_other_framework_at_another_precision():
    runs = [make_run("jax", "scan", times=(2.0, 0.8, 0.8), val_accs=(0.8, 0.85, 0.9)),
            make_run("jax", "scan", precision="tf32", times=(2.0, 0.5, 0.5), val_accs=(0.8, 0.85, 0.8991)),
            make_run("pytorch", "eager", times=(2.0, 1.0, 1.0)),
            make_run("pytorch", "eager", precision="tf32", times=(2.0, 0.9, 0.9))]
    b = built(runs, precision=["highest", "tf32"])
    text = report.render(b)
    [line] = [l for l in weighed(text) if l.startswith("Batch 64, JAX scan, TF32 against strict fp32: ")]
    assert line.endswith(" Final val accuracy 0.8991 with TF32, 0.9000 strict.")
    assert weighs(b, "JAX scan (tf32)", "JAX scan").ratio == 1.6
    # the frameworks at the same precision only: two comparisons, never across precisions
    speed = [(label(c.fast), label(c.slow), round(c.ratio, 4)) for f in b["sections"][0]["findings"]
             for c in f.comparisons]
    assert speed == [("JAX scan", "PyTorch eager", 1.25), ("JAX scan (tf32)", "PyTorch eager (tf32)", 1.8)]
    assert "`--precision highest tf32`" in text
