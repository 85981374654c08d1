"""The summary's figures and verdicts on fabricated runs whose right answers are known."""
import json
import math
import re
import statistics

import numpy as np
import pytest
from scipy import stats as sps

from mlpbench import model, report, sweep
from mlpbench.aggregate import FLOPS_PER_SAMPLE, all_stats
from mlpbench.comparison import EQUIVALENCE, FASTER, NOT_ENOUGH, WITHIN_NOISE, compare
from mlpbench.formatting import fmt_time, label
from mlpbench.inference import PAIRED, WELCH, log_ratio
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


# --- parity ---------------------------------------------------------------------------

def test_parity_says_same_curve_when_curves_agree():
    runs = [make_run("jax", "step", val_accs=(0.80, 0.85, 0.90)),
            make_run("pytorch", "eager", val_accs=(0.80, 0.8501, 0.90))]
    [f] = figures(built(runs), "val_acc_gap")
    assert (f["verdict"], f["batch_size"], f["epochs"], f["configurations"]) == (
        "same curve", 64, 3, ["JAX step", "PyTorch eager"])
    assert f["val_acc_gap"] == pytest.approx(0.0001) and f["train_loss_gap"] == f["val_loss_gap"] == 0


def test_parity_says_do_not_follow_when_curves_differ():
    runs = [make_run("jax", "step", val_accs=(0.80, 0.85, 0.90)),
            make_run("pytorch", "eager", val_accs=(0.80, 0.85, 0.89), train_losses=(1.0, 0.5, 0.4))]
    [f] = figures(built(runs), "val_acc_gap")
    assert f["verdict"] == "not the same curve" and f["val_acc_gap"] == pytest.approx(0.01)
    # the fabricated train losses are 1/epoch: 1/3 against 0.4 at epoch 3; val loss is each + 0.1
    assert [f["train_loss_gap"], f["val_loss_gap"]] == pytest.approx([0.4 - 1 / 3] * 2)


def test_parity_expects_no_match_from_native_inits():
    runs = [make_run("jax", "step", val_accs=(0.80, 0.85, 0.90)),
            make_run("pytorch", "eager", val_accs=(0.70, 0.85, 0.90))]
    [f] = figures(built(runs, init="native"), "val_acc_gap")
    assert f["verdict"] == "different starts" and f["val_acc_gap"] == pytest.approx(0.1)


# --- speed ratios with and without intervals ------------------------------------------

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


def test_one_run_each_is_not_enough_evidence_whatever_the_ratio():
    b = built(steady_runs("jax", "step", [0.5]) + steady_runs("pytorch", "eager", [1.0]), epochs=4)
    c = weighs(b, "JAX step", "PyTorch eager")
    assert (label(c.fast), c.ratio, c.interval, c.verdict) == ("JAX step", 2.0, None, NOT_ENOUGH)
    assert c.faster is None
    line = speed_line(report.render(b))
    assert "faster than" not in line and "not enough evidence" in line


def test_near_equal_times_over_three_runs_are_within_noise_not_faster():
    runs = steady_runs("jax", "step", [0.999, 1.001, 1.0]) + steady_runs("pytorch", "eager",
                                                                         [1.0, 1.002, 0.998])
    b = built(runs, epochs=4, repeats=3)
    c = weighs(b, "JAX step", "PyTorch eager")
    assert c.verdict == WITHIN_NOISE and c.faster is None and c.interval[0] < 1 < c.interval[1]


def test_a_clear_gap_is_faster_with_the_interval_of_the_log_run_times_paired_by_repeat():
    fast, slow = [0.50, 0.52, 0.51, 0.49], [1.00, 1.04, 0.98, 1.02]
    b = built(steady_runs("jax", "step", fast) + steady_runs("pytorch", "eager", slow), epochs=4, repeats=4)
    c = weighs(b, "JAX step", "PyTorch eager")
    ci = sps.ttest_rel(np.log(slow), np.log(fast)).confidence_interval(0.95)
    assert c.ratio == pytest.approx(sps.gmean(slow) / sps.gmean(fast))
    assert c.interval == pytest.approx((math.exp(ci.low), math.exp(ci.high)))
    assert (c.verdict, c.faster, c.runs, c.steady_epochs) == (FASTER, c.fast, (4, 4), (12, 12))
    assert label(c.fast) == "JAX step"


def test_cold_and_warm_runs_of_one_repeat_are_not_paired():
    """Warm runs follow every cold run: a cold and a warm run of one repeat are far apart in time,
    so the two are weighed by Welch's interval on all runs, not paired by repeat."""
    cold, warm = [1.00, 1.04, 0.98], [0.90, 0.95, 0.88]
    runs = [make_run("jax", "step", repeat=i + 1, cache=cache, times=(2.0, t, t))
            for cache, times in (("cold", cold), ("warm", warm)) for i, t in enumerate(times)]
    _, stats = all_stats(runs, {}, 0.85)
    a, b = (next(c for c in stats if c.cache == cache) for cache in ("cold", "warm"))
    c = compare(a, b, stats)
    assert c.estimate.method == WELCH and c.estimate.pairs is None
    assert c.interval == pytest.approx(log_ratio(cold, warm).interval)
    # the same runs as two configurations of one cache state are paired
    same = all_stats([make_run("jax", "step", repeat=i + 1, times=(2.0, t, t)) for i, t in enumerate(cold)]
                     + [make_run("pytorch", "eager", repeat=i + 1, times=(2.0, t, t))
                        for i, t in enumerate(warm)], {}, 0.85)[1]
    assert compare(*same, same).estimate.method == PAIRED


def test_the_paired_runs_decide_which_side_is_faster_when_a_partner_is_missing():
    """JAX's third run failed: over all runs PyTorch looks faster, but the two repeats both ran
    say JAX is. The comparison names the side its pairs show, with a ratio of 1 or more."""
    runs = (steady_runs("jax", "step", [1.00, 1.02])
            + steady_runs("pytorch", "eager", [1.10, 1.12, 0.50]))
    c = weighs(built(runs, epochs=4, repeats=3), "JAX step", "PyTorch eager")
    assert label(c.fast) == "JAX step" and c.estimate.pairs == 2 and c.ratio >= 1
    assert c.ratio == pytest.approx(math.sqrt(1.10 / 1.00 * 1.12 / 1.02))


def test_overlapping_runs_are_not_enough_evidence():
    fast, slow = [0.50, 0.70, 0.55], [0.60, 0.52, 0.75]
    c = weighs(built(steady_runs("jax", "step", fast) + steady_runs("pytorch", "eager", slow), epochs=4,
                     repeats=3), "JAX step", "PyTorch eager")
    assert c.interval[0] < 1 / EQUIVALENCE and c.verdict == NOT_ENOUGH and c.faster is None


# --- accuracy over seeds --------------------------------------------------------------

def seeded(framework, accs, batch=64):
    return [make_run(framework, "step" if framework == "jax" else "eager", batch=batch, seed=s,
                     val_accs=(0.5, 0.6, acc)) for s, acc in enumerate(accs)]



def accuracy(jax, torch, init="native"):
    """The accuracy verdict's figures over as many seeds as each list has values."""
    seeds = list(range(len(jax)))
    return figures(built(seeded("jax", jax) + seeded("pytorch", torch), init=init, seeds=seeds),
                   "jax_minus_pytorch")


def test_accuracy_verdict_names_the_higher_framework_with_its_interval():
    jax = [0.9410, 0.9425, 0.9402, 0.9431, 0.9418]
    torch = [0.9301, 0.9322, 0.9290, 0.9330, 0.9305]
    [f] = accuracy(jax, torch)
    diffs = np.subtract(jax, torch)
    half = sps.t.ppf(0.975, len(diffs) - 1) * diffs.std(ddof=1) / math.sqrt(len(diffs))  # by hand
    assert (f["batch_size"], f["seeds"], f["higher"]) == (64, 5, "JAX")
    assert [f["jax_mean"], f["jax_sd"], f["pytorch_mean"], f["pytorch_sd"]] == pytest.approx(
        [statistics.mean(jax), statistics.stdev(jax), statistics.mean(torch), statistics.stdev(torch)])
    assert f["jax_minus_pytorch"] == pytest.approx(diffs.mean())
    assert f["interval"] == pytest.approx([diffs.mean() - half, diffs.mean() + half])
    assert f["p"] == pytest.approx(sps.ttest_rel(jax, torch).pvalue)
    [swapped] = accuracy(torch, jax)
    assert swapped["higher"] == "PyTorch" and swapped["jax_minus_pytorch"] == pytest.approx(-diffs.mean())


def test_accuracy_verdict_says_no_difference_when_the_interval_holds_zero():
    [f] = accuracy([0.9410, 0.9395, 0.9420, 0.9401, 0.9415], [0.9405, 0.9412, 0.9399, 0.9418, 0.9402])
    assert f["higher"] is None and f["interval"][0] < 0 < f["interval"][1]


def test_shared_init_gives_the_same_gap_at_every_seed():
    accs = [0.9410, 0.9395, 0.9420]
    [f] = accuracy(accs, accs, init="shared")
    assert f["higher"] is None and f["jax_minus_pytorch"] == 0 and f["interval"] == [0, 0] and f["p"] is None


def test_one_seed_gives_no_accuracy_verdict():
    assert not accuracy([0.9], [0.8])


# --- time to accuracy -----------------------------------------------------------------

def test_time_to_accuracy_counts_epoch_1_and_stops_at_the_first_epoch_that_reaches():
    runs = [make_run("jax", "step", times=(2.0, 1.0, 1.0), val_accs=(0.80, 0.86, 0.90)),
            make_run("pytorch", "eager", times=(1.5, 1.5, 1.5), val_accs=(0.70, 0.80, 0.84))]
    text = summary(runs)
    assert row(text, 64, "JAX step")[10] == "3.00 s (epoch 2)"
    assert row(text, 64, "PyTorch eager")[10] == "not in 3 epochs"
    [f] = figures(built(runs), "reached")
    assert f["reached"] == {"JAX step": {"time_s": 3.0, "epoch": 2, "runs": 1, "of": 1}}
    assert f["not_reached"] == ["PyTorch eager"] and f["target"] == 0.85


def test_target_never_reached_is_itself_the_finding():
    runs = [make_run("jax", "step", batch=1024, val_accs=(0.60, 0.70, 0.72)),
            make_run("pytorch", "eager", batch=1024, val_accs=(0.60, 0.70, 0.7277))]
    [f] = figures(built(runs), "reached")
    assert (f["batch_size"], f["reached"], f["best_val_acc"]) == (1024, {}, 0.7277)
    assert f["not_reached"] == ["JAX step", "PyTorch eager"]


# --- the JIT: share, break-even, recompiles ------------------------------------------

def test_break_even_is_computed_and_never_when_there_is_no_saving():
    runs = [make_run("pytorch", "eager", times=(1.0, 0.9, 0.9)),
            make_run("pytorch", "compile", times=(12.0, 0.8, 0.8)),
            make_run("jax", "step", times=(1.0, 0.5, 0.5)),
            make_run("jax", "nojit", times=(0.9, 0.4, 0.4))]
    b = built(runs)
    even = {f["configuration"]: f for f in figures(b, "outcome")}
    # 1 + (12 - 1) / (0.9 - 0.8), and the saving's own verdict beside it: single runs cannot tell
    assert (even["PyTorch compile"]["outcome"], even["PyTorch compile"]["against"]) == ("breaks even",
                                                                                       "PyTorch eager")
    assert even["PyTorch compile"]["epochs"] == pytest.approx(111.0)
    assert weighs(b, "PyTorch compile", "PyTorch eager").verdict == NOT_ENOUGH
    assert (even["JAX step"]["outcome"], even["JAX step"]["epochs"]) == ("never", None)
    assert label(weighs(b, "JAX step", "JAX nojit").fast) == "JAX nojit"
    # with three runs a side the saving is real, and the break-even is stated as sure as it is
    runs = [make_run("pytorch", m, repeat=r, times=(t0, t * (1 + 0.01 * r), t * (1 + 0.01 * r)))
            for r in (1, 2, 3) for m, t0, t in (("eager", 1.0, 0.9), ("compile", 12.0, 0.6))]
    b = built(runs, repeats=3)
    assert weighs(b, "PyTorch compile", "PyTorch eager").verdict == FASTER
    [f] = figures(b, "outcome")
    # geometric means of 0.909, 0.918, 0.927 and of 0.606, 0.612, 0.618 s; first epochs 1 and 12 s
    saving = sps.gmean([0.9 * 1.01, 0.9 * 1.02, 0.9 * 1.03]) - sps.gmean([0.6 * 1.01, 0.6 * 1.02, 0.6 * 1.03])
    assert f["outcome"] == "breaks even" and f["epochs"] == pytest.approx(1 + 11 / saving)


def test_jit_share_and_its_trend_across_batch_sizes():
    runs = [make_run("jax", "step", batch=64, times=(3.0, 2.0, 2.0)),
            make_run("jax", "step", batch=256, times=(2.0, 1.0, 1.0)),
            make_run("pytorch", "eager", batch=64, times=(2.0, 2.0, 2.0)),
            make_run("pytorch", "eager", batch=256, times=(1.0, 1.0, 1.0))]
    [jax] = [f for f in figures(built(runs), "by_batch_size") if f["configuration"] == "JAX step"]
    assert jax["by_batch_size"] == [{"batch_size": 64, "jit_s": 1.0, "share_pct": pytest.approx(100 / 7)},
                                    {"batch_size": 256, "jit_s": 1.0, "share_pct": 25.0}]
    assert jax["trend"] == "rises" and jax["kind"] == "jit"


def test_a_mode_that_compiles_nothing_has_warm_up_and_a_jit_lost_in_noise_no_trend():
    """PyTorch eager's first epoch over its steady ones is warm-up and noise, negative at times:
    never called JIT, never given a trend. A JIT at or below zero somewhere gets no trend either."""
    runs = [make_run("jax", "step", batch=64, times=(2.5, 2.0, 2.0)),
            make_run("jax", "step", batch=256, times=(0.9, 1.0, 1.0)),
            make_run("pytorch", "eager", batch=64, times=(2.2, 2.0, 2.0)),
            make_run("pytorch", "eager", batch=256, times=(0.9, 1.0, 1.0))]
    b = built(runs)
    found = {f["configuration"]: f for f in figures(b, "by_batch_size")}
    assert (found["PyTorch eager"]["kind"], found["PyTorch eager"]["trend"]) == ("warm-up", None)
    assert (found["JAX step"]["kind"], found["JAX step"]["trend"]) == ("jit", None)
    lines = [f.text for s in b["sections"] if s["id"] == "jit" for f in s["findings"]]
    eager = next(line for line in lines if line.startswith("PyTorch eager"))
    assert "JIT" not in eager and "warm-up" in eager and "as the batch grows" not in eager
    step = next(line for line in lines if line.startswith("JAX step"))
    assert "as the batch grows" not in step and "within the noise" in step


def test_a_recompile_after_epoch_1_is_a_finding():
    runs = [make_run("jax", "step", recompiles={1: 0, 2: 0, 3: 1}), make_run("pytorch", "eager")]
    text = summary(runs)
    assert figures(built(runs), "recompiles") == [{"configuration": "JAX step", "batch_size": 64,
                                                    "recompiles": 1}]
    jit_table = "## The JIT"
    assert (row(text, 64, "JAX step", jit_table)[-1] == "1"
            and row(text, 64, "PyTorch eager", jit_table)[-1] == "-")


# --- devices and noise ----------------------------------------------------------------

def test_runs_on_different_devices_are_never_compared():
    runs = [make_run("jax", "step", device="cpu", times=(2.0, 1.0, 1.0)),
            make_run("pytorch", "eager", device="gpu", times=(1.0, 0.1, 0.1))]
    text = summary(runs)
    first_lines = text.splitlines()[:4]
    assert any(l.startswith("- WARNING: these runs did not all run on the same kind of device "
                            "(on cpu: JAX step; on gpu: PyTorch eager)") for l in first_lines)
    assert "faster than" not in text and not built(runs)["comparisons"]
    assert row(text, 64, "JAX step")[-1] == "1.00x" and row(text, 64, "PyTorch eager")[-1] == "1.00x"


def test_busy_machine_and_noisy_epochs_are_warned_about_and_said_in_each_finding():
    runs = steady_runs("jax", "step", [0.50, 0.51]) + steady_runs("pytorch", "eager", [1.0, 1.3])
    runs[0].other_cores = 1.6
    # within one run PyTorch's steady epochs 1.0, 1.0, 1.5: the interquartile range is 25% of the median
    runs.append(make_run("pytorch", "eager", repeat=3, times=(2.0, 1.0, 1.0, 1.5), val_accs=(0.8,) * 4))
    b = built(runs, epochs=4, repeats=3)
    text = report.render(b)
    warnings = [l for l in text.splitlines() if l.startswith("- WARNING")]
    assert len(warnings) == 2
    # the wording is the golden summary's to fix; here, which run and how busy
    assert warnings[0].startswith("- WARNING: 1 run(s)")
    assert "JAX step, seed 0, repeat 1: 1.60 cores" in warnings[0]
    assert "PyTorch eager, batch 64: 25%" in warnings[1] and "JAX step" not in warnings[1]
    c = weighs(b, "JAX step", "PyTorch eager")
    assert c.busy_runs == 1 and [(label(k), spread) for k, spread in c.noisy] == [("PyTorch eager", 0.25)]
    line = speed_line(text)
    assert "Suspect" in line and "1 of these 5 runs" in line
    assert "Noisy: PyTorch eager" in line
    # the spread across runs is the interval's business, not a warning: 1.0 against 1.3 is not noisy
    quiet = steady_runs("jax", "step", [0.50, 0.51]) + steady_runs("pytorch", "eager", [1.0, 1.3])
    assert "noisy" not in summary(quiet, epochs=4, repeats=2)
    # without /proc/stat, the 1-minute load average is what is judged
    quiet[0].other_cores, quiet[0].load_avg_1m = None, 0.4
    assert "shared the machine" not in summary(quiet, epochs=4, repeats=2)
    quiet[0].load_avg_1m = 1.4
    assert "shared the machine" in summary(quiet, epochs=4, repeats=2)


# --- table figures --------------------------------------------------------------------

def test_table_figures_follow_from_the_records_and_probes():
    runs = [make_run("jax", "step", times=(2.0, 0.4, 0.5, 0.6), val_accs=(0.8, 0.85, 0.9, 0.91), steps=781),
            make_run("pytorch", "eager", times=(1.2, 1.0, 1.1, 1.2), val_accs=(0.8, 0.85, 0.9, 0.91),
                     steps=781)]
    text = summary(runs, epochs=4)
    samples = 781 * 64
    for name, steady, first, peak, fastest in (("JAX step", 0.5, 2.0, 400.0, 0.5),
                                               ("PyTorch eager", 1.1, 1.2, 200.0, 0.5)):
        cells = row(text, 64, name)
        gflops = samples / steady * FLOPS_PER_SAMPLE / 1e9
        assert cells[2:10] == [fmt_time(first), fmt_time(steady), fmt_time(first - steady),
                               f"{samples / steady:,.0f}", f"{gflops:.1f}", f"{100 * gflops / peak:.1f}%",
                               "0.9100", "0.9050"]
        assert cells[11] == "500 MiB" and cells[12] == f"{steady / fastest:.2f}x"


def test_each_documented_statistic_from_data_that_tells_it_from_its_neighbours():
    """Runs whose figures differ under every plausible misreading of the table's definitions:
    median of epochs 2..E (not the mean, not with epoch 1), the geometric mean across runs (not
    the median, not the arithmetic mean, not the first run), JIT = median first epoch - steady,
    samples/s from the steady epoch, time vs fastest within the batch size (not across all of
    them), the ratio of the two steady times."""
    jax = [(10.0, 1.0, 2.0, 6.0), (12.0, 3.0, 3.0, 3.0), (30.0, 9.0, 10.0, 11.0)]  # steadies 2, 3, 10
    torch = [(5.0, 4.0, 4.0, 4.0), (5.0, 4.5, 4.5, 4.5), (5.0, 20.0, 20.0, 20.0)]  # steadies 4, 4.5, 20
    runs = [make_run("jax", "step", repeat=i + 1, times=t, val_accs=(0.8,) * 4) for i, t in enumerate(jax)]
    runs += [make_run("pytorch", "eager", repeat=i + 1, times=t, val_accs=(0.8,) * 4)
             for i, t in enumerate(torch)]
    runs += [make_run(f, m, batch=256, times=(1.0, 0.5, 0.5, 0.5), val_accs=(0.8,) * 4)
             for f, m in (("jax", "step"), ("pytorch", "eager"))]
    text = summary(runs, epochs=4, repeats=3)
    samples = 100 * 64
    cells = row(text, 64, "JAX step")
    jax_steady, torch_steady = 60 ** (1 / 3), 360 ** (1 / 3)  # 3.915 and 7.114 s
    assert cells[2:6] == ["12.00 s", "3.91 s (2.00 s to 10.00 s)", "8.09 s", f"{samples / jax_steady:,.0f}"]
    assert cells[12] == "1.00x"
    cells = row(text, 64, "PyTorch eager")
    assert cells[2:6] == ["5.00 s", "7.11 s (4.00 s to 20.00 s)", "-2.11 s", f"{samples / torch_steady:,.0f}"]
    # against JAX at batch 64, not the 0.5 s of batch 256: (4 * 4.5 * 20) ** (1/3) / (2 * 3 * 10) ** (1/3)
    assert cells[12] == f"{(360 / 60) ** (1 / 3):.2f}x" == "1.82x"


def test_cache_and_loader_findings():
    runs = [make_run("jax", "step", times=(2.0, 1.0, 1.0), first={"jit_compile_s": 0.8, "cache_hits": None}),
            make_run("jax", "step", cache="warm", times=(1.2, 1.0, 1.0),
                     first={"jit_compile_s": 0.02, "cache_hits": 1}),
            make_run("jax", "step", input="loader", times=(3.0, 2.0, 2.0)),
            make_run("pytorch", "eager", times=(1.5, 1.5, 1.5))]
    b = built(runs)
    [cache] = figures(b, "cache_hits")
    assert cache == {"configuration": "JAX step", "batch_size": 64, "first_cold_s": 2.0, "first_warm_s": 1.2,
                     "saved_s": pytest.approx(0.8), "compile_cold_s": 0.8, "compile_warm_s": 0.02,
                     "cache_hits": 1}
    [loader] = figures(b, "extra_s_per_epoch")
    assert loader == {"batch_size": 64, "extra_s_per_epoch": 1.0, "extra_ms_per_step": 10.0,
                      "extra_us_per_image": pytest.approx(1e6 / 6400)}
    assert weighs(b, "JAX step (loader)", "JAX step").ratio == 2.0
    # the steady-state comparison between frameworks is made on cold, device-resident runs
    c = weighs(built(runs), "JAX step", "PyTorch eager")
    assert c.ratio == 1.5 and c.verdict == NOT_ENOUGH


# --- one thing at a time: pairs of modes, the unroll sweep, TF32 ----------------------

def weighed(text):
    """The bullets of the section that weighs one thing at a time."""
    lines = text.splitlines()
    start = lines.index("## One thing at a time: paradigm, framework, compiling, settings") + 2
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("## "))
    return [line[2:] for line in lines[start:end] if line.startswith("- ")]


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


def test_machine_section_names_the_kernels_the_cpu_extensions_and_the_environment():
    runs = [make_run("jax", "step"), make_run("pytorch", "eager")]
    runs[0].records[0].update(kernels="XLA:CPU (cpu, pjrt_ifrt), jaxlib 0.10.2", env={"XLA_FLAGS": "--x"})
    runs[1].records[0].update(kernels="BLAS mkl", env={"OMP_NUM_THREADS": "1"})
    meta = make_meta()
    meta.update(cpu_extensions=["avx2", "fma"], env={"OPENBLAS_CORETYPE": "Haswell"})
    lines = report.summary(runs, meta).splitlines()
    assert "- kernels: JAX: XLA:CPU (cpu, pjrt_ifrt), jaxlib 0.10.2; PyTorch: BLAS mkl" in lines
    assert "- CPU vector extensions: avx2, fma" in lines
    assert ("- environment that changes the frameworks: OMP_NUM_THREADS=1, OPENBLAS_CORETYPE=Haswell, "
            "XLA_FLAGS=--x") in lines
    earlier = summary([make_run("jax", "step")]).splitlines()  # recorded before these facts
    assert not any(line.startswith(("- kernels", "- CPU vector", "- environment")) for line in earlier)


def test_machine_section_names_the_gpu_driver_and_each_frameworks_cuda():
    runs = [make_run("jax", "scan", device="gpu"), make_run("pytorch", "eager", device="gpu")]
    runs[0].records[0]["cuda"], runs[1].records[0]["cuda"] = "cuda 13000", "13.0"
    meta = make_meta()
    meta["gpu"] = {"name": "NVIDIA H100 80GB HBM3", "driver_version": "580.159.04", "memory": "81559 MiB",
                   "cuda_driver": "13.0"}
    text = report.summary(runs, meta)
    assert ("- GPU: NVIDIA H100 80GB HBM3 (81559 MiB), driver 580.159.04 (CUDA 13.0 supported); CUDA as the "
            "frameworks report it: JAX cuda 13000, PyTorch 13.0") in text.splitlines()
    assert "- GPU:" not in summary(runs)  # a CPU run's meta has no GPU


# --- the width sweep: the map's cells, the fit, the JIT's share, summary.json ------------

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


def test_map_cells_are_each_widths_ratio_and_interval():
    step_s = {("jax", 128): 1e-3, ("pytorch", 128): 2e-3, ("jax", 512): 2e-3, ("pytorch", 512): 2.02e-3,
              ("jax", 2048): 10e-3, ("pytorch", 2048): 9.9e-3}
    _, stats = all_stats(sweep_runs(step_s), {}, 0.85)
    cells = sweep.cells(stats)
    assert sorted(cells) == [(128, 64), (512, 64), (2048, 64)]
    for w in WIDTHS:
        steady = {f: sps.gmean(stats[c].steadies) for c in stats if c.hidden == (w, w) for f in [c.framework]}
        cell = cells[(w, 64)]  # PyTorch over JAX, whichever is faster: its interval turns with it
        assert cell.ratio == pytest.approx(steady["pytorch"] / steady["jax"])
        assert cell.interval[0] < cell.ratio < cell.interval[1]
        assert (cell.jax.hidden, cell.pytorch.hidden, cell.jax.framework) == ((w, w), (w, w), "jax")
    assert cells[(128, 64)].interval[0] > 1 and cells[(128, 64)].verdict == FASTER
    assert cells[(512, 64)].verdict == WITHIN_NOISE and cells[(2048, 64)].verdict == WITHIN_NOISE
    assert cells[(2048, 64)].ratio < 1 and cells[(2048, 64)].comparison.fast == cells[(2048, 64)].pytorch
    [f] = sweep.ratio_findings(stats)
    assert f.figures["pytorch_over_jax"] == {w: cells[(w, 64)].ratio for w in WIDTHS}
    assert f.figures["pytorch_over_jax"][128] == pytest.approx(2.0)
    assert (f.figures["within_noise"], f.figures["within_noise_from"], f.figures["jax_faster"]) == (
        [512, 2048], 512, [128])
    assert f.comparisons == tuple(cells[(w, 64)].comparison for w in WIDTHS)


@pytest.mark.parametrize("pytorch_s, within, since, jax, pytorch", [
    ({128: 2e-3, 512: 2.02e-3, 2048: 8e-3}, [512], None, [128], [2048]),
    ({128: 1.01e-3, 512: 2.02e-3, 2048: 9.9e-3}, [128, 512, 2048], 128, [], []),
    ({128: 2e-3, 512: 3e-3, 2048: 15e-3}, [], None, [128, 512, 2048], [])])
def test_which_widths_are_within_noise_and_who_is_faster_at_the_others(pytorch_s, within, since, jax,
                                                                       pytorch):
    jax_s = {128: 1e-3, 512: 2e-3, 2048: 10e-3}
    step_s = {**{("jax", w): t for w, t in jax_s.items()},
              **{("pytorch", w): t for w, t in pytorch_s.items()}}
    [f] = sweep.ratio_findings(all_stats(sweep_runs(step_s), {}, 0.85)[1])
    assert (f.figures["within_noise"], f.figures["within_noise_from"]) == (within, since)
    assert (f.figures["jax_faster"], f.figures["pytorch_faster"], f.figures["not_enough_evidence"]) == (
        jax, pytorch, [])


def test_fit_recovers_fixed_cost_and_rate_and_names_the_bound():
    """Step times made exactly as fixed + FLOPs / rate: the fit gives them back, and a cell is
    dispatch-bound where the fixed cost is more than half a step."""
    fixed, rate, batch = 400e-6, 100e9, 64
    step_s = {(f, w): fixed + batch * model.flops_per_sample(model.layer_sizes((w, w))) / rate
              for f in ("jax", "pytorch") for w in WIDTHS}
    _, stats = all_stats(sweep_runs(step_s, repeats=1), {}, 0.85)
    fits = sweep.fits(stats)
    assert len(fits) == 2
    for f in fits:
        assert f.fixed_s == pytest.approx(fixed, rel=1e-3) and f.rate == pytest.approx(rate, rel=1e-3)
    [f] = [f.figures for f in sweep.fit_findings(stats) if f.figures["configuration"] == "JAX step"]
    shares = {w: fixed / (fixed + batch * model.flops_per_sample(model.layer_sizes((w, w))) / rate)
              for w in WIDTHS}
    assert shares[128] > 0.5 > shares[512] > shares[2048]
    assert f["fixed_s"] == pytest.approx(fixed, rel=1e-3)
    assert f["rate_flops_per_s"] == pytest.approx(rate, rel=1e-3)
    assert f["r_squared"] == pytest.approx(1.0) and f["fixed_share"] == pytest.approx(shares, rel=1e-3)
    assert f["bound"] == {128: "dispatch", 512: "compute", 2048: "compute"}


def test_summary_json_holds_the_table_and_the_sweep():
    step_s = {("jax", 128): 1e-3, ("pytorch", 128): 2e-3, ("jax", 2048): 10e-3, ("pytorch", 2048): 9.9e-3}
    built = report.build(sweep_runs(step_s), make_meta(repeats=3))
    assert json.loads(report.as_json(built))["sweep"]["cells"]  # strict JSON, what summary.json holds
    by_model = {(c["hidden"], c["framework"]): c for c in built["configurations"]}
    # three runs 0.99, 1.00 and 1.01 times 2 ms a step: their geometric mean
    assert by_model[((128, 128), "pytorch")]["steady"] == pytest.approx(0.2 * (0.99 * 1.01) ** (1 / 3))
    assert {(c["width"], c["batch_size"]) for c in built["sweep"]["cells"]} == {(128, 64), (2048, 64)}
    header, rows = built["table"]
    assert header[1] == "Model" and rows[0][1] == "784-128-128-10"
    vs_fastest = {(r[1], r[2]): r[-1] for r in rows}  # within a model: two things never change at once
    assert vs_fastest[("784-2048-2048-10", "JAX step")] == "1.01x"
    assert vs_fastest[("784-2048-2048-10", "PyTorch eager")] == "1.00x"
    assert report.render(built) == report.summary(sweep_runs(step_s), make_meta(repeats=3))
    assert built["title"] == "JAX vs PyTorch: 784-W-W-10 MLPs, W = 128, 2048, on MNIST"


def test_jit_share_by_width_is_a_finding():
    runs = [make_run("jax", "step", hidden=(w, w), times=(2.0 + t, t, t))
            for w, t in ((128, 0.5), (2048, 5.0))]
    # JIT = first - steady = 2 s; training = 2 + 3t
    [f] = sweep.jit_width_findings(all_stats(runs, {}, 0.85)[1])
    assert [w["width"] for w in f.figures["by_width"]] == [128, 2048]
    assert [w["jit_s"] for w in f.figures["by_width"]] == pytest.approx([2.0, 2.0])
    assert [w["share_pct"] for w in f.figures["by_width"]] == pytest.approx([200 / 3.5, 200 / 17])
    assert (f.figures["configuration"], f.figures["batch_size"], f.figures["trend"]) == (
        "JAX step", 64, "falls")


# --- a busy machine: the rule, and the findings that rest on busy runs -----------------

@pytest.mark.parametrize("other, busy", [(0.09, False), (0.25, False), (0.35, True), (0.98, True)])
def test_busy_rule_on_measured_figures(other, busy):
    """Quiet machines measured 0.00 to 0.09 cores of other work; a test suite beside the
    benchmark, 0.98 (and it slowed JAX 1.9x): the rule flags more than 0.3."""
    runs = steady_runs("jax", "step", [0.50, 0.52]) + steady_runs("pytorch", "eager", [1.0, 1.02])
    runs[0].other_cores = other
    b = built(runs, epochs=4, repeats=2)
    assert ("shared the machine" in " ".join(b["warnings"])) == busy
    assert weighs(b, "JAX step", "PyTorch eager").busy_runs == int(busy)


def test_an_interrupted_benchmark_says_so_first():
    meta = make_meta()
    meta["interrupted"] = True
    lines = report.summary([make_run("jax", "step"), make_run("pytorch", "eager")], meta).splitlines()
    assert lines[2].startswith("- WARNING: the benchmark was interrupted")


# --- epoch_times.png with many runs: a median and a band per configuration --------------

def test_epoch_times_draw_each_configurations_median_and_band(monkeypatch, tmp_path):
    from mlpbench import plots
    drawn = {}
    monkeypatch.setattr(plots, "save", lambda fig, path: drawn.setdefault("fig", fig))
    runs = [make_run("jax", "step", repeat=r, times=t) for r, t in
            enumerate([(2.0, 1.0, 1.2), (3.0, 0.8, 1.0), (2.5, 1.4, 0.9)], start=1)]
    runs.append(make_run("pytorch", "eager", times=(1.5, 1.1, 1.1)))
    assert plots.epoch_band(runs[:3]) == ([1, 2, 3], [2.5, 1.0, 1.0], [2.0, 0.8, 0.9], [3.0, 1.4, 1.2])
    plots.epoch_times(runs, tmp_path / "epoch_times.png")
    ax_time = drawn["fig"].axes[0]
    lines = [line for line in ax_time.get_lines() if len(line.get_xdata()) == 3]
    assert sorted(tuple(line.get_ydata()) for line in lines) == [(1.5, 1.1, 1.1), (2.5, 1.0, 1.0)]
    bands = ax_time.collections
    assert len(bands) == 1  # the configuration with three runs; one run draws no band
    edge = {round(float(y), 6) for _, y in bands[0].get_paths()[0].vertices}
    assert edge == {2.0, 0.8, 0.9, 3.0, 1.4, 1.2}  # fastest and slowest of each epoch


def test_epoch_time_axis_is_readable_when_it_spans_less_than_a_decade(monkeypatch, tmp_path):
    from mlpbench import plots
    drawn = {}
    monkeypatch.setattr(plots, "save", lambda fig, path: drawn.setdefault("fig", fig))
    runs = [make_run("jax", "step", times=(1.7, 0.7, 0.7)),
            make_run("pytorch", "eager", times=(0.6, 0.6, 0.6))]
    plots.epoch_times(runs, tmp_path / "epoch_times.png")
    fig = drawn["fig"]
    fig.canvas.draw()
    axis = fig.axes[0].yaxis
    labels = [t.get_text() for t in axis.get_majorticklabels() + axis.get_minorticklabels()
              if t.get_text() and t.get_visible()]
    low, high = fig.axes[0].get_ylim()
    shown = [float(text) for text in labels if low <= float(text) <= high]
    assert len(shown) >= 3 and any(1 < v < 1.7 for v in shown), shown  # more than "1" to read by
    # Over several decades only the 2s and 5s between them, or the labels collide.
    drawn.clear()
    plots.epoch_times([make_run("jax", "step", times=(20.0, 0.1, 0.1)), runs[1]], tmp_path / "e.png")
    fig = drawn["fig"]
    fig.canvas.draw()
    minor = [t.get_text() for t in fig.axes[0].yaxis.get_minorticklabels() if t.get_text()]
    assert minor and {text.strip("0.")[0] for text in minor} <= {"2", "5"}, minor


def test_the_settings_line_gives_each_batch_sizes_epoch_not_the_smallest():
    # 50,000 images: 781 steps of 64 and 48 of 1024, the partial batch dropped at each.
    runs = [make_run(fw, mode, batch=b, steps=50_000 // b)
            for fw, mode in (("jax", "step"), ("pytorch", "eager")) for b in (64, 1024)]
    def samples(runs):
        settings = report.build(runs, make_meta())["settings"]
        return re.findall(r"([\d,]+) samples(?: at batch (\d+))?", settings)
    assert samples(runs) == [("49,984", "64"), ("49,152", "1024")]
    one = [make_run("jax", "step", batch=64, steps=100), make_run("pytorch", "eager", batch=64, steps=100)]
    assert samples(one) == [("6,400", "")]


def test_epoch_times_with_many_models_put_the_legend_below_the_panels_and_rates_on_a_log_axis(
        monkeypatch, tmp_path):
    from mlpbench import plots
    drawn = {}
    monkeypatch.setattr(plots, "save", lambda fig, path: drawn.setdefault("fig", fig))
    runs = [make_run(fw, mode, hidden=(w, w), times=(t + 1, t, t))
            for w, t in ((128, 0.4), (512, 1.3), (2048, 9.5))
            for fw, mode in (("jax", "step"), ("pytorch", "eager"))]
    plots.epoch_times(runs, tmp_path / "epoch_times.png")
    fig = drawn["fig"]
    ax_time, ax_rate = fig.axes
    assert ax_time.get_legend() is None and ax_rate.get_legend() is None and len(fig.legends) == 1
    assert len(fig.legends[0].get_texts()) == 7  # six configurations and one batch size
    fig.canvas.draw()
    assert fig.legends[0].get_window_extent().y1 < min(ax.get_window_extent().y0 for ax in fig.axes)
    assert ax_rate.get_yscale() == "log"  # widest and narrowest rates 24x apart: linear would flatten one
    drawn.clear()
    plots.epoch_times(runs[:2], tmp_path / "epoch_times.png")
    assert drawn["fig"].axes[1].get_yscale() == "linear" and drawn["fig"].axes[1].get_ylim()[0] == 0


def test_the_matmul_peak_is_the_better_of_the_probes_before_and_after_the_runs():
    from mlpbench.machine import best_probes
    before = {"jax": {"gflops": 280.0, "matmul_n": 2048}, "pytorch": {"gflops": 176.8, "matmul_n": 2048}}
    after = {"jax": {"gflops": 268.0, "matmul_n": 2048}, "pytorch": {"error": "timed out"}}
    merged = best_probes(before, after)
    assert merged["jax"] == {"gflops": 280.0, "matmul_n": 2048, "readings": [280.0, 268.0]}
    assert merged["pytorch"] == {"gflops": 176.8, "matmul_n": 2048, "readings": [176.8, None]}
    merged = best_probes(before, {"pytorch": {"gflops": 303.1, "matmul_n": 2048}})
    assert merged["pytorch"]["gflops"] == 303.1 and merged["pytorch"]["readings"] == [176.8, 303.1]
    meta = make_meta()
    meta["probes"] = best_probes(before, after)
    text = report.summary([make_run("jax", "step"), make_run("pytorch", "eager")], meta)
    assert ("- JAX fp32 matmul peak: 280.0 GFLOP/s (2048^3 matmul, median of 5; the better of 280.0 "
            "before the runs and 268.0 after)") in text
    assert ("- PyTorch fp32 matmul peak: 176.8 GFLOP/s (2048^3 matmul, median of 5; read before the runs "
            "only: the probe after them failed)") in text


def test_a_rate_above_the_measured_peak_is_called_a_probe_that_under_read():
    # 6,400 samples at 3.21 MFLOP each: 411 GFLOP/s in 0.05 s, twice PyTorch's probe; 205 in 0.1 s,
    # half of JAX's.
    runs = [make_run("jax", "step", times=(1.0, 0.1, 0.1)),
            make_run("pytorch", "eager", times=(1.0, 0.05, 0.05))]
    text = report.summary(runs, make_meta())
    warning = next(line for line in text.splitlines() if "above the measured matmul peak" in line)
    assert "(PyTorch eager, batch 64: 205%)" in warning, warning
    assert "JAX step" not in warning
    runs = [make_run("jax", "step", times=(1.0, 0.1, 0.1)),
            make_run("pytorch", "eager", times=(1.0, 0.2, 0.2))]  # 103 GFLOP/s: 51%
    assert "above the measured matmul peak" not in report.summary(runs, make_meta())
    # The probe multiplies in strict fp32: TF32 may pass it without the probe being wrong.
    runs.append(make_run("pytorch", "eager", times=(1.0, 0.05, 0.05), precision="tf32"))
    text = report.summary(runs, make_meta(precision=["highest", "tf32"]))
    assert "| 64 | PyTorch eager (tf32) |" in text and "above the measured matmul peak" not in text
