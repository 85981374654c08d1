"""On a CUDA GPU, the modes that exist only there or change the most there give the records of
eager PyTorch and of the float64 reference: the CUDA graph of the module's step, the compiled
functional step (one graph) and its CUDA graph. The other modes' GPU curves are checked by every
GPU benchmark's parity finding (JAX against PyTorch, to 1e-4 in val accuracy). Skipped without
a GPU; benchmarks/gpu_check.sh sets MLPBENCH_REQUIRE_GPU=1, and then a missing GPU or MNIST
fails instead of skipping. On an H100, this file with three more tests (func, JAX step and scan)
took 123 s."""
import os

import pytest

from mlpbench import data
from mlpbench.model import shared_init
from support import reference
from support.helpers import real_mnist_dir, run_script
from support.record_checks import parse_records

N, BATCH, EPOCHS, LR = 5000, 32, 2, 0.1  # the parity test's run
TORCH_MODES = ("cudagraph", "fullgraph", "fullgraph-cudagraph")
REQUIRED = os.environ.get("MLPBENCH_REQUIRE_GPU") == "1"


def cuda_available():
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


@pytest.fixture(scope="module")
def gpu_run(tmp_path_factory):
    """Runs a trainer on the GPU from the shared start; the compiled modes share one cache
    (fullgraph and its CUDA-graph variant build the same program)."""
    missing = ("no CUDA GPU visible to PyTorch" if not cuda_available()
               else "real MNIST not found (MNIST_DATA_DIR)" if real_mnist_dir() is None else None)
    if missing:
        (pytest.fail if REQUIRED else pytest.skip)(missing)
    cache = tmp_path_factory.mktemp("compile-cache")

    def run(script, mode):
        result = run_script(script, "--mode", mode, "--device", "gpu", "--init", "shared",
                            "--epochs", EPOCHS, "--batch-size", BATCH, "--train-limit", N, "--lr", LR,
                            "--data-dir", real_mnist_dir(), "--compile-cache", cache, timeout=600)
        assert result.returncode == 0, result.stderr
        records = parse_records(result.stdout)
        assert records[0]["device"] == "gpu" and records[-1]["peak_device_bytes"] > 0
        return records
    return run


@pytest.fixture(scope="module")
def expected(gpu_run):
    split = data.load_mnist(real_mnist_dir())
    return reference.train(split, shared_init(0), reference.Schedule(0, EPOCHS, N, BATCH, LR))


@pytest.fixture(scope="module")
def eager(gpu_run, expected):
    records = gpu_run("assignment_1TORCH.py", "eager")
    reference.assert_matches(records, *expected, N // BATCH * BATCH)
    return records


@pytest.mark.parametrize("mode", TORCH_MODES)
def test_pytorch_modes_give_the_records_of_eager(gpu_run, expected, eager, mode):
    records = gpu_run("assignment_1TORCH.py", mode)
    reference.assert_matches(records, *expected, N // BATCH * BATCH)
    for got, want in zip(records[1:-1], eager[1:-1], strict=True):
        for key, tolerance in (("train_loss", 1e-5), ("val_loss", 1e-5), ("train_acc", 1e-4),
                               ("val_acc", 1e-4)):
            assert abs(got[key] - want[key]) <= tolerance + 1e-12, (mode, got["epoch"], key)
    first = records[1]
    if mode.startswith("fullgraph"):  # forward, backward, update and totals in one graph
        assert (first["graphs"], first["graph_breaks"]) == (1, 0)
        assert [r["recompiles"] for r in records[1:-1]] == [0] * EPOCHS
