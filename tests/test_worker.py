"""Time-limited analysis in child processes: overruns and crashes become messages."""
from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from emolab.exceptions import AnalysisTimeoutError, CorruptAudioError
from emolab.index import integrity
from emolab.worker import AnalysisWorker, WorkerPool
from tests.conftest import chord, encode, write_audio

#: Seconds after which a test calls a run hung (not a speed target: those live in benchmarks/).
HANG_LIMIT = 600


@pytest.fixture(scope="module")
def worker():
    with AnalysisWorker(with_models=False, time_limit=120) as w:
        yield w.start()


def test_result_and_refusals_cross_the_process_boundary(worker):
    analysis = worker.analyse(encode(chord(seconds=2.0), 22050), name="chord.wav")
    assert analysis.deam74.shape == (74,) and analysis.duration == pytest.approx(2.0, abs=0.01)
    with pytest.raises(CorruptAudioError, match="could not be read as audio"):
        worker.analyse(b"RIFF" + b"\0" * 100, name="broken.wav")


def test_overrun_is_stopped_and_the_next_file_gets_a_fresh_process(worker):
    data = encode(chord(seconds=3.0), 22050)
    first = worker._process
    worker.time_limit = 0.01
    try:
        with pytest.raises(AnalysisTimeoutError, match="'slow.wav' took longer than 0.01 s"):
            worker.analyse(data, name="slow.wav")
    finally:
        worker.time_limit = 120
    assert not first.is_alive()
    assert worker.analyse(data, name="again.wav").deam74 is not None


def _cpu_ticks(pid: int) -> int:
    """User + system CPU time of a process, in clock ticks (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def _kill_once_busy(process, *, give_up: float = HANG_LIMIT) -> None:
    """Kill ``process`` as soon as it starts using CPU (an idle child waiting for a job uses
    none, so this is the moment it works on the job), not after a guessed delay."""
    idle = _cpu_ticks(process.pid)
    deadline = time.monotonic() + give_up
    while _cpu_ticks(process.pid) == idle and time.monotonic() < deadline:
        time.sleep(0.002)
    process.kill()


def test_a_crashed_child_is_reported_and_replaced(worker, tmp_path):
    # a path, so the job message is tiny and the child's first CPU use is the analysis itself;
    # 60 s of audio take seconds to analyse: the child is killed long before it ends
    data = write_audio(tmp_path / "crash.wav", chord(seconds=60.0), 22050)
    worker.start()
    victim = worker._process
    time.sleep(0.5)  # let the freshly started child settle into waiting for a job
    killer = threading.Thread(target=_kill_once_busy, args=(victim,))
    killer.start()
    with pytest.raises(CorruptAudioError, match="stopped unexpectedly"):
        worker.analyse(data, name="crash.wav")
    killer.join()
    assert worker.analyse(encode(chord(seconds=1.0), 22050), name="ok.wav").deam74 is not None


def test_pool_reports_each_overrun_and_writes_nothing(tmp_path, index):
    paths = [write_audio(tmp_path / f"s{i}.wav", chord(seconds=2.0 + i), 22050) for i in range(3)]
    before = integrity.checksum(index.con)
    from emolab import ingest

    start = time.monotonic()
    report = ingest.ingest(paths, index=index, workers=1, with_models=False, time_limit=0.01,
                             progress=lambda *a: None)
    assert report.added == [] and len(report.failed) == 3
    assert all("took longer than" in reason for _, reason in report.failed)
    assert integrity.checksum(index.con) == before
    assert time.monotonic() - start < HANG_LIMIT  # catches a hang only; speed is benchmarks/ingest.py's


def test_pool_analyses_every_file(tmp_path):
    paths = [write_audio(tmp_path / f"s{i}.flac", chord(seconds=1.0), 22050) for i in range(3)]
    with WorkerPool(2, with_models=False, time_limit=120) as pool:
        results = list(pool.analyse_all(paths))
    assert sorted(p for p, _, _ in results) == sorted(map(str, paths))
    assert all(error is None and analysis.deam74 is not None for _, analysis, error in results)


def _report(conn, environ):
    """A forked child's view: the caller's environment once adopted, and what it started with."""
    import os
    import sys

    from emolab import worker

    preloaded = "emolab.features.pitch_kernels" in sys.modules
    worker.adopt_environment(environ)
    from emolab.features import pitch

    conn.send((os.environ.get("EMOLAB_TEST_MARK"), preloaded, pitch._READY, os.getpid()))


def test_pool_children_fork_from_a_preloaded_server_with_the_callers_environment(tmp_path, monkeypatch):
    import os

    from emolab import worker

    context = worker.forkserver_context()
    if context is None:
        pytest.skip("the forkserver start method exists on Linux only")
    worker.start_forkserver()
    monkeypatch.setenv("EMOLAB_TEST_MARK", "set after the server started")
    parent, child = context.Pipe()
    process = context.Process(target=_report, args=(child, dict(os.environ)), daemon=True)
    process.start()
    mark, preloaded, kernels_ready, pid = parent.recv()
    process.join(30)
    assert mark == "set after the server started"
    assert preloaded and kernels_ready and pid != os.getpid()  # nothing left to load in the child
    pool = WorkerPool(2, with_models=False)
    assert pool.options["start_method"] == "forkserver"
    assert pool.options["threads"] == max(1, worker.available_cpus() // 2)
    path = write_audio(tmp_path / "s.flac", chord(seconds=1.0), 22050)
    with pool:  # a forked child analyses like a spawned one
        ((_, forked, error),) = list(pool.analyse_all([path]))
    with AnalysisWorker(with_models=False) as spawned:
        alone = spawned.analyse(path.read_bytes(), name="s.flac")
    assert error is None
    np.testing.assert_array_equal(forked.deam74, alone.deam74)  # NaN where a column is not computed


def test_children_are_niced_unless_the_caller_says_not():
    import os

    own = os.getpriority(os.PRIO_PROCESS, 0)
    with AnalysisWorker(with_models=False) as niced, AnalysisWorker(with_models=False, nice=0) as plain:
        niced.start()
        plain.start()
        assert os.getpriority(os.PRIO_PROCESS, niced._process.pid) == min(19, own + 5)
        assert os.getpriority(os.PRIO_PROCESS, plain._process.pid) == own


def test_the_worker_reports_each_stage_of_one_recording():
    """The Analyse page's bar moves through the stages, not from 0 % straight to the end."""
    stages = []
    with AnalysisWorker(with_models=False, time_limit=300) as worker:
        result = worker.analyse(encode(chord(seconds=3.0), 22050), name="c.wav",
                                progress=lambda fraction, text: stages.append((fraction, text)))
    assert result.duration == pytest.approx(3.0, abs=0.01)
    fractions = [f for f, _ in stages]
    assert len(stages) >= 3 and fractions == sorted(fractions) and fractions[-1] == 1.0
    assert fractions[0] < 0.1 and len({t for _, t in stages}) == len(stages)
