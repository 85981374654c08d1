"""Golden files: the summary and CSV of a fixed set of made-up runs, and the records of a tiny
real run, captured before the code was reorganised. The layout may change; what a user reads
may not. UPDATE_GOLDEN=1 rewrites them (only for a change of output that is meant)."""
import csv
import io

from mlpbench import report, results
from support.fabricate import golden_meta as meta
from support.fabricate import golden_scenario as scenario
from support.goldens import check_golden


def test_summary_is_the_golden_one():
    check_golden("summary.md", report.summary(scenario(), meta()))


def test_csv_is_the_golden_one(tmp_path):
    results.write_csv(tmp_path / "out.csv", scenario())
    text = (tmp_path / "out.csv").read_text()
    assert next(csv.reader(io.StringIO(text))) == list(results.CSV_COLUMNS)
    check_golden("benchmark_results.csv", text)
