"""EmoLab: perceived emotion in music — audio features, emotion models, a song index and search.

The top level re-exports the functions most users start from; heavy modules load lazily.
"""
from emolab.exceptions import AudioError, EmolabError, ModelError, ParameterError

__version__ = "0.1.0"

_LAZY = {
    "load": "emolab.audio",
    "load_models": "emolab.predict",
    "predict_static": "emolab.predict",
    "predict_dynamic": "emolab.predict",
    "open_index": "emolab.index",
}

__all__ = ["AudioError", "EmolabError", "ModelError", "ParameterError", "__version__", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'emolab' has no attribute {name!r}")
