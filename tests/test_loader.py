"""The DataLoader input path: torchvision's layout built from the verified files, and loader
epochs that train on exactly the batches of device-resident ones."""
import hashlib

import pytest

from mlpbench import data
from mlpbench.model import shared_init
from support import reference
from support.helpers import run_main, run_script
from support.record_checks import check_records, parse_records


def test_torchvision_layout_is_built_from_verified_files_without_network(mnist_dir, tmp_path, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the network was asked")
    monkeypatch.setattr(data.urllib.request, "urlopen", no_network)
    root = data.torchvision_root(mnist_dir, mirrors=(), cache=tmp_path / "cache")
    raw = root / "MNIST" / "raw"
    for name, digest in data.FILES.items():
        assert hashlib.sha256((raw / name).read_bytes()).hexdigest() == digest
    # raw files are linked rather than copied; a stale or corrupt target is replaced
    flat = tmp_path / "flat"
    flat.mkdir()
    for name in data.FILES:
        (flat / name).write_bytes((raw / name).read_bytes())
    (tmp_path / "cache2" / "torchvision" / "MNIST" / "raw").mkdir(parents=True)
    (tmp_path / "cache2" / "torchvision" / "MNIST" / "raw" / "t10k-labels-idx1-ubyte").write_bytes(b"junk")
    root2 = data.torchvision_root(flat, mirrors=(), cache=tmp_path / "cache2")
    for name in data.FILES:
        target = root2 / "MNIST" / "raw" / name
        assert target.is_symlink() and target.resolve() == (flat / name).resolve()

    import torchvision
    dataset = torchvision.datasets.MNIST(root, train=True, download=False)
    assert len(dataset) == 60_000 and [int(t) for t in dataset.targets[:5]] == [5, 0, 4, 1, 9]


def test_a_corrupt_source_is_refused_before_torchvision_sees_it(mnist_dir, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in data.FILES:
        source = data.find_file(mnist_dir, name)
        raw = data.read_bytes(source)
        (bad / name).write_bytes(raw[:-1] + bytes([(raw[-1] + 1) % 10]) if name.startswith("train-labels")
                                 else raw)
    with pytest.raises(data.DataError, match="train-labels-idx1-ubyte.*SHA-256 mismatch"):
        data.torchvision_root(bad, mirrors=(), cache=tmp_path / "cache")
    assert not (tmp_path / "cache" / "torchvision" / "MNIST" / "raw" / "train-labels-idx1-ubyte").exists()


@pytest.mark.parametrize("script, framework, mode, workers", [
    ("assignment_1JAX.py", "jax", "step", 0), ("assignment_1TORCH.py", "pytorch", "eager", 1)])
def test_loader_epochs_give_the_device_figures(mnist_dir, split, script, framework, mode, workers):
    """Same batch order through the DataLoader: the records of a device-resident run. With a
    worker process, the script as a user runs it; without, its main in this process."""
    n, batch, lr, epochs = 600, 50, 0.1, 2
    run = run_script if workers else run_main
    result = run(script, "--input", "loader", "--workers", workers, "--init", "shared",
                 "--epochs", epochs, "--batch-size", batch, "--train-limit", n, "--lr", lr,
                 "--data-dir", mnist_dir)
    assert result.returncode == 0, result.stderr
    records = parse_records(result.stdout)
    start, _, _ = check_records(records, framework, mode, batch, epochs, n)
    assert start["input"] == "loader" and start["workers"] == workers
    expected, end = reference.train(split, shared_init(0), reference.Schedule(0, epochs, n, batch, lr))
    reference.assert_matches(records, expected, end, n // batch * batch)
