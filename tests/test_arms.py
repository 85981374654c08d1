"""--arm: every configuration under two or more environments, interleaved by repeat, each run
with its own environment, weighed arm against arm (docs/design.md, "Arms"); and each malformed or
unusable arm refused in one line before any run."""
import json
import subprocess
import sys

import pytest
from scipy import stats as sps

import compare_results
from mlpbench import arms, options, plan
from mlpbench.comparison import judge
from support.csv_reading import read_csv, steadies_by_block
from support.summary_schema import validate

ARMS = ["--arm", "one:FAKE_ARM_LIB=generic", "--arm", "two:FAKE_ARM_LIB=fast,FAKE_ARM_X=1"]


def test_a_tiny_arms_run_gives_each_run_its_arms_environment_and_weighs_arm_against_arm(fake_trainers):
    args = options.parse_args([*ARMS, "--modes", "step", "--frameworks", "jax", "--batch-sizes", "100",
                               "--repeats", "3", "--out-dir", str(fake_trainers / "plan")])
    assert [(s.arm, s.repeat) for s in plan.plan(args)] == [
        ("one", 1), ("two", 1), ("two", 2), ("one", 2), ("one", 3), ("two", 3)]
    out = fake_trainers / "out"
    assert compare_results.main([*ARMS, "--batch-sizes", "100", "--epochs", "3", "--repeats", "3",
                                 "--out-dir", str(out)]) == 0
    meta = json.loads((out / "run_meta.json").read_text())
    assert [a["name"] for a in meta["arms"]] == ["one", "two"]
    envs = {"one": {"FAKE_ARM_LIB": "generic"}, "two": {"FAKE_ARM_LIB": "fast", "FAKE_ARM_X": "1"}}
    assert all(r["start_record"]["env"] == envs[r["arm"]] for r in meta["runs"])
    assert {(p["framework"], p["arm"]) for p in meta["products"]} == {
        (f, a) for f in ("jax", "pytorch") for a in ("one", "two")}
    summary = json.loads((out / "summary.json").read_text())
    validate(summary)
    [section] = [s for s in summary["sections"] if s["id"] == "arms"]
    texts = [f["text"] for f in section["findings"]]
    assert texts[:2] == ["Arm one: FAKE_ARM_LIB=generic; FAKE_ARM_X not set.",
                         "Arm two: FAKE_ARM_LIB=fast; FAKE_ARM_X=1."]
    weighed = [c for f in section["findings"] for c in f["comparisons"]]
    assert sorted(c["fast_config"]["framework"] for c in weighed) == ["jax", "pytorch"]
    by_block = steadies_by_block(read_csv(out / "benchmark_results.csv"))
    def runs_of(config):
        return by_block[(config["framework"], config["mode"], 100, 512, config["arm"])]
    for c in weighed:
        slow, fast = runs_of(c["slow_config"]), runs_of(c["fast_config"])
        assert {c["slow_config"]["arm"], c["fast_config"]["arm"]} == {"one", "two"}
        assert c["ratio"] == pytest.approx(sps.gmean(list(slow.values())) / sps.gmean(list(fast.values())))
        assert c["pairs"] == 3 and c["verdict"] == judge(list(slow.values()), list(fast.values()),
                                                         list(slow), list(fast))[1]
    # the frameworks are weighed within an arm, never across two
    speed = [c for s in summary["sections"] if s["id"] == "findings" for f in s["findings"]
             for c in f["comparisons"]]
    assert speed and all(c["fast_config"]["arm"] == c["slow_config"]["arm"] for c in speed)


@pytest.mark.parametrize("flags, message", [
    (["--arm", "one"], "give two arms or more"),
    (["--arm", "a", "--arm", "a:X=1"], "each arm needs a name of its own"),
    (["--arm", "bad name", "--arm", "b"], "must be letters, digits"),
    (["--arm", "a:X", "--arm", "b"], "'X' is not VAR=VALUE"),
    (["--arm", "a:", "--arm", "b"], "is not VAR=VALUE"),
    (["--arm", "a=", "--arm", "b"], "needs the interpreter's path"),
    (["--arm", "a=/nowhere/python", "--arm", "b"], "no interpreter at /nowhere/python"),
    (["--arm", "a=/bin/true", "--arm", "b"], "not a Python interpreter"),
    (["--aa", "--modes", "step", "--arm", "a", "--arm", "b"], "give --aa or --arm, not both"),
])
def test_a_malformed_or_unusable_arm_is_one_line_and_exit_2_before_any_run(flags, message, tmp_path, capsys,
                                                                            monkeypatch):
    monkeypatch.setattr(compare_results, "run_all", lambda *a: pytest.fail("a run was started"))
    with pytest.raises(SystemExit) as stop:
        compare_results.main([*flags, "--out-dir", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and len(err) == 1 and message in err[0], err


def test_an_interpreter_without_the_modes_packages_is_refused_naming_them(tmp_path, capsys):
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    python = str(bare / "bin" / "python")
    assert arms.missing_packages(arms.Arm("bare", python), ["jax", "torch", "json"]) == ["jax", "torch"]
    with pytest.raises(SystemExit) as stop:
        options.parse_args(["--arm", f"bare={python}", "--arm", "here", "--modes", "step", "nnx",
                            "--frameworks", "jax", "--out-dir", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "cannot import flax, jax, which the modes asked for need" in err
