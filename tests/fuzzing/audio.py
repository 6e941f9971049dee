"""The ``audio`` door: damaged, odd and hostile audio files.

:func:`emolab.audio.load` and :func:`emolab.pipeline.analyse` on damaged, odd and
hostile files. Run in a child process (:class:`~tests.fuzzing.harness.Sandbox`) so that a
segfault or a hang in a decoder is reported as a crash instead of ending the run.
"""
from __future__ import annotations

import io
import json
import math
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emolab.exceptions import EmolabError
from tests.fuzzing.harness import (
    REFUSED,
    VALID,
    Breach,
    Case,
    Sandbox,
    _pick,
    check_message,
)

# =========================================================================== audio door

#: (format, subtype, extension, sample rates it can encode or None for any, max channels)
_CODECS = [
    ("WAV", "PCM_16", ".wav", None, 8), ("WAV", "PCM_U8", ".wav", None, 8),
    ("WAV", "PCM_24", ".wav", None, 8), ("WAV", "PCM_32", ".wav", None, 8),
    ("WAV", "FLOAT", ".wav", None, 8), ("WAV", "DOUBLE", ".wav", None, 8),
    ("WAV", "ULAW", ".wav", None, 2), ("WAV", "IMA_ADPCM", ".wav", None, 2),
    ("FLAC", "PCM_16", ".flac", (8000, 16000, 22050, 44100, 48000, 96000), 8),
    ("FLAC", "PCM_S8", ".flac", (8000, 22050, 44100), 2),
    ("FLAC", "PCM_24", ".flac", (22050, 44100, 48000, 96000, 192000), 8),
    ("OGG", "VORBIS", ".ogg", (8000, 11025, 16000, 22050, 32000, 44100, 48000), 2),
    ("OGG", "OPUS", ".ogg", (8000, 12000, 16000, 24000, 48000), 2),
    ("MP3", "MPEG_LAYER_III", ".mp3",
     (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000), 2),
]
_COMMON_RATES = (8000, 11025, 16000, 22050, 32000, 44100, 48000)
_ODD_RATES = (1, 2, 3, 50, 100, 1000, 4000, 7919, 96000, 192000, 384000)
_FLOAT_SUBTYPES = ("FLOAT", "DOUBLE")
_SIGNALS = ("tone", "chord", "noise", "silence", "dc", "square", "nyquist", "impulses",
            "quiet", "inverted")
_FLOAT_SIGNALS = ("nan", "inf", "huge", "overdriven", "denormal")


@dataclass
class AudioInput:
    """Audio bytes and how to hand them over: as bytes, a file object, or a file path."""

    data: bytes | None
    via: str = "bytes"  # "bytes", "buffer", "path", "missing", "folder", "big_path"
    suffix: str = ".wav"
    path: str | None = None  # files made once on disk (the long ones)


def _signal(rng, kind: str, n: int, sr: int) -> np.ndarray:
    t = np.arange(n) / sr
    top = max(sr / 2.2, 1.0)
    if kind == "tone":
        return 0.5 * np.sin(2 * np.pi * min(rng.uniform(55, 2000), top) * t)
    if kind == "chord":
        return sum(np.sin(2 * np.pi * min(f, top) * t) for f in (220, 277, 330)) / 4
    if kind == "noise":
        return np.clip(rng.normal(0, 0.25, n), -1, 1)
    if kind == "silence":
        return np.zeros(n)
    if kind == "dc":
        return np.full(n, _pick(rng, [0.5, -0.99, 1.0, -1.0]))
    if kind == "square":
        return np.sign(np.sin(2 * np.pi * min(rng.uniform(30, 500), top) * t))
    if kind == "nyquist":
        return np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    if kind == "impulses":
        y = np.zeros(n)
        y[rng.integers(0, n, size=max(1, n // 5000))] = 1.0
        return y
    if kind == "quiet":
        return 1e-5 * np.sin(2 * np.pi * 440 * t)
    if kind == "inverted":  # channels cancel when mixed to mono
        return 0.5 * np.sin(2 * np.pi * 440 * t)
    if kind == "nan":
        y = 0.5 * np.sin(2 * np.pi * 440 * t)
        y[rng.random(n) < _pick(rng, [0.01, 0.5, 1.0])] = np.nan
        return y
    if kind == "inf":
        y = 0.5 * np.sin(2 * np.pi * 440 * t)
        y[rng.random(n) < 0.1] = _pick(rng, [np.inf, -np.inf])
        return y
    if kind == "huge":
        return np.full(n, _pick(rng, [1e30, -3e38, 1e300]))
    if kind == "overdriven":
        return _pick(rng, [1.5, 3.0, 1e6]) * np.sin(2 * np.pi * 440 * t)
    if kind == "denormal":
        return np.full(n, 1e-42)
    raise ValueError(kind)


def encode(y: np.ndarray, sr: int, fmt: str, subtype: str | None) -> bytes:
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, y, sr, format=fmt, subtype=subtype)
    return buf.getvalue()


def _valid_audio(rng) -> tuple[str, bytes, str]:
    """A valid file of a random format, rate, channel count, length and content."""
    fmt, subtype, suffix, rates, max_ch = _CODECS[rng.integers(len(_CODECS))]
    if rates is None:
        sr = int(_pick(rng, _ODD_RATES)) if rng.random() < 0.15 else int(_pick(rng, _COMMON_RATES))
    else:
        sr = int(_pick(rng, rates))
    r = rng.random()
    channels = 1 if r < 0.55 else 2 if r < 0.9 else int(_pick(rng, [3, 6, 8]))
    channels = min(channels, max_ch)
    r = rng.random()
    if r < 0.06:
        n = int(_pick(rng, [1, 2, 3, 10, 100, 1000]))
    elif r < 0.985:
        n = int(rng.uniform(0.5, 3.0) * sr)
    else:
        n = int(rng.uniform(8.0, 25.0) * sr)
    if sr >= 96000:
        n = min(n, int(1.5 * sr))
    n = max(n, 1)
    kinds = _SIGNALS + (_FLOAT_SIGNALS if subtype in _FLOAT_SUBTYPES else ())
    kind = str(_pick(rng, kinds))
    y = _signal(rng, kind, n, sr)
    if channels > 1:
        y = np.stack([y if (c % 2 == 0 or kind != "inverted") else -y for c in range(channels)], 1)
    y = y.astype(np.float64 if subtype == "DOUBLE" else np.float32)
    try:
        data = encode(y, sr, fmt, subtype)
    except Exception:  # noqa: BLE001  (the encoder refused: fall back to 16-bit WAV)
        fmt, subtype, suffix = "WAV", "PCM_16", ".wav"
        data = encode(np.nan_to_num(y).clip(-1, 1).astype(np.float32), sr, fmt, subtype)
    return f"{fmt}/{subtype} {sr} Hz {channels} ch {n} samples {kind}", data, suffix


def _wav_fields(data: bytes) -> dict[str, tuple[int, str]]:
    """Offsets and struct formats of the fields of a WAV header (empty if not a WAV)."""
    if data[:4] != b"RIFF":
        return {}
    out = {"riff size": (4, "<I")}
    fmt = data.find(b"fmt ", 12, 200)
    if fmt > 0:
        out.update({"format tag": (fmt + 8, "<H"), "channels": (fmt + 10, "<H"),
                    "sample rate": (fmt + 12, "<I"), "byte rate": (fmt + 16, "<I"),
                    "block align": (fmt + 20, "<H"), "bits": (fmt + 22, "<H")})
    chunk = data.find(b"data", 12, 400)
    if chunk > 0:
        out["data size"] = (chunk + 4, "<I")
    return {k: v for k, v in out.items() if v[0] + struct.calcsize(v[1]) <= len(data)}


_WAV_VALUES = {"<I": (0, 1, 2, 3, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 44100 * 3600 * 3),
               "<H": (0, 1, 2, 3, 7, 8, 64, 255, 0x7FFF, 0xFFFF)}


def _mutate_audio(rng, data: bytes) -> tuple[str, bytes]:
    b = bytearray(data)
    n = len(b)
    choice = int(rng.integers(12))
    if choice == 0:
        cut = int(rng.integers(0, max(n, 1)))
        return f"truncated at byte {cut} of {n}", bytes(b[:cut])
    if choice == 1:
        cut = int(rng.integers(0, min(n, 80) or 1))
        return f"truncated in the header at byte {cut}", bytes(b[:cut])
    if choice == 2:
        k = int(rng.integers(1, 40))
        for pos in rng.integers(0, n, size=k) if n else []:
            b[pos] ^= 1 << int(rng.integers(8))
        return f"{k} random bits flipped", bytes(b)
    if choice == 3:
        k = int(rng.integers(1, 8))
        for pos in rng.integers(0, min(n, 64), size=k) if n else []:
            b[pos] = int(rng.integers(256))
        return f"{k} header bytes replaced", bytes(b)
    if choice == 4:
        fields = _wav_fields(data)
        if fields:
            name = str(_pick(rng, sorted(fields)))
            offset, fmt = fields[name]
            value = int(_pick(rng, _WAV_VALUES[fmt]))
            struct.pack_into(fmt, b, offset, value)
            return f"WAV field '{name}' set to {value}", bytes(b)
        choice = 5
    if choice == 5:
        start = int(rng.integers(0, max(n, 1)))
        length = int(rng.integers(1, 4096))
        filler = _pick(rng, ["random", "zeros", "ff"])
        block = (rng.integers(0, 256, length, dtype=np.uint8).tobytes() if filler == "random"
                 else bytes(length) if filler == "zeros" else b"\xff" * length)
        b[start:start + length] = block[: max(0, min(length, n - start))]
        return f"{length} bytes at {start} overwritten with {filler}", bytes(b)
    if choice == 6:
        pos = int(rng.integers(0, n + 1))
        junk = rng.integers(0, 256, int(rng.integers(1, 2000)), dtype=np.uint8).tobytes()
        return f"{len(junk)} random bytes inserted at {pos}", bytes(b[:pos]) + junk + bytes(b[pos:])
    if choice == 7:
        start = int(rng.integers(0, max(n, 1)))
        length = int(rng.integers(1, max(2, n // 3)))
        return f"{length} bytes deleted at {start}", bytes(b[:start] + b[start + length:])
    if choice == 8:
        return "the file repeated twice", bytes(b) * 2
    if choice == 9:
        junk = _pick(rng, [b"ID3\x04\x00\x00\x00\x00\x00\x00", b"\x00" * 512, b"GARBAGE",
                           b"RIFF\xff\xff\xff\xffWAVE"])
        return f"prefixed with {bytes(junk[:12])!r}", bytes(junk) + bytes(b)
    if choice == 10:
        half = n // 2
        return "halves swapped", bytes(b[half:] + b[:half])
    junk = rng.integers(0, 256, int(rng.integers(1, 5000)), dtype=np.uint8).tobytes()
    return f"{len(junk)} random bytes appended", bytes(b) + junk


def _wav_header(*, sr: int, channels: int, bits: int, data_bytes: int, fmt_tag: int = 1) -> bytes:
    block = channels * bits // 8
    return (b"RIFF" + struct.pack("<I", (36 + data_bytes) & 0xFFFFFFFF) + b"WAVE"
            + b"fmt " + struct.pack("<IHHIIHH", 16, fmt_tag, channels & 0xFFFF, sr & 0xFFFFFFFF,
                                    (sr * block) & 0xFFFFFFFF, block & 0xFFFF, bits & 0xFFFF)
            + b"data" + struct.pack("<I", data_bytes & 0xFFFFFFFF))


_TEXTS = (
    b"annotation_id,song_id,annotator\n1,2,clara\n",
    b"<!DOCTYPE html><html><body>not audio</body></html>",
    b'{"objects": [], "note": "json, not audio"}',
    "Gläser, Töne – ♪♫ ünïcödé".encode(),
    b"#!/bin/sh\nrm -rf /\n",
    b"RIFF",
    b"RIFF\x00\x00\x00\x00WAVE",
    b"fLaC\x00\x00\x00\x22" + b"\x00" * 34,
    b"OggS\x00\x02" + b"\x00" * 60,
    b"ID3\x03\x00\x00\x00\x00\x00\x00",
    b"\xff\xfb\x90\x64" + b"\x00" * 400,
    b"\x89PNG\r\n\x1a\n" + b"\x00" * 100,
    b"PK\x03\x04" + b"\x00" * 100,
)


def _junk_audio(rng) -> tuple[str, bytes]:
    choice = int(rng.integers(7))
    if choice == 0:
        return "zero bytes", b""
    if choice == 1:
        n = int(_pick(rng, [1, 4, 12, 44, 100, 4096, 65536]))
        return f"{n} random bytes", rng.integers(0, 256, n, dtype=np.uint8).tobytes()
    if choice == 2:
        text = _TEXTS[int(rng.integers(len(_TEXTS)))]
        return f"text or a bare magic number {text[:16]!r}", text
    if choice == 3:
        sr, channels, bits = int(_pick(rng, [8000, 44100, 384000])), int(_pick(rng, [1, 2, 8])), 16
        claimed = 3 * 3600 * sr * channels * bits // 8
        real = rng.integers(-2000, 2000, sr * channels, dtype=np.int16).tobytes()
        return (f"WAV header claiming 3 h ({sr} Hz, {channels} ch), 1 s of data",
                _wav_header(sr=sr, channels=channels, bits=bits, data_bytes=claimed) + real)
    if choice == 4:
        sr = int(_pick(rng, [0, 1, 3, 7, 4_000_000_000, 2**31]))
        channels = int(_pick(rng, [0, 1, 2, 255, 1024, 65535]))
        bits = int(_pick(rng, [0, 1, 8, 12, 16, 24, 32, 64, 65535]))
        fmt_tag = int(_pick(rng, [1, 3, 0, 0xFFFE, 85, 0x1234]))
        body = rng.integers(0, 256, int(rng.integers(0, 20000)), dtype=np.uint8).tobytes()
        header = _wav_header(sr=sr, channels=max(channels, 0), bits=bits,
                             data_bytes=len(body), fmt_tag=fmt_tag) if channels * bits < 2**20 else b""
        return f"WAV header sr={sr} ch={channels} bits={bits} tag={fmt_tag}", header + body
    if choice == 5:
        return "only a WAV header, no samples", _wav_header(sr=22050, channels=1, bits=16,
                                                            data_bytes=0)
    n = int(rng.integers(1, 200))
    return f"{n} x 0xFF", b"\xff" * n


class AudioDoor:
    """Audio files: ``audio.load`` (path, file object or bytes) then ``pipeline.analyse``.

    Parameters
    ----------
    workdir : Path
        Scratch folder for files handed over by path.
    isolated : bool
        Run every attempt in a :class:`Sandbox` child process.
    long_files : bool
        Also make the few big files once on disk (a real 3-hour 8 kHz recording in 8 and
        16 bit, a file over 200 MB, a 2-minute recording).
    """

    name = "audio"

    def __init__(self, workdir, *, isolated: bool = True, long_files: bool = False):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.isolated = isolated
        self.long_files = long_files
        self._sandbox = Sandbox(_audio_door_in_child, (str(self.workdir),)) if isolated else None
        self._counter = 0

    # ---------------------------------------------------------------- generation
    def cases(self, rng, n: int) -> Iterator[Case]:
        catalogue = list(_audio_catalogue())
        yield from catalogue[:n]
        n -= min(n, len(catalogue))
        specials = list(self._special_cases()) if self.long_files else []
        positions = set(np.linspace(0, n - 1, len(specials) + 2)[1:-1].astype(int)) if specials else set()
        for i in range(n):
            if i in positions and specials:
                yield specials.pop(0)
                continue
            yield self._random_case(rng)

    def _random_case(self, rng) -> Case:
        r = rng.random()
        if r < 0.10:
            description, data = _junk_audio(rng)
            family = "not audio"
        else:
            description, data, suffix = _valid_audio(rng)
            family = "valid " + description.split()[0].split("/")[0]
            if r < 0.78:
                change, data = _mutate_audio(rng, data)
                description, family = f"{description} | {change}", "damaged"
                if rng.random() < 0.2:
                    change, data = _mutate_audio(rng, data)
                    description += f" | {change}"
        r = rng.random()
        suffix = str(_pick(rng, [".wav", ".mp3", ".flac", ".ogg", ".txt", ".WAV", ""]))
        if r < 0.6:
            via = "bytes"
        elif r < 0.8:
            via = "buffer"
        elif r < 0.98:
            via = "path"
            description += f" (as a file '{suffix}')"
        else:
            via = str(_pick(rng, ["missing", "folder"]))
            description = f"{via} path"
            family = "bad path"
        return Case(family, description, AudioInput(data, via=via, suffix=suffix))

    def _special_cases(self) -> Iterator[Case]:
        """The few long inputs, made once on disk."""
        import soundfile as sf

        folder = self.workdir / "long"
        folder.mkdir(exist_ok=True)
        for subtype, label in (("PCM_U8", "8-bit"), ("PCM_16", "16-bit")):
            path = folder / f"three_hours_{label}.wav"
            if not path.exists():
                sr = 8000
                block = (0.3 * np.sin(2 * np.pi * 220 * np.arange(sr * 60) / sr)).astype(np.float32)
                with sf.SoundFile(path, "w", sr, 1, subtype=subtype, format="WAV") as f:
                    for _ in range(180):
                        f.write(block)
            yield Case("long", f"a real 3-hour 8 kHz mono {label} WAV "
                               f"({path.stat().st_size / 1e6:.0f} MB)",
                       AudioInput(None, via="big_path", path=str(path)))
        big = folder / "over_200MB.wav"
        if not big.exists():
            with open(big, "wb") as f:
                f.write(_wav_header(sr=44100, channels=2, bits=16, data_bytes=201 * 2**20))
                f.truncate(201 * 2**20 + 44)  # sparse: costs no disk
        yield Case("long", "a 201 MB WAV file (over the size limit)",
                   AudioInput(None, via="big_path", path=str(big)))
        path = folder / "almost_20_minutes_8kHz.wav"
        if not path.exists():
            sr = 8000
            block = (0.3 * np.sin(2 * np.pi * 196 * np.arange(sr * 30) / sr)).astype(np.float32)
            with sf.SoundFile(path, "w", sr, 1, subtype="PCM_16", format="WAV") as f:
                for _ in range(39):  # 19.5 minutes: just inside the 20-minute limit
                    f.write(block)
        yield Case("long", "a 19.5-minute 8 kHz mono WAV (just inside the limit)",
                   AudioInput(None, via="big_path", path=str(path)))
        for minutes in (2.0, 20.05):
            path = folder / f"tone_{minutes:g}min.flac"
            if not path.exists():
                sr = 22050
                t = np.arange(int(sr * 60)) / sr
                block = (0.3 * np.sin(2 * np.pi * 330 * t)).astype(np.float32)
                with sf.SoundFile(path, "w", sr, 1, format="FLAC") as f:
                    whole = int(minutes)
                    for _ in range(whole):
                        f.write(block)
                    f.write(block[: int(sr * 60 * (minutes - whole))])
            yield Case("long", f"a {minutes:g}-minute 22 kHz FLAC",
                       AudioInput(None, via="big_path", path=str(path)))

    # ---------------------------------------------------------------- judging
    def attempt(self, case: Case, time_limit: float | None = None) -> str:
        if self._sandbox is not None and time_limit is not None:
            return self._sandbox.run(case, time_limit)
        return self._attempt(case.payload)

    def _attempt(self, item: AudioInput) -> str:
        from emolab import audio, pipeline

        source = self._source(item)
        try:
            _check_clip(audio.load(source))
        except EmolabError as exc:
            check_message(exc)
        if isinstance(source, io.BytesIO):
            source.seek(0)
        try:
            data = audio.read_bytes(source)
            analysis = pipeline.analyse(data, name="fuzz" + item.suffix, with_librosa=True)
        except EmolabError as exc:
            check_message(exc)
            return REFUSED
        _check_analysis(analysis)
        return VALID

    def warm_up(self) -> None:
        """Start the child and analyse one valid second of audio there."""
        t = np.arange(22050) / 22050
        data = encode((0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 22050, "WAV", None)
        self.attempt(Case("warm-up", "1 s tone", AudioInput(data)), time_limit=600)

    def _source(self, item: AudioInput):
        if item.via == "bytes":
            return item.data
        if item.via == "buffer":
            return io.BytesIO(item.data)
        if item.via == "big_path":
            return Path(item.path)
        if item.via == "missing":
            return self.workdir / "no such file.wav"
        if item.via == "folder":
            return self.workdir
        self._counter += 1
        path = self.workdir / f"input{self._counter % 4}{item.suffix}"
        path.write_bytes(item.data)
        return path

    def close(self):
        if self._sandbox is not None:
            self._sandbox.close()


def _audio_catalogue() -> Iterator[Case]:
    """The edge cases every run starts with, one each."""
    t = np.arange(22050) / 22050
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    items = [
        ("WAV 1 Hz, 5 samples", encode(np.full(5, 0.1, np.float32), 1, "WAV", "PCM_16")),
        ("WAV 1 Hz, 100 samples", encode(np.full(100, 0.1, np.float32), 1, "WAV", "PCM_16")),
        ("WAV 384 kHz, 1 s", encode(0.5 * np.sin(2 * np.pi * 440 * np.arange(384000) / 384000),
                                    384000, "WAV", "PCM_24")),
        ("WAV 8 channels", encode(np.repeat(tone[:, None], 8, 1), 22050, "WAV", "PCM_16")),
        ("FLAC 8 channels", encode(np.repeat(tone[:, None], 8, 1), 22050, "FLAC", "PCM_16")),
        ("float WAV all NaN", encode(np.full(22050, np.nan, np.float32), 22050, "WAV", "FLOAT")),
        ("double WAV with +Inf and -Inf", encode(np.where(t < 0.5, np.inf, -np.inf), 22050,
                                                 "WAV", "DOUBLE")),
        ("float WAV at ±3 (clipping beyond full scale)", encode(6 * tone, 22050, "WAV", "FLOAT")),
        ("square wave at exactly ±1", encode(np.sign(tone), 22050, "WAV", "PCM_16")),
        ("pure silence", encode(np.zeros(22050, np.float32), 22050, "WAV", "PCM_16")),
        ("DC offset only", encode(np.full(22050, 0.5, np.float32), 22050, "WAV", "PCM_16")),
        ("1 sample", encode(np.array([0.5], np.float32), 22050, "WAV", "PCM_16")),
        ("10 samples", encode(np.full(10, 0.5, np.float32), 22050, "WAV", "PCM_16")),
        ("MP3 1 s", encode(tone, 22050, "MP3", "MPEG_LAYER_III")),
        ("OGG Vorbis 1 s", encode(tone, 22050, "OGG", "VORBIS")),
        ("FLAC 1 s", encode(tone, 22050, "FLAC", "PCM_16")),
        ("zero bytes", b""),
        ("a text file", b"This is not audio.\n" * 20),
    ]
    for description, data in items:
        yield Case("catalogue", description, AudioInput(data))
    yield Case("catalogue", "WAV bytes in a file named .mp3",
               AudioInput(encode(tone, 22050, "WAV", "PCM_16"), via="path", suffix=".mp3"))
    yield Case("catalogue", "MP3 bytes in a file named .wav",
               AudioInput(encode(tone, 22050, "MP3", "MPEG_LAYER_III"), via="path", suffix=".wav"))


def _audio_door_in_child(workdir) -> AudioDoor:
    return AudioDoor(workdir, isolated=False)


def _check_clip(clip) -> None:
    y = clip.y
    if y.ndim != 1 or y.dtype != np.float32:
        raise Breach(f"decoded audio has shape {y.shape} and dtype {y.dtype}")
    if y.size and not np.isfinite(y).all():
        raise Breach(f"decoded audio has {int((~np.isfinite(y)).sum())} non-finite samples")
    if y.size and np.abs(y).max() > 1.0:
        raise Breach(f"decoded audio reaches {np.abs(y).max():.4g}, beyond [-1, 1]")
    if not math.isfinite(clip.duration) or clip.duration < 0 or clip.sr <= 0:
        raise Breach(f"decoded audio has duration {clip.duration} at {clip.sr} Hz")


def _check_analysis(analysis) -> None:
    from emolab.features.deam import DEAM74_COLUMNS
    from emolab.features.deam_fast import RUNTIME_COLUMNS

    computed = np.isin(DEAM74_COLUMNS, RUNTIME_COLUMNS)  # the fast extractor's; the rest stay NaN
    for name in ("deam74", "librosa"):
        vector = getattr(analysis, name)
        if vector is None or vector.ndim != 1 or vector.size == 0:
            raise Breach(f"{name} vector missing or of shape {getattr(vector, 'shape', None)}")
        if name == "deam74":
            if np.isfinite(vector[~computed]).any():
                raise Breach("deam74 has values in columns the fast extractor does not compute")
            vector = vector[computed]
        if not np.isfinite(vector).all():
            bad = int((~np.isfinite(vector)).sum())
            raise Breach(f"{name} vector has {bad} non-finite values")
    if not math.isfinite(analysis.duration):
        raise Breach(f"duration {analysis.duration}")
    json.dumps(analysis.summary())
