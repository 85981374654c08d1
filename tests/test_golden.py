"""Golden files: the summary and CSV of a fixed set of made-up runs, and the records of a tiny
real run, captured before the code was reorganised. The layout may change; what a user reads
may not. `python -m mlpbench.rebuild` rewrites the summary and CSV, UPDATE_GOLDEN=1 the records (only
for a change of output that is meant)."""
import csv
import io

from mlpbench import rebuild, report, results
from support.fabricate import golden_meta as meta
from support.fabricate import golden_scenario as scenario
from support.goldens import GOLDEN


def test_summary_and_csv_are_the_golden_ones(tmp_path):
    """`python -m mlpbench.rebuild` rewrites both, for a change of output that is meant."""
    texts = rebuild.golden_texts()
    assert texts["summary.md"] == report.summary(scenario(), meta())
    results.write_csv(tmp_path / "out.csv", scenario())
    assert texts["benchmark_results.csv"] == (tmp_path / "out.csv").read_text()
    assert next(csv.reader(io.StringIO(texts["benchmark_results.csv"]))) == list(results.CSV_COLUMNS)
    for name, text in texts.items():
        assert text == (GOLDEN / name).read_text(), f"{name} differs from tests/golden/{name}"
