"""Runs grouped into configurations, and each configuration's figures as a frozen dataclass
(docs/design.md, "Statistics and findings"): what the report, the findings and the plots all read. No
inference and no sentences here."""
import dataclasses
import statistics
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from mlpbench.model import HIDDEN, flops_per_sample, layer_sizes
from mlpbench.modes import FRAMEWORKS, names

FLOPS_PER_SAMPLE = flops_per_sample()  # the default model's
# A run is suspect when other processes kept more than this many cores busy, on average, during
# it. Measured on the 2-core machine: 0.00 to 0.09 with nothing else running (0.00 to 0.12 on a
# 16-core GPU host); 0.98 with a test suite beside the default benchmark, which slowed JAX's steady
# epochs 1.9x and PyTorch's first epoch from 2 s to 47 s. 0.3 sits well above the first, well
# below the second.
BUSY_CORES = 0.3
# A configuration is noisy when, in one of its runs, the interquartile range of the steady epochs
# exceeds this share of their median (a robust spread: one slow epoch of nine moves it little).
# Measured on the quiet 2-core AMD EPYC VM (docs/runs/2026-12-02-epyc-aa-*-3: 36 runs of 9 steady
# epochs, other processes at 0.00 to 0.01 cores): median 4.6%, 33 of 36 under 13%, the largest
# 17% and, once, 28% where the VM's speed shifted mid-run; a run beside our own test suite: 37%.
# 0.20 stays quiet on a quiet machine and fires on a disturbed one.
NOISY_EPOCHS = 0.20


class Config(NamedTuple):
    """What makes runs comparable repeats of one another: everything but seed and repeat."""
    batch_size: int
    framework: str
    mode: str
    input: str = "device"
    cache: str = "cold"
    precision: str = "highest"
    unroll: int | None = None  # scan only
    hidden: tuple = HIDDEN
    arm: str | None = None  # "A" or "B" under --aa: one configuration run as two
    threads: int | None = None  # --threads: the cores the trainer may use; None, all it was given

    def key(self, *fields):
        """What configurations share when they agree on these fields: a grouping key."""
        return tuple(getattr(self, f) for f in fields)

    def key_except(self, *fields):
        """The grouping key of every field but these."""
        return self.key(*(f for f in self._fields if f not in fields))


def config_of(run):
    """A run's configuration; a scan's unroll as its start record gave it, where the
    controller left it to the trainer's default."""
    s = run.spec
    unroll = s.unroll if s.unroll is not None else run.start.get("unroll")
    return Config(s.batch_size, s.framework, s.mode, s.input, s.cache, s.precision, unroll, tuple(s.hidden),
                  s.arm, s.threads)


def steady_time(run):
    """Median epoch time after the first: the first epoch carries the JIT."""
    times = [r["epoch_time_s"] for r in run.epochs[1:]]
    return statistics.median(times) if times else None


def epoch_spread(run):
    """The interquartile range of a run's steady epochs over their median; None with fewer than
    three (two epochs have no quartiles to speak of)."""
    times = [r["epoch_time_s"] for r in run.epochs[1:]]
    if len(times) < 3:
        return None
    q1, q3 = np.percentile(times, [25, 75])
    return float((q3 - q1) / np.median(times))


def time_to_target(run, target):
    """(training seconds, epoch) until validation accuracy first reaches target, epoch 1's
    compilation included and evaluation excluded; None when it never does."""
    elapsed = 0.0
    for record in run.epochs:
        elapsed += record["epoch_time_s"]
        if record["val_acc"] >= target:
            return elapsed, record["epoch"]
    return None


def representative(runs, seed):
    """The run a curve is drawn from: the first of the given seed, else the first."""
    return next((r for r in runs if r.spec.seed == seed), runs[0])


def configs(runs):
    """{Config: [finished timed runs]} in run order."""
    groups = {}
    for run in runs:
        if run.error is None and run.spec.purpose == "timed":
            groups.setdefault(config_of(run), []).append(run)
    return groups


def group_by(configs_, key):
    """Configurations grouped by key(config): {key: [config, ...]}, the groups in the order of
    their first member and each group's members in the order given."""
    groups = {}
    for c in configs_:
        groups.setdefault(key(c), []).append(c)
    return groups


def busy_cores(run):
    """How busy other work kept the machine during a run: the cores other processes used,
    or where that was not measured, the 1-minute load average at the run's start."""
    measured = run.other_cores
    return (measured if measured is not None else run.load_avg_1m) or 0


def is_busy(run, cpu_count=None):
    """Other processes kept more than BUSY_CORES busy during the run. Where that was not
    measured (no /proc/stat), the load average judges, and it holds our own previous run too,
    so only more than half the cores counts."""
    if run.other_cores is not None:
        return run.other_cores > BUSY_CORES
    return (run.load_avg_1m or 0) > (cpu_count or 2) / 2


def median_of(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


@dataclass(frozen=True)
class ConfigStats:
    """One configuration's figures over its runs. Medians over runs unless said otherwise;
    None where no run has the figure. What follows from the fields is a property; as_dict()
    writes the fields and the properties in DERIVED, as summary.json documents them (`noisy`,
    a verdict on epoch_spread, is not written)."""
    runs: int
    first: float  # epoch 1's time, compilation included
    first_step: float | None
    steadies: tuple  # each run's steady time (median of epochs 2..E)
    blocks: tuple  # (seed, repeat) each of those runs ran in: what a comparison pairs runs by
    val_acc: float  # final epoch
    best_val_acc: float  # the highest of any epoch of any run
    test_acc: float
    train_time: float  # all epochs
    samples: int  # per epoch, the dropped partial batch aside
    steps: int
    devices: tuple  # device kinds the runs ran on
    tta: float | None  # training time to the target accuracy, over the runs that reached it
    tta_epoch: float | None
    reached: int  # runs that reached the target
    recompiles_late: int | None  # most compilations after epoch 1 in any run
    peak_rss: float | None
    peak_device: float | None
    jit_trace_s: float | None
    jit_lower_s: float | None
    jit_compile_s: float | None
    compile_s: float | None
    graphs: float | None
    graph_breaks: float | None
    cache_hits: float | None
    flops_per_sample: int  # of this configuration's model
    peak: float | None  # GFLOP/s: the fp32 matmul peak its framework measured on this device
    busy_runs: int  # runs during which other work kept the machine busy (BUSY_CORES)
    steady_epochs: int  # epochs 2..E of all runs
    epoch_spread: float | None  # the largest of the runs' epoch_spread

    DERIVED = ("steady", "spread", "jit", "samples_per_s", "gflops", "peak_pct")

    @property
    def steady(self):
        """The geometric mean of the runs' steady times: the centre the comparisons weigh."""
        return statistics.geometric_mean(self.steadies) if self.steadies else None

    @property
    def spread(self):
        """(fastest, slowest) steady time across runs, with two runs or more."""
        return (min(self.steadies), max(self.steadies)) if len(self.steadies) > 1 else None

    @property
    def jit(self):
        return self.first - self.steady if self.steady is not None else None

    @property
    def samples_per_s(self):
        return self.samples / self.steady if self.steady else None

    @property
    def gflops(self):
        return self.samples_per_s * self.flops_per_sample / 1e9 if self.steady else None

    @property
    def peak_pct(self):
        return 100 * self.gflops / self.peak if self.peak and self.gflops else None

    @property
    def noisy(self):
        return self.epoch_spread is not None and self.epoch_spread > NOISY_EPOCHS

    def as_dict(self):
        return {**dataclasses.asdict(self), **{k: getattr(self, k) for k in self.DERIVED}}

    @classmethod
    def from_dict(cls, d):
        """The figures as summary.json wrote them (as_dict), read back."""
        values = {f.name: d[f.name] for f in dataclasses.fields(cls)}
        return cls(**values | {"steadies": tuple(values["steadies"]), "devices": tuple(values["devices"]),
                               "blocks": tuple(map(tuple, values["blocks"]))})


def recompiles_after_first(runs):
    """Most compilations after epoch 1 in any run; None where the mode cannot count them."""
    counts = [[e.get("recompiles") for e in r.epochs[1:]] for r in runs]
    known = [sum(c for c in run if c is not None) for run in counts if any(c is not None for c in run)]
    return max(known) if known else None


def config_stats(runs, peaks, target, cpu_count=None):
    firsts = [r.epochs[0] for r in runs]
    timed = [(steady_time(r), (r.spec.seed, r.spec.repeat)) for r in runs]
    steadies = tuple(s for s, _ in timed if s is not None)
    blocks = tuple(b for s, b in timed if s is not None)
    start = runs[0].start
    reached = [t for t in (time_to_target(r, target) for r in runs) if t]
    first = median_of(e["epoch_time_s"] for e in firsts)
    stages = {key: median_of(e.get(key) for e in firsts) for key in
              ("jit_trace_s", "jit_lower_s", "jit_compile_s", "compile_s", "graphs", "graph_breaks",
               "cache_hits")}
    return ConfigStats(
        runs=len(runs), first=first, first_step=median_of(e["first_step_s"] for e in firsts),
        steadies=steadies, blocks=blocks,
        val_acc=median_of(r.epochs[-1]["val_acc"] for r in runs),
        best_val_acc=max(max(e["val_acc"] for e in r.epochs) for r in runs),
        test_acc=median_of(r.end["test_acc"] for r in runs),
        train_time=median_of(sum(e["epoch_time_s"] for e in r.epochs) for r in runs),
        samples=start["steps_per_epoch"] * start["batch_size"], steps=start["steps_per_epoch"],
        devices=tuple(sorted({r.start["device"] for r in runs})),
        tta=median_of(t for t, _ in reached), tta_epoch=median_of(e for _, e in reached),
        reached=len(reached),
        recompiles_late=recompiles_after_first(runs),
        peak_rss=median_of(r.end.get("peak_rss_bytes") for r in runs),
        peak_device=median_of(r.end.get("peak_device_bytes") for r in runs),
        flops_per_sample=flops_per_sample(layer_sizes(config_of(runs[0]).hidden)),
        peak=peaks.get(start["framework"], {}).get("gflops"),
        busy_runs=sum(is_busy(r, cpu_count) for r in runs),
        steady_epochs=sum(len(r.epochs) - 1 for r in runs),
        epoch_spread=max((x for x in map(epoch_spread, runs) if x is not None), default=None), **stages)


def config_order(config):
    """Where a configuration sits in tables and lists: by batch size, model, input, precision,
    framework, the modes table's order, cache, unroll, arm and threads; never by the order runs ran in
    (which interleaves widths and alternates frameworks on purpose)."""
    framework, mode = list(FRAMEWORKS).index(config.framework), names().index(config.mode)
    return (config.batch_size, config.hidden, config.input, config.precision, framework, mode, config.cache,
            config.unroll or 0, config.arm or "", config.threads or 0)


def all_stats(runs, peaks, target, cpu_count=None):
    groups = dict(sorted(configs(runs).items(), key=lambda kv: config_order(kv[0])))
    return groups, {c: config_stats(rs, peaks, target, cpu_count) for c, rs in groups.items()}
