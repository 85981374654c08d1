import os

import pytest

# Tests run on the CPU whatever the machine has; benchmarks/gpu_check.sh sets both to see a GPU.
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
# The smoke runs in the background beside the other tests (tests/support/smoke.py): PyTorch's
# OpenMP threads, spinning while they wait, stretched a test beside it 17x (0.65 s to 10.9 s on
# the AMD EPYC VM); passive ones sleep. Set before either framework loads its thread pool.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from mlpbench import data  # noqa: E402  (after the environment above)
from support import smoke  # noqa: E402
from support.helpers import real_mnist_dir, use_fake_trainers  # noqa: E402

# What the background smoke's tests ask for, and what a test asks for that needs the cores to itself.
SMOKE_FIXTURE, QUIET_FIXTURE = "check", "quiet_machine"


@pytest.hookimpl(trylast=True)  # after -k and -m have deselected
def pytest_collection_modifyitems(config, items):
    """The smoke's tests last, then the tests that need a quiet machine; the smoke starts now
    (tests/support/smoke.py), when a test will read it and real MNIST is here."""
    reads_smoke = [item for item in items if SMOKE_FIXTURE in getattr(item, "fixturenames", ())]
    quiet = [item for item in items if QUIET_FIXTURE in getattr(item, "fixturenames", ())]
    items[:] = [item for item in items if item not in reads_smoke and item not in quiet] + reads_smoke + quiet
    mnist = real_mnist_dir()
    if reads_smoke and mnist is not None and not config.option.collectonly:
        smoke.start(mnist)


def pytest_sessionfinish(session, exitstatus):
    smoke.stop()


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


@pytest.fixture
def quiet_machine():
    """No background smoke beside the test: it measures the machine's load."""
    smoke.wait()
