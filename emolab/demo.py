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
import re
import threading
import time
from concurrent.futures import as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from emolab import ingest, worker
from emolab.config import DATA_DIR, OPENSMILE_SR
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

# General MIDI programs used to give the pieces their colour.
PIANO, HARPSICHORD, MARIMBA, ORGAN, ACCORDION = 0, 6, 12, 19, 21
NYLON_GUITAR, DISTORTION_GUITAR, STRINGS, HARP, CHOIR = 24, 30, 48, 46, 52
TRUMPET, BRASS, FLUTE = 56, 61, 73


@dataclass(frozen=True)
class DemoPiece:
    """One score of music21's corpus and how to play it.

    ``title``/``composer`` fill in what the corpus metadata lacks (most files carry
    neither); ``qpm`` sets the tempo (quarter notes per minute) of scores without one;
    ``program`` plays every part with one General MIDI instrument. The rest shape the
    performance so that the demo spans the emotion plane: ``transpose`` moves the
    register (semitones), ``velocity`` sets how hard every note is played (1–127),
    ``drums`` adds a rock drum kit on every beat, ``drive`` saturates the mix (a loud,
    compressed master; 0 leaves it clean) and ``level`` is the peak level of the result
    (quiet pieces are quiet).
    """

    corpus_path: str
    title: str | None = None
    composer: str | None = None
    number: int | None = None
    qpm: float | None = None
    program: int | None = None
    transpose: int = 0
    velocity: int | None = None
    drums: bool = False
    drive: float = 0.0
    level: float = 0.9
    #: How this performance differs (added to the title and the file name), e.g. "soft".
    variant: str | None = None

    @property
    def key(self) -> str:
        """A stable file name stem for the piece."""
        stem = re.sub(r"\.[a-z]+$", "", self.corpus_path)
        stem = re.sub(r"[^A-Za-z0-9]+", "_", stem).strip("_")
        stem = f"{stem}_{self.number}" if self.number is not None else stem
        if self.variant:
            stem += "_" + re.sub(r"[^A-Za-z0-9]+", "_", self.variant).strip("_").lower()
        return stem


def _excited(path, title, composer, *, qpm=None, program=BRASS, **kw) -> "DemoPiece":
    """Bright and loud: brass (or another program), a rock drum kit, a driven master."""
    return DemoPiece(path, title, composer, qpm=qpm, program=program, velocity=120, drums=True,
                     drive=3.0, variant=kw.pop("variant", "brass, drums, loud"), **kw)


def _tense(path, title, composer, *, qpm=None, **kw) -> "DemoPiece":
    """Dark and loud: distorted guitar an octave down, drums, a hard-driven master."""
    return DemoPiece(path, title, composer, qpm=qpm, program=DISTORTION_GUITAR, transpose=-12,
                     velocity=120, drums=True, drive=4.0,
                     variant="distorted guitar, low, drums", **kw)


def _content(path, title, composer, *, qpm=None, program=None, **kw) -> "DemoPiece":
    """Gentle: the score's own instruments (or ``program``) with light drums, played softly."""
    return DemoPiece(path, title, composer, qpm=qpm, program=program, drums=True, level=0.25,
                     variant=kw.pop("variant", "soft, light drums"), **kw)


def _sad(path, title, composer, *, qpm, program=STRINGS, **kw) -> "DemoPiece":
    """Slow and very soft, lightly touched."""
    return DemoPiece(path, title, composer, qpm=qpm, program=program, velocity=40,
                     level=kw.pop("level", 0.15), variant=kw.pop("variant", "slow, very soft"), **kw)


_MAPLE = ("joplin/maple_leaf_rag.mxl", "Maple Leaf Rag", "Scott Joplin")
_K545 = ("mozart/k545/movement1_exposition.mxl",
         "Piano Sonata in C major, K. 545: I. Allegro (exposition)", "Wolfgang Amadeus Mozart")
_HAYDN = ("haydn/opus1no1/movement1.mxl", "String Quartet in B-flat major, Op. 1 No. 1: I. Presto",
          "Joseph Haydn")
_ALOHA = ("liliuokalani/aloha_oe.mxl", "Aloha ʻOe", "Liliʻuokalani")

#: The demo library: four groups of performances chosen (and measured with the shipped
#: models, see ``data/demo/manifest.json``) to land in the four quadrants of the plane.
#: Some scores appear in several performances, so the demo also shows how much the
#: performance, not only the score, moves perceived emotion.
DEMO_PIECES: tuple[DemoPiece, ...] = (
    # happy / excited: bright, loud, dense, with drums
    _excited(*_MAPLE, qpm=130),
    _excited(*_HAYDN, qpm=150),
    _excited(*_K545, qpm=140),
    _excited("verdi/laDonnaEMobile.mxl", "La donna è mobile (Rigoletto)", "Giuseppe Verdi", qpm=140),
    _excited("schumann_robert/opus41no1/movement2.mxl",
             "String Quartet in A minor, Op. 41 No. 1: II. Scherzo", "Robert Schumann",
             program=DISTORTION_GUITAR, variant="distorted guitar, drums, loud"),
    _excited("miscFolk/americanfifeopus.abc", None, "Traditional (American)", number=1, qpm=140),
    _excited("oneills1850/0001-0050.abc", None, "Traditional (Irish)", number=3, qpm=140,
             program=ACCORDION, variant="accordion, drums, loud"),
    _excited("johnson_j_r/lift_every_voice.mxl", "Lift Every Voice and Sing", "J. Rosamond Johnson",
             qpm=120),
    # tense / angry: minor keys, low distorted guitar, drums, fast
    _tense("bach/bwv10.7.mxl", "Chorale BWV 10.7 (G minor)", "Johann Sebastian Bach", qpm=140),
    _tense("beethoven/opus18no1/movement3.krn",
           "String Quartet in F major, Op. 18 No. 1: III. Scherzo", "Ludwig van Beethoven"),
    _tense("bach/bwv244.3.mxl", "St Matthew Passion, chorale BWV 244.3 (B minor)",
           "Johann Sebastian Bach", qpm=150),
    _tense("bach/bwv101.7.mxl", "Chorale BWV 101.7 (D minor)", "Johann Sebastian Bach", qpm=150),
    _tense("chopin/mazurka06-2.krn", None, "Frédéric Chopin", qpm=160),
    _tense("corelli/opus3no1/1grave.xml", "Trio Sonata Op. 3 No. 1: I. Grave", "Arcangelo Corelli",
           qpm=140),
    _tense("josquin/milleRegrets.abc", None, "Josquin des Prez", qpm=150),
    _tense("monteverdi/madrigal.3.1.mxl", "Madrigal 'La giovinetta pianta' (Book 3, No. 1)",
           "Claudio Monteverdi", qpm=160),
    # calm / content: major keys, soft, with a light pulse
    _content(*_K545, qpm=130),
    _content(*_MAPLE, qpm=100),
    _content(*_HAYDN, qpm=120),
    _content(*_ALOHA, qpm=80, program=NYLON_GUITAR, variant="guitar, soft, light drums"),
    DemoPiece(*_MAPLE, variant="piano"),
    DemoPiece(*_K545, level=0.5, variant="piano, moderately soft"),
    _content("handel/rinaldo/Lascia_chio_pianga.mxl", "Lascia ch'io pianga (Rinaldo)",
             "George Frideric Handel", qpm=80),
    _content("schumann_clara/polonaise_op1n1.mxl", "Polonaise, Op. 1 No. 1", "Clara Schumann",
             qpm=96),
    # sad / tired: slow, very soft, sparse
    _sad("bach/bwv1.6.mxl", "Chorale BWV 1.6 (F major)", "Johann Sebastian Bach", qpm=50),
    _sad(*_ALOHA, qpm=60, program=HARP, transpose=12, variant="harp, slow, very soft"),
    _sad("mozart/k155/movement2.mxl", "String Quartet in D major, K. 155: II. Andante",
         "Wolfgang Amadeus Mozart", qpm=56, program=PIANO, level=0.12),
    _sad("essenFolksong/altdeu10.abc", None, "Traditional (German)", number=1, qpm=100,
         program=MARIMBA, level=0.5, variant="marimba, alone"),
    _sad("schubert/Lindenbaum.xml", None, "Franz Schubert", qpm=60, program=CHOIR),
    _sad("beach/prayer_of_a_tired_child.musicxml", "Prayer of a Tired Child, Op. 75 No. 4",
         "Amy Beach", qpm=60),
    _sad("mozart/k80/movement1.mxl", "String Quartet in G major, K. 80: I. Adagio",
         "Wolfgang Amadeus Mozart", qpm=50),
    _sad("bach/bwv140.7.mxl", "Chorale 'Gloria sei dir gesungen', BWV 140.7",
         "Johann Sebastian Bach", qpm=60, program=CHOIR),
)


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
