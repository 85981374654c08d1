"""benchmark_results.csv read back on its own, without the package: each run's steady epoch, the
reference every summary figure is checked against."""
import csv
import statistics


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def steadies_by_block(rows):
    """{(framework, mode, batch, width, arm): {(seed, repeat): the run's median of epochs 2..E}} from
    the CSV alone."""
    runs = {}
    for r in rows:
        width = int(r["hidden"].split("x")[0])
        key = (r["framework"], r["mode"], int(r["batch_size"]), width, r["arm"] or None)
        block = (int(r["seed"]), int(r["repeat"]))
        runs.setdefault(key, {}).setdefault(block, []).append(float(r["epoch_time_s"]))
    return {k: {b: statistics.median(times[1:]) for b, times in by_run.items()} for k, by_run in runs.items()}


def steadies_from_csv(rows):
    """{(framework, mode, batch, width, arm): [each run's median of epochs 2..E]} from the CSV alone."""
    return {k: list(by_block.values()) for k, by_block in steadies_by_block(rows).items()}
