import jax
import jax.numpy as jnp
import numpy as np
import pytest

import assignment_1JAX as jt
from mlpbench import data
from mlpbench.machine import schedulable_cpus
from mlpbench.model import shared_init
from support.helpers import assert_machine_facts, run_script
from support.record_checks import check_records, parse_records
from support.reference import cross_entropy, forward, sgd_step

jax.config.update("jax_default_matmul_precision", "highest")


def to_numpy(params):
    return [{k: np.asarray(v) for k, v in p.items()} for p in params]


def test_init_params_pytree_shapes_and_law():
    params = jt.init_params(jax.random.key(0))
    assert isinstance(params, list) and all(set(p) == {"w", "b"} for p in params)
    assert [(p["w"].shape, p["b"].shape) for p in params] == [
        ((784, 512), (512,)), ((512, 512), (512,)), ((512, 10), (10,))]
    assert jax.tree.structure(params) == jax.tree.structure(shared_init(0))
    for p in params:
        bound = 1 / np.sqrt(p["w"].shape[0])
        assert float(jnp.abs(p["w"]).max()) <= bound and float(jnp.abs(p["w"]).max()) > 0.99 * bound
        assert float(jnp.abs(p["b"]).max()) <= bound
    # keys are split, never reused: no two tensors share their leading draws
    firsts = [np.asarray(leaf).ravel()[:8] * np.sqrt(leaf.shape[0]) for leaf in jax.tree.leaves(params)]
    assert len({tuple(np.round(f, 6)) for f in firsts}) == len(firsts)
    again = jt.init_params(jax.random.key(0))
    assert all(np.array_equal(a, b)
               for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(again), strict=True))


def test_vmapped_predict_matches_numpy_forward():
    params = shared_init(1)
    x = np.random.default_rng(0).random((7, 784), dtype=np.float32)
    expected, _ = forward(params, x.astype(np.float64))
    got = jt.batched_predict(jax.tree.map(jnp.asarray, params), jnp.asarray(x))
    assert got.shape == (7, 10)
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-5, atol=1e-5)


def test_loss_matches_numpy_cross_entropy():
    params = shared_init(2)
    rng = np.random.default_rng(1)
    x, y = rng.random((16, 784), dtype=np.float32), rng.integers(0, 10, 16)
    value, logits = jt.loss(params, jnp.asarray(x), jnp.asarray(y))
    assert float(value) == pytest.approx(cross_entropy(forward(params, x.astype(np.float64))[0], y), rel=1e-5)
    assert logits.shape == (16, 10)


def test_one_update_is_a_hand_computed_sgd_step():
    params = shared_init(3)
    rng = np.random.default_rng(2)
    images = rng.random((40, 784), dtype=np.float32)
    labels = rng.integers(0, 10, 40)
    idx = np.array([3, 17, 5, 30, 0, 11, 22, 9], dtype=np.int32)
    expected = sgd_step(params, images[idx], labels[idx], lr=0.5)
    new, totals = jt.train_step(jax.device_put(params), jt.zero_totals(), jnp.asarray(images),
                                jnp.asarray(labels), jnp.asarray(idx), jnp.float32(0.5))
    for got, want in zip(to_numpy(new), expected, strict=True):
        np.testing.assert_allclose(got["w"], want["w"], atol=2e-6)
        np.testing.assert_allclose(got["b"], want["b"], atol=2e-6)
    logits = forward(params, images[idx].astype(np.float64))[0]
    assert float(totals[0]) == pytest.approx(cross_entropy(logits, labels[idx]), rel=1e-5)
    assert int(totals[1]) == int((logits.argmax(1) == labels[idx]).sum())


def test_step_and_scan_modes_agree_after_an_epoch(split):
    images = jnp.asarray(split.train_images[:2048], jnp.float32) / 255.0
    labels = jnp.asarray(split.train_labels[:2048], jnp.int32)
    batches = data.batch_order(0, 1, 2048, 64)
    lr = jnp.float32(0.05)
    params, totals = jax.device_put(shared_init(0)), jt.zero_totals()
    for idx in batches:
        params, totals = jt.train_step(params, totals, images, labels, jnp.asarray(idx), lr)
    for unroll in (1, 8):
        scan_params, scan_totals = jt.train_epoch_scan(jax.device_put(shared_init(0)), images, labels,
                                                       jnp.asarray(batches), lr, unroll=unroll)
        for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(scan_params), strict=True):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-6)
        assert float(totals[0]) == pytest.approx(float(scan_totals[0]), rel=1e-6)
        assert int(totals[1]) == int(scan_totals[1])
    # and training did move the parameters
    assert not np.allclose(np.asarray(params[0]["w"]), shared_init(0)[0]["w"])


def test_unroll_reaches_the_compiled_loop():
    """Unrolled or not, scan computes the same numbers, so only the built program can tell:
    with unroll 8 the loop's body holds 8 steps' matrix products."""
    params = jax.device_put(shared_init(0))
    images, labels = jnp.zeros((256, 784)), jnp.zeros((256,), jnp.int32)
    batches = jnp.asarray(data.batch_order(0, 1, 256, 16))

    def dots(unroll):
        built = jt.train_epoch_scan.trace(params, images, labels, batches, jnp.float32(0.1), unroll=unroll)
        return built.lower().compile().as_text().count(" dot(")
    assert dots(8) == 8 * dots(1) and dots(1) >= 8  # 3 forward, 5 backward per step


@pytest.mark.parametrize("mode, function, threads", [("step", "train_step", None),
                                                     ("scan", "train_epoch_scan", 1)])
def test_script_emits_valid_records_and_compiles_once(mnist_dir, mode, function, threads):
    """nojit: in test_controller's benchmark of every mode. JAX's own compile log is the
    independent check of the recompiles field: a recompile in epoch 2 (say, from an input
    committed differently) would be JIT cost counted as steady state. With --threads the
    process runs on that many cores, which size XLA's pool, and records the count."""
    flags = ["--threads", threads] if threads else []
    result = run_script("assignment_1JAX.py", "--mode", mode, "--epochs", 2, "--batch-size", 32, "--lr", 0.1,
                        "--train-limit", 3000, "--data-dir", mnist_dir, *flags, env={"JAX_LOG_COMPILES": "1"})
    assert result.returncode == 0, result.stderr
    start, epochs, end = check_records(parse_records(result.stdout), "jax", mode, 32, 2, 3000)
    assert start["threads"] == (threads or schedulable_cpus())
    assert start["init"] == "native" and start["device"] == "cpu"
    assert start["unroll"] == (1 if mode == "scan" else None)  # the CPU default, recorded
    # what decides the kernels: XLA's own report, the CPU's extensions, the environment as set
    assert start["kernels"].startswith("XLA:CPU") and "jaxlib" in start["kernels"]
    assert_machine_facts(start, {"JAX_LOG_COMPILES": "1", "JAX_PLATFORMS": "cpu"})
    assert epochs[1]["train_loss"] < epochs[0]["train_loss"]
    assert epochs[1]["val_acc"] > 0.8  # it learns: 3,000 images, 2 epochs, lr 0.1
    assert "epoch 2/2" in result.stderr
    stages = [epochs[0][k] for k in ("jit_trace_s", "jit_lower_s", "jit_compile_s")]
    assert all(s > 0 for s in stages) and sum(stages) <= epochs[0]["first_step_s"]
    assert [e["recompiles"] for e in epochs] == [0, 0] and epochs[0]["cache_hits"] is None
    assert result.stderr.count(f"Compiling jit({function})") == 1
    assert result.stderr.count("Compiling jit(evaluate)") == 1


@pytest.mark.parametrize("mode, function, staged", [("nnx", "indexed_step", False),
                                                    ("nnx-split", "split_step", True)])
def test_nnx_modes_emit_valid_records_name_flax_and_compile_once(mnist_dir, mode, function, staged):
    """The object-oriented JAX modes: the records' contract, Flax's version in the start record,
    one build of the step (a fresh optimizer's uncommitted step count made nnx.jit build it twice),
    and the compile stages where the mode builds ahead of time (nnx-split, a plain jax.jit)."""
    import flax
    result = run_script("assignment_1JAX.py", "--mode", mode, "--epochs", 2, "--batch-size", 32, "--lr", 0.1,
                        "--train-limit", 3000, "--data-dir", mnist_dir, env={"JAX_LOG_COMPILES": "1"})
    assert result.returncode == 0, result.stderr
    start, epochs, end = check_records(parse_records(result.stdout), "jax", mode, 32, 2, 3000)
    assert start["flax_version"] == flax.__version__ and start["kernels"].startswith("XLA:CPU")
    assert epochs[1]["val_acc"] > 0.8
    assert [e["recompiles"] for e in epochs] == [0, 0]
    assert result.stderr.count(f"Compiling jit({function})") == 1
    stages = [epochs[0][k] for k in ("jit_trace_s", "jit_lower_s", "jit_compile_s")]
    assert all(s > 0 for s in stages) if staged else stages == [None, None, None]


def test_a_jax_without_flax_runs_the_other_modes_and_refuses_nnx_in_one_line(mnist_dir, tmp_path):
    """Flax is imported only where an NNX mode runs: an older JAX without it (another venv) still
    runs step; an NNX mode there is refused in one line."""
    blocked = tmp_path / "flax"
    blocked.mkdir()
    (blocked / "__init__.py").write_text("raise ImportError('no flax here')\n")
    env = {"PYTHONPATH": str(tmp_path)}
    flags = ("--epochs", 1, "--train-limit", 1000, "--batch-size", 100, "--data-dir", mnist_dir)
    result = run_script("assignment_1JAX.py", "--mode", "step", *flags, env=env)
    assert result.returncode == 0, result.stderr
    assert parse_records(result.stdout)[0]["flax_version"] is None
    result = run_script("assignment_1JAX.py", "--mode", "nnx", *flags, env=env)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "error: --mode nnx needs Flax, which this Python cannot import (no flax here): "
        "pip install -r requirements.txt"]
