import os
import subprocess
import sys
from pathlib import Path

import pytest

# Tests run on the CPU whatever the machine has.
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import mnist_data  # noqa: E402


def real_mnist_dir():
    """The folder with real MNIST, never fetched here: tests touch no network."""
    directory = mnist_data.data_dir()
    if all(mnist_data.find_file(directory, name) for name in mnist_data.FILES):
        return directory
    return None


@pytest.fixture(scope="session")
def mnist_dir():
    directory = real_mnist_dir()
    if directory is None:
        pytest.skip("real MNIST not found: set MNIST_DATA_DIR to a folder with the four IDX files")
    return directory


@pytest.fixture(scope="session")
def split(mnist_dir):
    return mnist_data.load_mnist(mnist_dir)


def run_script(script, *args, timeout=300, env=None):
    """Run a project script as a user would; returns the CompletedProcess."""
    return subprocess.run([sys.executable, str(ROOT / script), *map(str, args)],
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, cwd=ROOT)
