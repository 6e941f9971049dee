"""The embedded demo library: public-domain scores from music21's corpus, played back.

On a fresh machine the index is empty. :func:`build_demo_library` takes a few dozen
pieces bundled with music21 (Bach chorales in major and minor, Joplin, Mozart,
Beethoven, Schumann, folk tunes ...), keeps the first ~40 s of each, writes MIDI,
renders it with the General MIDI soundfont that ships with pretty_midi
(``TimGM6mb.sf2``) through ``midirenderer``, stores the audio in a cache folder and
ingests it like any other music (``origin='demo'``). Nothing is downloaded.
"""
from __future__ import annotations

import io
import json
import math
import os
import threading
import time
from concurrent.futures import as_completed
from pathlib import Path
from typing import Callable

import numpy as np

from emolab import ingest, worker
from emolab.config import DATA_DIR, OPENSMILE_SR
from emolab.demo_pieces import DEMO_PIECES, DemoPiece  # noqa: F401  (the demo's public names)
from emolab.exceptions import EmolabError, ModelError, ParameterError

Progress = Callable[[int, int, str], None]

#: Where rendered demo audio is cached (git-ignored).
DEFAULT_AUDIO_DIR = DATA_DIR / "demo_audio"
#: Length kept of each piece, in seconds.
EXCERPT_SECONDS = 30.0
#: Audio below this level (dB re full scale) at the end of a rendering is cut.
TAIL_SILENCE_DB = -50.0
#: FLAC: fast to encode (Vorbis takes ~15x longer) and byte-identical when re-rendered.
AUDIO_FORMAT = "flac"


def soundfont_path() -> Path:
    """The General MIDI soundfont bundled with pretty_midi (``TimGM6mb.sf2``)."""
    import pretty_midi

    path = Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"
    if not path.exists():
        raise ModelError("The soundfont TimGM6mb.sf2 that comes with pretty_midi is missing; "
                         "reinstall pretty_midi to build the demo library.")
    return path


def demo_needed(index) -> bool:
    """True when the index holds no song at all (the first run)."""
    from emolab.index import songs

    return songs.stats(index.con)["songs"] == 0


# ------------------------------------------------------------------ scores → MIDI

def load_score(piece: DemoPiece):
    """Parse a piece from music21's bundled corpus and return a ``music21.stream.Score``."""
    from music21 import corpus, stream

    try:
        score = corpus.parse(piece.corpus_path, number=piece.number)
    except Exception as exc:  # music21 raises many kinds of errors for a missing file
        raise ParameterError(f"music21's corpus has no readable score '{piece.corpus_path}' "
                             f"({type(exc).__name__}).") from exc
    if isinstance(score, stream.Opus):
        score = score.scores[0]
    return score


def piece_labels(piece: DemoPiece, score) -> tuple[str, str]:
    """``(title, composer)``: the table's values, else the score's metadata."""
    meta = score.metadata
    title = piece.title or (meta.title if meta is not None else None)
    composer = piece.composer or (meta.composer if meta is not None else None)
    title = title or piece.key.replace("_", " ")
    return (f"{title} ({piece.variant})" if piece.variant else title), composer or "Unknown"


def score_tempo(score) -> float:
    """Quarter notes per minute of the score's first tempo mark (120 when there is none)."""
    from music21 import tempo

    marks = list(score.recurse().getElementsByClass(tempo.MetronomeMark))
    bpm = marks[0].getQuarterBPM() if marks else None
    return float(bpm) if bpm else 120.0


def excerpt(score, *, seconds: float, qpm: float):
    """The first measures of a score that last at least ``seconds`` at ``qpm``.

    Repeat signs are dropped so the excerpt plays straight through (and so a repeat
    cut in half cannot break MIDI export).
    """
    from music21 import bar, meter, repeat

    signatures = list(score.recurse().getElementsByClass(meter.TimeSignature))
    bar_quarters = float(signatures[0].barDuration.quarterLength) if signatures else 4.0
    n_bars = math.ceil(seconds * qpm / 60.0 / bar_quarters) + 1
    if score.parts and list(score.parts[0].getElementsByClass("Measure")):
        score = score.measures(0, n_bars)
    for element in list(score.recurse().getElementsByClass((bar.Repeat, repeat.RepeatExpression))):
        site = element.activeSite
        if site is None:
            continue
        if getattr(site, "leftBarline", None) is element:
            site.leftBarline = None
        elif getattr(site, "rightBarline", None) is element:
            site.rightBarline = None
        else:
            site.remove(element)
    return score


def set_tempo(score, qpm: float) -> None:
    """Replace every tempo mark of ``score`` by one of ``qpm`` quarter notes per minute."""
    from music21 import tempo

    for mark in list(score.recurse().getElementsByClass(tempo.MetronomeMark)):
        mark.activeSite.remove(mark)
    for part in score.parts:
        part.insert(0, tempo.MetronomeMark(number=qpm))


def piece_midi(piece: DemoPiece, *, seconds: float = EXCERPT_SECONDS) -> tuple[bytes, str, str]:
    """MIDI bytes of a piece's opening as the piece's settings play it, with title and composer."""
    from music21 import midi

    score = load_score(piece)
    title, composer = piece_labels(piece, score)
    qpm = piece.qpm or score_tempo(score)
    score = excerpt(score, seconds=seconds, qpm=qpm)
    if piece.qpm is not None:
        set_tempo(score, piece.qpm)
    data = midi.translate.music21ObjectToMidiFile(score).writestr()
    return perform(data, piece, qpm=qpm), title, composer


def perform(midi_bytes: bytes, piece: DemoPiece, *, qpm: float) -> bytes:
    """Apply a piece's instrument, register, touch and drum settings to MIDI bytes."""
    import pretty_midi

    if piece.program is None and not piece.transpose and piece.velocity is None and not piece.drums:
        return midi_bytes
    pm = pretty_midi.PrettyMIDI(io.BytesIO(midi_bytes))
    for inst in pm.instruments:
        if inst.is_drum:
            continue
        if piece.program is not None:
            inst.program = piece.program
        for note in inst.notes:
            note.pitch = int(np.clip(note.pitch + piece.transpose, 0, 127))
            if piece.velocity is not None:
                note.velocity = int(piece.velocity)
    if piece.drums:
        pm.instruments.append(drum_track(pm.get_end_time(), beat=60.0 / qpm))
    buf = io.BytesIO()
    pm.write(buf)
    return buf.getvalue()


def drum_track(end: float, *, beat: float):
    """A General MIDI rock beat until ``end`` s: kick and snare alternating on the beats,
    closed hi-hat on every half beat, a crash every four beats."""
    import pretty_midi

    KICK, SNARE, HIHAT, CRASH = 36, 38, 42, 49
    drums = pretty_midi.Instrument(program=0, is_drum=True, name="drums")
    i = 0
    while i * beat < end:
        t = i * beat
        drums.notes.append(pretty_midi.Note(120, KICK if i % 2 == 0 else SNARE, t, t + 0.1))
        drums.notes.append(pretty_midi.Note(90, HIHAT, t, t + 0.05))
        drums.notes.append(pretty_midi.Note(80, HIHAT, t + beat / 2, t + beat / 2 + 0.05))
        if i % 4 == 0:
            drums.notes.append(pretty_midi.Note(110, CRASH, t, t + 0.3))
        i += 1
    return drums


def saturate(y: np.ndarray, drive: float) -> np.ndarray:
    """Soft-clip a signal (``tanh(drive * y)``): louder on average, same peak order."""
    return np.tanh(drive * y).astype(np.float32) if drive > 0 else y


# ------------------------------------------------------------------ MIDI → audio

def render_midi(midi_bytes: bytes, *, sr: int = OPENSMILE_SR, soundfont=None) -> np.ndarray:
    """Render MIDI with a General MIDI soundfont.

    Parameters
    ----------
    midi_bytes : bytes
        A standard MIDI file.
    sr : int
        Sample rate of the result.
    soundfont : path, optional
        A ``.sf2`` file; default :func:`soundfont_path`.

    Returns
    -------
    y : np.ndarray, shape (n_samples,), float32
        Mono signal peak-normalised to 0.9.
    """
    import midirenderer
    import soundfile as sf

    from emolab.audio import resample

    font = Path(soundfont or soundfont_path()).read_bytes()
    wav = midirenderer.render_wave_from(font, midi_bytes)
    y, rendered_sr = sf.read(io.BytesIO(wav), dtype="float32", always_2d=True)
    y = y.mean(axis=1)
    if rendered_sr != sr:
        y = resample(y, orig_sr=rendered_sr, target_sr=sr)
    return normalise(y)


def normalise(y: np.ndarray, *, peak: float = 0.9) -> np.ndarray:
    """Scale a signal so that its largest absolute sample is ``peak``."""
    top = float(np.max(np.abs(y))) if y.size else 0.0
    return (y * (peak / top) if top > 0 else y).astype(np.float32)


def trim(y: np.ndarray, sr: int, *, seconds: float, fade: float = 2.0) -> np.ndarray:
    """Cut the silent tail, keep at most ``seconds`` and fade out the last ``fade`` s."""
    loud = np.flatnonzero(np.abs(y) > 10 ** (TAIL_SILENCE_DB / 20))
    end = min(len(y), (loud[-1] + 1 + sr // 2) if loud.size else 0, int(seconds * sr))
    y = y[:end].copy()
    n_fade = min(len(y), int(fade * sr))
    if n_fade and end == int(seconds * sr):
        y[-n_fade:] *= np.linspace(1.0, 0.0, n_fade, dtype=np.float32)
    return y


def render_piece(piece: DemoPiece, path, *, seconds: float = EXCERPT_SECONDS,
                 sr: int = OPENSMILE_SR) -> dict:
    """Render one piece's opening to an audio file; return its title and composer.

    The file format follows ``path``'s ending (``.ogg`` or ``.flac``).
    """
    import soundfile as sf

    data, title, composer = piece_midi(piece, seconds=seconds)
    y = saturate(render_midi(data, sr=sr), piece.drive)
    y = normalise(trim(y, sr, seconds=seconds), peak=piece.level)
    if y.size < sr:
        raise ParameterError(f"'{title}' rendered to less than a second of audio.")
    path = Path(path)
    tmp = path.with_name(f"{path.stem}.{os.getpid()}-{threading.get_ident()}.partial{path.suffix}")
    sf.write(tmp, y, sr, format=path.suffix.lstrip(".").upper())
    tmp.replace(path)  # a killed build never leaves half a file under the final name
    labels = {"title": title, "artist": composer}
    path.with_suffix(".json").write_text(json.dumps(labels, ensure_ascii=False), encoding="utf-8")
    return {**labels, "duration": len(y) / sr}


def _render_job(piece: DemoPiece, path: str, seconds: float):
    try:
        return piece, path, render_piece(piece, path, seconds=seconds), None
    except EmolabError as exc:
        return piece, path, None, str(exc)
    except Exception as exc:  # one score music21 cannot export never stops the build
        return piece, path, None, f"could not be rendered ({type(exc).__name__}: {exc})"


def render_pieces(pieces, audio_dir, *, seconds: float = EXCERPT_SECONDS, workers: int = 2,
                  progress: Progress | None = None, total: int | None = None) -> tuple[dict, list]:
    """Render pieces into ``audio_dir`` in worker processes, skipping files already there.

    Returns
    -------
    metadata : dict
        ``{audio path: {"title", "artist"}}`` of every piece that has audio.
    failed : list of (title, reason)
    """
    audio_dir = Path(audio_dir)
    audio_dir.mkdir(parents=True, exist_ok=True)
    metadata, failed, todo = {}, [], []
    for piece in pieces:
        path = audio_dir / f"{piece.key}.{AUDIO_FORMAT}"
        if path.exists():
            metadata[str(path)] = _cached_labels(piece, path)
        else:
            todo.append((piece, str(path)))
    total = total or len(pieces)
    done = len(metadata)
    if progress is not None and done:
        progress(done, total, f"{done} pieces already rendered")
    if not todo:
        return metadata, failed
    with worker.process_pool(max(1, min(workers, len(todo)))) as pool:
        futures = [pool.submit(_render_job, piece, path, seconds) for piece, path in todo]
        for future in as_completed(futures):
            piece, path, labels, error = future.result()
            done += 1
            if error is None:
                metadata[path] = {"title": labels["title"], "artist": labels["artist"]}
                message = f"Rendered {labels['title']} ({labels['artist']})"
            else:
                failed.append((piece.title or piece.corpus_path, error))
                message = f"Skipped {piece.corpus_path}: {error}"
            if progress is not None:
                progress(done, total, message)
    return metadata, failed


def _cached_labels(piece: DemoPiece, path: Path) -> dict:
    sidecar = path.with_suffix(".json")
    if sidecar.exists():
        return json.loads(sidecar.read_text(encoding="utf-8"))
    title, composer = piece_labels(piece, load_score(piece))
    return {"title": title, "artist": composer}


# ------------------------------------------------------------------ the library

def build_demo_library(index, *, audio_dir=None, n_pieces: int | None = None,
                       progress: Progress | None = None, workers: int = 2,
                       seconds: float = EXCERPT_SECONDS, pieces=None) -> dict:
    """Render the demo pieces (if not cached) and ingest them with ``origin='demo'``.

    Parameters
    ----------
    index : emolab.index.Index or path
        The song index (an open, writable :class:`~emolab.index.Index`, or its file).
    audio_dir : path, optional
        Cache folder of the rendered audio; default ``data/demo_audio``.
    n_pieces : int, optional
        Use only the first ``n_pieces`` of :data:`DEMO_PIECES`.
    progress : callable(done, total, message), optional
        Called after each piece is rendered and after each is analysed; ``total`` is
        twice the number of pieces.
    workers : int
        Processes rendering and analysing in parallel.
    seconds : float
        Length kept of each piece.
    pieces : sequence of DemoPiece, optional
        Pieces to use instead of :data:`DEMO_PIECES`.

    Returns
    -------
    dict
        ``added``, ``skipped`` (already indexed), ``failed`` (list of (name, reason)),
        ``render_seconds``, ``ingest_seconds``, ``audio_dir``.
    """
    from emolab.index import Index, open_index

    pieces = list(pieces if pieces is not None else DEMO_PIECES)
    if n_pieces is not None:
        if n_pieces < 1:
            raise ParameterError("The demo library needs at least one piece.")
        pieces = pieces[:n_pieces]
    audio_dir = Path(audio_dir or DEFAULT_AUDIO_DIR)
    own_index = not isinstance(index, Index)
    index = open_index(index) if own_index else index
    total = 2 * len(pieces)
    try:
        start = time.perf_counter()
        metadata, failed = render_pieces(pieces, audio_dir, seconds=seconds, workers=workers,
                                         progress=progress, total=total)
        rendered = time.perf_counter()

        titles = {Path(p).name: labels["title"] for p, labels in metadata.items()}

        def ingest_progress(done, n, name):
            if progress is not None:
                progress(total - n + done, total, f"Analysed {titles.get(name, name)}")

        report = ingest.ingest(list(metadata), index=index, workers=workers, origin="demo",
                               metadata=metadata, progress=ingest_progress, with_librosa=True)
        if progress is not None:
            progress(total, total, "The demo library is ready.")
    finally:
        if own_index:
            index.close()
    return {
        "added": len(report.added),
        "skipped": len(report.skipped),
        "failed": failed + [(Path(p).name, reason) for p, reason in report.failed],
        "render_seconds": round(rendered - start, 1),
        "ingest_seconds": round(time.perf_counter() - rendered, 1),
        "audio_dir": str(audio_dir),
    }
