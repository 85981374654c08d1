"""The shared epoch loop, run with a fake trainer that records what it is given and a fake
clock that only the fakes advance, so every figure is known; memory and FLOPs."""
import json

import pytest

from mlpbench import data, loop, machine, model

N, BATCH, EPOCHS, SEED = 1000, 96, 3, 7  # 10 steps of 96: 40 samples dropped each epoch
STEPS = N // BATCH
TRAIN_S, EVAL_S = {1: 5.0, 2: 1.0, 3: 1.5}, 100.0
EVALS = {"val": (0.5, 0.75), "test": (0.25, 0.625)}


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class FakeTrainer:
    """Keeps the loop's contract (mlpbench.loop.Trainer) and logs every call in order."""

    def __init__(self, clock):
        self.clock, self.calls, self.orders = clock, [], []

    def put_batches(self, order):
        self.orders.append(order)
        self.calls.append(("put", len(self.orders)))
        return ("on device", order)

    def train_epoch(self, batches, epoch):
        self.calls.append(("train", epoch, batches))
        self.clock.now += TRAIN_S[epoch]
        # sums whose means tell the right denominator from a wrong one
        return loop.EpochResult(2.0 * STEPS * epoch, 0.5 * STEPS * BATCH, first_step_s=0.25 * epoch,
                                recompiles=0)

    def evaluate_split(self, split):
        self.calls.append(("evaluate", split))
        self.clock.now += EVAL_S
        return EVALS[split]

    def device_peak_bytes(self):
        return 12345


@pytest.fixture
def run(monkeypatch, capsys):
    clock = Clock()
    monkeypatch.setattr(loop.time, "perf_counter", clock)
    trainer = FakeTrainer(clock)
    start = {"event": "start", "framework": "jax", "mode": "step", "batch_size": BATCH, "epochs": EPOCHS,
             "seed": SEED, "lr": 0.1, "train_samples": N, "steps_per_epoch": STEPS}
    loop.run_epochs(trainer, start)
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    return records, trainer


def test_each_epoch_trains_on_its_own_batch_order(run):
    records, trainer = run
    expected = [data.batch_order(SEED, e, N, BATCH) for e in range(1, EPOCHS + 1)]
    assert len(trainer.orders) == EPOCHS
    for order, want in zip(trainer.orders, expected, strict=True):
        assert order.shape == (STEPS, BATCH)
        assert (order == want).all()
    trained = [c for c in trainer.calls if c[0] == "train"]
    assert [c[2] for c in trained] == [("on device", o) for o in trainer.orders]
    assert [c[1] for c in trained] == [1, 2, 3]
    # distinct across epochs: a reused order would train on the same batches every epoch
    assert not (expected[0] == expected[1]).all() and not (expected[1] == expected[2]).all()


def test_each_epoch_is_readied_trained_then_validated_and_test_comes_last(run):
    records, trainer = run
    assert [c[:2] for c in trainer.calls] == [
        ("put", 1), ("train", 1), ("evaluate", "val"), ("put", 2), ("train", 2), ("evaluate", "val"),
        ("put", 3), ("train", 3), ("evaluate", "val"), ("evaluate", "test")]


def test_figures_are_the_right_means_of_the_right_split(run):
    records, _ = run
    assert [r["event"] for r in records] == ["start"] + ["epoch"] * EPOCHS + ["end"]
    for epoch, record in enumerate(records[1:-1], start=1):
        assert record["train_loss"] == pytest.approx(2.0 * epoch)  # loss sum / steps taken
        assert record["train_acc"] == pytest.approx(0.5)  # correct / (steps x batch), not / N
        assert (record["val_loss"], record["val_acc"]) == EVALS["val"]
        assert record["samples_per_s"] == pytest.approx(STEPS * BATCH / TRAIN_S[epoch])
        assert record["recompiles"] == 0
    end = records[-1]
    assert (end["test_loss"], end["test_acc"]) == EVALS["test"]
    assert end["peak_device_bytes"] == 12345 and end["peak_rss_bytes"] > 10 * 2**20


def test_epoch_clock_holds_training_only_and_first_step_only_in_epoch_1(run):
    records, _ = run
    epochs = records[1:-1]
    assert [r["epoch_time_s"] for r in epochs] == [TRAIN_S[1], TRAIN_S[2], TRAIN_S[3]]
    assert all(r["eval_time_s"] == EVAL_S for r in epochs)
    assert [r["first_step_s"] for r in epochs] == [0.25, None, None]
    assert records[-1]["total_time_s"] == pytest.approx(sum(TRAIN_S.values()) + 4 * EVAL_S)


def test_peak_rss_reads_this_process():
    import resource
    peak = machine.peak_rss_bytes()
    assert peak >= resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 * 0.9


def test_flops_per_sample_is_the_hand_count():
    """Forward: one multiply-add per weight; backward: as much again for the weight
    gradients, and again for the input gradients of every layer but the first."""
    weights = [784 * 512, 512 * 512, 512 * 10]
    assert model.flops_per_sample() == 2 * (3 * sum(weights) - weights[0]) == 3_209_216


def test_gpu_facts_read_nvidia_smi(tmp_path, monkeypatch):
    """The GPU, its driver and the CUDA it supports, as nvidia-smi prints them, for the GPU that
    CUDA_VISIBLE_DEVICES shows the frameworks; None without nvidia-smi or with every GPU hidden."""
    fake = tmp_path / "nvidia-smi"
    fake.write_text('#!/bin/sh\nif [ "$1" = "--id=1" ]; then echo "NVIDIA H200, 580.159.04, 143771 MiB"; '
                    'elif [ "$1" ]; then echo "NVIDIA H100 80GB HBM3, 580.159.04, 81559 MiB"; else '
                    'echo "| NVIDIA-SMI 580.159.04  Driver Version: 580.159.04  CUDA Version: 13.0 |"; fi\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert machine.gpu_facts() == {"name": "NVIDIA H100 80GB HBM3", "driver_version": "580.159.04",
                                   "memory": "81559 MiB", "cuda_driver": "13.0"}
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1,0")
    assert machine.gpu_facts()["name"] == "NVIDIA H200"
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert machine.gpu_facts() is None
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    assert machine.gpu_facts() is None


@pytest.mark.parametrize("hidden", [(128, 128), (2048, 2048), (300, 200, 100), (64,)])
def test_flops_per_sample_match_torchs_flop_counter_at_other_sizes(hidden):
    """An independent count: torch.utils.flop_counter over one real training step (forward,
    backward, no gradient for the image) of the trainer's own module."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    import assignment_1TORCH as tt
    sizes, batch = model.layer_sizes(hidden), 8
    net = tt.MLP(sizes)
    with FlopCounterMode(display=False) as counter:
        logits = net(torch.rand(batch, 784))
        torch.nn.functional.cross_entropy(logits, torch.zeros(batch, dtype=torch.long)).backward()
    assert counter.get_total_flops() == batch * model.flops_per_sample(sizes)
    if hidden == (128, 128):
        macs = 784 * 128 + 128 * 128 + 128 * 10
        assert model.flops_per_sample(sizes) == 2 * (2 * macs + 128 * 128 + 128 * 10)


@pytest.mark.parametrize("hidden", [(512, 512), (128, 128), (2048, 2048), (300, 200, 100), (64,)])
@pytest.mark.parametrize("layout", ["in-out", "out-in"])
def test_a_steps_products_are_the_models_matrix_flops_at_the_shapes_a_real_step_multiplies(hidden, layout):
    """The products "where the time goes" times alone: their FLOPs are the model's, and their
    shapes are those of the matrix products torch dispatches in one real step of the trainer's own
    module (each as (contraction, the two other sides), whichever way round a layout turns it)."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    import assignment_1TORCH as tt
    sizes, batch = model.layer_sizes(hidden), 8
    products = model.step_products(sizes, batch, layout)
    assert sum(p.flops for p in products) == batch * model.flops_per_sample(sizes)
    assert len(products) == 3 * (len(sizes) - 1) - 1

    seen = []

    class Products(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if func in (torch.ops.aten.mm.default, torch.ops.aten.addmm.default):
                a, b = args[-2:]
                seen.append((a.shape[1], tuple(sorted((a.shape[0], b.shape[1])))))
            return func(*args, **(kwargs or {}))
    net = tt.MLP(sizes)
    with Products():
        logits = net(torch.rand(batch, 784))
        torch.nn.functional.cross_entropy(logits, torch.zeros(batch, dtype=torch.long)).backward()
    assert sorted(seen) == sorted((p.k, tuple(sorted((p.m, p.n)))) for p in products)
