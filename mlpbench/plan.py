"""The controller's plan: every run of a benchmark, in the order it runs (docs/design.md,
"Controller")."""
import dataclasses
import itertools

from mlpbench import modes
from mlpbench.records import RunSpec


def variants(args, batch, input_, framework):
    """(mode, precision, unroll) of one framework to run at a batch size and input, in the
    order of the modes table."""
    return [(m, precision, unroll) for m in map(modes.mode, modes.names(framework))
            if m.name in args.modes and not (input_ == "loader" and m.device_input_only)
            and f"{m.name}@{batch}" not in args.exclude
            for precision in args.precision
            for unroll in (args.unroll or [None] if m.name == "scan" else [None])]


def plan(args):
    """Every run, in order. Seeds and repeats are outermost, so that drift on a shared machine
    spreads over every configuration alike; inside them the widths rotate (each group of runs
    starts one width later than the one before) and which framework, and which thread count, runs
    first alternates from group to group, so that drift looks like none of these effects.
    Warm-cache runs come after every cold run and every cache-filling run; a mode that
    compiles nothing runs once, cold, whatever --cache says."""
    caches = {"cold": ["cold"], "warm": ["warm"], "both": ["cold", "warm"]}[args.cache]
    cold, fills, warm, groups = [], {}, [], 0
    blocks = itertools.product(args.seeds, range(1, args.repeats + 1), args.batch_sizes, args.input)
    for block, (seed, repeat, batch, input_) in enumerate(blocks):
        turn = block % len(args.widths)
        for width in args.widths[turn:] + args.widths[:turn]:
            order = args.frameworks if groups % 2 == 0 else args.frameworks[::-1]
            threads = (args.threads or [None])[::1 if groups % 2 == 0 else -1]
            groups += 1
            for (m, precision, unroll), n in itertools.product(
                    (v for f in order for v in variants(args, batch, input_, f)), threads):
                spec = RunSpec(m.framework, m.name, batch, input_, "cold", seed, repeat, precision=precision,
                               unroll=unroll, hidden=(width, width), threads=n)
                if ("cold" in caches or not m.cacheable) and f"{m.name}@cold" not in args.exclude:
                    cold.append(spec)
                if "warm" in caches and m.cacheable and f"{m.name}@warm" not in args.exclude:
                    warm.append(dataclasses.replace(spec, cache="warm"))
                    fill = dataclasses.replace(spec, cache="warm", seed=args.seeds[0], repeat=0)
                    fills.setdefault(dataclasses.replace(fill, purpose="fill"), None)
    return arms(cold) + list(fills) + arms(warm) if args.aa else cold + list(fills) + warm


def arms(specs):
    """--aa: each run twice, as arm A and arm B, in the order A B, B A, A B ... by repeat, so
    that drift across the benchmark falls on both arms alike."""
    order = {True: ("A", "B"), False: ("B", "A")}
    return [dataclasses.replace(s, arm=arm) for s in specs for arm in order[s.repeat % 2 == 1]]
