"""Golden files: the summary and CSV of a fixed set of made-up runs, and the records of a tiny
real run, captured before the code was reorganised. The layout may change; what a user reads
may not. UPDATE_GOLDEN=1 rewrites them (only for a change of output that is meant)."""
import csv
import io

from mlpbench import report, results

from fabricate import make_meta, make_run
from goldens import check_golden


def scenario():
    """Made-up runs that reach every part of the summary: two batch sizes, every CPU mode,
    seeds and repeats, warm caches, the loader, a busy run, a noisy spread, a failed run."""
    runs = []
    for seed, (jax_acc, torch_acc) in enumerate([(0.941, 0.930), (0.943, 0.932), (0.940, 0.929)]):
        for repeat, (a, b) in enumerate([(1.0, 2.0), (1.1, 2.4)], start=1):
            runs.append(make_run("jax", "step", seed=seed, repeat=repeat, times=(3.0, a, a * 1.02, a * 0.98),
                                 val_accs=(0.80, 0.86, 0.90, jax_acc),
                                 first={"jit_trace_s": 0.05, "jit_lower_s": 0.03, "jit_compile_s": 0.4}))
            runs.append(make_run("pytorch", "eager", seed=seed, repeat=repeat, times=(b * 1.1, b, b, b * 1.3),
                                 val_accs=(0.79, 0.85, 0.89, torch_acc)))
    runs.append(make_run("jax", "scan", times=(2.5, 0.7, 0.8, 0.75), val_accs=(0.80, 0.86, 0.90, 0.941),
                         first={"jit_trace_s": 0.06, "jit_lower_s": 0.04, "jit_compile_s": 0.5}))
    runs.append(make_run("jax", "nojit", times=(20.0, 18.0, 18.5, 18.2), val_accs=(0.80, 0.86, 0.90, 0.941),
                         recompiles={2: 0, 3: 0, 4: 0}))
    runs.append(make_run("pytorch", "compile", times=(26.0, 1.8, 1.9, 1.7),
                         val_accs=(0.80, 0.86, 0.90, 0.941),
                         first={"compile_s": 24.0, "graphs": 4, "graph_breaks": 4, "cache_hits": None},
                         recompiles={1: 0, 2: 0, 3: 0, 4: 1}))
    runs.append(make_run("pytorch", "compile", cache="warm", times=(4.5, 1.8, 1.85, 1.75),
                         val_accs=(0.80, 0.86, 0.90, 0.941),
                         first={"compile_s": 2.2, "graphs": 4, "graph_breaks": 4, "cache_hits": 9}))
    runs.append(make_run("jax", "step", input="loader", times=(5.0, 3.0, 3.1, 2.9),
                         val_accs=(0.80, 0.86, 0.90, 0.941)))
    runs.append(make_run("pytorch", "eager", input="loader", times=(5.5, 4.0, 4.2, 4.1),
                         val_accs=(0.80, 0.86, 0.90, 0.941), other_cores=1.4))
    runs.append(make_run("jax", "step", batch=256, times=(1.8, 0.5, 0.52, 0.5),
                         val_accs=(0.6, 0.7, 0.75, 0.78), steps=195))
    runs.append(make_run("pytorch", "eager", batch=256, times=(0.9, 0.6, 0.61, 0.62),
                         val_accs=(0.6, 0.7, 0.75, 0.78), steps=195, end={"peak_rss_bytes": 1100 * 2**20}))
    failed = make_run("pytorch", "eager", batch=1024, times=(1.0,), val_accs=(0.5,))
    failed.error, failed.records = "exit code 1", failed.records[:2]
    runs.append(failed)
    return runs


def meta():
    return make_meta(epochs=4, repeats=2, seeds=[0, 1, 2], init="native", cache="both",
                     input=["device", "loader"])


def test_summary_is_the_golden_one():
    check_golden("summary.md", report.summary(scenario(), meta()))


def test_csv_is_the_golden_one(tmp_path):
    results.write_csv(tmp_path / "out.csv", scenario())
    text = (tmp_path / "out.csv").read_text()
    assert next(csv.reader(io.StringIO(text))) == list(results.CSV_COLUMNS)
    check_golden("benchmark_results.csv", text)
