"""Field-by-field check of a trainer's stdout against the records of docs/design.md."""
import json
import math

from mlpbench.cli import INPUTS
from mlpbench.records import EPOCH_EXTRAS, RECORD_FIELDS


def parse_records(stdout):
    return [json.loads(line) for line in stdout.splitlines()]


def check_records(records, framework, mode, batch_size, epochs, train_samples):
    assert [r["event"] for r in records] == ["start"] + ["epoch"] * epochs + ["end"]
    start, *epoch_records, end = records
    for record in records:
        assert set(RECORD_FIELDS[record["event"]]) <= set(record)
    assert start["framework"] == framework and start["mode"] == mode
    assert start["batch_size"] == batch_size and start["epochs"] == epochs
    assert start["train_samples"] == train_samples
    assert start["steps_per_epoch"] == train_samples // batch_size
    assert start["device"] in ("cpu", "gpu") and start["device_name"]
    assert start["precision"] in ("highest", "tf32") and start["init"] in ("native", "shared")
    assert isinstance(start["framework_version"], str) and isinstance(start["lr"], float)
    assert start["input"] in INPUTS and start["compile_cache"] is None
    for i, r in enumerate(epoch_records, start=1):
        assert (r["framework"], r["mode"], r["batch_size"], r["epoch"]) == (framework, mode, batch_size, i)
        assert set(EPOCH_EXTRAS) <= set(r)
        assert r["epoch_time_s"] > 0 and r["eval_time_s"] > 0
        if i == 1:
            assert 0 < r["first_step_s"] <= r["epoch_time_s"]
        else:
            assert r["first_step_s"] is None
        steps = train_samples // batch_size
        assert math.isclose(r["samples_per_s"], steps * batch_size / r["epoch_time_s"], rel_tol=1e-9)
        for key in ("train_loss", "val_loss"):
            assert isinstance(r[key], float) and 0 < r[key] < 10
        for key in ("train_acc", "val_acc"):
            assert 0 <= r[key] <= 1
    assert 0 < end["test_loss"] < 10 and 0 <= end["test_acc"] <= 1
    assert end["total_time_s"] >= sum(r["epoch_time_s"] for r in epoch_records)
    assert end["peak_rss_bytes"] > 50 * 2**20 and end["peak_device_bytes"] is None  # CPU: no GPU allocator
    return start, epoch_records, end
