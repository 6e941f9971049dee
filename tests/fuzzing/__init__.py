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
    sketch conversion :func:`emolab.sketch.stroke_to_curve` with wrong values and types.
"""
from tests.fuzzing.annotation_csv import CsvDoor
from tests.fuzzing.audio import AudioDoor
from tests.fuzzing.harness import Crash, assert_clean, fuzz_index, run_door
from tests.fuzzing.search import SearchDoor
from tests.fuzzing.sql import SqlDoor

__all__ = ["AudioDoor", "Crash", "CsvDoor", "SearchDoor", "SqlDoor", "assert_clean",
           "fuzz_index", "run_door"]
