"""`--compare OLD NEW` on real controller folders (over the fake trainer, whose every process times
differently), and `--threads` as an axis: planned, passed on, refused beyond the cores, recorded."""

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sps

import compare_results
from mlpbench import cli, compare_folders, options, plan, report
from mlpbench.comparison import SESSION_ALLOWANCE, verdict_of
from mlpbench.formatting import label
from mlpbench.inference import ACROSS, across_log_ratio
from mlpbench.machine import schedulable_cpus
from support.csv_reading import read_csv, steadies_from_csv
from support.fabricate import make_meta, make_run
from support.helpers import run_main, skip_plots, use_fake_trainers


def benchmark(out, *flags):
    assert (
        compare_results.main(
            ["--batch-sizes", "100", "200", "--epochs", "4", "--repeats", "3", *flags, "--out-dir", str(out)]
        )
        == 0
    )
    return out


FOLDERS = {  # name: the controller's flags, over the fake trainer
    "one": ("--threads", "1"),
    "two": ("--threads", "2", "--modes", "step", "eager", "func"),  # a mode "one" lacks
    "a/results": (),
    "b/results": (),  # the same command again, in a folder of the same name
    "large": ("--batch-sizes", "300", "400"),
    "sweep": ("--threads", "1", "2"),
    "jax": ("--frameworks", "jax"),
    "torch": ("--frameworks", "pytorch"),
}


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """Every folder these tests compare, made once; a test that changes one changes a copy."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        root = use_fake_trainers(tmp_path_factory.mktemp("saved"), monkeypatch)
        skip_plots(monkeypatch)
        return {name: benchmark(root / name, *flags) for name, flags in FOLDERS.items()}


def copy_of(folder, tmp_path):
    return Path(shutil.copytree(folder, tmp_path / folder.name))


@pytest.fixture
def two_folders(folders, tmp_path):
    """One thread against two, the second folder with a mode the first lacks."""
    return copy_of(folders["one"], tmp_path), copy_of(folders["two"], tmp_path)


def test_compare_weighs_each_matched_configuration_after_what_differs(two_folders, tmp_path, capsys):
    old, new = two_folders
    out = tmp_path / "cmp"
    assert compare_results.main(["--compare", str(old), str(new), "--out-dir", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed == (out / "compare.md").read_text()
    assert ("The two folders are two sessions" in printed
            and f"a log-SD of {100 * SESSION_ALLOWANCE:.1f}% per session" in printed and "`--arm`" in printed)
    result = json.loads((out / "compare.json").read_text())
    assert (result["old"], result["new"], result["different_machines"]) == ("one", "two", False)
    # batch and framework vary within the folders, and so the mode does in the second; threads is
    # constant in each but differs: a setting, listed, not a key
    assert result["matched_on"] == ["batch_size", "framework", "mode"]
    settings = {s["name"]: (s["old"], s["new"]) for s in result["settings"]}
    assert settings["threads"] == (1, 2)
    assert settings["JAX threads"] == ([1], [2]) and settings["PyTorch threads"] == ([1], [2])
    # what code reads: whose fact it is, and which (the name is compare.md's)
    facts = {(s["framework"], s["fact"]) for s in result["settings"]}
    assert {("jax", "threads"), ("pytorch", "threads"), (None, "threads")} <= facts
    assert "cpu" not in settings and "epochs" not in settings
    assert "- threads: 1 in one, 2 in two" in printed
    old_steadies, new_steadies = (
        steadies_from_csv(read_csv(d / "benchmark_results.csv")) for d in (old, new)
    )
    pairs = {
        (p["old_config"]["framework"], p["old_config"]["mode"], p["old_config"]["batch_size"]): p
        for p in result["pairs"]
    }
    assert set(pairs) == {(f, m, b) for f, m in (("jax", "step"), ("pytorch", "eager")) for b in (100, 200)}
    for (framework, mode, batch), pair in pairs.items():
        a, b = (
            old_steadies[(framework, mode, batch, 512, None)],
            new_steadies[(framework, mode, batch, 512, None)],
        )
        assert pair["new_over_old"] == pytest.approx(sps.gmean(b) / sps.gmean(a))
        slow, fast = (a, b) if sps.gmean(a) > sps.gmean(b) else (b, a)
        c = pair["comparison"]
        # Welch's standard error (scipy's Welch t-test), widened by each session's allowance; the
        # degrees of freedom Hsu's (the smaller side less one) for the Welch part alone
        welch = sps.ttest_ind(np.log(slow), np.log(fast), equal_var=False)
        se = math.log(c["ratio"]) / welch.statistic
        total = math.sqrt(se**2 + 2 * SESSION_ALLOWANCE**2)
        df = (min(len(slow), len(fast)) - 1) * (total / se) ** 4
        half = sps.t.ppf(0.975, df) * total
        assert c["interval"] == pytest.approx([c["ratio"] * math.exp(-half), c["ratio"] * math.exp(half)])
        assert c["method"] == ACROSS
        assert c["verdict"] == verdict_of(across_log_ratio(slow, fast, SESSION_ALLOWANCE))
        assert {c["fast"], c["slow"]} == {"one", "two"}
        assert pair["sentence"].startswith(
            f"Batch {batch}, {'JAX step' if framework == 'jax' else 'PyTorch eager'}: "
        )
        assert pair["sentence"] in printed and "different machines" not in pair["sentence"]
    assert result["unmatched"] == {
        "old": [],
        "new": ["PyTorch func (2 threads), batch 100", "PyTorch func (2 threads), batch 200"],
    }
    assert (
        "Only in two (no match, or no steady epoch): PyTorch func (2 threads), batch 100; "
        "PyTorch func (2 threads), batch 200." in printed
    )


def test_compare_says_when_the_machines_differ(two_folders, tmp_path, capsys):
    old, new = two_folders
    path = new / "summary.json"
    summary = json.loads(path.read_text())
    summary["setup"].update(cpu="Other CPU", cpu_extensions=["avx2", "fma"])
    path.write_text(json.dumps(summary))
    assert compare_results.main(["--compare", str(old), str(new)]) == 0
    printed = capsys.readouterr().out
    assert "**Different machines**" in printed and "- cpu: " in printed and "in two" in printed
    assert "CPU extensions only in one:" in printed
    pair_lines = [line for line in printed.splitlines() if line.startswith("- Batch ")]
    assert len(pair_lines) == 4 and all("no verdict: measured on different machines" in line
                                        for line in pair_lines)
    assert "two sessions" not in printed  # the allowance is one machine's: no interval across machines
    result = compare_folders.compare_saved(old, new)
    assert result.different_machines
    assert all(p.comparison.interval is None and p.comparison.verdict == "not enough evidence"
               for p in result.pairs)
    old_cpu = json.loads((old / "summary.json").read_text())["setup"]["cpu"]
    assert compare_folders.Difference("cpu", old_cpu, "Other CPU") in result.settings


def cut_epoch_rows(folder, first=1, last=2):
    """A results folder that lost CSV rows: its first run's epochs 2.. cut out."""
    path = folder / "benchmark_results.csv"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:first + 1] + lines[last + 1:]))


def double_an_epoch_row(folder):
    path = folder / "benchmark_results.csv"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:3] + lines[2:3] + lines[3:]))


@pytest.mark.parametrize("damage, message", [
    (cut_epoch_rows, "run JAX step (1 thread), batch 100, seed 0, repeat 1 has epoch rows [1, 3, 4] where "
                     "its records announce 4: rows were lost or doubled"),
    (double_an_epoch_row, "more epoch rows than run JAX step (1 thread), batch 100, seed 0, repeat 1 had")])
def test_from_refuses_a_folder_that_lost_or_doubled_rows_in_one_line(two_folders, tmp_path, capsys,
                                                                      damage, message):
    """Cut epoch rows out of one run, or double one: --from says which run and exits 2, and
    writes nothing (the summary would silently drop what the rows held)."""
    old, _ = two_folders
    broken = tmp_path / "broken"
    shutil.copytree(old, broken)
    damage(broken)
    with pytest.raises(SystemExit) as stop:
        compare_results.main(["--from", str(broken), "--out-dir", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and len(err) == 1 and message in err[0]
    assert not (tmp_path / "out" / "summary.md").exists()


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda d: (d / "summary.json").unlink(), "has no summary.json: not a results folder"),
        (
            lambda d: (d / "summary.json").write_text('{"schema_version": 1}'),
            f"has schema version 1, this code compares {report.SCHEMA_VERSION}",
        ),
        (lambda d: (d / "summary.json").write_text("{not json"), "cannot read it"),
        (
            lambda d: (d / "summary.json").write_text(f'{{"schema_version": {report.SCHEMA_VERSION}}}'),
            "is not a summary.json this code",
        ),
        (
            lambda d: (d / "summary.json").write_text(
                f'{{"schema_version": {report.SCHEMA_VERSION}, "configurations": null, "setup": {{}}}}'
            ),
            "is not a summary.json this code",
        ),
        (
            lambda d: (d / "summary.json").write_text(
                f'{{"schema_version": {report.SCHEMA_VERSION}, "configurations": [], '
                '"setup": {"frameworks": {}}}'
            ),
            "holds no finished configuration",
        ),
        (cut_epoch_rows, "rows were lost or doubled, so the folder cannot be rebuilt"),
    ],
)
def test_compare_a_folder_it_cannot_read_is_one_line_and_exit_2(two_folders, capsys, damage, message):
    old, new = two_folders
    damage(new)
    with pytest.raises(SystemExit) as stop:
        compare_results.main(["--compare", str(old), str(new)])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and message in err and len(err.strip().splitlines()) == 1
    with pytest.raises(SystemExit) as stop:
        compare_results.main(["--compare", str(old), str(old.parent / "missing")])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "missing: no such folder" in err and len(err.strip().splitlines()) == 1


def test_compare_with_nothing_to_match_lists_both_sides_and_exits_2(folders, capsys):
    with pytest.raises(SystemExit) as stop:
        compare_results.main(["--compare", str(folders["a/results"]), str(folders["large"])])
    captured = capsys.readouterr()
    assert stop.value.code == 2 and "no configuration of" in captured.err
    assert "Only in results" in captured.out and "Only in large" in captured.out


def test_the_same_configuration_in_two_folders_gives_new_over_old(folders):
    """One command run twice: the same configurations, so only the folders tell the sides apart;
    folders of one name are told apart by their paths."""
    old, new = folders["a/results"], folders["b/results"]
    result = compare_folders.compare_saved(old, new)
    assert (result.old.name, result.new.name) == (str(old), str(new))
    olds, news = (steadies_from_csv(read_csv(d / "benchmark_results.csv")) for d in (old, new))
    assert len(result.pairs) == 4
    for p in result.pairs:
        key = (p.old.framework, p.old.mode, p.old.batch_size, 512, None)
        assert p.old == p.new and p.new_over_old == pytest.approx(sps.gmean(news[key]) / sps.gmean(olds[key]))
        faster = str(new) if p.new_over_old < 1 else str(old)
        assert p.comparison.as_dict()["fast"] == faster
        # two sessions' runs share repeat numbers, not a block of time: never paired; Welch's
        # interval widened by the session allowance
        assert p.comparison.estimate.method == ACROSS
        slow, fast = (news[key], olds[key]) if p.new_over_old > 1 else (olds[key], news[key])
        widened = across_log_ratio(slow, fast, SESSION_ALLOWANCE)
        assert p.comparison.interval == pytest.approx(widened.interval)


def test_a_folder_without_threads_matches_the_count_its_runs_used(folders):
    """Without --threads the fake trainer's runs, as the real ones on a 2-core machine, used 2."""
    default, sweep = folders["a/results"], folders["sweep"]
    result = compare_folders.compare_saved(default, sweep)
    assert result.matched_on == ("batch_size", "framework", "mode", "threads")
    assert {(p.old.threads, p.new.threads) for p in result.pairs} == {(None, 2)} and len(result.pairs) == 4
    assert all(
        result.sentence(p).startswith(f"Batch {p.old.batch_size}, {label(p.old)}: ") for p in result.pairs
    )
    assert {c.threads for c in result.unmatched_new} == {1} and not result.unmatched_old


def test_one_framework_per_folder_is_weighed_framework_against_framework(folders):
    """The framework is constant in each folder: a setting that differs, and the sentence names both sides."""
    jax, torch = folders["jax"], folders["torch"]
    result = compare_folders.compare_saved(jax, torch)
    assert result.matched_on == ("batch_size",)
    assert {compare_folders.Difference("framework", "jax", "pytorch"),
            compare_folders.Difference("mode", "step", "eager")} <= set(result.settings)
    assert [result.sentence(p).split(":")[0] for p in result.pairs] == [
        f"Batch {b}, JAX step in jax against PyTorch eager in torch" for b in (100, 200)
    ]


def test_threads_are_an_axis_of_the_plan_passed_to_each_run(tmp_path):
    args = options.parse_args(
        ["--threads", "1", "2", "--batch-sizes", "100", "--out-dir", str(tmp_path)]
    )
    specs = plan.plan(args)
    # the thread counts of one configuration side by side; every other repeat runs backwards
    # (tests/test_plan.py checks the balance)
    assert [(s.framework, s.threads, s.repeat) for s in specs][:6] == [
        ("jax", 1, 1), ("jax", 2, 1), ("pytorch", 1, 1), ("pytorch", 2, 1),
        ("pytorch", 2, 2), ("pytorch", 1, 2)]
    args = options.parse_args(
        ["--threads", "1", "2", "--batch-sizes", "100", "200", "--out-dir", str(tmp_path)]
    )
    assert [(s.framework, s.threads) for s in plan.plan(args)][4:8] == [
        ("pytorch", 2),
        ("pytorch", 1),
        ("jax", 2),
        ("jax", 1),
    ]
    command = cli.child_command(args, plan.plan(args)[0])
    assert command[command.index("--threads") + 1] == "1"
    default = options.parse_args(["--out-dir", str(tmp_path)])
    assert "--threads" not in cli.child_command(default, plan.plan(default)[0])


def test_more_threads_than_cores_is_refused_in_one_line(tmp_path, capsys):
    too_many = str(schedulable_cpus() + 1)
    with pytest.raises(SystemExit) as stop:
        options.parse_args(["--threads", "1", too_many, "--out-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and f"--threads {too_many}: this process may use" in err
    for script in ("assignment_1JAX.py", "assignment_1TORCH.py"):
        result = run_main(script, "--threads", too_many, "--epochs", "1")
        assert result.returncode == 2 and f"--threads {too_many}: this process may use" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_thread_findings_weigh_each_count_against_the_fewest():
    runs = [
        make_run(f, m, threads=n, repeat=r + 1, times=(2.0,) + (t * (1 + 0.01 * r),) * 3, val_accs=(0.8,) * 4)
        for f, m, one, two in (("jax", "step", 1.0, 0.55), ("pytorch", "eager", 1.2, 1.1))
        for n, t in ((1, one), (2, two))
        for r in range(3)
    ]
    built = report.build(runs, make_meta(repeats=3))
    [section] = [s for s in built["sections"] if s["id"] == "threads"]
    jax, torch = section["findings"]
    assert jax.text.startswith(
        "Batch 64, JAX step, 1 to 2 threads: JAX step (2 threads) is 1.82x faster than JAX step (1 thread)"
    )
    [c] = jax.comparisons
    assert c.ratio == pytest.approx(1.0 / 0.55) and c.verdict == "faster"
    assert torch.text.startswith(
        "Batch 64, PyTorch eager, 1 to 2 threads: PyTorch eager (2 threads) is 1.09x"
    )
    # the speed findings weigh the frameworks at one thread count at a time
    speed = [f.text for f in built["sections"][0]["findings"] if "faster than PyTorch" in f.text]
    assert len(speed) == 2 and "(1 thread)" in speed[0] and "(2 threads)" in speed[1]


def test_a_fact_recorded_in_one_folder_only_is_a_difference_and_a_gpu_is_another_machine():
    """A GPU against none, an environment variable set on one side, a thread count one folder's
    runs recorded: each is listed; a framework only one folder ran has nothing to differ in."""
    base = {"cpu": "AMD EPYC", "cores": 2, "cpu_extensions": ["avx2"], "gpu": None, "env": {},
            "frameworks": {"jax": {"version": ["0.10.2"], "threads": []},
                           "pytorch": {"version": [], "threads": []}}}
    other = {**base, "gpu": "NVIDIA H100", "env": {"XLA_FLAGS": "--xla_gpu_autotune_level=0"},
             "frameworks": {"jax": {"version": ["0.10.2"], "threads": [2]},
                            "pytorch": {"version": ["2.14.1"], "threads": [2]}}}
    old, new = compare_folders.Saved("old", {}, base), compare_folders.Saved("new", {}, other)
    differences = compare_folders.setting_differences(old, new)
    difference = compare_folders.Difference
    assert list(differences) == [difference("gpu", None, "NVIDIA H100"),
                                 difference("env XLA_FLAGS", None, "--xla_gpu_autotune_level=0"),
                                 difference("threads", [], [2], "jax")]
    assert compare_folders.SavedComparison(old, new, (), differences, (), (), ()).different_machines
