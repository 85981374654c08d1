"""What a trainer prints and the controller reads: the JSON records' fields, and the typed
run that the controller makes of one child process (docs/design.md, "Records")."""
import json
from dataclasses import dataclass, field

from mlpbench.model import HIDDEN

START_FIELDS = ("event", "framework", "framework_version", "mode", "batch_size", "epochs",
                "lr", "seed", "init", "precision", "device", "device_name",
                "train_samples", "steps_per_epoch")
EPOCH_FIELDS = ("event", "framework", "mode", "batch_size", "epoch", "epoch_time_s",
                "first_step_s", "train_loss", "train_acc", "val_loss", "val_acc",
                "samples_per_s", "eval_time_s")
END_FIELDS = ("event", "test_loss", "test_acc", "total_time_s")
RECORD_FIELDS = {"start": START_FIELDS, "epoch": EPOCH_FIELDS, "end": END_FIELDS}
# Additions: absent or null where they do not apply.
START_EXTRAS = ("input", "workers", "unroll", "compile_cache", "threads", "cuda", "layer_sizes",
                "flops_per_sample", "kernels", "cpu_extensions", "cpu_id", "env", "flax_version", "gemm_path",
                "python_version")
# The machine's, the same for every run of a benchmark: in run_meta.json, not a CSV column each.
MACHINE_EXTRAS = ("layer_sizes", "kernels", "cpu_extensions", "cpu_id", "env", "flax_version", "gemm_path",
                  "python_version")
EPOCH_EXTRAS = ("jit_trace_s", "jit_lower_s", "jit_compile_s", "compile_s", "graphs", "graph_breaks",
                "cache_hits", "recompiles")
END_EXTRAS = ("peak_rss_bytes", "peak_device_bytes")

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


def emit(record):
    # NaN/Infinity stay as Python's json writes them: a diverged run is shown, not hidden.
    print(json.dumps(record), flush=True)


@dataclass(frozen=True)
class RunSpec:
    """One planned child process: which trainer, how, and why (timed, or filling a cache)."""
    framework: str
    mode: str
    batch_size: int
    input: str = "device"
    cache: str = "cold"
    seed: int = 0
    repeat: int = 1
    purpose: str = "timed"
    precision: str = "highest"
    unroll: int | None = None  # scan only; None: the trainer's default for the device
    hidden: tuple = HIDDEN  # the hidden layers' widths
    arm: str | None = None  # "A" or "B" under --aa
    threads: int | None = None  # --threads: CPU cores the trainer may run on; None, all it is given


@dataclass
class Run:
    """A finished (or failed) child process: its spec, its records, and the machine around it."""
    spec: RunSpec
    records: list = field(default_factory=list)
    error: str | None = None
    stderr_tail: str = ""
    wall_s: float | None = None
    load_avg_1m: float | None = None
    other_cores: float | None = None

    def record(self, event):
        return next((r for r in self.records if r["event"] == event), {})

    @property
    def start(self):
        return self.record("start")

    @property
    def end(self):
        return self.record("end")

    @property
    def epochs(self):
        return [r for r in self.records if r["event"] == "epoch"]

    @property
    def status(self):
        return "ok" if self.error is None else "failed"
