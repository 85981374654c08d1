"""The timed epoch loop both trainers share, and the contract a trainer keeps to be run by it
(docs/design.md, "Timing")."""
import math
import platform
import time
from dataclasses import dataclass, fields
from typing import Any, NamedTuple, Protocol

import numpy as np

from mlpbench import data
from mlpbench.cli import log
from mlpbench.machine import cpu_extensions, cpu_id, framework_env, peak_rss_bytes
from mlpbench.model import flops_per_sample, layer_sizes
from mlpbench.records import EPOCH_EXTRAS, emit


@dataclass
class EpochResult:
    """One epoch as a trainer reports it to the loop. The sums may still be on the device:
    the loop reads them after its clock has stopped. The rest are the record's additions,
    None where the mode has no such figure."""
    loss_sum: Any
    correct: Any
    first_step_s: float | None = None
    jit_trace_s: float | None = None
    jit_lower_s: float | None = None
    jit_compile_s: float | None = None
    compile_s: float | None = None
    graphs: int | None = None
    graph_breaks: int | None = None
    cache_hits: int | None = None
    recompiles: int | None = None


assert set(EPOCH_EXTRAS) < {f.name for f in fields(EpochResult)}


class Trainer(Protocol):
    """What the loop calls; each trainer implements it for its framework and modes."""

    def put_batches(self, order: np.ndarray) -> Any:
        """Ready one epoch's batches from its (steps, batch) index order, before the clock."""

    def train_epoch(self, batches: Any, epoch: int) -> EpochResult:
        """Train one epoch; return only after the device has finished its work."""

    def evaluate_split(self, split: str) -> tuple[float, float]:
        """Mean loss and accuracy on "val" or "test", as host numbers."""

    def device_peak_bytes(self) -> int | None:
        """The GPU allocator's peak, or None where there is none."""


class Device(NamedTuple):
    kind: str  # "cpu" or "gpu"
    name: str


def start_record(args, framework, version, device, train_samples, **extras):
    return {"event": "start", "framework": framework, "framework_version": version,
            "mode": args.mode, "batch_size": args.batch_size, "epochs": args.epochs, "lr": args.lr,
            "seed": args.seed, "init": args.init, "precision": args.precision, "device": device.kind,
            "device_name": device.name, "train_samples": train_samples,
            "steps_per_epoch": train_samples // args.batch_size, "input": args.input,
            "workers": args.workers if args.input == "loader" else None,
            "compile_cache": args.compile_cache, "layer_sizes": list(layer_sizes(args.hidden)),
            "flops_per_sample": flops_per_sample(layer_sizes(args.hidden)),
            "cpu_extensions": cpu_extensions(), "cpu_id": cpu_id(), "env": framework_env(),
            "python_version": platform.python_version(), **extras}


def run_epochs(trainer: Trainer, start: dict):
    """Train start["epochs"] epochs, each on its own batch order, and print the records.
    The start record is the run's settings as the controller will read them."""
    framework, mode, batch = start["framework"], start["mode"], start["batch_size"]
    steps, n, epochs = start["steps_per_epoch"], start["train_samples"], start["epochs"]
    emit(start)
    t_total = time.perf_counter()
    for epoch in range(1, epochs + 1):
        batches = trainer.put_batches(data.batch_order(start["seed"], epoch, n, batch))
        t0 = time.perf_counter()
        result = trainer.train_epoch(batches, epoch)
        epoch_time = time.perf_counter() - t0
        # Means over the steps taken: the dropped partial batch was never trained on.
        train_loss, train_acc = float(result.loss_sum) / steps, float(result.correct) / (steps * batch)
        t0 = time.perf_counter()
        val_loss, val_acc = trainer.evaluate_split("val")
        eval_time = time.perf_counter() - t0
        if not math.isfinite(train_loss):
            log(f"warning: train loss is {train_loss} in epoch {epoch}: the run diverged (lr {start['lr']})")
        emit({"event": "epoch", "framework": framework, "mode": mode, "batch_size": batch,
              "epoch": epoch, "epoch_time_s": epoch_time,
              "first_step_s": result.first_step_s if epoch == 1 else None,
              "train_loss": train_loss, "train_acc": train_acc, "val_loss": val_loss,
              "val_acc": val_acc, "samples_per_s": steps * batch / epoch_time,
              "eval_time_s": eval_time, **{k: getattr(result, k) for k in EPOCH_EXTRAS}})
        log(f"{framework} {mode} B={batch} epoch {epoch}/{epochs}: {epoch_time:.3f} s, "
            f"train loss {train_loss:.4f}, val acc {val_acc:.4f}")
    test_loss, test_acc = trainer.evaluate_split("test")
    emit({"event": "end", "test_loss": test_loss, "test_acc": test_acc,
          "total_time_s": time.perf_counter() - t_total,
          "peak_rss_bytes": peak_rss_bytes(), "peak_device_bytes": trainer.device_peak_bytes()})
