"""Seeded fuzzing of EmoLab's input doors: bad-input generators and the judge of outcomes.

Shared by the small fuzz tests (``tests/test_audio.py``, ``test_importers.py``,
``test_index.py``, ``test_search.py``) and ``benchmarks/fuzz.py`` (>= 1,000 inputs per door).

Each door is a class with ``cases(rng, n)`` (a generator of :class:`Case`) and
``attempt(case)``, which feeds one input to EmoLab and returns :data:`REFUSED`,
:data:`VALID` or :data:`APPLIED`; anything else it raises is a crash. :func:`run_door`
runs a door, compares the index checksum after every input and returns a
:class:`DoorReport`.

Doors
-----
``audio``
    :func:`emolab.audio.load` and :func:`emolab.pipeline.analyse` on damaged, odd and
    hostile files. Run in a child process (:class:`Sandbox`) so that a segfault or a hang in
    a decoder is reported as a crash instead of ending the run.
``csv``
    :func:`emolab.importers.import_annotations`: every generated file holds at least one
    bad row or is unusable as a whole, so nothing may be written (all or nothing).
``sql``
    :func:`emolab.index.query_guard.run`, the read-only console: writes, file access,
    extensions, multiple statements, tricks, deep nesting, slow queries.
``search``
    :func:`emolab.search.nearest_point`, :func:`emolab.search.match_profile` and the
    sketch conversion :func:`emolab.ui.stroke_to_curve` with wrong values and types.
"""
from __future__ import annotations

import csv
import io
import json
import math
import multiprocessing
import os
import re
import signal
import struct
import threading
import time
import traceback
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from emolab.exceptions import EmolabError

REFUSED, VALID, APPLIED = "refused", "valid", "applied"


# =========================================================================== framework

@dataclass
class Case:
    """One generated input: its generator family, a readable description, the payload."""

    family: str
    description: str
    payload: Any


class Breach(AssertionError):
    """An outcome that is wrong although nothing crashed (NaN features, a file read...)."""


class Hang(BaseException):
    """Raised in the main thread when one input takes longer than the door's time limit."""


@dataclass
class Crash:
    family: str
    description: str
    error: str


@dataclass
class DoorReport:
    """What one door did with its inputs (see ``benchmarks/fuzz.py`` for the table)."""

    door: str
    inputs: int = 0
    refused: int = 0
    valid: int = 0
    applied: int = 0
    crashes: list[Crash] = field(default_factory=list)
    rows_changed: int = 0
    changes: list[str] = field(default_factory=list)
    slowest: float = 0.0
    slowest_case: str = ""
    seconds: float = 0.0
    families: Counter = field(default_factory=Counter)
    extra: list[str] = field(default_factory=list)
    applied_cases: list[str] = field(default_factory=list)
    family_slowest: dict = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return not self.crashes and self.rows_changed == 0

    def failure_text(self, limit: int = 5) -> str:
        lines = [f"{self.door}: {len(self.crashes)} crashes, {self.rows_changed} rows changed"]
        for crash in self.crashes[:limit]:
            lines += [f"--- [{crash.family}] {crash.description}", crash.error.rstrip()]
        lines += self.changes[:limit] + self.extra[:limit]
        return "\n".join(lines)

    def signatures(self) -> Counter:
        """Crashes grouped by the failing line of EmoLab and the error: ``{signature: count}``."""
        return Counter(crash_signature(c.error) for c in self.crashes)

    def to_dict(self) -> dict:
        return {
            "door": self.door, "inputs": self.inputs, "refused": self.refused,
            "valid": self.valid, "applied": self.applied, "crashes": len(self.crashes),
            "rows_changed": self.rows_changed, "slowest_seconds": round(self.slowest, 3),
            "slowest_case": self.slowest_case, "seconds": round(self.seconds, 1),
            "families": dict(self.families),
            "family_slowest_seconds": {k: round(v, 3) for k, v in self.family_slowest.items()},
            "crash_signatures": dict(self.signatures()),
            "crash_details": [vars(c) for c in self.crashes[:20]],
            "changes": self.changes[:20], "extra": self.extra,
            "applied_cases": self.applied_cases,
        }


def crash_signature(error: str) -> str:
    """``file:line: last error line`` of the deepest EmoLab frame of a traceback."""
    frames = re.findall(r'File "([^"]+)", line (\d+)', error)
    own = [(f, n) for f, n in frames if "/emolab/" in f] or frames[-1:]
    where = f"{Path(own[-1][0]).name}:{own[-1][1]}" if own else "?"
    last = error.strip().splitlines()[-1] if error.strip() else "?"
    return f"{where}: {last[:160]}"


def _pick(rng, options):
    """One of ``options``, as it is (``rng.choice`` would turn mixed lists into strings)."""
    options = list(options)
    return options[int(rng.integers(len(options)))]


def check_message(exc: BaseException) -> None:
    """A refusal must say something a person can read, not a traceback."""
    text = str(exc).strip()
    if not text or "Traceback" in text:
        raise Breach(f"{type(exc).__name__} without a readable message: {text!r}")


def rows_changed(before: dict, after: dict) -> tuple[int, list[str]]:
    """Rows changed between two :func:`emolab.index.integrity.checksum` results (approx.)."""
    changed, where = 0, []
    for table in sorted(set(before) | set(after)):
        (rows_a, digest_a), (rows_b, digest_b) = before.get(table, (0, 0)), after.get(table, (0, 0))
        if (rows_a, digest_a) != (rows_b, digest_b):
            n = max(abs(rows_b - rows_a), 1)
            changed += n
            where.append(f"{table}: {rows_a} -> {rows_b} rows")
    return changed, where


@dataclass
class _Alarm:
    """Per-input time limit for in-process doors (main thread only; else no limit)."""

    seconds: float

    def __enter__(self):
        self.armed = (self.seconds and threading.current_thread() is threading.main_thread()
                      and hasattr(signal, "setitimer"))
        if self.armed:
            def on_alarm(signum, frame):
                raise Hang(f"still running after {self.seconds:g} s")
            self.previous = signal.signal(signal.SIGALRM, on_alarm)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
        return self

    def __exit__(self, *exc):
        if self.armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)


def run_door(door, n: int, *, seed: int = 0, index=None, time_limit: float = 120.0,
             max_crashes: int = 10_000, progress=None) -> DoorReport:
    """Feed ``n`` generated inputs to ``door``; count outcomes, crashes and index changes.

    Parameters
    ----------
    door : AudioDoor, CsvDoor, SqlDoor or SearchDoor
    n : int
        Inputs to generate.
    seed : int
        Seed of the generator; the same seed gives the same inputs.
    index : emolab.index.Index, optional
        Compared (``integrity.checksum``) before and after every input.
    time_limit : float
        Seconds one input may take before it counts as a crash (a hang).
    progress : callable(done, n), optional
    """
    from emolab.index import integrity

    report = DoorReport(door.name)
    rng = np.random.default_rng(seed)
    baseline = integrity.checksum(index.con) if index is not None else None
    if hasattr(door, "warm_up"):
        door.warm_up()  # start-up costs (imports, compiled kernels) are not an input's
    started = time.perf_counter()
    for case in door.cases(rng, n):
        report.inputs += 1
        report.families[case.family] += 1
        t0 = time.perf_counter()
        outcome = None
        try:
            if getattr(door, "isolated", False):
                outcome = door.attempt(case, time_limit=time_limit)
            else:
                with _Alarm(time_limit):
                    outcome = door.attempt(case)
        except (Exception, Hang) as exc:  # noqa: BLE001  (anything else is a crash)
            if len(report.crashes) < max_crashes:
                text = exc.error if isinstance(exc, SandboxCrash) else traceback.format_exc()
                report.crashes.append(Crash(case.family, case.description, _short(text)))
        elapsed = time.perf_counter() - t0
        if elapsed > report.slowest:
            report.slowest, report.slowest_case = elapsed, f"[{case.family}] {case.description}"
        report.family_slowest[case.family] = max(report.family_slowest.get(case.family, 0.0),
                                                 elapsed)
        if outcome == REFUSED:
            report.refused += 1
        elif outcome == VALID:
            report.valid += 1
        elif outcome == APPLIED:
            report.applied += 1
            if len(report.applied_cases) < 50:
                report.applied_cases.append(f"[{case.family}] {case.description}")
        if index is not None:
            after = integrity.checksum(index.con)
            if after != baseline:
                if outcome != APPLIED:  # a valid file was applied: legitimate, re-baseline
                    changed, where = rows_changed(baseline, after)
                    report.rows_changed += changed
                    report.changes.append(f"[{case.family}] {case.description}: " + "; ".join(where))
                baseline = after
        if progress is not None:
            progress(report.inputs, n)
    if index is not None:
        problems = integrity.problems(index.con)
        if problems:
            report.crashes.append(Crash("integrity", "integrity.problems after the door",
                                        "\n".join(problems)))
    finish = getattr(door, "finish", None)
    if finish is not None:
        for problem in finish():
            report.crashes.append(Crash("after", "check after the door", problem))
    report.seconds = time.perf_counter() - started
    return report


def fuzz_index(path, *, n_songs: int = 8):
    """A populated index (``tests.app_harness.fill_index``) at ``path``, opened."""
    from emolab.index import open_index
    from tests.app_harness import fill_index

    fill_index(path, n_songs=n_songs)
    return open_index(path)


def assert_clean(report: DoorReport) -> None:
    """Fail with the first crashes and changes when a door did not behave."""
    assert report.inputs > 0, "no inputs were generated"
    assert report.clean, report.failure_text()


def _short(text: str, limit: int = 4000) -> str:
    return text if len(text) <= limit else text[:1500] + "\n...\n" + text[-2400:]


# =========================================================================== sandbox

class SandboxCrash(Exception):
    """The child process crashed, hung, or the attempt raised something other than a refusal."""

    def __init__(self, error: str):
        super().__init__(error.splitlines()[-1] if error else "crash")
        self.error = error


def _sandbox_main(conn, door_factory, args) -> None:
    door = door_factory(*args)
    while True:
        try:
            case = conn.recv()
        except EOFError:
            return
        if case is None:
            return
        try:
            outcome = door.attempt(case)
            conn.send((outcome, None))
        except Exception:  # noqa: BLE001  (reported to the parent as a crash)
            conn.send((None, traceback.format_exc()))


class Sandbox:
    """A persistent child process that runs one door's attempts.

    A segfault or a hang in native code (a decoder) then costs a restart of the child and
    is reported as a crash of that input, instead of ending the whole run.
    """

    def __init__(self, door_factory, args=()):
        self.factory, self.args = door_factory, args
        self.ctx = multiprocessing.get_context("spawn")
        self.proc = None

    def _start(self):
        parent, child = self.ctx.Pipe()
        self.proc = self.ctx.Process(target=_sandbox_main, args=(child, self.factory, self.args),
                                     daemon=True)
        self.proc.start()
        child.close()
        self.conn = parent

    def run(self, case: Case, time_limit: float) -> str:
        if self.proc is None or not self.proc.is_alive():
            self._start()
        self.conn.send(case)
        if not self.conn.poll(time_limit):
            self._kill()
            raise SandboxCrash(f"Hang: no answer after {time_limit:g} s (child killed).")
        try:
            outcome, error = self.conn.recv()
        except (EOFError, ConnectionError):
            self.proc.join(5)
            code = self.proc.exitcode
            self.proc = None
            raise SandboxCrash(f"The process analysing this input died (exit code {code}; "
                               f"{_signal_name(code)}).") from None
        if error is not None:
            raise SandboxCrash(error)
        return outcome

    def _kill(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.join(5)
            self.proc = None

    def close(self):
        if self.proc is not None and self.proc.is_alive():
            try:
                self.conn.send(None)
                self.proc.join(10)
            except (OSError, ValueError):
                pass
            self._kill()


def _signal_name(code) -> str:
    if code is not None and code < 0:
        try:
            return signal.Signals(-code).name
        except ValueError:
            pass
    return "no signal"


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
    for name in ("deam74", "librosa"):
        vector = getattr(analysis, name)
        if vector is None or vector.ndim != 1 or vector.size == 0:
            raise Breach(f"{name} vector missing or of shape {getattr(vector, 'shape', None)}")
        if not np.isfinite(vector).all():
            bad = int((~np.isfinite(vector)).sum())
            raise Breach(f"{name} vector has {bad} non-finite values")
    if not math.isfinite(analysis.duration):
        raise Breach(f"duration {analysis.duration}")
    json.dumps(analysis.summary())


# =========================================================================== CSV door

class CsvDoor:
    """Annotation CSV files: ``importers.import_annotations`` must apply all or nothing.

    Parameters
    ----------
    index : emolab.index.Index
        A populated index (songs, annotations); compared after every input by run_door.
    workdir : Path
    big_file : bool
        Also make one 100 MB file on disk (refused by its size, without being read).
    """

    name = "csv"

    def __init__(self, index, workdir, *, big_file: bool = False):
        from emolab.importers import export_annotations

        self.index = index
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.big_file = big_file
        con = index.con
        self.song_ids = [int(r[0]) for r in con.execute("SELECT song_id FROM songs ORDER BY 1").fetchall()]
        self.dataset_songs = [(d, i) for d, i in con.execute(
            "SELECT dataset, dataset_id FROM songs WHERE dataset IS NOT NULL ORDER BY 1, 2").fetchall()]
        buf = io.StringIO()
        export_annotations(index, buf)
        self.exported = list(csv.DictReader(io.StringIO(buf.getvalue())))
        self._n = 0

    # ---------------------------------------------------------------- generation
    def cases(self, rng, n: int) -> Iterator[Case]:
        specials = list(self._special_cases()) if self.big_file else []
        for i in range(n):
            if specials and i % max(1, n // (len(specials) + 1)) == 0 and i:
                yield specials.pop(0)
            else:
                yield self._random_case(rng)

    def _special_cases(self) -> Iterator[Case]:
        path = self.workdir / "annotations_100MB.csv"
        if not path.exists():
            from emolab.importers import CSV_COLUMNS

            line = ",".join(["", str(self.song_ids[0]), "", "", "t", "a", "big", "static", "", "",
                             "0.1", "0.2", "", "", "", "x" * 200, "", ""]) + "\n"
            chunk = (line * 10_000).encode()
            with open(path, "wb") as f:
                f.write((",".join(CSV_COLUMNS) + "\n").encode())
                while f.tell() < 100 * 10**6:
                    f.write(chunk)
        yield Case("too big", f"a {path.stat().st_size / 1e6:.0f} MB file on disk",
                   {"source": "path", "path": str(path), "scale": "unit"})

    def _valid_row(self, rng, seen: set) -> dict:
        from emolab.importers import CSV_COLUMNS

        for _ in range(20):
            row = dict.fromkeys(CSV_COLUMNS, "")
            if self.exported and rng.random() < 0.3:
                row.update(self.exported[int(rng.integers(len(self.exported)))])
                key = ("id", row["annotation_id"])
            else:
                song = int(_pick(rng, self.song_ids))
                if self.dataset_songs and rng.random() < 0.2:
                    row["dataset"], row["dataset_id"] = self.dataset_songs[
                        int(rng.integers(len(self.dataset_songs)))]
                    song = ("ds", row["dataset"], row["dataset_id"])
                else:
                    row["song_id"] = str(song)
                row["annotator"] = str(_pick(rng, ["fuzz", "clara", "Ödön", "ref", "a b"]))
                row["kind"] = str(_pick(rng, ["static", "segment"]))
                if row["kind"] == "segment":
                    t0 = round(float(rng.uniform(0, 25)), 2)
                    row["t0"], row["t1"] = _num(rng, t0), _num(rng, t0 + round(float(rng.uniform(0.5, 5)), 2))
                for col in ("valence", "arousal"):
                    row[col] = _num(rng, float(rng.uniform(-1, 1)))
                if rng.random() < 0.3:
                    row["valence_std"] = _num(rng, float(rng.uniform(0, 0.5)))
                row["tags"] = str(_pick(rng, ["", "calm", "dark;strings", "ünï;♪", " a ; b "]))
                row["note"] = str(_pick(rng, ["", "fine", 'said "slow",\nthen left', "ß" * 50]))
                key = (song, row["annotator"], row["kind"], row["t0"], row["t1"])
            if key not in seen:
                seen.add(key)
                return row
        return row

    def _random_case(self, rng) -> Case:
        from emolab.importers import CSV_COLUMNS

        self._n += 1
        seen: set = set()
        rows = [self._valid_row(rng, seen) for _ in range(int(rng.integers(1, 25)))]
        header = list(CSV_COLUMNS)
        notes = []
        scale = "unit"
        family = "bad rows"
        r = rng.random()
        # ---- benign column choices (the importer reads them)
        if rng.random() < 0.4:
            keep = [c for c in header if c in ("song_id", "dataset", "dataset_id", "annotator",
                                               "kind", "valence", "arousal", "t0", "t1")
                    or rng.random() < 0.5]
            if len(keep) != len(header):
                notes.append(f"only columns {','.join(keep)}")
                header = keep
        if rng.random() < 0.3:
            order = list(rng.permutation(len(header)))
            header = [header[i] for i in order]
            notes.append("columns shuffled")
        # ---- what makes the file bad
        if r < 0.55:
            for _ in range(int(rng.integers(1, 4))):
                notes.append(self._corrupt_row(rng, rows, header))
        elif r < 0.7:
            family = "bad header"
            notes.append(_corrupt_header(rng, header, rows))
        elif r < 0.78:
            family = "wrong scale"
            scale = "1-9"
            notes.append("unit values imported with the 1-9 scale")
            if rng.random() < 0.5:
                scale = "unit"
                for row in rows:
                    for col in ("valence", "arousal"):
                        if row[col]:
                            row[col] = _num(rng, float(rng.uniform(1, 9)))
                notes[-1] = "1-9 ratings imported with the unit scale"
        else:
            family = "unusable file"
        ruin = family == "unusable file"  # ruined from a plain UTF-8, comma, LF file
        delimiter = "," if ruin else str(_pick(rng, [",", ",", ",", ";", "\t"]))
        quoting = csv.QUOTE_ALL if rng.random() < 0.2 else csv.QUOTE_MINIMAL
        buf = io.StringIO()
        writer = csv.writer(buf, delimiter=delimiter, quoting=quoting, lineterminator="\n")
        writer.writerow([h.upper() if rng.random() < 0.05 else h for h in header])
        for row in rows:
            writer.writerow([row.get(h, "") for h in header])
            if rng.random() < 0.03:
                buf.write("\n")
        text = buf.getvalue()
        if delimiter != ",":
            notes.append(f"delimiter {delimiter!r}")
        line_end = "\n" if ruin else _pick(rng, ["\n", "\n", "\r\n", "\r"])
        if line_end != "\n":
            text = text.replace("\n", str(line_end))
            notes.append(f"line ends {line_end!r}")
        encoding = "utf-8" if ruin else str(_pick(rng, [
            "utf-8", "utf-8", "utf-8-sig", "utf-16", "utf-16-le-bom", "utf-16-be-bom", "latin-1",
            "cp1252"]))
        data = _encode_text(text, encoding)
        if encoding != "utf-8":
            notes.append(f"encoding {encoding}")
        if ruin:
            description, data = _ruin_file(rng, data, text)
            notes.append(description)
        elif rng.random() < 0.05:
            description, data = _damage_bytes(rng, data)
            notes.append(description)
        try:
            as_text = data.decode("utf-8")
        except UnicodeDecodeError:
            as_text = None
        payload = {"data": data, "scale": scale, "text": as_text,
                   "max_bytes": None, "annotator_default": None}
        r = rng.random()
        payload["source"] = ("buffer" if r < 0.55 else "path" if r < 0.75 else
                             "text" if r < 0.9 and payload["text"] is not None else "file")
        if rng.random() < 0.05:
            payload["max_bytes"] = int(max(1, len(data) - int(rng.integers(1, 10))))
            notes.append(f"max_bytes {payload['max_bytes']} for {len(data)} bytes")
            family = "too big"
        if rng.random() < 0.15:
            payload["annotator_default"] = _pick(rng, ["default-person", "", "  "])
        if rng.random() < 0.02:
            payload["source"] = str(_pick(rng, ["none", "int", "bytes", "csv_as_path", "folder",
                                                "missing"]))
            notes.append(f"handed over as {payload['source']}")
            family = "wrong source"
        if rng.random() < 0.01:
            payload["scale"] = str(_pick(rng, ["0-1", "", "1–9"]))
            notes.append(f"scale {payload['scale']!r}")
        return Case(family, f"{len(rows)} rows; " + "; ".join(notes), payload)

    def _corrupt_row(self, rng, rows: list[dict], header: list[str]) -> str:
        i = int(rng.integers(len(rows)))
        row = rows[i]
        choice = int(rng.integers(16))
        col = str(_pick(rng, ["valence", "arousal"]))
        if choice == 0:
            value = str(_pick(rng, ["1.5", "-7", "9", "5", "1e300", "-1.0001", "2", "10", "-1e-300e"]))
        elif choice == 1:
            value = str(_pick(rng, ["nan", "NaN", "-nan", "inf", "-Infinity", "1e999", "+inf"]))
        elif choice == 2:
            value = str(_pick(rng, ["high", "0.5.5", "1/2", "½", "0x1", "٥", "1_0", "0,5,5", "—",
                                    "'0.3", "0.3'", "TRUE", "None", "\x00", "0.2 0.3"]))
        elif choice == 3:
            row["valence"] = row["arousal"] = ""
            return f"row {i + 1}: no valence nor arousal"
        elif choice == 4:
            col, value = "song_id", str(_pick(rng, ["999999", "-1", "1.5", "abc", "0", "1e3",
                                                    "99999999999999999999999", "nan", "inf"]))
            row["dataset"] = row["dataset_id"] = ""
        elif choice == 5:
            col, value = "annotation_id", str(_pick(rng, ["999999", "-5", "2.5", "x",
                                                          "1e30", str(int(rng.integers(1, 200)))]))
        elif choice == 6:
            row["song_id"] = ""
            row["dataset"] = str(_pick(rng, ["nosuch", "emomusic", "deam", "pmemo", "EMOMUSIC"]))
            row["dataset_id"] = str(_pick(rng, ["999999", "", "-1", "x y", "１"]))
            return f"row {i + 1}: unknown dataset song {row['dataset']}/{row['dataset_id']}"
        elif choice == 7:
            col, value = "kind", str(_pick(rng, ["", "dynamic", "segments", "stat", "1", "Static-"]))
        elif choice == 8:
            row["kind"] = "static"
            row["t0"], row["t1"] = "1", "2"
            return f"row {i + 1}: static row with times"
        elif choice == 9:
            row["kind"] = "segment"
            row["t0"], row["t1"] = [(""), ("5")] if rng.random() < 0.3 else \
                [str(x) for x in _pick(rng, [("5", "2"), ("3", "3"), ("-1", "2"), ("0", "inf"),
                                              ("abc", "2"), ("1", "")])]
            return f"row {i + 1}: segment times {row['t0']!r}-{row['t1']!r}"
        elif choice == 10:
            col = str(_pick(rng, ["valence_std", "arousal_std"]))
            value = str(_pick(rng, ["-0.1", "3", "nan", "x", "-inf"]))
        elif choice == 11:
            if "annotator" not in header:
                header.append("annotator")
            col, value = "annotator", ""
        elif choice == 12:
            if self.exported:
                row.update(self.exported[int(rng.integers(len(self.exported)))])
                row["revision"] = str(int(row["revision"] or 1) + int(rng.integers(1, 5)))
                row["valence"] = _num(rng, float(rng.uniform(-1, 1)))
                header.extend(c for c in ("annotation_id", "revision", "valence") if c not in header)
                return f"row {i + 1}: stale revision {row['revision']}"
            col, value = "revision", "x"
        elif choice == 13:
            rows.append(dict(row))
            return f"row {i + 1} duplicated"
        elif choice == 14:
            col, value = "revision", str(_pick(rng, ["abc", "-1", "1.5"]))
        else:
            row["__extra__"] = "junk"
            header.append("__extra__") if "__extra__" not in header else None
            return f"row {i + 1}: extra cell (unknown column)"
        row[col] = value
        if col not in header:
            header.append(col)
        return f"row {i + 1}: {col} = {value!r}"

    # ---------------------------------------------------------------- judging
    def attempt(self, case: Case) -> str:
        from emolab.importers import import_annotations

        p = case.payload
        source = self._source(p)
        kwargs = {"scale": p["scale"]}
        if p.get("max_bytes"):
            kwargs["max_bytes"] = p["max_bytes"]
        try:
            report = import_annotations(self.index, source,
                                        annotator_default=p.get("annotator_default"), **kwargs)
        except EmolabError as exc:
            check_message(exc)
            return REFUSED
        finally:
            if hasattr(source, "close"):
                source.close()
        # the report must be printable, whatever happened
        str(report), report.message, report.to_frame()
        if report.ok:
            if report.problems:
                raise Breach("report.ok with problems listed")
            return APPLIED
        if not report.problems:
            raise Breach("nothing imported, but no problem listed")
        for problem in report.problems:
            if not isinstance(problem.line, int) or not str(problem.reason).strip():
                raise Breach(f"unreadable problem {problem!r}")
        if report.inserted or report.updated:
            raise Breach(f"refused file reports {report.inserted} inserted, {report.updated} updated")
        return REFUSED

    def _source(self, p: dict):
        kind = p["source"]
        if kind == "buffer":
            return io.BytesIO(p["data"])
        if kind == "text":
            return io.StringIO(p["text"])
        if kind in ("path", "file"):
            path = Path(p["path"]) if p.get("path") else self.workdir / f"input{self._n % 3}.csv"
            if not p.get("path"):
                path.write_bytes(p["data"])
            return open(path, "rb") if kind == "file" else path
        if kind == "none":
            return None
        if kind == "int":
            return 42
        if kind == "bytes":
            return p["data"]
        if kind == "csv_as_path":
            return (p["text"] or p["data"].decode("latin-1"))[:5000]
        if kind == "folder":
            return self.workdir
        return self.workdir / "no such file.csv"


def _num(rng, x: float) -> str:
    """A number written in one of the ways a spreadsheet might."""
    style = int(rng.integers(8))
    if style == 0:
        return f"{x:.1f}"
    if style == 1:
        return f"{x:e}"
    if style == 2:
        return f" {x:.3f} "
    if style == 3 and x >= 0:
        return f"+{x:.2f}"
    if style == 4:
        return repr(float(x))
    return f"{x:.4f}"


def _corrupt_header(rng, header: list[str], rows: list[dict]) -> str:
    choice = int(rng.integers(7))
    if choice == 0:
        col = str(_pick(rng, ["kind", "valence", "arousal", "song_id"]))
        if col == "song_id":
            for c in ("song_id", "dataset", "dataset_id"):
                if c in header:
                    header.remove(c)
            return "no song column"
        header.remove(col)
        return f"column {col} missing"
    if choice == 1:
        i = int(rng.integers(len(header)))
        old = header[i]
        header[i] = str(_pick(rng, ["mood", "valence ", "Valenz", "song id", "", "ärousal"]))
        for row in rows:
            row[header[i]] = row.get(old, "")
        return f"column {old} renamed {header[i]!r}"
    if choice == 2:
        col = str(_pick(rng, header))
        header.insert(int(rng.integers(len(header) + 1)), col)
        return f"column {col} twice"
    if choice == 3:
        header.append("mood")
        return "unknown column mood"
    if choice == 4:
        header[:] = [h for h in header if h in ("valence",)] + ["x"]
        return "header with one known column"
    if choice == 5:
        header[:] = [str(v) for v in rows[0].values()][: len(header)] if rows else ["1"]
        return "data row instead of header"
    header[:] = [h.replace("_", " ") for h in header]
    return "spaces instead of underscores in the header"


def _encode_text(text: str, encoding: str) -> bytes:
    if encoding == "utf-16-le-bom":
        return b"\xff\xfe" + text.encode("utf-16-le")
    if encoding == "utf-16-be-bom":
        return b"\xfe\xff" + text.encode("utf-16-be")
    return text.encode(encoding, errors="replace")


def _damage_bytes(rng, data: bytes) -> tuple[str, bytes]:
    b = bytearray(data)
    choice = int(rng.integers(4))
    if choice == 0 and b:
        pos = int(rng.integers(len(b)))
        b[pos:pos] = b"\xc3\x28\xff\xfe"
        return "invalid UTF-8 bytes inserted", bytes(b)
    if choice == 1 and b:
        pos = int(rng.integers(len(b)))
        b[pos:pos] = b'"'
        return "an unbalanced quote inserted", bytes(b)
    if choice == 2 and b:
        for pos in rng.integers(0, len(b), size=int(rng.integers(1, 6))):
            b[pos] = int(rng.integers(256))
        return "random bytes replaced", bytes(b)
    return "cut in the middle", bytes(b[: len(b) // 2])


def _ruin_file(rng, data: bytes, text: str) -> tuple[str, bytes]:
    choice = int(rng.integers(12))
    if choice == 0:
        return "empty file", b""
    if choice == 1:
        return "only blank lines", b"\n\r\n  \n"
    if choice == 2:
        return "pipe-separated", text.replace(",", "|").encode()
    if choice == 3:
        return "UTF-16 without BOM", text.encode("utf-16-le")
    if choice == 4:
        pos = int(rng.integers(len(data) + 1))
        return "a NUL byte inside", data[:pos] + b"\x00" + data[pos:]
    if choice == 5:
        return "random bytes", rng.integers(0, 256, int(rng.integers(1, 5000)), dtype=np.uint8).tobytes()
    if choice == 6:
        return "binary junk before the header", b"\x89PNG\r\n\x1a\n\x00\x00" + data
    if choice == 7:
        return "header only", text.split("\n", 1)[0].encode()
    if choice == 8:
        return "a huge single line (2 MB) after the header", (
            text.split("\n", 1)[0] + "\n" + "x" * 2_000_000).encode()
    if choice == 9:
        lines = text.split("\n")
        return "an unbalanced quote in the first row", (
            "\n".join([lines[0], '"' + (lines[1] if len(lines) > 1 else "")] + lines[2:])).encode()
    if choice == 10:
        return "a spreadsheet's XML", b'<?xml version="1.0"?><Workbook><Row/></Workbook>'
    return "header row cut in half", text[: max(1, len(text.split("\n", 1)[0]) // 2)].encode()


# =========================================================================== SQL door

_FILE_FUNCTIONS = ("read_csv", "read_csv_auto", "read_parquet", "parquet_scan", "read_json",
                   "read_json_auto", "read_json_objects", "read_ndjson", "read_text",
                   "read_blob", "glob", "sniff_csv", "parquet_metadata", "parquet_schema",
                   "sqlite_scan", "read_xlsx", "iceberg_scan", "delta_scan", "read_duckdb")
_DENIED_SCALARS = ("getenv('HOME')", "current_setting('threads')", "nextval('song_ids')",
                   "setval('song_ids', 1)", "currval('song_ids')", "checkpoint()",
                   "force_checkpoint()", "query('SELECT 1')")
_WRITES = (
    "INSERT INTO songs (origin) VALUES ('x')", "INSERT INTO {table} SELECT * FROM {table}",
    "INSERT OR REPLACE INTO songs (song_id, origin) VALUES (1, 'x')",
    "UPDATE annotations SET valence = 0", "UPDATE songs SET title = 'x' WHERE song_id = 1",
    "DELETE FROM {table}", "DELETE FROM songs WHERE song_id = 1", "TRUNCATE {table}",
    "CREATE TABLE x AS SELECT 1", "CREATE VIEW v AS SELECT * FROM songs",
    "CREATE OR REPLACE TABLE {table} AS SELECT 1", "CREATE MACRO m(a) AS a",
    "CREATE SEQUENCE s", "CREATE INDEX i ON songs (title)", "CREATE TEMP TABLE t AS SELECT 1",
    "CREATE SECRET (TYPE s3, KEY_ID 'x', SECRET 'y')", "CREATE SCHEMA s",
    "DROP TABLE {table}", "DROP VIEW IF EXISTS {table}", "DROP SEQUENCE song_ids",
    "ALTER TABLE songs ADD COLUMN x INT", "ALTER TABLE songs RENAME TO s2",
    "ALTER TABLE {table} DROP COLUMN song_id", "COMMENT ON TABLE songs IS 'x'",
    "COPY songs TO '{out}'", "COPY (SELECT * FROM songs) TO '{out}' (FORMAT parquet)",
    "COPY songs FROM '{secret}'", "COPY {table} TO '{out}' (FORMAT csv, HEADER)",
    "EXPORT DATABASE '{outdir}'", "IMPORT DATABASE '{outdir}'",
    "ATTACH '{outdb}' AS other", "ATTACH ':memory:' AS m", "DETACH other", "USE other",
    "INSTALL httpfs", "LOAD httpfs", "FORCE INSTALL json", "LOAD '{secret}'",
    "UPDATE EXTENSIONS", "PRAGMA enable_profiling", "PRAGMA database_size",
    "PRAGMA table_info('songs')", "PRAGMA threads=1", "SET threads = 1",
    "SET enable_external_access = true", "SET GLOBAL memory_limit = '1MB'", "RESET threads",
    "SET search_path = 'other'", "CALL pragma_version()", "CALL checkpoint()",
    "CHECKPOINT", "FORCE CHECKPOINT", "VACUUM", "VACUUM ANALYZE", "ANALYZE",
    "BEGIN TRANSACTION", "COMMIT", "ROLLBACK", "ABORT", "PREPARE p AS SELECT 1",
    "EXECUTE p", "DEALLOCATE p", "EXPLAIN SELECT 1", "EXPLAIN ANALYZE SELECT * FROM songs",
    "DESCRIBE songs", "SHOW TABLES", "SUMMARIZE songs", "DESCRIBE '{secret}'",
    "SUMMARIZE SELECT * FROM '{secret}'", "PIVOT songs ON origin", "UNPIVOT songs ON title INTO NAME k VALUE v",
    ("MERGE INTO songs USING (SELECT 1 AS song_id) s ON songs.song_id = s.song_id "
     "WHEN MATCHED THEN DELETE"),
    "WITH x AS (SELECT 1) INSERT INTO songs (origin) SELECT 'x' FROM x",
    "WITH d AS (DELETE FROM songs RETURNING *) SELECT * FROM d",
    "INSERT INTO songs (origin) VALUES ('x') RETURNING *",
)
_READS = (
    "SELECT * FROM {fn}('{path}')", "SELECT count(*) FROM {fn}('{path}')",
    "SELECT * FROM songs WHERE title IN (SELECT * FROM {fn}('{path}'))",
    "WITH t AS (SELECT * FROM {fn}('{path}')) SELECT * FROM t",
    "SELECT * FROM songs, LATERAL (SELECT * FROM {fn}('{path}')) x",
    "SELECT (SELECT count(*) FROM {fn}('{path}')) AS n",
    "SELECT * FROM range((SELECT count(*) FROM {fn}('{path}')))",
    "SELECT length(content) FROM {fn}('{path}')",
    "SELECT * FROM '{path}'", "FROM '{path}'", "SELECT * FROM \"{path}\"",
    "SELECT * FROM songs JOIN '{path}' ON true", "SELECT * FROM (FROM '{path}')",
    "SELECT * FROM (WITH \"{path}\" AS (SELECT 1) SELECT 1) t, \"{path}\"",
    "WITH \"{path}\" AS (SELECT * FROM \"{path}\") SELECT * FROM \"{path}\"",
    "WITH a AS (SELECT * FROM \"{path}\"), \"{path}\" AS (SELECT 1) SELECT * FROM a",
    "SELECT * FROM (WITH songs AS (SELECT 1) SELECT 1), \"{path}\"",
    "SELECT {scalar}", "SELECT {scalar} FROM songs", "SELECT abs(length({scalar}::VARCHAR))",
    "SELECT * FROM songs WHERE title = {scalar}", "SELECT list_transform([1], x -> {scalar})",
    "SELECT * FROM songs ORDER BY {scalar}", "SELECT * FROM other.main.songs",
    "SELECT * FROM system.main.duckdb_tables()", "SELECT * FROM temp.main.x",
    "SELECT * FROM memory.songs", "SELECT * FROM duckdb_settings()", "SELECT * FROM duckdb_secrets()",
    "SELECT * FROM duckdb_extensions()", "SELECT * FROM pragma_table_info('songs')",
    "SELECT * FROM test_all_types()", "SELECT * FROM duckdb_databases()",
    "SELECT * FROM query_table('songs')", "SELECT * FROM sql_auto_complete('SEL')",
    "SELECT * FROM json_execute_serialized_sql(json_serialize_sql('SELECT 1'))",
    "SELECT * FROM read_csv(['{path}', '{path}'])", "SELECT * FROM {fn}(getenv('HOME'))",
    "SELECT {fn}('{path}')", "SELECT * FROM songs WHERE EXISTS (FROM {fn}('{path}'))",
    "SELECT * FROM songs UNION ALL SELECT * FROM {fn}('{path}')",
    "SELECT * FROM songs s, {fn}('{path}') f", "SELECT * FROM unnest((SELECT list(x) FROM {fn}('{path}') x))",
)
_VALID_SELECTS = (
    "SELECT * FROM songs", "SELECT title, artist FROM songs WHERE song_id < 5 ORDER BY title",
    "SELECT count(*) AS n FROM curves", "SELECT * FROM range(10)", "SELECT unnest([1, 2, 3]) AS x",
    "SELECT s.title, p.valence FROM songs s JOIN static_predictions p USING (song_id)",
    "WITH t AS (SELECT * FROM annotations) SELECT annotator, count(*) FROM t GROUP BY ALL",
    "SELECT song_id, len(valence) FROM curves WHERE source = 'human'",
    "SELECT * FROM generate_series(1, 5) g(i), songs WHERE song_id = i",
    "SELECT avg(valence), avg(arousal) FROM annotations WHERE kind = 'static'",
    "SELECT 'a;b' AS x, '--' AS y, '/* */' AS z",
    "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 5) SELECT * FROM r",
    "SELECT * FROM songs LIMIT 3 OFFSET 1", "SELECT title FROM songs WHERE title ILIKE '%no%'",
)
_TOKENS = (";", "DROP", "TABLE", "songs", "(", ")", "'", '"', "--", "/*", "*/", "COPY", "TO",
           "'{out}'", "read_csv('{path}')", "INSERT", "INTO", "UNION", "SELECT", ",", "*", "FROM",
           "WHERE", "1=1", "LIMIT", "-1", "99999999999999999999", "ATTACH", "'{path}'", "$1", "?",
           "\\", "\x00", "NULL", "::", "->", "ALL", "WITH", "AS", "x", "LATERAL", "glob('*')",
           "PRAGMA", "SET", "CALL", "getenv('HOME')", "nextval('song_ids')", "\n", "　")
_LOOKALIKES = {"S": "Ѕ", "E": "Е", "L": "Ⅼ", "C": "С", "T": "Т", "O": "О", "P": "Р", "A": "А",
               "D": "ԁ", "e": "е", "o": "о", "a": "а", "c": "с", "p": "р", " ": "\u00a0"}
_SLOW = ("SELECT count(*) FROM range(10000000000) a, range(10) b",
         "SELECT sum(a.range * b.range) FROM range(1000000) a, range(100000) b",
         "SELECT count(*) FROM range(100000000) a JOIN range(100000000) b ON a.range % 7 = b.range % 5",
         "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) SELECT count(*) FROM r")


class SqlDoor:
    """The read-only query console ``query_guard.run``: only SELECTs over the index run.

    Checked besides the outcome: no file appears at the COPY/EXPORT/ATTACH targets, no
    result holds the contents of the secret file, the connection is not left inside a
    transaction, and a normal SELECT still works afterwards.

    Parameters
    ----------
    index : emolab.index.Index
    workdir : Path
    slow : int
        Queries built to run past the time limit (each costs ``timeout`` seconds).
    timeout : float
        The console's time limit.
    """

    name = "sql"

    def __init__(self, index, workdir, *, slow: int = 4, timeout: float = 2.0):
        from emolab.index import query_guard

        self.index = index
        self.workdir = Path(workdir)
        self.targets = self.workdir / "copy_targets"
        self.targets.mkdir(parents=True, exist_ok=True)
        self.secret = self.workdir / "secret.csv"
        self.marker = "FUZZSECRET" + os.urandom(4).hex()
        self.secret.write_text(f"{self.marker},b\n{self.marker}2,c\n")
        self.slow, self.timeout = slow, timeout
        self.tables = sorted(query_guard.index_tables(index.con))
        self._n = 0
        self._used_targets: list[Path] = []
        # safety net of the harness: never fetch an extension from the network
        index.con.execute("SET autoinstall_known_extensions = false")

    def _fill(self, rng, template: str) -> str:
        self._n += 1
        out = self.targets / f"out{self._n}.csv"
        self._used_targets += [out, self.targets / f"dir{self._n}", self.targets / f"db{self._n}.duckdb"]
        return template.format(
            table=_pick(rng, self.tables), fn=_pick(rng, _FILE_FUNCTIONS),
            path=_pick(rng, [str(self.secret), str(self.secret), "/etc/passwd", "~/.bashrc",
                             "/proc/self/environ", str(self.workdir / "*.csv"), "secret.csv"]),
            secret=str(self.secret), out=str(out), outdir=str(self.targets / f"dir{self._n}"),
            outdb=str(self.targets / f"db{self._n}.duckdb"),
            scalar=_pick(rng, _DENIED_SCALARS))

    def cases(self, rng, n: int) -> Iterator[Case]:
        slow_at = set(np.linspace(0, n - 1, self.slow + 2)[1:-1].astype(int)) if self.slow else set()
        for i in range(n):
            if i in slow_at:
                sql = _SLOW[len([j for j in slow_at if j < i]) % len(_SLOW)]
                yield Case("slow", _clip(sql), sql)
                continue
            r = rng.random()
            if r < 0.2:
                family, sql = "write or admin", self._fill(rng, str(_pick(rng, _WRITES)))
            elif r < 0.42:
                family, sql = "file or denied function", self._fill(rng, str(_pick(rng, _READS)))
            elif r < 0.52:
                family, sql = "several statements", self._multi(rng)
            elif r < 0.58:
                family, sql = "comments and quoting", self._comments(rng)
            elif r < 0.63:
                family, sql = "lookalikes", self._lookalike(rng)
            elif r < 0.68:
                family, sql = "huge or deep", self._huge(rng)
            elif r < 0.95:
                family, sql = "mutated select", self._mutate(rng)
            else:
                family, sql = "valid select", str(_pick(rng, _VALID_SELECTS))
            yield Case(family, _clip(sql), sql)

    def _multi(self, rng) -> str:
        first = str(_pick(rng, _VALID_SELECTS))
        second = self._fill(rng, str(_pick(rng, _WRITES + _VALID_SELECTS)))
        sep = str(_pick(rng, [";", "; ", ";\n", ";;", " ; -- \n"]))
        return first + sep + second + ("" if rng.random() < 0.5 else ";")

    def _comments(self, rng) -> str:
        write = self._fill(rng, str(_pick(rng, _WRITES)))
        return str(_pick(rng, [
            f"SELECT 1 /* ; {write} */", f"SELECT 1 -- ; {write}", f"SELECT 1 --\n; {write}",
            f"/* comment */ {write}", f"SELECT '{write.replace(chr(39), chr(39) * 2)}' AS text",
            f"SELECT 1 /* unclosed ; {write}", f"SELECT $${write}$$", f"SELECT 1 /*/ */; {write}",
            f"SELECT \"; {write}\" FROM songs", "-- only a comment\n", "/* */", ";", " ;; ",
        ]))

    def _lookalike(self, rng) -> str:
        sql = str(_pick(rng, _VALID_SELECTS + tuple(self._fill(rng, w) for w in _WRITES[:8])))
        chars = list(sql)
        for i in rng.choice(len(chars), size=max(1, len(chars) // 5), replace=False):
            chars[i] = _LOOKALIKES.get(chars[i], chars[i])
        if rng.random() < 0.3:
            chars.insert(int(rng.integers(len(chars))), str(_pick(rng, ["\u200b", "\u202e", "\ufeff"])))
        return "".join(chars)

    def _huge(self, rng) -> str:
        choice = int(rng.integers(9))
        d = int(_pick(rng, [50, 150, 300, 600, 1200, 5000]))
        if choice == 0:
            return "SELECT " + "(" * d + "1" + ")" * d
        if choice == 1:
            return "SELECT " + "abs(" * d + "1" + ")" * d
        if choice == 2:
            return "SELECT * FROM " + "(SELECT * FROM " * d + "songs" + ")" * d
        if choice == 3:
            return "SELECT 1" + "+1" * d * 3
        if choice == 4:
            return "SELECT " + "[" * d + "1" + "]" * d
        if choice == 5:
            return "SELECT '" + "x" * int(_pick(rng, [19_000, 20_001, 100_000, 1_000_000])) + "'"
        if choice == 6:
            return "WITH " + ", ".join(f"a{i} AS (SELECT {'*' if i else '1 AS x'} FROM "
                                       f"{'a' + str(i - 1) if i else 'songs'})" for i in range(d // 3)) \
                + f" SELECT * FROM a{d // 3 - 1}"
        if choice == 7:
            return "SELECT " + " ".join(["CASE WHEN true THEN"] * min(d, 900)) + " 1" + " END" * min(d, 900)
        return "SELECT " + ", ".join(f"{i} AS c{i}" for i in range(d * 2))

    def _mutate(self, rng) -> str:
        sql = str(_pick(rng, _VALID_SELECTS + tuple(query for query in _EXAMPLES())))
        tokens = re.findall(r"'[^']*'|\"[^\"]*\"|\w+|\s+|.", sql)
        for _ in range(int(rng.integers(1, 5))):
            op = int(rng.integers(5))
            i = int(rng.integers(len(tokens))) if tokens else 0
            if op == 0 and tokens:
                del tokens[i]
            elif op == 1 and tokens:
                tokens.insert(i, tokens[i])
            elif op == 2:
                tokens.insert(i, " " + self._fill(rng, str(_pick(rng, _TOKENS))) + " ")
            elif op == 3 and len(tokens) > 1:
                j = int(rng.integers(len(tokens)))
                tokens[i], tokens[j] = tokens[j], tokens[i]
            elif tokens:
                tokens[i] = self._fill(rng, str(_pick(rng, ["'{path}'", "{fn}('{path}')",
                                                           '"{path}"', "{scalar}", "{table}"])))
        return "".join(tokens)

    def attempt(self, case: Case) -> str:
        from emolab.exceptions import QueryRefusedError
        from emolab.index import query_guard

        con = self.index.con
        try:
            df = query_guard.run(con, case.payload, max_rows=10_000, timeout=self.timeout)
        except QueryRefusedError as exc:
            check_message(exc)
            outcome = REFUSED
        else:
            if not hasattr(df, "columns"):
                raise Breach(f"the console returned {type(df).__name__}, not a table")
            if self._leaks(df):
                raise Breach("the result holds the contents of a file outside the index")
            outcome = VALID
        try:
            con.execute("BEGIN TRANSACTION")
            con.execute("ROLLBACK")
        except Exception as exc:  # noqa: BLE001
            raise Breach(f"the connection was left inside a transaction ({exc})") from None
        return outcome

    def _leaks(self, df) -> bool:
        names = " ".join(map(str, df.columns))
        if self.marker in names or "root:" in names:
            return True
        for col in df.columns:
            values = df[col]
            if values.dtype == object:
                text = " ".join(map(str, values.head(2000)))
                if self.marker in text or "root:x:0" in text:
                    return True
        return False

    def finish(self) -> list[str]:
        """Problems found after the door: files written, the console unusable."""
        from emolab.index import query_guard

        problems = [f"a file was written at {p}" for p in self._used_targets if p.exists()]
        problems += [f"a file was written at {p}" for p in self.targets.iterdir()]
        try:
            if query_guard.run(self.index.con, "SELECT 42 AS x").x.tolist() != [42]:
                problems.append("a normal SELECT gave a wrong answer afterwards")
        except Exception as exc:  # noqa: BLE001
            problems.append(f"a normal SELECT failed afterwards: {exc}")
        return sorted(set(problems))


def _EXAMPLES():
    from emolab.index import query_guard

    return tuple(query_guard.EXAMPLE_QUERIES.values())


def _clip(text: str, limit: int = 160) -> str:
    text = repr(text)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text):,} chars)"


# =========================================================================== search door

class _Opaque:
    """An object of no expected type."""

    def __repr__(self):
        return "<object>"


def _value_pool(rng):
    return [0.3, -1.0, 1.0, 0, -5, 5, 1e300, -1e300, math.nan, math.inf, -math.inf, None, "0.5",
            "abc", "", [0.1], {}, True, np.float32(0.2), np.array([0.1, 0.2]), complex(1, 1),
            10**400, -(10**400), b"1", _Opaque(), np.nan, "nan", "inf", np.int64(1),
            float(rng.uniform(-1, 1)), float(rng.uniform(-3, 3))]


_K_POOL = (1, 5, 10, 0, -1, 10**9, 2.5, 3.0, "3", "x", None, True, np.int64(4), math.nan,
           math.inf, -math.inf, [3], 10_000, 10_001, 10**400, np.float64(2.0), complex(2, 0))
_CHOICE_POOL = ("", "HUMAN", "Human ", None, 1, ["human"], "predicted; DROP TABLE songs", "dtw ",
                "whole\x00", "ｈｕｍａｎ", _Opaque())
_SECONDS_POOL = (None, 0, -1, 1e-9, 0.1, 0.5, 1.0, 5, 20.0, 1e6, 1e300, math.inf, -math.inf,
                 math.nan, "5", "abc", [], 10**400, True, np.float32(3.0), complex(1, 1))


def _curve(rng) -> tuple[str, Any]:
    choice = int(rng.integers(22))
    n = int(_pick(rng, [2, 3, 8, 40, 200]))
    good = rng.uniform(-1, 1, n)
    if choice == 0:
        return "empty list", []
    if choice == 1:
        return "one point", [0.2]
    if choice == 2:
        x = good.copy()
        x[rng.integers(n)] = math.nan
        return f"{n} points with a NaN", x
    if choice == 3:
        x = good.copy()
        x[rng.integers(n)] = _pick(rng, [math.inf, -math.inf])
        return f"{n} points with an inf", list(x)
    if choice == 4:
        return f"{n} points up to ±5", list(rng.uniform(-5, 5, n))
    if choice == 5:
        return "1e300 values", [1e300, -1e300, 0.0]
    if choice == 6:
        return "a million points", np.zeros(10**6)
    if choice == 7:
        return "10,001 points", np.zeros(10_001)
    if choice == 8:
        return "strings", ["a", "b", "c"]
    if choice == 9:
        return "numbers as strings", ["0.1", "0.2", "0.3"]
    if choice == 10:
        return "a string", "0.1, 0.2"
    if choice == 11:
        return "nested lists", [[0.1, 0.2], [0.3, 0.4]]
    if choice == 12:
        return "ragged lists", [[0.1], [0.2, 0.3]]
    if choice == 13:
        return "a dict", {"valence": [0.1, 0.2]}
    if choice == 14:
        return "a 2-D array", rng.uniform(-1, 1, (5, 2))
    if choice == 15:
        return "complex numbers", [1 + 1j, 0.5]
    if choice == 16:
        return "huge ints", [10**400, 0]
    if choice == 17:
        return "a generator", (x for x in [0.1, 0.2, 0.3])
    if choice == 18:
        return "booleans", [True, False, True]
    if choice == 19:
        return "flat line", [0.3] * n
    if choice == 20:
        return "None inside", [0.1, None, 0.3]
    return f"{n} good points", list(good) if rng.random() < 0.5 else good


def _good_curve(rng) -> tuple[str, Any]:
    """A legal profile, often at an edge: 2 or 10,000 points, exactly ±1, steps, flat."""
    n = int(_pick(rng, [2, 3, 5, 16, 64, 150, 1000, 10_000]))
    choice = int(rng.integers(5))
    if choice == 0:
        return f"{n} points at ±1", np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    if choice == 1:
        return f"a step of {n} points", np.where(np.arange(n) < n // 2, -1.0, 1.0)
    if choice == 2:
        return f"{n} random points", rng.uniform(-1, 1, n)
    if choice == 3:
        return f"a ramp of {n} points", list(np.linspace(-1, 1, n))
    return f"{n} points almost flat", 0.2 + 1e-4 * rng.standard_normal(n)


def _sketch(rng) -> tuple[str, Any]:
    def path(points):
        return {"type": "path", "path": [["M", *points[0]]] + [["Q", *p, *p] for p in points[1:]]}

    xs = np.linspace(0, 600, 20)
    ys = rng.uniform(0, 200, 20)
    good = list(zip(xs.tolist(), ys.tolist()))
    choice = int(rng.integers(24))
    options = [
        ("None", None), ("empty dict", {}), ("no objects", {"objects": []}),
        ("objects None", {"objects": None}), ("objects a string", {"objects": "path"}),
        ("objects a dict", {"objects": {"type": "path"}}), ("objects of ints", {"objects": [1, 2]}),
        ("a rect", {"objects": [{"type": "rect", "left": 1, "top": 2}]}),
        ("path without path", {"objects": [{"type": "path"}]}),
        ("path None", {"objects": [{"type": "path", "path": None}]}),
        ("path a string", {"objects": [{"type": "path", "path": "M 0 0 L 10 10"}]}),
        ("commands of ints", {"objects": [{"type": "path", "path": [1, 2, 3]}]}),
        ("commands empty", {"objects": [{"type": "path", "path": [[], []]}]}),
        ("NaN points", {"objects": [path([(0, 0), (math.nan, 5), (300, math.nan), (600, 10)])]}),
        ("inf points", {"objects": [path([(0, 0), (math.inf, 5), (600, -math.inf)])]}),
        ("huge coordinates", {"objects": [path([(0, 0), (1e308, 1e308), (-1e308, 5)])]}),
        ("string coordinates", {"objects": [path([("0", "1"), ("600", "2")])]}),
        ("bool coordinates", {"objects": [path([(True, False), (600, 2)])]}),
        ("one point", {"objects": [path([(10, 10)])]}),
        ("vertical stroke", {"objects": [path([(100, 0), (100, 200), (101, 50)])]}),
        ("type None", {"objects": [{"type": None, "path": [["M", 0, 0]]}]}),
        ("a list", [1, 2, 3]), ("a string", "objects"),
        ("good stroke", {"objects": [path(good)], "version": "4.4.0"}),
    ]
    return options[choice % len(options)]


class SearchDoor:
    """Emotion search (point and profile) and the sketch conversion of the Search page.

    Parameters
    ----------
    index : emolab.index.Index
        A populated index with curves (``fill_index``).
    sketches : bool
        Also fuzz :func:`emolab.ui.stroke_to_curve` (imports streamlit).
    """

    name = "search"

    def __init__(self, index, *, sketches: bool = True):
        self.index = index
        self.sketches = sketches

    def cases(self, rng, n: int) -> Iterator[Case]:
        for _ in range(n):
            r = rng.random()
            if r < 0.3:
                yield self._point_case(rng)
            elif r < 0.85 or not self.sketches:
                yield self._profile_case(rng)
            else:
                label, data = _sketch(rng)
                size = (600, 200) if rng.random() < 0.9 else tuple(
                    _pick(rng, [1, 3, 600, 10**6]) for _ in range(2))
                yield Case("sketch", f"{label} on {size[0]}x{size[1]}",
                           ("sketch", data, size))

    def _point_case(self, rng) -> Case:
        pool = _value_pool(rng)
        valence = pool[int(rng.integers(len(pool)))] if rng.random() < 0.5 else float(rng.uniform(-1, 1))
        arousal = pool[int(rng.integers(len(pool)))] if rng.random() < 0.5 else float(rng.uniform(-1, 1))
        k = _K_POOL[int(rng.integers(len(_K_POOL)))] if rng.random() < 0.5 else int(rng.integers(1, 20))
        source = (_CHOICE_POOL[int(rng.integers(len(_CHOICE_POOL)))] if rng.random() < 0.2
                  else str(_pick(rng, ["human", "predicted"])))
        kwargs = {"source": source}
        if rng.random() < 0.2:
            kwargs["filters"] = _filters(rng)
        return Case("point", f"nearest_point({_r(valence)}, {_r(arousal)}, k={_r(k)}, "
                             f"{ {k2: _r(v) for k2, v in kwargs.items()} })",
                    ("point", (valence, arousal, k), kwargs))

    def _profile_case(self, rng) -> Case:
        v_label, valence = (_curve(rng) if rng.random() < 0.35 else _good_curve(rng)
                            if rng.random() < 0.8 else ("None", None))
        a_label, arousal = (_curve(rng) if rng.random() < 0.25 else _good_curve(rng)
                            if rng.random() < 0.6 else ("None", None))
        k = _K_POOL[int(rng.integers(len(_K_POOL)))] if rng.random() < 0.3 else int(rng.integers(1, 20))
        mode = str(_pick(rng, ["whole", "segment"]))
        kwargs = {"mode": mode, "metric": str(_pick(rng, ["dtw", "euclidean"])),
                  "source": str(_pick(rng, ["human", "predicted"])),
                  "znorm": bool(rng.random() < 0.3)}
        if mode == "segment" or rng.random() < 0.1:
            kwargs["segment_seconds"] = (_SECONDS_POOL[int(rng.integers(len(_SECONDS_POOL)))]
                                         if rng.random() < 0.5 else float(rng.uniform(1, 20)))
        for name in ("mode", "metric", "source"):
            if rng.random() < 0.05:
                kwargs[name] = _CHOICE_POOL[int(rng.integers(len(_CHOICE_POOL)))]
        if rng.random() < 0.05:
            kwargs["znorm"] = _pick(rng, ["yes", None, 2, np.bool_(True)])
        if rng.random() < 0.08:
            kwargs["band"] = _pick(rng, [-0.1, 0, 0.5, 1, 2, math.nan, "x", 10**400, None])
        if rng.random() < 0.08:
            kwargs["weights"] = _pick(rng, [(1, 1), (0, 0), (-1, 1), (math.nan, 1), (1,), "ab",
                                            None, (1, 2, 3), (10**400, 1)], )
        if rng.random() < 0.08:
            kwargs["step_penalty"] = _pick(rng, [0, -1, math.inf, math.nan, "x", 10**400, None])
        if rng.random() < 0.08:
            kwargs["n_candidates"] = _pick(rng, [0, -5, 1, 3.5, "x", None, 10**9, 10**400, math.inf])
        if rng.random() < 0.15:
            kwargs["filters"] = _filters(rng)
        return Case("profile", f"match_profile({v_label}, {a_label}, k={_r(k)}, "
                               f"{ {k2: _r(v) for k2, v in kwargs.items()} })",
                    ("profile", (valence, arousal, k), kwargs))

    def attempt(self, case: Case) -> str:
        from emolab import search

        kind, args, extra = case.payload
        try:
            if kind == "point":
                result = search.nearest_point(self.index, *args, **extra)
            elif kind == "profile":
                result = search.match_profile(self.index, *args, **extra)
            else:
                return _attempt_sketch(args, extra)
        except EmolabError as exc:
            check_message(exc)
            return REFUSED
        if not hasattr(result, "columns") or "distance" not in result.columns:
            raise Breach(f"search returned {type(result).__name__} without distances")
        if len(result) and not np.isfinite(result["distance"].to_numpy(dtype=float)).all():
            raise Breach("search returned non-finite distances")
        return VALID


def _attempt_sketch(data, size) -> str:
    from emolab.ui import stroke_to_curve

    try:
        curve = stroke_to_curve(data, width=size[0], height=size[1], n=64)
    except EmolabError as exc:
        check_message(exc)
        return REFUSED
    if curve is None:
        return REFUSED
    curve = np.asarray(curve)
    if curve.shape != (64,) or not np.isfinite(curve).all() or np.abs(curve).max() > 1:
        raise Breach(f"sketch gave a curve of shape {curve.shape} with values outside [-1, 1] "
                     "or not finite")
    return VALID


def _filters(rng):
    from emolab.search import SearchFilters

    values = ["no", 12, math.nan, -1.0, True, False, "'; DROP TABLE songs; --", None, 10**400,
              "%", "_", b"x", ["a"], 30.0, "ref"]
    names = ["text", "min_duration", "max_duration", "has_audio", "annotator"]
    return SearchFilters(**{str(_pick(rng, names)): _pick(rng, values)
                            for _ in range(int(rng.integers(1, 3)))})


def _r(value, limit: int = 40) -> str:
    text = repr(value)
    if hasattr(value, "__len__") and not isinstance(value, str) and len(text) > limit:
        text = f"<{type(value).__name__} of {len(value)}>"
    return text if len(text) <= limit else text[:limit] + "..."
