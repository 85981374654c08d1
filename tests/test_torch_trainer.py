import numpy as np
import pytest
import torch
import torch.nn.functional as F

import assignment_1TORCH as tt
import mnist_data
from conftest import run_script
from records import check_records, parse_records
from reference import cross_entropy, forward, sgd_step
from torch_layout import model_params, shared_model


def test_module_shapes_and_shared_layout():
    model = tt.MLP()
    assert [tuple(p.shape) for p in model.parameters()] == [
        (512, 784), (512,), (512, 512), (512,), (10, 512), (10,)]
    assert model(torch.zeros(5, 784)).shape == (5, 10)
    params = mnist_data.shared_init(4)
    for got, want in zip(model_params(shared_model(4)), params):
        np.testing.assert_array_equal(got["w"], want["w"])
        np.testing.assert_array_equal(got["b"], want["b"])


def test_forward_and_loss_match_numpy():
    model = shared_model(2)
    rng = np.random.default_rng(1)
    x, y = rng.random((16, 784), dtype=np.float32), rng.integers(0, 10, 16)
    logits = model(torch.from_numpy(x))
    expected_logits, _ = forward(mnist_data.shared_init(2), x.astype(np.float64))
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
    totals = torch.zeros(2)
    tt.train_step(model, optimizer, torch.from_numpy(images), torch.from_numpy(labels),
                  torch.from_numpy(idx), totals)
    expected = sgd_step(mnist_data.shared_init(3), images[idx], labels[idx], lr=0.5)
    for got, want in zip(model_params(model), expected):
        np.testing.assert_allclose(got["w"], want["w"], atol=2e-6)
        np.testing.assert_allclose(got["b"], want["b"], atol=2e-6)
    logits = forward(mnist_data.shared_init(3), images[idx].astype(np.float64))[0]
    assert totals[0].item() == pytest.approx(cross_entropy(logits, labels[idx]), rel=1e-5)
    assert totals[1].item() == (logits.argmax(1) == labels[idx]).sum()


def test_eager_and_compile_agree_after_a_few_steps(split):
    images = torch.from_numpy(split.train_images[:1024]).float() / 255.0
    labels = torch.from_numpy(split.train_labels[:1024])
    batches = torch.from_numpy(mnist_data.batch_order(0, 1, 1024, 64)[:6]).long()
    results = []
    for step in (tt.train_step, torch.compile(tt.train_step)):
        model = shared_model(0)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
        totals = torch.zeros(2)
        for idx in batches:
            optimizer.zero_grad(set_to_none=True)
            step(model, optimizer, images, labels, idx, totals)
        results.append((model_params(model), totals.clone()))
    (eager, eager_totals), (compiled, compiled_totals) = results
    for a, b in zip(eager, compiled):
        np.testing.assert_allclose(a["w"], b["w"], atol=1e-6)
        np.testing.assert_allclose(a["b"], b["b"], atol=1e-6)
    assert eager_totals[0].item() == pytest.approx(compiled_totals[0].item(), rel=1e-6)
    assert eager_totals[1].item() == compiled_totals[1].item()
    assert not np.allclose(eager[0]["w"], mnist_data.shared_init(0)[0]["w"])


@pytest.mark.parametrize("mode", ["eager", "compile"])
def test_script_emits_valid_records(mnist_dir, mode):
    result = run_script("assignment_1TORCH.py", "--mode", mode, "--epochs", 2, "--batch-size", 32,
                        "--lr", 0.1, "--train-limit", 3000, "--data-dir", mnist_dir)
    assert result.returncode == 0, result.stderr
    start, epochs, end = check_records(parse_records(result.stdout), "pytorch", mode, 32, 2, 3000)
    assert start["init"] == "native" and start["device"] == "cpu"
    assert start["threads"] == torch.get_num_threads()
    assert epochs[1]["train_loss"] < epochs[0]["train_loss"]
    assert epochs[1]["val_acc"] > 0.8
    if mode == "compile":  # compilation shows in the first step, not later
        assert epochs[0]["first_step_s"] > 5 * epochs[1]["epoch_time_s"] / start["steps_per_epoch"]
