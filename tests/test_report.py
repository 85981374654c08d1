"""summary.md's table and settings line, from the records."""
import re

from mlpbench import report
from mlpbench.aggregate import FLOPS_PER_SAMPLE
from mlpbench.formatting import fmt_time
from support.fabricate import make_meta, make_run
from support.summaries import row, summary


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


def test_an_interrupted_benchmark_says_so_first():
    meta = make_meta()
    meta["interrupted"] = True
    lines = report.summary([make_run("jax", "step"), make_run("pytorch", "eager")], meta).splitlines()
    assert lines[2].startswith("- WARNING: the benchmark was interrupted")


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
