import os

import pytest

# Tests run on the CPU whatever the machine has; benchmarks/gpu_check.sh sets both to see a GPU.
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
# The smoke runs in the background beside the other tests (tests/support/smoke.py): PyTorch's
# OpenMP threads, spinning while they wait, stretched a test beside it 17x (0.65 s to 10.9 s on
# the AMD EPYC VM); passive ones sleep. Set before torch loads libgomp, which reads it once.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from mlpbench import data  # noqa: E402  (after the environment above)
from support import smoke  # noqa: E402
from support.helpers import real_mnist_dir, use_fake_trainers  # noqa: E402

# What the background smoke's tests ask for, and what a test asks for that needs the cores to itself.
SMOKE_FIXTURE, QUIET_FIXTURE = "smoke_out", "quiet_machine"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """The smoke's tests last, then the tests that need a quiet machine, in the order after every
    other plugin's (-k, -m, --lf, --ff, --nf) has been applied."""
    result = yield

    def rank(item):
        names = getattr(item, "fixturenames", ())
        return 2 if QUIET_FIXTURE in names else 1 if SMOKE_FIXTURE in names else 0
    items.sort(key=rank)  # stable: each group keeps its order
    return result


def pytest_collection_finish(session):
    """The smoke starts (tests/support/smoke.py) when a test that will run reads it, real MNIST is
    here and tests will run at all."""
    option = session.config.option
    if option.collectonly or getattr(option, "showfixtures", False) or \
            getattr(option, "show_fixtures_per_test", False):
        return
    reads_smoke = any(SMOKE_FIXTURE in getattr(item, "fixturenames", ()) for item in session.items)
    mnist = real_mnist_dir()
    if reads_smoke and mnist is not None:
        smoke.start(mnist)


def pytest_sessionfinish(session, exitstatus):
    smoke.stop(keep=exitstatus not in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED))


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
