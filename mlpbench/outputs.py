"""The files a benchmark's runs become, written by the controller after its runs and by `--from`
from a results folder's records with today's code (docs/design.md, "Outputs")."""
from mlpbench import plots, report
from mlpbench.fileio import write_atomic
from mlpbench.size_map import size_map


def write_outputs(out, runs, meta):
    """summary.md, summary.json and the plots of runs into the folder out; returns summary.md's text."""
    built = report.build(runs, meta)
    summary = report.render(built)
    write_atomic(out / "summary.md", lambda f: f.write(summary.encode()))
    as_json = report.as_json(built)
    write_atomic(out / "summary.json", lambda f: f.write(as_json.encode()))
    # Each takes every run and draws the finished, timed ones (aggregate.configs).
    plots.training_curves(runs, out / "training_curves.png", meta["settings"].get("target_acc", 0.85))
    plots.epoch_times(runs, out / "epoch_times.png")
    size_map(runs, out / "size_map.png", meta.get("probes", {}))
    plots.step_split(built["configurations"], out / "step_split.png")
    return summary
