"""VibeNet 0.1.0's predictions on a clip collection, through the peer runner, cached per clip.

VibeNet is never a dependency of EmoLab: ``benchmarks/peer_vibenet.py`` installs it in its own
virtual environment outside the repository (``~/.cache/emolab/vibenet-venv``, Python >= 3.12)
and drives it in a subprocess, one path in, one JSON line out. This module reuses that runner
and keeps each clip's answer in ``~/.cache/emolab/<collection>/vibenet-0.1.0/<id>.json``
(``valence`` and ``energy`` on [0, 1]), so that any experiment or benchmark reads them back
instead of running VibeNet again.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd

from emolab.exceptions import EmolabError
from emolab.experiments.clip_cache import read_json_cache, write_json_cache

REPO = Path(__file__).resolve().parents[2]
RUNNER_PATH = REPO / "benchmarks" / "peer_vibenet.py"
KIND = "vibenet-0.1.0"
DEFAULT_VENV = Path("~/.cache/emolab/vibenet-venv").expanduser()


def peer_runner():
    """The module ``benchmarks/peer_vibenet.py`` of this checkout."""
    if not RUNNER_PATH.exists():
        raise EmolabError(f"The VibeNet peer runner '{RUNNER_PATH.name}' is not in this checkout "
                          "(benchmarks/); VibeNet's predictions can only be read from the cache.")
    spec = importlib.util.spec_from_file_location("peer_vibenet", RUNNER_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def vibenet_predictions(ids, paths, *, collection: str, venv: Path = DEFAULT_VENV, python: str = "python3.12",
                        run: bool = True, progress=None) -> pd.DataFrame:
    """VibeNet's valence and energy per clip, from the cache or (``run=True``) the peer runner.

    Returns
    -------
    DataFrame
        Indexed by clip id: ``valence``, ``energy`` on [0, 1] (NaN where not available).
    """
    ids = list(ids)
    cached = read_json_cache(collection, KIND, ids)
    missing = [(i, p) for i, p in zip(ids, paths) if i not in cached]
    if missing and run:
        runner = peer_runner()
        vibenet = runner.VibeNet(runner.ensure_venv(Path(venv).expanduser(), python))
        try:
            for n, (clip_id, path) in enumerate(missing, 1):
                out = vibenet.predict(str(path))
                value = {"valence": float(out["valence"]), "energy": float(out["energy"])}
                write_json_cache(collection, KIND, clip_id, value)
                cached[clip_id] = value
                if progress:
                    progress(n / len(missing), f"VibeNet {n}/{len(missing)}")
        finally:
            vibenet.close()
    return pd.DataFrame([{"id": i, "valence": cached.get(i, {}).get("valence", float("nan")),
                          "energy": cached.get(i, {}).get("energy", float("nan"))} for i in ids]).set_index("id")
