"""The order of a benchmark's runs (docs/design.md, "Controller"; docs/method.md, "The speed
verdict"): blocks of one seed and repeat, each running every configuration once, every other block
backwards, so that for any two configurations each runs first in half the blocks (within one),
and the two sides of each comparison the summary makes side by side."""
import itertools

import pytest

from mlpbench import options, plan
from mlpbench.aggregate import Config


def plan_of(tmp_path, *flags):
    return plan.plan(options.parse_args([*flags, "--out-dir", str(tmp_path)]))


def key(spec):
    return Config(spec.batch_size, spec.framework, spec.mode, spec.input, spec.cache, spec.precision,
                  spec.unroll, tuple(spec.hidden), spec.arm, spec.threads)


def blocks(specs):
    """{(seed, repeat): [configuration, ...] in run order} of the timed cold runs."""
    out = {}
    for s in specs:
        if s.purpose == "timed" and s.cache == "cold":
            out.setdefault((s.seed, s.repeat), []).append(key(s))
    return out


PLANS = {
    "default": (),
    "all modes, two batch sizes": ("--modes", "all", "--batch-sizes", "64", "1024", "--repeats", "4"),
    "device and loader": ("--input", "device", "loader", "--batch-sizes", "64", "1024"),
    "two thread counts": ("--threads", "1", "2", "--batch-sizes", "64", "1024", "--repeats", "2"),
    "widths": ("--widths", "128", "512", "2048", "--batch-sizes", "64", "256", "--repeats", "5"),
    "two seeds, A/A": ("--aa", "--modes", "step", "--seeds", "0", "1", "--repeats", "1"),
    "three arms": ("--arm", "a", "--arm", "b:OMP_NUM_THREADS=1", "--arm", "c:OMP_NUM_THREADS=2",
                   "--repeats", "4"),
}


@pytest.mark.parametrize("name", PLANS)
def test_each_of_two_configurations_runs_first_in_half_the_blocks(name, tmp_path):
    by_block = blocks(plan_of(tmp_path, *PLANS[name]))
    orders = list(by_block.values())
    assert len(orders) >= 2 and all(sorted(o, key=str) == sorted(orders[0], key=str) for o in orders), \
        "every block runs every configuration once"
    for a, b in itertools.combinations(orders[0], 2):
        first = sum(o.index(a) < o.index(b) for o in orders)
        assert abs(first - (len(orders) - first)) <= 1, (name, a, b, first, len(orders))


def test_the_default_run_has_each_comparison_side_by_side_and_meets_on_one_framework(tmp_path):
    specs = plan_of(tmp_path)
    order = [(s.framework, s.batch_size, s.repeat) for s in specs]
    assert order == [("jax", 64, 1), ("pytorch", 64, 1), ("pytorch", 256, 1), ("jax", 256, 1),
                     ("jax", 1024, 1), ("pytorch", 1024, 1),
                     ("pytorch", 1024, 2), ("jax", 1024, 2), ("jax", 256, 2), ("pytorch", 256, 2),
                     ("pytorch", 64, 2), ("jax", 64, 2),
                     ("jax", 64, 3), ("pytorch", 64, 3), ("pytorch", 256, 3), ("jax", 256, 3),
                     ("jax", 1024, 3), ("pytorch", 1024, 3)]


@pytest.mark.parametrize("flags, field", [
    (("--threads", "1", "2", "--batch-sizes", "64"), "threads"),
    (("--aa", "--modes", "eager", "--batch-sizes", "64", "1024"), "arm"),
    (("--precision", "highest", "tf32", "--modes", "step", "eager", "--batch-sizes", "64"), "precision")])
def test_configurations_that_differ_in_one_thing_run_next_to_each_other(flags, field, tmp_path):
    """Thread counts, arms and precisions innermost: the two runs of such a pair are neighbours."""
    specs = [s for s in plan_of(tmp_path, *flags) if s.purpose == "timed"]
    for i, s in enumerate(specs):
        partners = [j for j, o in enumerate(specs) if (o.seed, o.repeat) == (s.seed, s.repeat) and o != s
                    and key(o)._replace(**{field: getattr(s, field)}) == key(s)]
        assert partners and min(abs(i - j) for j in partners) == 1, (field, s)


def test_warm_runs_follow_every_cold_run_and_fill_and_are_balanced_too(tmp_path):
    specs = plan_of(tmp_path, "--modes", "step", "scan", "--frameworks", "jax", "--batch-sizes", "64",
                    "--cache", "both", "--repeats", "2")
    kinds = [(s.cache, s.purpose) for s in specs]
    last_cold = max(i for i, k in enumerate(kinds) if k == ("cold", "timed"))
    fills = [i for i, k in enumerate(kinds) if k[1] == "fill"]
    warm = [i for i, k in enumerate(kinds) if k == ("warm", "timed")]
    assert last_cold < min(fills) and max(fills) < min(warm)
    assert [(s.mode, s.repeat) for s in specs if s.cache == "warm" and s.purpose == "timed"] == [
        ("scan", 1), ("step", 1), ("step", 2), ("scan", 2)]


def test_the_run_order_holds_every_mode_once_each_framework_together():
    from mlpbench import modes
    from mlpbench.plan import RUN_ORDER
    assert sorted(RUN_ORDER) == sorted(modes.MODES)
    frameworks = [modes.mode(m).framework for m in RUN_ORDER]
    assert frameworks == sorted(frameworks)  # one switch of framework per group
    assert RUN_ORDER.index("fullgraph") - RUN_ORDER.index("step") == 1
