"""Runs made up record by record (no training), for checking the summary's figures and
verdicts against numbers known in advance."""
import bench_common as bc


def make_run(framework, mode, batch=64, seed=0, repeat=1, times=(2.0, 1.0, 1.0), val_accs=(0.80, 0.85, 0.90),
             train_losses=None, device="cpu", input="device", cache="cold", steps=100, other_cores=0.0,
             load=0.1, first=None, end=None, recompiles=None):
    train_losses = train_losses or [1.0 / e for e in range(1, len(times) + 1)]
    start = {"event": "start", "framework": framework, "framework_version": "1.0", "mode": mode,
             "batch_size": batch, "epochs": len(times), "lr": 0.01, "seed": seed, "init": "shared",
             "precision": "highest", "device": device, "device_name": f"fake {device}",
             "train_samples": steps * batch, "steps_per_epoch": steps, "input": input}
    records = [start]
    for epoch, (t, acc, loss) in enumerate(zip(times, val_accs, train_losses), start=1):
        record = {"event": "epoch", "framework": framework, "mode": mode, "batch_size": batch, "epoch": epoch,
                  "epoch_time_s": t, "first_step_s": 0.5 * t if epoch == 1 else None, "train_loss": loss,
                  "train_acc": acc - 0.01, "val_loss": loss + 0.1, "val_acc": acc,
                  "samples_per_s": steps * batch / t, "eval_time_s": 0.1,
                  "recompiles": (recompiles or {}).get(epoch)}
        if epoch == 1:
            record.update(first or {})
        records.append(record)
    records.append({"event": "end", "test_loss": 0.3, "test_acc": val_accs[-1] - 0.005,
                    "total_time_s": sum(times) + 1, "peak_rss_bytes": 500 * 2**20, "peak_device_bytes": None,
                    **(end or {})})
    assert set(bc.START_FIELDS) - {"event"} <= set(start)
    return {"framework": framework, "mode": mode, "batch_size": batch, "seed": seed, "repeat": repeat,
            "input": input, "cache": cache, "purpose": "timed", "error": None, "stderr_tail": "",
            "load_avg_1m": load, "other_cores": other_cores, "records": records}


def make_meta(**settings):
    return {"settings": {"epochs": 3, "repeats": 1, "init": "shared", "precision": "highest", "lr": 0.01,
                         "seed": 0, "seeds": [0], "target_acc": 0.85, **settings},
            "probes": {"jax": {"gflops": 400.0, "matmul_n": 2048}, "pytorch": {"gflops": 200.0, "matmul_n": 2048}},
            "cpu": "fake cpu", "cpu_count": 2, "platform": "Linux", "python": "3.11",
            "command": ["compare_results.py"], "start_time": "then", "end_time": "now"}
