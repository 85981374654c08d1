import numpy as np
import pytest
import torch
import torch.nn.functional as F

import assignment_1TORCH as tt
from mlpbench.model import shared_init
from support.helpers import ROOT, assert_machine_facts, run_script
from support.record_checks import check_records, parse_records
from support.reference import cross_entropy, forward, sgd_step
from support.torch_layout import model_params, shared_model


def test_module_shapes_and_shared_layout():
    model = tt.MLP()
    assert [tuple(p.shape) for p in model.parameters()] == [
        (512, 784), (512,), (512, 512), (512,), (10, 512), (10,)]
    assert model(torch.zeros(5, 784)).shape == (5, 10)
    params = shared_init(4)
    for got, want in zip(model_params(shared_model(4)), params, strict=True):
        np.testing.assert_array_equal(got["w"], want["w"])
        np.testing.assert_array_equal(got["b"], want["b"])


def test_forward_and_loss_match_numpy():
    model = shared_model(2)
    rng = np.random.default_rng(1)
    x, y = rng.random((16, 784), dtype=np.float32), rng.integers(0, 10, 16)
    logits = model(torch.from_numpy(x))
    expected_logits, _ = forward(shared_init(2), x.astype(np.float64))
    np.testing.assert_allclose(logits.detach().numpy(), expected_logits, rtol=1e-5, atol=1e-5)
    loss = F.cross_entropy(logits, torch.from_numpy(y))
    assert loss.item() == pytest.approx(cross_entropy(expected_logits, y), rel=1e-5)


def test_one_sgd_step_is_a_hand_computation():
    model = shared_model(3)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    rng = np.random.default_rng(2)
    images = rng.random((40, 784), dtype=np.float32)
    labels = rng.integers(0, 10, 40)
    idx = np.array([3, 17, 5, 30, 0, 11, 22, 9])
    x, y = torch.from_numpy(images[idx]), torch.from_numpy(labels[idx])
    totals = tt.batch_totals(*tt.train_step(model, optimizer, x, y), y)
    expected = sgd_step(shared_init(3), images[idx], labels[idx], lr=0.5)
    for got, want in zip(model_params(model), expected, strict=True):
        np.testing.assert_allclose(got["w"], want["w"], atol=2e-6)
        np.testing.assert_allclose(got["b"], want["b"], atol=2e-6)
    logits = forward(shared_init(3), images[idx].astype(np.float64))[0]
    assert totals[0].item() == pytest.approx(cross_entropy(logits, labels[idx]), rel=1e-5)
    assert totals[1].item() == (logits.argmax(1) == labels[idx]).sum()


def test_functional_params_are_the_modules_in_the_jax_layout():
    for got, want in zip(tt.functional_params(shared_model(4)), shared_init(4), strict=True):
        np.testing.assert_array_equal(got["w"].numpy(), want["w"])
        np.testing.assert_array_equal(got["b"].numpy(), want["b"])


def test_one_functional_step_is_a_hand_computation_and_changes_nothing_in_place():
    params = [{k: torch.from_numpy(v) for k, v in p.items()} for p in shared_init(3)]
    rng = np.random.default_rng(2)
    images = rng.random((40, 784), dtype=np.float32)
    labels = rng.integers(0, 10, 40)
    idx = np.array([3, 17, 5, 30, 0, 11, 22, 9])
    totals = torch.tensor([1.5, 2.0])
    x, y = torch.from_numpy(images[idx]), torch.from_numpy(labels[idx])
    new, loss, logits = tt.update(params, x, y, 0.5)
    new_totals = totals + tt.batch_totals(loss, logits, y)
    expected = sgd_step(shared_init(3), images[idx], labels[idx], lr=0.5)
    for got, want in zip(new, expected, strict=True):
        np.testing.assert_allclose(got["w"].numpy(), want["w"], atol=2e-6)
        np.testing.assert_allclose(got["b"].numpy(), want["b"], atol=2e-6)
    logits = forward(shared_init(3), images[idx].astype(np.float64))[0]
    assert new_totals[0].item() == pytest.approx(1.5 + cross_entropy(logits, labels[idx]), rel=1e-5)
    assert new_totals[1].item() == 2.0 + (logits.argmax(1) == labels[idx]).sum()
    # params as data: the old values are still there, as in JAX
    for p, q in zip(params, shared_init(3), strict=True):
        np.testing.assert_array_equal(p["w"].numpy(), q["w"])
    assert totals.tolist() == [1.5, 2.0]


def test_in_place_functional_step_writes_into_the_same_tensors():
    """What a CUDA graph replays: the same addresses read and written every step."""
    params = [{k: torch.from_numpy(v.copy()) for k, v in p.items()} for p in shared_init(5)]
    images, labels = torch.rand(64, 784), torch.randint(0, 10, (64,))

    def func_step(p, t, idx):
        new, loss, logits = tt.update(p, images[idx], labels[idx], 0.1)
        return new, t + tt.batch_totals(loss, logits, labels[idx])
    step = tt.FunctionalStep(func_step, params, torch.zeros(2), in_place=True)
    before = [t.data_ptr() for t in step.state()]
    reference = tt.FunctionalStep(func_step, [{k: v.clone() for k, v in p.items()} for p in params],
                                  torch.zeros(2))
    for idx in torch.arange(64).reshape(4, 16):
        step(idx)
        reference(idx)
    assert [t.data_ptr() for t in step.state()] == before
    for a, b in zip(step.state(), reference.state(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize("mode", ["eager"])  # compile: in test_controller's benchmark of every mode
def test_script_emits_valid_records(mnist_dir, mode):
    """With --threads 1: PyTorch's pool of one thread, recorded (the default count is checked
    on test_controller's benchmark, whose runs have none)."""
    result = run_script("assignment_1TORCH.py", "--mode", mode, "--epochs", 2, "--batch-size", 32,
                        "--lr", 0.1, "--train-limit", 3000, "--threads", 1, "--data-dir", mnist_dir)
    assert result.returncode == 0, result.stderr
    start, epochs, end = check_records(parse_records(result.stdout), "pytorch", mode, 32, 2, 3000)
    assert start["init"] == "native" and start["device"] == "cpu"
    assert start["threads"] == 1
    assert start["kernels"].startswith("BLAS ")  # as torch.__config__ says: mkl, openblas, ...
    assert_machine_facts(start, {"CUDA_VISIBLE_DEVICES": ""})
    assert epochs[1]["train_loss"] < epochs[0]["train_loss"]
    assert epochs[1]["val_acc"] > 0.8
    assert all(e["recompiles"] is None for e in epochs)  # eager compiles nothing to count


def test_vmap_cost_benchmark_times_three_steps_that_train_alike(monkeypatch, capsys):
    # It checks inside that predict on the whole batch gives the vmapped numbers, before timing.
    # In this process: the benchmark is its main and the trainer's functions, torch already loaded.
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import vmap_cost
    vmap_cost.main(["--batch-sizes", "8", "--steps", "3", "--repeats", "1"])
    line = capsys.readouterr().out.strip()
    assert line.startswith("batch 8: ms per step (median of 1): eager ") and "of which the vmap" in line, line
