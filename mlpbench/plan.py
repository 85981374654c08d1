"""The controller's plan: every run of a benchmark, in the order it runs (docs/design.md,
"Controller")."""
import dataclasses
import itertools

from mlpbench import modes
from mlpbench.records import RunSpec

# The modes in the order a group runs them: each framework's modes together (a run after the other
# framework's may carry something over, and within a framework that falls on neither side of a
# pair), the two frameworks' compiled functional steps, JAX step and PyTorch fullgraph, where the
# two meet, so the pairs weighed across frameworks sit close too.
RUN_ORDER = ("nojit", "nnx-split", "nnx", "scan", "step", "fullgraph", "fullgraph-cudagraph", "func",
             "compile", "eager", "cudagraph")


def variants(args, batch, input_):
    """(mode, precision, unroll) to run at a batch size and input, in RUN_ORDER."""
    return [(m, precision, unroll) for m in map(modes.mode, RUN_ORDER)
            if m.framework in args.frameworks and m.name in args.modes
            and not (input_ == "loader" and m.device_input_only)
            and (m.name, batch) not in args.exclude
            for precision in args.precision
            for unroll in (args.unroll or [None] if m.name == "scan" else [None])]


def block_runs(args, seed, repeat):
    """Every cold-cache run (a RunSpec) of one seed and repeat. The nesting, outermost first:
    batch size, input and width make a group; inside a group, mode (RUN_ORDER, across the two
    frameworks), precision, unroll, thread count and arm. Configurations that differ in one thing
    only, the pairs the summary weighs, sit as close together as these loops allow. Every other
    group runs backwards (a serpentine), so that consecutive groups meet on one configuration: the
    run that opens a group follows a run of its own framework as often as the run beside it does."""
    groups = itertools.product(args.batch_sizes, args.input, args.widths)
    for g, (batch, input_, width) in enumerate(groups):
        group = [RunSpec(m.framework, m.name, batch, input_, "cold", seed, repeat, precision=precision,
                         unroll=unroll, hidden=(width, width), threads=n, arm=arm)
                 for (m, precision, unroll), n, arm in itertools.product(
                     variants(args, batch, input_), args.threads or [None],
                     [a.name for a in args.arms] or [None])]
        yield from (group if g % 2 == 0 else group[::-1])


def plan(args):
    """Every run, in order. Seeds and repeats are outermost: each (seed, repeat) is a block that
    runs every configuration once, so drift on a shared machine spreads over all of them alike and
    a comparison can pair two configurations' runs by block. Inside a block the runs follow
    block_runs' order, and every other block runs it backwards, so that for any two
    configurations each runs first in half the blocks (within one): drift and any carry-over from
    the run before fall on both sides alike instead of on the one that always runs second.
    Warm-cache runs come after every cold run and every cache-filling run (one per configuration),
    in blocks of their own reversed the same way; a mode that compiles nothing runs once, cold,
    whatever --cache says."""
    caches = {"cold": ["cold"], "warm": ["warm"], "both": ["cold", "warm"]}[args.cache]
    cold, fills, warm = [], {}, []
    for block, (seed, repeat) in enumerate(itertools.product(args.seeds, range(1, args.repeats + 1))):
        block_cold, block_warm = [], []
        for spec in block_runs(args, seed, repeat):
            m = modes.mode(spec.mode)
            if ("cold" in caches or not m.cacheable) and (m.name, "cold") not in args.exclude:
                block_cold.append(spec)
            if "warm" in caches and m.cacheable and (m.name, "warm") not in args.exclude:
                block_warm.append(dataclasses.replace(spec, cache="warm"))
                fill = dataclasses.replace(spec, cache="warm", seed=args.seeds[0], repeat=0, arm=None)
                fills.setdefault(dataclasses.replace(fill, purpose="fill"), None)
        order = 1 if block % 2 == 0 else -1
        cold += block_cold[::order]
        warm += block_warm[::order]
    return cold + list(fills) + warm
