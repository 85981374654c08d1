"""Same start, same batch order, strict fp32: JAX and PyTorch follow the same trajectory."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import assignment_1JAX as jt
import assignment_1TORCH as tt
from mlpbench import data
from mlpbench.model import shared_init
from support import reference
from support.goldens import assert_records_match_golden
from support.helpers import run_main, run_script
from support.record_checks import parse_records
from support.torch_layout import model_params, shared_model

jax.config.update("jax_default_matmul_precision", "highest")


def test_parameters_agree_after_an_epoch(split):
    """One epoch of 156 steps at batch 32 on 5,000 real images.

    Both compute the same fp32 maths in a different order (XLA's vs MKL's GEMM
    blocking), so each step differs by a few ulps. Measured on a 2-core AMD EPYC:
    4.5e-8 largest parameter gap, against a largest parameter change of 3.8e-2,
    about 2.4e-4 per step. The tolerance of 1e-5 leaves 200x room for other
    CPUs' BLAS orderings yet stays 20x below one step's update: a real
    difference (a transposed weight, a lost bias gradient, another batch order)
    fails it."""
    n, batch, lr = 5000, 32, 0.05
    batches = data.batch_order(0, 1, n, batch)
    params = jax.device_put(shared_init(0))
    images = jnp.asarray(split.train_images[:n], jnp.float32) / 255.0
    labels = jnp.asarray(split.train_labels[:n], jnp.int32)
    params, jax_totals = jt.train_epoch_scan(params, images, labels, jnp.asarray(batches), jnp.float32(lr))

    model = shared_model(0)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    t_images = torch.from_numpy(split.train_images[:n]).float() / 255.0
    t_labels = torch.from_numpy(split.train_labels[:n])
    totals = torch.zeros(2)
    for idx in torch.from_numpy(batches).long():
        x, y = t_images[idx], t_labels[idx]
        totals += tt.batch_totals(*tt.train_step(model, optimizer, x, y), y)

    worst = max(np.abs(np.asarray(p[k]) - t[k]).max()
                for p, t in zip(params, model_params(model), strict=True) for k in ("w", "b"))
    moved = np.abs(np.asarray(params[0]["w"]) - shared_init(0)[0]["w"]).max()
    print(f"max parameter difference {worst:.2e}, largest parameter change {moved:.2e}")
    assert worst < 1e-5
    assert moved > 100 * worst
    assert float(jax_totals[0]) == pytest.approx(totals[0].item(), rel=1e-5)
    assert int(jax_totals[1]) == int(totals[1].item())


def test_trainers_report_the_reference_figures_at_every_epoch(mnist_dir, split):
    """The scripts as users run them, two epochs from the shared start: every epoch's train
    and val figures and the test figures equal an independent float64 computation, so a
    wrong denominator, a reused batch order, a swapped split or a wrong update shows, in
    either trainer or in the loop they share."""
    n, batch, lr, epochs = 5000, 32, 0.1, 2
    expected, end = reference.train(split, shared_init(0), reference.Schedule(0, epochs, n, batch, lr))
    flags = ("--init", "shared", "--precision", "highest", "--epochs", epochs, "--batch-size", batch,
             "--train-limit", n, "--lr", lr, "--data-dir", mnist_dir)
    runs = []
    for script, framework in (("assignment_1JAX.py", "jax"), ("assignment_1TORCH.py", "pytorch")):
        result = run_script(script, *flags)
        assert result.returncode == 0, result.stderr
        runs.append(parse_records(result.stdout))
        reference.assert_matches(runs[-1], expected, end, (n // batch) * batch)
        assert_records_match_golden(f"records_{framework}.jsonl", runs[-1])
    assert expected[1]["val_acc"] > expected[0]["val_acc"] > 0.8  # real learning, not a no-op both agree on
    # and the two frameworks agree with each other more closely still
    for a, b in zip(*runs, strict=True):
        if a["event"] == "epoch":
            for key, tolerance in (("train_loss", 1e-5), ("val_loss", 1e-5),
                                   ("train_acc", 1e-4), ("val_acc", 1e-4)):
                assert abs(a[key] - b[key]) <= tolerance + 1e-12, (a["epoch"], key)


def test_frameworks_agree_at_another_model_from_a_shared_start(split):
    """Three hidden layers of other widths, one epoch at batch 50 from the same numpy start:
    the same parameters after it in JAX (scan) and PyTorch (the module and the functional step)."""
    sizes, n, batch, lr = (784, 256, 96, 48, 10), 2000, 50, 0.05
    start = shared_init(1, sizes)
    order = data.batch_order(1, 1, n, batch)
    images = split.train_images[:n].astype(np.float32) / np.float32(255)
    labels = split.train_labels[:n]
    params, _ = jt.train_epoch_scan(jax.device_put(start), jnp.asarray(images),
                                    jnp.asarray(labels, jnp.int32), jnp.asarray(order), jnp.float32(lr))
    model = tt.MLP(sizes)
    tt.load_shared(model, start)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    t_images, t_labels, totals = torch.from_numpy(images), torch.from_numpy(labels), torch.zeros(2)
    functional = [{k: torch.from_numpy(v) for k, v in p.items()} for p in start]
    f_totals = torch.zeros(2)
    for idx in torch.from_numpy(order).long():
        x, y = t_images[idx], t_labels[idx]
        totals += tt.batch_totals(*tt.train_step(model, optimizer, x, y), y)
        functional, loss, logits = tt.update(functional, x, y, lr)
        f_totals += tt.batch_totals(loss, logits, y)
    moved = np.abs(np.asarray(params[0]["w"]) - start[0]["w"]).max()
    for torch_params in (model_params(model), [{k: v.numpy() for k, v in p.items()} for p in functional]):
        assert len(torch_params) == 4
        worst = max(np.abs(np.asarray(p[k]) - t[k]).max() for p, t in zip(params, torch_params, strict=True)
                    for k in ("w", "b"))
        assert worst < 1e-5 and moved > 100 * worst
    assert totals[1].item() == f_totals[1].item()


@pytest.mark.parametrize("script, mode", [("assignment_1JAX.py", "scan"), ("assignment_1JAX.py", "nnx"),
                                          ("assignment_1JAX.py", "nnx-split"),
                                          ("assignment_1TORCH.py", "func")])
def test_scripts_train_another_model_as_the_reference_does(mnist_dir, split, script, mode):
    """--hidden reaches the model, its shared init and its FLOP count, in both scripts (their
    main, in this process); the NNX module of the JAX script follows the reference, and so
    JAX step, from the shared start."""
    hidden, n, batch, lr, epochs = (64, 32), 1000, 50, 0.1, 2
    result = run_main(script, "--mode", mode, "--hidden", *hidden, "--init", "shared", "--epochs", epochs,
                        "--batch-size", batch, "--train-limit", n, "--lr", lr, "--data-dir", mnist_dir)
    assert result.returncode == 0, result.stderr
    records = parse_records(result.stdout)
    sizes = [784, *hidden, 10]
    assert records[0]["layer_sizes"] == sizes
    assert records[0]["flops_per_sample"] == 2 * (2 * (784 * 64 + 64 * 32 + 32 * 10) + 64 * 32 + 32 * 10)
    expected, end = reference.train(split, shared_init(0, sizes), reference.Schedule(0, epochs, n, batch, lr))
    reference.assert_matches(records, expected, end, n // batch * batch)
