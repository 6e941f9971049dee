"""openSMILE is the reference, not the engine: default analyses never load it.

Each check runs in a fresh interpreter, so that what other tests imported cannot hide or
fake a load. ``libSMILEapi`` is openSMILE's shared library (loaded by the ``opensmile``
package through ctypes); ``/proc/self/maps`` lists every library a process has mapped.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import chord, write_audio

ROOT = Path(__file__).resolve().parents[1]

ANALYSE = """
import json, sys
from pathlib import Path
import emolab.pipeline, emolab.predict
models = emolab.predict.load_models()
analysis = emolab.pipeline.analyse(Path(sys.argv[1]).read_bytes(), models=models, name="c.wav",
                                   extractor=sys.argv[2])
maps = Path("/proc/self/maps").read_text()
print(json.dumps({"opensmile": "opensmile" in sys.modules, "libSMILEapi": "libSMILEapi" in maps,
                  "static": analysis.static is not None, "dynamic": analysis.dynamic is not None,
                  "static_error": models.static_error, "dynamic_error": models.dynamic_error,
                  "dynamo": "torch._dynamo" in sys.modules}))
"""


def _run(code: str, *args) -> dict:
    done = subprocess.run([sys.executable, "-c", code, *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def song(tmp_path_factory):
    return write_audio(tmp_path_factory.mktemp("audio") / "c.wav", chord(seconds=6.0, sr=44100), 44100)


def test_analysis_with_the_shipped_models_never_loads_opensmile(song):
    seen = _run(ANALYSE, song, "fast")
    assert seen["static"] and seen["dynamic"], seen  # the models really predicted
    assert not seen["opensmile"] and not seen["libSMILEapi"], seen
    assert not seen["dynamo"], seen  # loading the models builds no optimiser (torch._dynamo: seconds)


@pytest.mark.slow
def test_the_opensmile_reference_is_still_one_option_away(song):
    seen = _run(ANALYSE, song, "opensmile")
    assert seen["opensmile"] and seen["libSMILEapi"] and seen["static"], seen


def test_command_line_start_imports_only_what_the_command_needs():
    code = """
import json, sys
from emolab.cli import main
for argv in (["--help"], ["analyze", "--help"], ["ingest", "--help"]):
    try:
        main(argv)
    except SystemExit:
        pass
heavy = ["torch", "librosa", "opensmile", "sklearn", "pandas", "numba"]
print(json.dumps(sorted(m for m in heavy if m in sys.modules)))
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    # --help lists every command, whose modules may import pandas/numba, but never the
    # analysis libraries; analyze/ingest --help import neither
    assert not {"torch", "librosa", "opensmile", "sklearn"} & set(loaded), loaded


def test_analyze_and_ingest_start_without_the_other_commands_modules():
    code = """
import json, sys
from emolab.cli import main
try:
    main(["analyze", "--help"])
except SystemExit:
    pass
print(json.dumps(sorted(m for m in ("pandas", "numba", "torch", "librosa", "emolab.search") if m in sys.modules)))
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
