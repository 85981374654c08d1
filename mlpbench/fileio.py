"""Atomic file writes, used for fetched data and for every controller output."""
import os
import tempfile
from pathlib import Path


def write_atomic(path, write):
    """Write through a temporary file in the same folder, then rename: an interrupted
    write never leaves a file that looks complete."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide the file from other users
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
