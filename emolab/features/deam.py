"""DEAM-compatible openSMILE features.

DEAM ships, for every song, openSMILE descriptors of the ComParE 2013 set summarised every
0.5 s: 65 low-level descriptors (LLDs) and their deltas, each as mean (``_amean``) and
standard deviation (``_stddev``) over a window — 260 columns per frame. This module
recomputes them from audio with the ``IS13_ComParE`` configuration shipped inside the
``opensmile`` package:

1. LLDs (and deltas) at 44.1 kHz with a 10 ms hop, in **one** openSMILE pass;
2. frames of 1 s windows with a 0.5 s hop; mean → ``*_amean``, population standard
   deviation → ``*_stddev``; frame *i* covers [0.5 i, 0.5 i + 1) s, stamped ``0.5 i + 0.5``;
3. a song's value of a column is the mean of that column over all frames.

Speed: rather than running the whole ComParE configuration, the configuration is
generated from the package's own ``IS13_ComParE_core.lld.conf.inc`` keeping only the
components the requested columns need (see :func:`opensmile_config`). The trimmed
configurations give the same numbers as the full one on the columns they share.

openSMILE (PyPI ``opensmile``) is distributed under audEERING's research-only licence.
"""
from __future__ import annotations

import functools
import hashlib
import os
import re
import tempfile
import warnings
from pathlib import Path

import numpy as np

from emolab.audio import mono_at_rate
from emolab.config import HOP_SECONDS, OPENSMILE_SR
from emolab.exceptions import FeatureError, ParameterError

#: Length of one DEAM frame (s); frames start every ``HOP_SECONDS``.
WINDOW_SECONDS = 1.0
#: openSMILE's LLD hop (s).
LLD_HOP_SECONDS = 0.01

# ----------------------------------------------------------------------------- columns

_VOICING = ["F0final", "voicingFinalUnclipped", "jitterLocal", "jitterDDP", "shimmerLocal",
            "logHNR"]
_ENERGY = ["audspec_lengthL1norm", "audspecRasta_lengthL1norm", "pcm_RMSenergy", "pcm_zcr"]
_SPECTRAL = ["pcm_fftMag_fband250-650", "pcm_fftMag_fband1000-4000",
             "pcm_fftMag_spectralRollOff25.0", "pcm_fftMag_spectralRollOff50.0",
             "pcm_fftMag_spectralRollOff75.0", "pcm_fftMag_spectralRollOff90.0",
             "pcm_fftMag_spectralFlux", "pcm_fftMag_spectralCentroid",
             "pcm_fftMag_spectralEntropy", "pcm_fftMag_spectralVariance",
             "pcm_fftMag_spectralSkewness", "pcm_fftMag_spectralKurtosis",
             "pcm_fftMag_spectralSlope", "pcm_fftMag_psySharpness",
             "pcm_fftMag_spectralHarmonicity"]


def _lld_names(delta: bool) -> list[str]:
    de = "_de" if delta else ""
    scalars = [f"{n}_sma{de}" for n in _VOICING + _ENERGY]
    rasta = [f"audSpec_Rfilt_sma{de}[{k}]" for k in range(26)]
    spectral = [f"{n}_sma{de}" for n in _SPECTRAL]
    mfcc = [f"pcm_fftMag_mfcc_sma{de}[{k}]" for k in range(1, 15)]
    return scalars + rasta + spectral + mfcc


#: The 130 descriptor contours (65 LLDs, then their 65 deltas), DEAM's names.
DEAM_LLD_NAMES = _lld_names(False) + _lld_names(True)

#: The 260 columns of a DEAM frame: every contour's ``_stddev``, then every ``_amean``
#: (like DEAM's files, from ``F0final_sma_stddev`` to ``pcm_fftMag_mfcc_sma_de[14]_amean``).
DEAM_FRAME_COLUMNS = ([f"{n}_stddev" for n in DEAM_LLD_NAMES]
                      + [f"{n}_amean" for n in DEAM_LLD_NAMES])


def _pair(names):
    return [f"{n}_{s}" for n in names for s in ("amean", "stddev")]


#: The 74 feature columns of ``deam_features_74.csv`` in that file's order.
DEAM74_COLUMNS = (
    _pair(["pcm_RMSenergy_sma", "pcm_RMSenergy_sma_de", "pcm_zcr_sma"])
    + [f"pcm_fftMag_mfcc_sma[{k}]_amean" for k in range(1, 15)]
    + [f"pcm_fftMag_mfcc_sma[{k}]_stddev" for k in range(1, 15)]
    + _pair([f"pcm_fftMag_{n}_sma" for n in (
        "spectralCentroid", "spectralFlux", "spectralSlope", "spectralEntropy",
        "spectralVariance", "spectralSkewness", "spectralKurtosis", "psySharpness")])
    + _pair(["F0final_sma", "logHNR_sma", "voicingFinalUnclipped_sma", "jitterLocal_sma",
             "pcm_fftMag_fband250-650_sma", "pcm_fftMag_fband1000-4000_sma",
             "audSpec_Rfilt_sma[0]", "audSpec_Rfilt_sma[1]", "audspec_lengthL1norm_sma",
             "audspecRasta_lengthL1norm_sma", "shimmerLocal_sma", "jitterDDP_sma"])
)

#: Columns of the 74 that recomputation cannot reproduce (correlation with DEAM's
#: values near zero across songs, see docs/features.md).
NOT_RECOMPUTABLE_COLUMNS = [
    "pcm_RMSenergy_sma_de_amean",
    "audSpec_Rfilt_sma[0]_amean", "audSpec_Rfilt_sma[0]_stddev",
    "audSpec_Rfilt_sma[1]_amean", "audSpec_Rfilt_sma[1]_stddev",
    "audspecRasta_lengthL1norm_sma_amean", "audspecRasta_lengthL1norm_sma_stddev",
]
#: The 67 of the 74 columns that recomputation reproduces; models should use these.
RECOMPUTABLE_COLUMNS = [c for c in DEAM74_COLUMNS if c not in NOT_RECOMPUTABLE_COLUMNS]

# ------------------------------------------------------------------ trimmed configuration

# Which IS13 components each group of LLDs needs, and the level its smoother reads.
_FFT25 = ("is13_frame25", "is13_win25", "is13_fft25", "is13_fftmp25")
_PITCH = ("is13_frame60", "is13_win60", "is13_fft60", "is13_fftmp60", "is13_scale",
          "is13_shs", "is13_energy60", "is13_pitchSmoothViterbi", "is13_volmerge")
_GROUPS = {
    # group: (components, smoother, level the smoother reads)
    "pitch": (_PITCH, "is13_smoNz", "is13_pitchG60"),
    "voice_quality": (_PITCH + ("is13_pitchJitter",), "is13_smoNz", "is13_jitterShimmer"),
    "audspec_sum": (_FFT25 + ("is13_melspec1", "is13_audspec", "is13_audspecSum"),
                    "is13_smoA", "is13_audspecSum"),
    "rasta_sum": (_FFT25 + ("is13_melspec1", "is13_audspecRasta", "is13_audspecRastaSum"),
                  "is13_smoA", "is13_audspecRastaSum"),
    "energy": (("is13_frame25", "is13_energy"), "is13_smoA", "is13_energy"),
    "zcr": (("is13_frame60", "is13_mzcr"), "is13_smoA", "is13_zcr"),
    "rasta": (_FFT25 + ("is13_melspec1", "is13_audspecRasta"), "is13_smoB",
              "is13_audspecRasta"),
    "spectral": (_FFT25 + ("is13_spectral",), "is13_smoB", "is13_spectral"),
    "mfcc": (_FFT25 + ("is13_melspecMfcc", "is13_mfcc"), "is13_smoB", "is13_mfcc1_12"),
}
# Smoother -> the delta component that reads it and the delta's output level.
_DELTAS = {"is13_smoNz": ("is13_deNz", "is13_lld_nzsmo", "is13_lld_nzsmo_de"),
           "is13_smoA": ("is13_deA", "is13_lldA_smo", "is13_lldA_smo_de"),
           "is13_smoB": ("is13_deB", "is13_lldB_smo", "is13_lldB_smo_de")}
_SINK_LEVEL = "deam_lld"
ALL_GROUPS = tuple(_GROUPS)


def _group_of(contour: str) -> str:
    base = re.sub(r"_sma(_de)?(\[\d+\])?$", "", contour)
    if base in ("F0final", "voicingFinalUnclipped"):
        return "pitch"
    if base in ("jitterLocal", "jitterDDP", "shimmerLocal", "logHNR"):
        return "voice_quality"
    named = {"audspec_lengthL1norm": "audspec_sum", "audspecRasta_lengthL1norm": "rasta_sum",
             "pcm_RMSenergy": "energy", "pcm_zcr": "zcr", "audSpec_Rfilt": "rasta",
             "pcm_fftMag_mfcc": "mfcc"}
    if base in named:
        return named[base]
    if base.startswith("pcm_fftMag_"):
        return "spectral"
    raise ParameterError(f"'{contour}' is not one of DEAM's openSMILE descriptors.")


def _contour_of(column: str) -> str:
    match = re.fullmatch(r"(.+)_(amean|stddev)", column)
    if not match or match.group(1) not in DEAM_LLD_NAMES:
        raise ParameterError(
            f"'{column}' is not a DEAM openSMILE column (expected a name such as "
            "'pcm_RMSenergy_sma_amean' or 'pcm_fftMag_mfcc_sma_de[3]_stddev')."
        )
    return match.group(1)


def groups_for(columns) -> tuple[str, ...]:
    """The LLD groups (keys of the trimmed configuration) that ``columns`` need."""
    needed = set()
    for column in columns:
        contour = _contour_of(column)
        group = _group_of(contour)
        needed.add(group)
        if group in ("pitch", "voice_quality") and "_sma_de" in contour:
            # These deltas are taken only inside voiced segments, which openSMILE finds
            # from F0 *and* the voice-quality contours together.
            needed.update(("pitch", "voice_quality"))
    return tuple(g for g in ALL_GROUPS if g in needed)


def _package_config_dir() -> Path:
    import opensmile

    return Path(opensmile.__file__).resolve().parent / "core" / "config"


def _split_sections(text: str) -> list[tuple[str, list[str]]]:
    """Split an openSMILE config into (header, lines) sections."""
    sections, header, lines = [], "", []
    for line in text.splitlines():
        if line.startswith("["):
            sections.append((header, lines))
            header, lines = line.strip(), []
        else:
            lines.append(line)
    sections.append((header, lines))
    return sections


def opensmile_config(groups=ALL_GROUPS) -> str:
    """Text of an openSMILE configuration computing only the LLD ``groups`` given.

    The component definitions are taken unchanged from ``IS13_ComParE_core.lld.conf.inc``
    of the installed ``opensmile`` package; unneeded components are dropped, the
    smoothers and delta regressions read only the levels that remain, and every smoothed
    contour and its delta are concatenated into one level (``deam_lld``) so that one
    openSMILE pass gives all of them.
    """
    groups = [g for g in ALL_GROUPS if g in set(groups)]
    if not groups:
        raise ParameterError("At least one openSMILE descriptor group is needed.")
    keep, reads = set(), {}
    for g in groups:
        components, smoother, level = _GROUPS[g]
        keep.update(components)
        reads.setdefault(smoother, [])
        if level not in reads[smoother]:
            reads[smoother].append(level)
    for smoother, (delta, _, _) in _DELTAS.items():
        if smoother in reads:
            keep.update((smoother, delta))

    source = (_package_config_dir() / "is09-13" / "IS13_ComParE_core.lld.conf.inc").read_text()
    out = ["[componentInstances:cComponentManager]", "instance[dataMemory].type=cDataMemory",
           "printLevelStats=0", r"\{\cm[source{?}:include external source]}"]
    for header, lines in _split_sections(source):
        if header == "[componentInstances:cComponentManager]":
            kept = [ln for ln in lines if _instance_name(ln) in keep]
            if kept:
                out += [header] + kept
        elif header:
            name = header[1:].split(":")[0]
            if name in keep:
                out += [header] + _rewire(name, lines, reads)
    levels = [_DELTAS[s][1] for s in _DELTAS if s in reads]
    levels += [_DELTAS[s][2] for s in _DELTAS if s in reads]
    out += ["[componentInstances:cComponentManager]",
            "instance[deam_concat].type=cVectorConcat",
            "[deam_concat:cVectorConcat]",
            f"reader.dmLevel = {';'.join(levels)}",
            f"writer.dmLevel = {_SINK_LEVEL}",
            "includeSingleElementFields = 1",
            r"\{\cm[sink{?}:include external sink]}"]
    return "\n".join(out) + "\n"


def _instance_name(line: str) -> str | None:
    match = re.match(r"\s*instance\[([^\]]+)\]", line)
    return match.group(1) if match else None


_BUFFER_MODES = {"bufferModeRbConf": "BufferModeRb.conf.inc",
                 "bufferModeRbLagConf": "BufferModeRbLag.conf.inc",
                 "bufferModeConf": "BufferMode.conf.inc"}


def _rewire(name: str, lines: list[str], reads: dict) -> list[str]:
    """Point a smoother at the levels that remain; include buffer modes by absolute path.

    The package's file declares each buffer-mode option at its first use only, which
    may be a dropped component, so every use is replaced by a direct include.
    """
    shared = _package_config_dir() / "shared"
    out = []
    for line in lines:
        match = re.match(r"\s*\\\{\\cm\[(bufferMode\w*Conf)\b", line)
        if match:
            line = "\\{" + str(shared / _BUFFER_MODES[match.group(1)]) + "}"
        elif name in reads and line.strip().startswith("reader.dmLevel"):
            line = f"reader.dmLevel = {';'.join(reads[name])}"
        out.append(line)
    return out


@functools.lru_cache(maxsize=16)
def _smile(groups: tuple[str, ...]):
    """An ``opensmile.Smile`` for the trimmed configuration of ``groups`` (per process)."""
    import opensmile

    text = opensmile_config(groups)
    digest = hashlib.sha1(text.encode()).hexdigest()[:12]
    folder = Path(tempfile.gettempdir()) / f"emolab-opensmile-{os.getuid()}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"deam_{digest}.conf"
    if not path.exists():
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
    return opensmile.Smile(feature_set=str(path), feature_level=_SINK_LEVEL)


# ------------------------------------------------------------------------- computation

def opensmile_llds(y: np.ndarray, sr: int, *, groups=ALL_GROUPS):
    """openSMILE contours every 10 ms: the LLDs of ``groups`` and their deltas.

    Parameters
    ----------
    y : np.ndarray, shape (n_samples,)
        Mono audio.
    sr : int
        Its sample rate; resampled to 44.1 kHz when different.
    groups : sequence of str
        Descriptor groups to compute (see :func:`groups_for`).

    Returns
    -------
    names : list of str
        DEAM's names of the contours (``pcm_fftMag_mfcc_sma[1]``, ``…_sma_de``…).
    llds : np.ndarray, shape (n_lld_frames, len(names)), float64
    """
    y = _prepare(y, sr)
    smile = _smile(tuple(g for g in ALL_GROUPS if g in set(groups)))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = smile.process_signal(y, OPENSMILE_SR)
    except Exception as exc:  # openSMILE reports its failures as bare exception codes
        raise FeatureError(
            f"openSMILE could not analyse this audio ({type(exc).__name__}: {exc})."
        ) from exc
    names = [_deam_name(c) for c in table.columns]
    llds = np.nan_to_num(table.to_numpy(dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    # Without the 60 ms components openSMILE gives a few more 10 ms frames at the end;
    # cut them so the frame grid never depends on the columns asked for.
    return names, llds[:_n_lld_frames(y.size)]


def _n_lld_frames(n_samples: int) -> int:
    """Number of 10 ms frames of the full configuration (its longest frames are 60 ms)."""
    frame = int(round(0.060 * OPENSMILE_SR))
    step = int(round(LLD_HOP_SECONDS * OPENSMILE_SR))
    return max(1, (n_samples - frame) // step + 1)


def _deam_name(opensmile_name: str) -> str:
    return "pcm_fftMag_" + opensmile_name if opensmile_name.startswith("mfcc_") else opensmile_name


def _prepare(y: np.ndarray, sr: int) -> np.ndarray:
    """Mono float32 at 44.1 kHz, at least one window long, safe for 16-bit conversion."""
    y = mono_at_rate(y, sr, target_sr=OPENSMILE_SR, min_seconds=WINDOW_SECONDS)
    # openSMILE receives 16-bit samples: +1.0 would wrap around to -32768.
    return np.clip(y, -1.0, 32767 / 32768)


def n_frames(n_samples: int, sr: int) -> int:
    """Number of 1 s frames every 0.5 s in ``n_samples`` samples (at least one).

    Frame *i* covers [0.5 i, 0.5 i + 1) s; only frames that fit entirely are counted.
    """
    window = int(round(WINDOW_SECONDS * sr))
    hop = int(round(HOP_SECONDS * sr))
    return max(1, (n_samples - window) // hop + 1)


def frame_statistics(llds: np.ndarray, *, n: int | None = None):
    """Mean and population std of 10 ms contours over 1 s windows every 0.5 s.

    Parameters
    ----------
    llds : np.ndarray, shape (n_lld_frames, n_contours)
    n : int, optional
        Number of frames wanted (default: as many full windows as the contours hold).
        The last windows may hold a few fewer than 100 contour frames, because
        openSMILE's 60 ms analysis frames stop up to 50 ms before the end of the audio.

    Returns
    -------
    times : np.ndarray, shape (n,)
        Window centres ``0.5 i + 0.5`` (s).
    amean, stddev : np.ndarray, shape (n, n_contours)
    """
    win = int(round(WINDOW_SECONDS / LLD_HOP_SECONDS))
    hop = int(round(HOP_SECONDS / LLD_HOP_SECONDS))
    if n is None:
        n = max(1, (len(llds) - win) // hop + 1)
    if len(llds) == 0:
        raise FeatureError("openSMILE returned no frames for this audio.")
    amean = np.empty((n, llds.shape[1]))
    stddev = np.empty((n, llds.shape[1]))
    for i in range(n):
        window = llds[i * hop: i * hop + win]
        amean[i] = window.mean(axis=0)
        stddev[i] = window.std(axis=0)
    times = HOP_SECONDS * np.arange(n) + WINDOW_SECONDS / 2
    return times, amean, stddev


def opensmile_frames(y: np.ndarray, sr: int, *, columns=None):
    """DEAM's 260 openSMILE columns every 0.5 s.

    Audio shorter than 1 s is padded with silence to 1 s, so it gives one frame; silent
    audio gives finite values (openSMILE's undefined values are set to 0).

    Parameters
    ----------
    y : np.ndarray, shape (n_samples,)
        Mono audio (``emolab.audio.load`` gives mono).
    sr : int
        Its sample rate; resampled to 44.1 kHz when different.
    columns : list of str, optional
        Columns to return, default :data:`DEAM_FRAME_COLUMNS`. Only the openSMILE
        components these columns need are run (the speed lever).

    Returns
    -------
    times : np.ndarray, shape (n,)
        Frame centres, ``0.5 i + 0.5`` s; frame *i* covers [0.5 i, 0.5 i + 1) s.
    frames : np.ndarray, shape (n, len(columns)), float64

    Raises
    ------
    ParameterError
        For an unknown column name or multichannel audio.
    FeatureError
        When openSMILE gives nothing usable.
    """
    columns = list(DEAM_FRAME_COLUMNS if columns is None else columns)
    names, llds = opensmile_llds(y, sr, groups=groups_for(columns))
    n = n_frames(max(np.asarray(y).size, int(round(WINDOW_SECONDS * sr))), sr)
    times, amean, stddev = frame_statistics(llds, n=n)
    position = {n: j for j, n in enumerate(names)}
    frames = np.empty((len(times), len(columns)))
    for k, column in enumerate(columns):
        contour = _contour_of(column)
        stats = amean if column.endswith("_amean") else stddev
        frames[:, k] = stats[:, position[contour]]
    if not np.all(np.isfinite(frames)):
        raise FeatureError("openSMILE produced undefined values for this audio.")
    return times, frames


def song_level(frames: np.ndarray, frame_columns, *, columns=DEAM74_COLUMNS) -> np.ndarray:
    """Song-level DEAM values: the mean of each column over all frames.

    Parameters
    ----------
    frames : np.ndarray, shape (n, len(frame_columns))
    frame_columns : list of str
        Names of the columns of ``frames``.
    columns : list of str
        Columns wanted, each one of ``frame_columns``.

    Returns
    -------
    np.ndarray, shape (len(columns),)
    """
    frames = np.asarray(frames, dtype=np.float64)
    frame_columns = list(frame_columns)
    if frames.ndim != 2 or frames.shape[1] != len(frame_columns) or len(frames) == 0:
        raise ParameterError(
            f"Expected frames of shape (n >= 1, {len(frame_columns)}); got {frames.shape}."
        )
    missing = [c for c in columns if c not in frame_columns]
    if missing:
        raise ParameterError(f"These columns are not among the frames: {missing[:5]}.")
    index = [frame_columns.index(c) for c in columns]
    return frames[:, index].mean(axis=0)


def deam_song_vector(y: np.ndarray, sr: int, *, columns=DEAM74_COLUMNS) -> np.ndarray:
    """A song's DEAM feature vector from audio (only what ``columns`` need is computed).

    Parameters
    ----------
    y : np.ndarray, shape (n_samples,)
        Mono audio.
    sr : int
    columns : list of str
        Default: the 74 columns of ``deam_features_74.csv``.

    Returns
    -------
    np.ndarray, shape (len(columns),), float64
        Finite values; audio shorter than 1 s is padded with silence to 1 s.
    """
    columns = list(columns)
    _, frames = opensmile_frames(y, sr, columns=columns)
    return song_level(frames, columns, columns=columns)


# --------------------------------------------------------------------------- agreement

def agreement(computed, reference, *, scale=None):
    """Per-column agreement of recomputed song vectors with DEAM's own values.

    Parameters
    ----------
    computed, reference : pandas.DataFrame, shape (n_songs, n_columns)
        Song-level values indexed by song id; compared on the songs and columns both have.
    scale : pandas.Series, optional
        Spread of each column used to express errors (default: ``reference``'s std);
        pass the std over a whole DEAM table for a stable yardstick.

    Returns
    -------
    pandas.DataFrame
        One row per column: ``column``, ``pearson_r`` (across songs),
        ``median_abs_error_over_std`` and ``recomputable`` (in :data:`RECOMPUTABLE_COLUMNS`).
    """
    import pandas as pd

    songs = computed.index.intersection(reference.index)
    columns = [c for c in computed.columns if c in reference.columns]
    if len(songs) < 3 or not columns:
        raise ParameterError("Agreement needs at least 3 songs and 1 column in common.")
    scale = reference[columns].std() if scale is None else scale
    rows = []
    for column in columns:
        a = computed.loc[songs, column].to_numpy(dtype=float)
        b = reference.loc[songs, column].to_numpy(dtype=float)
        r = float(np.corrcoef(a, b)[0, 1]) if a.std() > 0 and b.std() > 0 else float("nan")
        error = float(np.median(np.abs(a - b)) / scale[column]) if scale[column] > 0 else float("nan")
        rows.append((column, r, error, column in RECOMPUTABLE_COLUMNS))
    return pd.DataFrame(rows, columns=["column", "pearson_r", "median_abs_error_over_std",
                                       "recomputable"])
