"""Runs made up record by record (no training), for checking the summary's figures and
verdicts against numbers known in advance."""
import dataclasses

from mlpbench.records import START_FIELDS, Run, RunSpec


@dataclasses.dataclass
class Knobs:
    """What a made-up run can be told; everything else follows from it."""
    batch: int = 64
    seed: int = 0
    repeat: int = 1
    times: tuple = (2.0, 1.0, 1.0)  # epoch times; epoch 1 first
    val_accs: tuple = (0.80, 0.85, 0.90)
    train_losses: tuple | None = None
    device: str = "cpu"
    input: str = "device"
    cache: str = "cold"
    steps: int = 100
    other_cores: float | None = 0.0
    load: float | None = 0.1
    first: dict | None = None  # fields added to epoch 1's record
    end: dict | None = None  # fields added to the end record
    recompiles: dict | None = None  # {epoch: count}
    precision: str = "highest"
    unroll: int | None = None
    hidden: tuple = (512, 512)
    threads: int | None = None  # --threads


def make_run(framework, mode, **knobs):
    k = Knobs(**knobs)
    train_losses = k.train_losses or [1.0 / e for e in range(1, len(k.times) + 1)]
    start = {"event": "start", "framework": framework, "framework_version": "1.0", "mode": mode,
             "batch_size": k.batch, "epochs": len(k.times), "lr": 0.01, "seed": k.seed, "init": "shared",
             "precision": k.precision, "device": k.device, "device_name": f"fake {k.device}",
             "train_samples": k.steps * k.batch, "steps_per_epoch": k.steps, "input": k.input,
             "unroll": k.unroll, "layer_sizes": [784, *k.hidden, 10], "threads": k.threads}
    records = [start]
    for epoch, (t, acc, loss) in enumerate(zip(k.times, k.val_accs, train_losses, strict=True), start=1):
        record = {"event": "epoch", "framework": framework, "mode": mode, "batch_size": k.batch,
                  "epoch": epoch, "epoch_time_s": t, "first_step_s": 0.5 * t if epoch == 1 else None,
                  "train_loss": loss, "train_acc": acc - 0.01, "val_loss": loss + 0.1, "val_acc": acc,
                  "samples_per_s": k.steps * k.batch / t, "eval_time_s": 0.1,
                  "recompiles": (k.recompiles or {}).get(epoch)}
        if epoch == 1:
            record.update(k.first or {})
        records.append(record)
    records.append({"event": "end", "test_loss": 0.3, "test_acc": k.val_accs[-1] - 0.005,
                    "total_time_s": sum(k.times) + 1, "peak_rss_bytes": 500 * 2**20,
                    "peak_device_bytes": None, **(k.end or {})})
    assert set(START_FIELDS) - {"event"} <= set(start)
    spec = RunSpec(framework, mode, k.batch, k.input, k.cache, k.seed, k.repeat, precision=k.precision,
                   unroll=k.unroll, hidden=tuple(k.hidden), threads=k.threads)
    return Run(spec, records, load_avg_1m=k.load, other_cores=k.other_cores)


def make_meta(**settings):
    return {"settings": {"epochs": 3, "repeats": 1, "init": "shared", "precision": "highest", "lr": 0.01,
                         "seed": 0, "seeds": [0], "target_acc": 0.85, **settings},
            "probes": {"jax": {"gflops": 400.0, "matmul_n": 2048},
                       "pytorch": {"gflops": 200.0, "matmul_n": 2048}},
            "cpu": "fake cpu", "cpu_count": 2, "platform": "Linux", "python": "3.11",
            "command": ["compare_results.py"], "start_time": "then", "end_time": "now"}


def golden_scenario():
    """Made-up runs that reach every part of the summary: two batch sizes, every CPU mode,
    seeds and repeats, warm caches, the loader, a busy run, a noisy spread, a failed run."""
    runs = []
    for seed, (jax_acc, torch_acc) in enumerate([(0.941, 0.930), (0.943, 0.932), (0.940, 0.929)]):
        for repeat, (a, b) in enumerate([(1.0, 2.0), (1.1, 2.4)], start=1):
            runs.append(make_run("jax", "step", seed=seed, repeat=repeat, times=(3.0, a, a * 1.02, a * 0.98),
                                 val_accs=(0.80, 0.86, 0.90, jax_acc),
                                 first={"jit_trace_s": 0.05, "jit_lower_s": 0.03, "jit_compile_s": 0.4}))
            runs.append(make_run("pytorch", "eager", seed=seed, repeat=repeat, times=(b * 1.1, b, b, b * 1.3),
                                 val_accs=(0.79, 0.85, 0.89, torch_acc)))
    runs.append(make_run("jax", "scan", times=(2.5, 0.7, 0.8, 0.75), val_accs=(0.80, 0.86, 0.90, 0.941),
                         first={"jit_trace_s": 0.06, "jit_lower_s": 0.04, "jit_compile_s": 0.5}))
    runs.append(make_run("jax", "nojit", times=(20.0, 18.0, 18.5, 18.2), val_accs=(0.80, 0.86, 0.90, 0.941),
                         recompiles={2: 0, 3: 0, 4: 0}))
    runs.append(make_run("pytorch", "compile", times=(26.0, 1.8, 1.9, 1.7),
                         val_accs=(0.80, 0.86, 0.90, 0.941),
                         first={"compile_s": 24.0, "graphs": 4, "graph_breaks": 4, "cache_hits": None},
                         recompiles={1: 0, 2: 0, 3: 0, 4: 1}))
    runs.append(make_run("pytorch", "compile", cache="warm", times=(4.5, 1.8, 1.85, 1.75),
                         val_accs=(0.80, 0.86, 0.90, 0.941),
                         first={"compile_s": 2.2, "graphs": 4, "graph_breaks": 4, "cache_hits": 9}))
    runs.append(make_run("jax", "step", input="loader", times=(5.0, 3.0, 3.1, 2.9),
                         val_accs=(0.80, 0.86, 0.90, 0.941)))
    runs.append(make_run("pytorch", "eager", input="loader", times=(5.5, 4.0, 6.0, 4.1),
                         val_accs=(0.80, 0.86, 0.90, 0.941), other_cores=1.4))
    runs.append(make_run("jax", "step", batch=256, times=(1.8, 0.5, 0.52, 0.5),
                         val_accs=(0.6, 0.7, 0.75, 0.78), steps=195))
    runs.append(make_run("pytorch", "eager", batch=256, times=(0.9, 0.6, 0.61, 0.62),
                         val_accs=(0.6, 0.7, 0.75, 0.78), steps=195, end={"peak_rss_bytes": 1100 * 2**20}))
    failed = make_run("pytorch", "eager", batch=1024, times=(1.0,), val_accs=(0.5,))
    failed.error, failed.records = "exit code 1", failed.records[:2]
    runs.append(failed)
    return runs


def golden_meta():
    return make_meta(epochs=4, repeats=2, seeds=[0, 1, 2], init="native", cache="both",
                     input=["device", "loader"])
