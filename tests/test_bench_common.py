"""bench_common: the shared epoch loop (run with a fake trainer that records what it is
given and a fake clock that only the fakes advance, so every figure is known), memory, FLOPs."""
import argparse
import json

import pytest

import bench_common as bc
import mnist_data

N, BATCH, EPOCHS, SEED = 1000, 96, 3, 7  # 10 steps of 96: 40 samples dropped each epoch
STEPS = N // BATCH
TRAIN_S, EVAL_S = {1: 5.0, 2: 1.0, 3: 1.5}, 100.0
EVALS = {"val": (0.5, 0.75), "test": (0.25, 0.625)}


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def loop(monkeypatch, capsys):
    clock = Clock()
    monkeypatch.setattr(bc.time, "perf_counter", clock)
    calls = {"train": [], "evaluate": [], "put": []}

    def put_batches(order):
        calls["put"].append(order)
        return ("on device", order)

    def train_epoch(state, batches, epoch):
        calls["train"].append((state, batches, epoch))
        clock.now += TRAIN_S[epoch]
        # sums whose means tell the right denominator from a wrong one
        return state + 1, 2.0 * STEPS * epoch, 0.5 * STEPS * BATCH, {"first_step_s": 0.25 * epoch, "recompiles": 0}

    def evaluate(state, name):
        calls["evaluate"].append((state, name))
        clock.now += EVAL_S
        return EVALS[name]

    args = argparse.Namespace(batch_size=BATCH, epochs=EPOCHS, seed=SEED, lr=0.1)
    start = {"event": "start", "framework": "jax", "mode": "step", "train_samples": N, "steps_per_epoch": STEPS}
    bc.run_epochs(args, start, 0, train_epoch, evaluate, put_batches, device_peak=lambda: 12345)
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    return records, calls


def test_each_epoch_trains_on_its_own_batch_order(loop):
    records, calls = loop
    expected = [mnist_data.batch_order(SEED, e, N, BATCH) for e in range(1, EPOCHS + 1)]
    assert len(calls["put"]) == EPOCHS
    for order, want in zip(calls["put"], expected):
        assert order.shape == (STEPS, BATCH)
        assert (order == want).all()
    assert [c[1] for c in calls["train"]] == [("on device", o) for o in calls["put"]]
    assert [c[2] for c in calls["train"]] == [1, 2, 3]
    # distinct across epochs: a reused order would train on the same batches every epoch
    assert not (expected[0] == expected[1]).all() and not (expected[1] == expected[2]).all()


def test_state_is_threaded_through_epochs_and_evaluation(loop):
    records, calls = loop
    assert [c[0] for c in calls["train"]] == [0, 1, 2]
    assert calls["evaluate"] == [(1, "val"), (2, "val"), (3, "val"), (3, "test")]


def test_figures_are_the_right_means_of_the_right_split(loop):
    records, calls = loop
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


def test_epoch_clock_holds_training_only_and_first_step_only_in_epoch_1(loop):
    records, _ = loop
    epochs = records[1:-1]
    assert [r["epoch_time_s"] for r in epochs] == [TRAIN_S[1], TRAIN_S[2], TRAIN_S[3]]
    assert all(r["eval_time_s"] == EVAL_S for r in epochs)
    assert [r["first_step_s"] for r in epochs] == [0.25, None, None]
    assert records[-1]["total_time_s"] == pytest.approx(sum(TRAIN_S.values()) + 4 * EVAL_S)


def test_peak_rss_reads_this_process():
    import resource
    peak = bc.peak_rss_bytes()
    assert peak >= resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 * 0.9


def test_flops_per_sample_is_the_hand_count():
    """Forward: one multiply-add per weight; backward: as much again for the weight
    gradients, and again for the input gradients of every layer but the first."""
    weights = [784 * 512, 512 * 512, 512 * 10]
    assert bc.flops_per_sample() == 2 * (3 * sum(weights) - weights[0]) == 3_209_216
