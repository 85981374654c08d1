"""summary.json against its documented schema (docs/design.md, "summary.json") and against the CSV
it was computed from; a results folder rebuilt with `--from`; an A/A benchmark with `--aa`. Real
controller runs over the fake trainer (tests/support/fake_trainer.py): every process times differently."""
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sps

import compare_results
from mlpbench import model, options, plan, report, results
from mlpbench.comparison import judge
from support.csv_reading import read_csv, steadies_by_block
from support.fabricate import golden_meta, golden_scenario, make_run
from support.goldens import GOLDEN
from support.helpers import use_fake_trainers
from support.summary_schema import validate


def interval_from_csv(slow, fast):
    """scipy's 95% interval of slow over fast ({block: steady} each): paired by repeat where two
    blocks or more hold both, Welch's otherwise."""
    shared = [b for b in slow if b in fast]
    if len(shared) >= 2:
        ci = sps.ttest_rel(np.log([slow[b] for b in shared]), np.log([fast[b] for b in shared]))
    else:
        ci = sps.ttest_ind(np.log(list(slow.values())), np.log(list(fast.values())), equal_var=False)
    ci = ci.confidence_interval(0.95)
    return [math.exp(ci.low), math.exp(ci.high)]


def key_of(config):
    return (config["framework"], config["mode"], config["batch_size"], config["hidden"][0], config["arm"])


@pytest.fixture(scope="module")
def sweep_once(tmp_path_factory):
    """Four modes at two widths, two runs each: more than the default pair, more than one model."""
    folder = tmp_path_factory.mktemp("sweep")
    with pytest.MonkeyPatch.context() as monkeypatch:
        use_fake_trainers(folder, monkeypatch)
        assert compare_results.main(["--repeats", "1",
                                     "--batch-sizes", "100", "--epochs", "4", "--widths", "64", "256",
                                     "--modes", "step", "scan", "eager", "func", "--repeats", "2",
                                     "--out-dir", str(folder / "out")]) == 0
    return folder / "out"


@pytest.fixture
def sweep(sweep_once, tmp_path):
    """A copy of the module's sweep folder, for a test that rewrites it."""
    return Path(shutil.copytree(sweep_once, tmp_path / "sweep"))


def test_summary_json_follows_its_schema_and_every_figure_follows_from_the_csv(sweep):
    summary = json.loads((sweep / "summary.json").read_text())
    validate(summary)
    by_block = steadies_by_block(read_csv(sweep / "benchmark_results.csv"))
    steadies = {k: list(v.values()) for k, v in by_block.items()}
    meta = json.loads((sweep / "run_meta.json").read_text())
    steps = {r["mode"]: r["start_record"]["steps_per_epoch"] for r in meta["runs"]}
    assert len(summary["configurations"]) == 8
    for c in summary["configurations"]:  # each configuration's own runs and its own model's FLOPs
        mine = steadies[key_of(c)]
        assert sorted(c["steadies"]) == pytest.approx(sorted(mine))
        flops = model.flops_per_sample(model.layer_sizes(tuple(c["hidden"])))
        assert c["flops_per_sample"] == flops
        assert c["steady"] == pytest.approx(sps.gmean(mine))
        assert c["gflops"] == pytest.approx(steps[c["mode"]] * 100 / sps.gmean(mine) * flops / 1e9)
    assert summary["comparisons"], "the findings weighed nothing"
    products = {(p["framework"], p["batch_size"], tuple(p["hidden"])): p["products_s"]
                for p in meta["products"]}

    def blocks(config, measure):
        """{block: each run's steady epoch}, or for "rest of a step" its steady step less the products."""
        runs = by_block[key_of(config)]
        if measure == "steady epoch":
            return runs
        products_s = products[(config["framework"], config["batch_size"], tuple(config["hidden"]))]
        return {b: t / steps[config["mode"]] - products_s for b, t in runs.items()}
    assert {c["measure"] for c in summary["comparisons"]} == {"steady epoch", "rest of a step"}
    for c in summary["comparisons"] + [cell["comparison"] for name in ("cells", "fastest_cells")
                                       for cell in summary["sweep"][name]]:
        slow_blocks, fast_blocks = (blocks(c[side], c["measure"]) for side in ("slow_config", "fast_config"))
        slow, fast = list(slow_blocks.values()), list(fast_blocks.values())
        assert c["ratio"] == pytest.approx(sps.gmean(slow) / sps.gmean(fast))
        assert c["interval"] == pytest.approx(interval_from_csv(slow_blocks, fast_blocks))
        assert c["pairs"] == 2 and c["verdict"] == judge(slow, fast, list(slow_blocks), list(fast_blocks))[1]
    for width in (64, 256):  # the map's cells: this width's default pair, and this width's fastest modes
        [cell] = [c for c in summary["sweep"]["cells"] if c["width"] == width]
        jax = steadies[("jax", "step", 100, width, None)]
        torch = steadies[("pytorch", "eager", 100, width, None)]
        assert (cell["jax_mode"], cell["pytorch_mode"]) == ("step", "eager")
        assert cell["pytorch_over_jax"] == pytest.approx(sps.gmean(torch) / sps.gmean(jax))
        interval = interval_from_csv(by_block[("pytorch", "eager", 100, width, None)],
                                     by_block[("jax", "step", 100, width, None)])
        assert cell["pytorch_over_jax_interval"] == pytest.approx(interval)
        [cell] = [c for c in summary["sweep"]["fastest_cells"] if c["width"] == width]
        best = {f: min((m for fw, m, _, w, _ in steadies if fw == f and w == width),
                       key=lambda m, f=f: sps.gmean(steadies[(f, m, 100, width, None)]))
                for f in ("jax", "pytorch")}
        assert (cell["jax_mode"], cell["pytorch_mode"]) == (best["jax"], best["pytorch"])
        for side in (cell["comparison"]["fast_config"], cell["comparison"]["slow_config"]):
            assert side["hidden"] == [width, width] and side["batch_size"] == 100


def test_from_rebuilds_a_folders_outputs_with_todays_code(sweep, fake_trainers, tmp_path, capsys):
    before = {name: (sweep / name).read_text() for name in ("summary.md", "summary.json")}
    rebuilt = tmp_path / "rebuilt"
    assert compare_results.main(["--from", str(sweep), "--out-dir", str(rebuilt)]) == 0
    for name, text in before.items():
        assert (rebuilt / name).read_text() == text, name
    assert (rebuilt / "size_map.png").stat().st_size > 20_000
    # without --out-dir, in place
    (sweep / "summary.md").write_text("stale")
    assert compare_results.main(["--from", str(sweep)]) == 0
    assert (sweep / "summary.md").read_text() == before["summary.md"]
    assert before["summary.md"] in capsys.readouterr().out
    # the default modes at two widths: one framework's runs of two widths follow each other
    out = tmp_path / "widths"
    assert compare_results.main(["--repeats", "1",
                                 "--batch-sizes", "100", "--epochs", "3", "--widths", "64", "256",
                                 "--out-dir", str(out)]) == 0
    meta = json.loads((out / "run_meta.json").read_text())
    order = [(r["framework"], r["hidden"][0]) for r in meta["runs"]]
    assert order == [("jax", 64), ("pytorch", 64), ("pytorch", 256), ("jax", 256)]
    text = (out / "summary.json").read_text()
    assert compare_results.main(["--from", str(out), "--out-dir", str(tmp_path / "widths-again")]) == 0
    assert (tmp_path / "widths-again" / "summary.json").read_text() == text


@pytest.mark.parametrize("damage, message", [
    (lambda d: (d / "run_meta.json").unlink(), "has no run_meta.json: not a results folder"),
    (lambda d: (d / "benchmark_results.csv").unlink(), "has no benchmark_results.csv"),
    (lambda d: (d / "run_meta.json").write_text('{"runs": []}'), "schema version None, this code reads 2"),
    (lambda d: (d / "run_meta.json").write_text("{not json"), "cannot read its results"),
])
def test_from_a_folder_it_cannot_read_is_one_line_and_exit_2(sweep, tmp_path, capsys, damage, message):
    out = sweep
    damage(out)
    with pytest.raises(SystemExit) as stop:
        compare_results.main(["--from", str(out)])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and message in err and len(err.strip().splitlines()) == 1
    with pytest.raises(SystemExit) as stop:
        compare_results.main(["--from", str(tmp_path / "missing")])
    assert stop.value.code == 2 and "no such folder" in capsys.readouterr().err
    assert not (tmp_path / "missing").exists()


def test_a_golden_runs_summary_is_rebuilt_from_its_written_files(tmp_path):
    """The golden scenario written as the controller writes it, read back: the same summary."""
    runs = golden_scenario()
    results.write_csv(tmp_path / "benchmark_results.csv", runs)
    results.write_meta(tmp_path / "run_meta.json", golden_meta(), runs)
    back, back_meta = results.read_results(tmp_path)

    def known(records):  # a field the CSV has a column for reads back as None where a record lacked it
        return [{k: v for k, v in r.items() if v is not None} for r in records]
    assert [known(r.records) for r in back] == [known(r.records) for r in runs]
    assert [(r.spec, r.error, r.other_cores) for r in back] == [(r.spec, r.error, r.other_cores)
                                                                for r in runs]
    assert report.summary(back, back_meta) == (GOLDEN / "summary.md").read_text()


def test_aa_runs_one_configuration_as_two_arms_abba_and_weighs_them(fake_trainers):
    args = options.parse_args(["--aa", "--modes", "step", "--batch-sizes", "100", "--repeats", "3",
                                       "--out-dir", str(fake_trainers / "plan")])
    assert args.frameworks == ["jax"]
    assert [(s.arm, s.repeat) for s in plan.plan(args)] == [
        ("A", 1), ("B", 1), ("B", 2), ("A", 2), ("A", 3), ("B", 3)]
    out = fake_trainers / "out"
    assert compare_results.main(["--aa", "--modes", "eager", "--batch-sizes", "100", "--epochs", "3",
                                 "--repeats", "3", "--out-dir", str(out)]) == 0
    rows = read_csv(out / "benchmark_results.csv")
    assert {(r["framework"], r["arm"]) for r in rows} == {("pytorch", "A"), ("pytorch", "B")}
    summary = json.loads((out / "summary.json").read_text())
    validate(summary)
    [section] = [s for s in summary["sections"] if s["id"] == "aa"]
    [[c]] = [f["comparisons"] for f in section["findings"]]
    by_block = steadies_by_block(rows)
    a, b = by_block[("pytorch", "eager", 100, 512, "A")], by_block[("pytorch", "eager", 100, 512, "B")]
    slow, fast = (a, b) if sps.gmean(list(a.values())) >= sps.gmean(list(b.values())) else (b, a)
    estimate, verdict = judge(list(slow.values()), list(fast.values()), list(slow), list(fast))
    assert c["ratio"] == pytest.approx(estimate.ratio)
    assert c["interval"] == pytest.approx(interval_from_csv(slow, fast)) and c["pairs"] == 3
    assert c["ratio_that_excludes_1"] == pytest.approx(estimate.ratio_that_excludes_1())
    assert c["detectable_ratio"] == pytest.approx(estimate.detectable_ratio())
    text = section["findings"][0]["text"]
    assert (f"this machine would call a true {estimate.detectable_ratio():.2f}x faster 80% of the time "
            f"(critical ratio, where the interval just excludes 1: {estimate.ratio_that_excludes_1():.3f}x)"
            in text)
    # the fake trainer's runs differ by up to 2x: with 3 runs a side that is rarely a verdict, and
    # whatever it is, it is the one the CSV gives
    assert c["verdict"] == verdict


def test_a_value_given_twice_plans_no_run_twice(tmp_path):
    args = options.parse_args(["--batch-sizes", "100", "100", "--precision", "highest", "highest",
                                       "--widths", "64", "64", "--repeats", "1", "--out-dir", str(tmp_path)])
    specs = plan.plan(args)
    assert len(specs) == len(set(specs)) == 2


def test_from_refuses_rows_it_cannot_tell_apart(tmp_path):
    """Two runs with one key, one after the other, cannot be rebuilt: said, not guessed."""
    runs = [make_run("jax", "step"), make_run("jax", "step", times=(3.0, 2.0, 2.0))]
    results.write_csv(tmp_path / "benchmark_results.csv", runs)
    results.write_meta(tmp_path / "run_meta.json", golden_meta(), runs)
    with pytest.raises(results.ResultsError,
                       match="more epoch rows than run JAX step, batch 64, seed 0, repeat 1"):
        results.read_results(tmp_path)


@pytest.mark.parametrize("flags", [["--aa"], ["--aa", "--modes", "step", "eager"],
                                   ["--aa", "--modes", "all"]])
def test_aa_wants_one_mode(flags, tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        options.parse_args([*flags, "--out-dir", str(tmp_path)])
    assert stop.value.code == 2 and "--aa runs one configuration as two arms" in capsys.readouterr().err
