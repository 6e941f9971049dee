"""Feature families computed from audio.

* ``deam74`` — song-level openSMILE features in DEAM's column layout
  (:func:`deam_song_vector`, :data:`DEAM74_COLUMNS`; models use :data:`RECOMPUTABLE_COLUMNS`);
* the same DEAM columns without openSMILE: :mod:`emolab.features.deam_fast`
  (``deam_frames``, ``deam_song_vector`` with ``extractor="fast"``; the static model's 55 columns);
* ``opensmile260`` — DEAM's 260 openSMILE columns every 0.5 s (:func:`opensmile_frames`);
* ``librosa`` — a broad handcrafted song-level vector (:func:`song_vector`), plus the
  log-mel patches the dynamic models read (:func:`logmel_patches`).

See docs/features.md for the recipe, its agreement with DEAM's own values, and timings.
"""
from emolab.features.deam import (
    DEAM74_COLUMNS,
    DEAM_FRAME_COLUMNS,
    NOT_RECOMPUTABLE_COLUMNS,
    RECOMPUTABLE_COLUMNS,
    deam_song_vector,
    opensmile_frames,
    song_level,
)
from emolab.features.spectral import SONG_VECTOR_NAMES, logmel_patches, song_vector

FAMILY_DEAM74 = "deam74"
FAMILY_OPENSMILE_FRAMES = "opensmile260"
FAMILY_LIBROSA = "librosa"

__all__ = [
    "DEAM74_COLUMNS", "DEAM_FRAME_COLUMNS", "NOT_RECOMPUTABLE_COLUMNS", "RECOMPUTABLE_COLUMNS",
    "deam_song_vector", "opensmile_frames", "song_level",
    "SONG_VECTOR_NAMES", "logmel_patches", "song_vector",
    "FAMILY_DEAM74", "FAMILY_OPENSMILE_FRAMES", "FAMILY_LIBROSA",
]
