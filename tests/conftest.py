import os

import pytest

# Tests run on the CPU whatever the machine has; benchmarks/gpu_check.sh sets both to see a GPU.
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

from mlpbench import data  # noqa: E402  (after the environment above)
from support.helpers import real_mnist_dir, use_fake_trainers  # noqa: E402


@pytest.fixture(scope="session")
def mnist_dir():
    directory = real_mnist_dir()
    if directory is None:
        pytest.skip("real MNIST not found: set MNIST_DATA_DIR to a folder with the four IDX files")
    return directory


@pytest.fixture(scope="session")
def split(mnist_dir):
    return data.load_mnist(mnist_dir)


@pytest.fixture
def fake_trainers(tmp_path, monkeypatch):
    """Both frameworks served by tests/support/fake_trainer.py, under the trainers' file names."""
    return use_fake_trainers(tmp_path, monkeypatch)
