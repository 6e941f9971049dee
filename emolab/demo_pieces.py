"""The demo library's performances: which public-domain scores, and how each is played.

Four groups of performances of music21 corpus scores, chosen (and measured with the shipped
models, see ``data/demo/manifest.json``) so that the demo spans the four quadrants of the
valence–arousal plane. :mod:`emolab.demo` renders them; :mod:`emolab.demo_data` ships what the
models made of them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

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
    # sad / tired: minor keys where the score allows, slow, very soft, sparse
    _sad("bach/bwv101.7.mxl", "Chorale BWV 101.7 (D minor)", "Johann Sebastian Bach", qpm=50,
         program=CHOIR),
    _sad(*_ALOHA, qpm=60, program=HARP, transpose=12, variant="harp, slow, very soft"),
    _sad("chopin/mazurka06-2.krn", None, "Frédéric Chopin", qpm=60, program=PIANO, level=0.12),
    _sad("essenFolksong/altdeu10.abc", None, "Traditional (German)", number=1, qpm=100,
         program=MARIMBA, level=0.5, variant="marimba, alone"),
    _sad("schubert/Lindenbaum.xml", None, "Franz Schubert", qpm=60, program=CHOIR),
    _sad("beach/prayer_of_a_tired_child.musicxml", "Prayer of a Tired Child, Op. 75 No. 4",
         "Amy Beach", qpm=60),
    _sad("bach/bwv244.3.mxl", "St Matthew Passion, chorale BWV 244.3 (B minor)",
         "Johann Sebastian Bach", qpm=50),
    _sad("bach/bwv140.7.mxl", "Chorale 'Gloria sei dir gesungen', BWV 140.7",
         "Johann Sebastian Bach", qpm=60, program=CHOIR),
    # the same minor scores an octave down: darker, and sadder to the models than high and soft
    _sad("chopin/mazurka06-2.krn", None, "Frédéric Chopin", qpm=50, program=PIANO, transpose=-12,
         level=0.12, variant="low piano, slow, very soft"),
    _sad("josquin/milleRegrets.abc", None, "Josquin des Prez", qpm=50, program=CHOIR, transpose=-12,
         variant="low choir, slow, very soft"),
    _sad("bach/bwv10.7.mxl", "Chorale BWV 10.7 (G minor)", "Johann Sebastian Bach", qpm=50,
         program=CHOIR, transpose=-12, variant="low choir, slow, very soft"),
    _sad("corelli/opus3no1/1grave.xml", "Trio Sonata Op. 3 No. 1: I. Grave", "Arcangelo Corelli",
         qpm=50, transpose=-12, variant="low strings, slow, very soft"),
)
