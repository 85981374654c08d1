"""The controller's files of record: benchmark_results.csv, one row per epoch per run, and
run_meta.json, the command, the machine and every run (docs/design.md, "Outputs"). Both are
rewritten whole, atomically, after every run."""
import csv
import dataclasses
import io
import json
import math
from pathlib import Path

from mlpbench.fileio import write_atomic
from mlpbench.formatting import run_label
from mlpbench.records import (
    END_EXTRAS,
    EPOCH_EXTRAS,
    EPOCH_FIELDS,
    MACHINE_EXTRAS,
    START_EXTRAS,
    Run,
    RunSpec,
)

# The model's hidden widths as one cell ("512x512"), then the start record's fields.
START_COLUMNS = (("hidden", "seed", "lr", "init", "precision", "device", "device_name", "framework_version")
                 + tuple(f for f in START_EXTRAS if f not in MACHINE_EXTRAS))
# 2: every run keeps its start and end records (start_record, end_record).
META_SCHEMA_VERSION = 2
RUN_COLUMNS = ("repeat", "arm", "cache", "load_avg_1m", "other_cores", "status", "error")
END_COLUMNS = ("test_loss", "test_acc") + END_EXTRAS
EPOCH_COLUMNS = tuple(f for f in EPOCH_FIELDS + EPOCH_EXTRAS if f != "event")
CSV_COLUMNS = EPOCH_COLUMNS + START_COLUMNS + RUN_COLUMNS + END_COLUMNS


def run_columns(run):
    return {"repeat": run.spec.repeat, "arm": run.spec.arm, "cache": run.spec.cache,
            "load_avg_1m": run.load_avg_1m, "other_cores": run.other_cores, "status": run.status,
            "error": run.error}


def start_columns(run):
    """The start record's columns; where a run failed before printing one, what its spec says."""
    spec, start = run.spec, run.start
    row = {k: start.get(k) for k in START_COLUMNS}
    row.update(hidden="x".join(map(str, start.get("layer_sizes", [0, *spec.hidden, 0])[1:-1])),
               seed=spec.seed, precision=spec.precision, input=spec.input)
    return row


def csv_rows(run):
    """One CSV row per epoch of a run; the run's test figures and peak memory on its last row.
    A run that failed before its first epoch gets one row, which says why."""
    end, epochs = run.end, run.epochs
    if not epochs:
        spec = run.spec
        return [{"framework": spec.framework, "mode": spec.mode, "batch_size": spec.batch_size,
                 **start_columns(run), **run_columns(run)}]
    rows = []
    for i, record in enumerate(epochs):
        row = {k: record[k] for k in CSV_COLUMNS if k in record}
        row.update(start_columns(run))
        row.update(run_columns(run))
        if i == len(epochs) - 1:
            row.update({k: end.get(k) for k in END_COLUMNS})
        rows.append(row)
    return rows


def csv_text(runs):
    """benchmark_results.csv's text: the epoch rows of the timed runs."""
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for run in runs:
        if run.spec.purpose == "timed":
            writer.writerows(csv_rows(run))
    return text.getvalue()


def write_csv(path, runs):
    text = csv_text(runs)
    write_atomic(path, lambda f: f.write(text.encode()))


def describe(run):
    """A run as run_meta.json lists it: its spec, the machine around it, its outcome, the
    versions and device its start record gave, and its start and end records whole (with the
    CSV's epoch rows they are the run again: `--from` rebuilds a summary from them)."""
    fields = {k: v for k, v in dataclasses.asdict(run).items() if k not in ("spec", "records")}
    return {**dataclasses.asdict(run.spec), **fields,
            **{k: run.start.get(k) for k in ("framework_version", "device", "device_name")},
            "start_record": run.start or None, "end_record": run.end or None}


def write_meta(path, meta, runs):
    meta = dict(meta, schema_version=META_SCHEMA_VERSION, runs=[describe(r) for r in runs],
                failed_runs=[f"{run_label(r.spec)}: {r.error}" for r in runs if r.error])
    write_atomic(path, lambda f: f.write(json.dumps(meta, indent=2).encode()))


class ResultsError(Exception):
    """A results folder that cannot be read back: one line that says why."""


RUN_FIELDS = ("error", "stderr_tail", "wall_s", "load_avg_1m", "other_cores")


def cell_value(text):
    """A CSV cell as the record held it: None, an int, a float (nan and inf too), or text."""
    if text in ("", None):  # None: a row shorter than the header
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def read_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


# A run's identity in the CSV: everything that makes a configuration, with seed and repeat.
# Consecutive runs differ in at least one (two widths of one framework can follow each other).
KEY_COLUMNS = ("framework", "mode", "batch_size", "hidden", "input", "cache", "precision", "unroll", "arm",
               "threads", "seed", "repeat")


def row_key(row):
    return tuple("" if row.get(k) is None else str(row[k]) for k in KEY_COLUMNS)


def spec_key(spec, start):
    """The key that csv_rows gives a run's rows, from its spec and start record."""
    run = Run(spec, [start] if start else [])
    return row_key({"framework": spec.framework, "mode": spec.mode, "batch_size": spec.batch_size,
                    **start_columns(run), **run_columns(run)})


def check_epoch_rows(folder, spec, records, finished):
    """A run's epoch rows are epochs 1, 2, ... in order, all that its start record announced when
    it finished: a folder that lost or doubled rows would rebuild into a summary that silently
    drops what they held (a parity finding, a run's steady time). Raises ResultsError."""
    if not records:
        return
    epochs = [r["epoch"] for r in records[1:]]
    announced = records[0].get("epochs")
    whole = list(range(1, (announced if finished else len(epochs)) + 1))
    if epochs != whole:
        raise ResultsError(f"{folder}/benchmark_results.csv: run {run_label(spec)} has epoch rows "
                           f"{epochs or 'none'} where its records announce {announced}: rows were lost or "
                           "doubled, so the folder cannot be rebuilt")


def read_results(folder):
    """(runs, meta) of a results folder, as the controller had them when it wrote the folder: each
    run's spec, machine and outcome from run_meta.json, its start and end records too, its epoch
    records from benchmark_results.csv (whose rows follow the runs' order). Raises ResultsError."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ResultsError(f"{folder} is not a folder")
    try:
        meta = json.loads((folder / "run_meta.json").read_text())
        rows = read_rows(folder / "benchmark_results.csv")
    except FileNotFoundError as e:
        raise ResultsError(f"{folder} has no {Path(e.filename).name}: not a results folder") from None
    except (json.JSONDecodeError, UnicodeDecodeError, csv.Error) as e:
        raise ResultsError(f"{folder}: cannot read its results ({e})") from None
    version = meta.get("schema_version") if isinstance(meta, dict) else None
    if version != META_SCHEMA_VERSION:
        raise ResultsError(f"{folder}/run_meta.json has schema version {version}, this code reads "
                           f"{META_SCHEMA_VERSION} (earlier versions kept no start and end records): "
                           "re-run it")
    runs, i = [], 0
    for entry in meta.get("runs", []):
        spec = RunSpec(**{f.name: entry.get(f.name, f.default) for f in dataclasses.fields(RunSpec)})
        spec = dataclasses.replace(spec, hidden=tuple(spec.hidden))
        records = [r for r in (entry.get("start_record"),) if r]
        if spec.purpose == "timed":
            key = spec_key(spec, entry.get("start_record"))
            while i < len(rows) and row_key(rows[i]) == key:
                if rows[i]["epoch"]:
                    records.append({"event": "epoch", **{k: cell_value(rows[i][k]) for k in EPOCH_COLUMNS}})
                i += 1
            if records and len(records) - 1 > records[0].get("epochs", math.inf):
                raise ResultsError(f"{folder}/benchmark_results.csv: more epoch rows than run "
                                   f"{run_label(spec)} had; two runs cannot be told apart")
            check_epoch_rows(folder, spec, records, finished=entry.get("end_record") is not None)
        records += [r for r in (entry.get("end_record"),) if r]
        runs.append(Run(spec, records, **{k: entry.get(k) for k in RUN_FIELDS}))
    if i != len(rows):
        raise ResultsError(f"{folder}/benchmark_results.csv has {len(rows) - i} row(s) that match no run "
                           "of run_meta.json")
    return runs, meta
