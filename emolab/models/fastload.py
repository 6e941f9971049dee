"""Fast model loading: a plain-pickle copy of compressed joblib files in the user's cache.

The shipped static model's scikit-learn parts are stored xz-compressed (small in the
repository) and joblib reads them with Python's pure-Python unpickler: seconds for every
process that predicts. :func:`load_joblib` keeps, per file content, an uncompressed
pickle under ``~/.cache/emolab/models/`` (``$EMOLAB_CACHE`` overrides the folder) that the
C unpickler reads several times faster. The copy is keyed by the file's SHA-256, so a
retrained model never meets a stale copy; a cache that cannot be written is skipped.
"""
from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from pathlib import Path


def cache_dir() -> Path:
    """Where the loaded copies live."""
    root = os.environ.get("EMOLAB_CACHE") or Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache") / "emolab"
    return Path(root).expanduser() / "models"


def load_joblib(path):
    """``joblib.load(path)``, through the cached plain pickle when there is one.

    Parameters
    ----------
    path : path
        A file written by ``joblib.dump``.

    Returns
    -------
    object
        What ``joblib.load`` returns.
    """
    path = Path(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    copy = cache_dir() / f"{digest}.pickle"
    if copy.is_file():
        with copy.open("rb") as f:
            return pickle.load(f)
    import joblib

    value = joblib.load(path)
    try:
        copy.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=copy.parent, suffix=".tmp", delete=False) as f:
            pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(f.name, copy)  # atomic: a concurrent reader sees the whole copy or none
    except OSError:
        pass  # a read-only home: load the slow way every time
    return value
