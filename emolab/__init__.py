"""EmoLab: perceived emotion in music — audio features, emotion models, a song index and search."""
from emolab.exceptions import (
    AudioError,
    EmolabError,
    ModelError,
    ParameterError,
)

__version__ = "0.1.0"

__all__ = ["AudioError", "EmolabError", "ModelError", "ParameterError", "__version__"]
