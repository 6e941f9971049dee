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
import re
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
EXCERPT_SECONDS = 40.0
#: Audio below this level (dB re full scale) at the end of a rendering is cut.
TAIL_SILENCE_DB = -50.0
#: FLAC: fast to encode (Vorbis takes ~15x longer) and byte-identical when re-rendered.
AUDIO_FORMAT = "flac"

# General MIDI programs used to give the unscored or piano-only pieces some colour.
ORGAN, CHOIR, STRINGS, FLUTE, HARPSICHORD = 19, 52, 48, 73, 6


@dataclass(frozen=True)
class DemoPiece:
    """One score of music21's corpus and how to play it.

    ``title``/``composer`` fill in what the corpus metadata lacks (most files carry
    neither); ``qpm`` sets the tempo (quarter notes per minute) of scores without one;
    ``program`` plays every part with one General MIDI instrument.
    """

    corpus_path: str
    title: str | None = None
    composer: str | None = None
    number: int | None = None
    qpm: float | None = None
    program: int | None = None

    @property
    def key(self) -> str:
        """A stable file name stem for the piece."""
        stem = re.sub(r"\.[a-z]+$", "", self.corpus_path)
        stem = re.sub(r"[^A-Za-z0-9]+", "_", stem).strip("_")
        return f"{stem}_{self.number}" if self.number is not None else stem


DEMO_PIECES: tuple[DemoPiece, ...] = (
    # Bach chorales, three major and three minor
    DemoPiece("bach/bwv1.6.mxl", "Chorale BWV 1.6 (F major)", "Johann Sebastian Bach", program=ORGAN),
    DemoPiece("bach/bwv140.7.mxl", "Chorale 'Gloria sei dir gesungen', BWV 140.7",
              "Johann Sebastian Bach", qpm=80, program=CHOIR),
    DemoPiece("bach/bwv11.6.mxl", "Chorale BWV 11.6 (D major)", "Johann Sebastian Bach",
              qpm=84, program=STRINGS),
    DemoPiece("bach/bwv10.7.mxl", "Chorale BWV 10.7 (G minor)", "Johann Sebastian Bach",
              qpm=72, program=ORGAN),
    DemoPiece("bach/bwv101.7.mxl", "Chorale BWV 101.7 (D minor)", "Johann Sebastian Bach",
              qpm=66, program=CHOIR),
    DemoPiece("bach/bwv244.3.mxl", "St Matthew Passion, chorale BWV 244.3 (B minor)",
              "Johann Sebastian Bach", qpm=60, program=STRINGS),
    DemoPiece("joplin/maple_leaf_rag.mxl", "Maple Leaf Rag", "Scott Joplin"),
    DemoPiece("mozart/k545/movement1_exposition.mxl",
              "Piano Sonata in C major, K. 545: I. Allegro (exposition)", "Wolfgang Amadeus Mozart"),
    DemoPiece("mozart/k155/movement2.mxl", "String Quartet in D major, K. 155: II. Andante",
              "Wolfgang Amadeus Mozart", qpm=76),
    DemoPiece("mozart/k80/movement1.mxl", "String Quartet in G major, K. 80: I. Adagio",
              "Wolfgang Amadeus Mozart", qpm=56),
    DemoPiece("haydn/opus1no1/movement1.mxl", "String Quartet in B-flat major, Op. 1 No. 1: I. Presto",
              "Joseph Haydn"),
    DemoPiece("beethoven/opus18no1/movement2.krn",
              "String Quartet in F major, Op. 18 No. 1: II. Adagio affettuoso ed appassionato",
              "Ludwig van Beethoven"),
    DemoPiece("beethoven/opus18no1/movement3.krn",
              "String Quartet in F major, Op. 18 No. 1: III. Scherzo", "Ludwig van Beethoven"),
    DemoPiece("schubert/Lindenbaum.xml", None, "Franz Schubert", qpm=72),
    DemoPiece("chopin/mazurka06-2.krn", None, "Frédéric Chopin"),
    DemoPiece("schumann_robert/dichterliebe_no2.xml",
              "Dichterliebe, Op. 48: No. 2 'Aus meinen Tränen sprießen'", "Robert Schumann"),
    DemoPiece("schumann_robert/opus41no1/movement2.mxl",
              "String Quartet in A minor, Op. 41 No. 1: II. Scherzo", "Robert Schumann"),
    DemoPiece("schumann_clara/polonaise_op1n1.mxl", "Polonaise, Op. 1 No. 1", "Clara Schumann",
              qpm=96),
    DemoPiece("handel/rinaldo/Lascia_chio_pianga.mxl", "Lascia ch'io pianga (Rinaldo)",
              "George Frideric Handel", qpm=60),
    DemoPiece("verdi/laDonnaEMobile.mxl", "La donna è mobile (Rigoletto)", "Giuseppe Verdi"),
    DemoPiece("corelli/opus3no1/1grave.xml", "Trio Sonata Op. 3 No. 1: I. Grave", "Arcangelo Corelli",
              program=STRINGS),
    DemoPiece("cpebach/h186.mxl", "Keyboard piece, H. 186", "Carl Philipp Emanuel Bach",
              qpm=100, program=HARPSICHORD),
    DemoPiece("liliuokalani/aloha_oe.mxl", "Aloha ʻOe", "Liliʻuokalani"),
    DemoPiece("weber/concertino_clarinet.mxl", "Clarinet Concertino, Op. 26", "Carl Maria von Weber"),
    DemoPiece("johnson_j_r/lift_every_voice.mxl", "Lift Every Voice and Sing", "J. Rosamond Johnson",
              qpm=88),
    DemoPiece("beach/prayer_of_a_tired_child.musicxml", "Prayer of a Tired Child, Op. 75 No. 4",
              "Amy Beach", qpm=66),
    DemoPiece("monteverdi/madrigal.3.1.mxl", "Madrigal 'La giovinetta pianta' (Book 3, No. 1)",
              "Claudio Monteverdi", qpm=100, program=CHOIR),
    DemoPiece("palestrina/Agnus_01.krn", None, "Giovanni Pierluigi da Palestrina", qpm=90,
              program=CHOIR),
    DemoPiece("trecento/PMFC_04-A lle s_andra lo spirt.xml", "A le' s'andrà lo spirto",
              "Francesco Landini", program=FLUTE),
    DemoPiece("josquin/milleRegrets.abc", None, "Josquin des Prez", qpm=90, program=STRINGS),
    # folk tunes: titles come from the tune books
    DemoPiece("essenFolksong/altdeu10.abc", None, "Traditional (German)", number=1, qpm=100),
    DemoPiece("oneills1850/0001-0050.abc", None, "Traditional (Irish)", number=3, qpm=90,
              program=FLUTE),
    DemoPiece("miscFolk/americanfifeopus.abc", None, "Traditional (American)", number=1,
              program=FLUTE),
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
    return title or piece.key.replace("_", " "), composer or "Unknown"


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


def set_program(score, program: int) -> None:
    """Play every part of ``score`` with General MIDI instrument ``program`` (0–127)."""
    from music21 import instrument

    for old in list(score.recurse().getElementsByClass(instrument.Instrument)):
        old.activeSite.remove(old)
    for part in score.parts:
        part.insert(0, instrument.instrumentFromMidiProgram(program))


def piece_midi(piece: DemoPiece, *, seconds: float = EXCERPT_SECONDS) -> tuple[bytes, str, str]:
    """MIDI bytes of a piece's opening, with its title and composer."""
    from music21 import midi

    score = load_score(piece)
    title, composer = piece_labels(piece, score)
    qpm = piece.qpm or score_tempo(score)
    score = excerpt(score, seconds=seconds, qpm=qpm)
    if piece.qpm is not None:
        set_tempo(score, piece.qpm)
    if piece.program is not None:
        set_program(score, piece.program)
    data = midi.translate.music21ObjectToMidiFile(score).writestr()
    return data, title, composer


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
    y = normalise(trim(render_midi(data, sr=sr), sr, seconds=seconds))
    if y.size < sr:
        raise ParameterError(f"'{title}' rendered to less than a second of audio.")
    path = Path(path)
    tmp = path.with_name(path.stem + ".partial" + path.suffix)
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
