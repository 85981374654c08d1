"""Golden files (tests/golden/): outputs captured before the code was reorganised. The layout
may change; what a user reads may not. UPDATE_GOLDEN=1 rewrites the records of a real run, and
`python -m mlpbench.rebuild` the rest, only for a change of output that is meant."""
import json
import os
from pathlib import Path

import pytest

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


# Timings, and the machine's facts rather than the code's.
TIMING = {"epoch_time_s", "first_step_s", "samples_per_s", "eval_time_s", "total_time_s", "jit_trace_s",
          "jit_lower_s", "jit_compile_s", "peak_rss_bytes", "framework_version", "device_name", "threads",
          "kernels", "cpu_extensions", "cpu_id", "env", "gemm_path", "python_version"}


def assert_records_match_golden(name, records):
    """Every field of every record, timings and machine facts aside. Losses to 1e-5 and
    accuracies to one image (another CPU's BLAS may order sums differently, as in
    reference checks); every other field exactly."""
    path = GOLDEN / name
    if UPDATE:
        path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    golden = [json.loads(line) for line in path.read_text().splitlines()]
    assert [sorted(r) for r in records] == [sorted(g) for g in golden]
    for got, want in zip(records, golden, strict=True):
        for key, value in want.items():
            if key in TIMING:
                continue
            if isinstance(value, float) and "loss" in key:
                assert got[key] == pytest.approx(value, abs=1e-5), (got["event"], key)
            elif isinstance(value, float) and key.endswith("_acc"):
                assert got[key] == pytest.approx(value, abs=1.5e-4), (got["event"], key)
            else:
                assert got[key] == value, (got["event"], key)
