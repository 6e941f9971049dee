"""Ingest on a Ray cluster (``emolab.cluster``): the local pool's index, its guarantees, its inputs.

One local Ray cluster (2 CPUs, no dashboard, no usage statistics) serves the whole module;
a second driver joins it by address from a subprocess, so that it can be SIGKILLed.
"""
from __future__ import annotations

import functools
import http.server
import importlib.util
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

if importlib.util.find_spec("ray") is None:
    pytest.skip("Ray is not installed (pip install -r requirements-cluster.txt)",
                allow_module_level=True)

from emolab import cluster, ingest  # noqa: E402
from emolab.exceptions import ParameterError  # noqa: E402
from emolab.index import integrity, open_index  # noqa: E402
from emolab.sources import collect, read_listing  # noqa: E402
from tests import crash_harness  # noqa: E402
from tests.conftest import chord, write_audio  # noqa: E402
from tests.test_pipeline import make_folder  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
N_GOOD, N_BAD = 6, 3
QUIET = {"progress": lambda *a: None, "with_models": False}


@pytest.fixture(scope="module")
def ray_address():
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    import ray

    # "local": a new cluster even when one started by `ray start` runs on this machine
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture(scope="module")
def music(tmp_path_factory):
    return make_folder(tmp_path_factory.mktemp("ray") / "music", n_good=N_GOOD, n_bad=N_BAD,
                       seconds=1.0)


@pytest.fixture(scope="module")
def local(music, tmp_path_factory):
    """The local pool's index of ``music``: the reference."""
    db = tmp_path_factory.mktemp("local") / "local.duckdb"
    with open_index(db) as idx:
        report = ingest.ingest([music], index=idx, workers=2, **QUIET)
    assert len(report.added) == N_GOOD
    return db, report


def test_ray_index_equals_the_local_pools_and_resumes_without_analysing(ray_address, music, local,
                                                                        tmp_path):
    local_db, local_report = local
    db = tmp_path / "ray.duckdb"
    with open_index(db) as idx:
        report = cluster.ingest([music], index=idx, workers=2, batch_size=4, **QUIET)
    assert sorted(report.added) == sorted(local_report.added)
    assert dict(report.failed) == dict(local_report.failed) and len(report.failed) == N_BAD
    assert crash_harness.differences(crash_harness.snapshot(local_db),
                                     crash_harness.snapshot(db)) == []
    # Known files are recognised before any analysis: a limit no analysis could meet.
    with open_index(db) as idx:
        before = integrity.checksum(idx.con)
        again = cluster.ingest([music], index=idx, workers=2, time_limit=0.01, **QUIET)
        assert integrity.checksum(idx.con) == before
    assert again.added == [] and sorted(again.skipped) == sorted(report.added)
    assert sorted(dict(again.failed)) == sorted(dict(report.failed))


def test_overruns_are_their_files_failures_and_fresh_children_take_the_next(ray_address, music,
                                                                             tmp_path):
    # 30-s songs: decoding and analysing one takes far longer than a millisecond
    files = [write_audio(tmp_path / f"long{i}.wav", chord(seconds=30.0 + i), 22050) for i in range(4)]
    with open_index(tmp_path / "slow.duckdb") as idx:
        empty = integrity.checksum(idx.con)
        report = cluster.ingest(files, index=idx, workers=2, time_limit=0.001, **QUIET)
        assert integrity.checksum(idx.con) == empty
    assert report.added == [] and len(report.failed) == 4
    assert all(re.search(r"took longer than 0\.001 s", reason) for _, reason in report.failed)


def test_driver_killed_mid_way_then_rerun_gives_the_local_index(ray_address, tmp_path):
    # 15-s songs, so that the files left after the kill take a while even on an idle machine
    music = make_folder(tmp_path / "music", n_good=N_GOOD + 4, n_bad=N_BAD, seconds=15.0)
    with open_index(tmp_path / "local.duckdb") as idx:
        assert len(ingest.ingest([music], index=idx, workers=2, **QUIET).added) == N_GOOD + 4
    db = tmp_path / "killed.duckdb"
    command = [sys.executable, "-m", "emolab", "ingest", str(music), "--db", str(db), "--no-models",
               "--engine", "ray", "--address", ray_address, "--workers", "2", "--batch-size", "2"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    driver = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, start_new_session=True)
    seen = bytearray()
    reader = threading.Thread(target=lambda: [seen.extend(c) for c in iter(
        lambda: driver.stderr.read1(65536), b"")], daemon=True)
    reader.start()
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and driver.poll() is None:
        if max(map(int, re.findall(rb"(\d+)/\d+ \[", bytes(seen))), default=0) >= 3:
            break  # three files done: at least one batch of two may be written
        time.sleep(0.01)
    assert driver.poll() is None, f"the driver ended before it could be killed:\n{seen.decode()}"
    os.killpg(driver.pid, signal.SIGKILL)
    driver.wait(30)
    state, hashes, found = crash_harness.inspect(db)
    assert found == [] and len(set(hashes)) == len(hashes) < N_GOOD + 4  # whole songs, not all
    with open_index(db) as idx:
        report = cluster.ingest([music], index=idx, workers=2, **QUIET)
    assert len(report.skipped) == len(hashes) and len(report.added) == N_GOOD + 4 - len(hashes)
    assert crash_harness.differences(crash_harness.snapshot(tmp_path / "local.duckdb"),
                                     crash_harness.snapshot(db)) == []


def _descendants_named(prefix: bytes) -> list[int]:
    """Processes started (through the Ray cluster) by this test process, by command line."""
    parents, names = {}, {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                names[int(entry.name)] = (entry / "cmdline").read_bytes()
            except (OSError, IndexError, ValueError):  # the process ended meanwhile
                continue

    def mine(pid: int) -> bool:
        while pid > 1:
            pid = parents.get(pid, 0)
            if pid == os.getpid():
                return True
        return False

    return [pid for pid, name in names.items() if name.startswith(prefix) and mine(pid)]


def test_a_lost_actor_is_replaced_and_its_file_analysed_again(ray_address, music, local, tmp_path):
    """SIGKILL one Ray actor while it works: a new one starts, no file is lost or failed."""
    killed = []

    def kill_one_actor(done, total, name):
        if done == 2 and not killed:
            killed.extend(_descendants_named(b"ray::Analyser")[:1])
            os.kill(killed[0], signal.SIGKILL)

    db = tmp_path / "lost.duckdb"
    with open_index(db) as idx:
        report = cluster.ingest([music], index=idx, workers=2, progress=kill_one_actor,
                                with_models=False)
    assert len(killed) == 1
    assert len(report.added) == N_GOOD and len(report.failed) == N_BAD
    assert crash_harness.differences(crash_harness.snapshot(local[0]),
                                     crash_harness.snapshot(db)) == []


@pytest.fixture
def http_root(music):
    """``music`` served over HTTP on the loopback interface."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(music))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_listing_of_paths_and_urls_is_read_by_the_workers(ray_address, music, local, http_root,
                                                          tmp_path):
    listing = music / "listing.txt"
    listing.write_text("\n".join([
        "# one path or URL per line", "", str(music / "song01.flac"), "sub/song00.wav",
        f"{http_root}/song02.ogg", f"{http_root}/missing.wav", "nowhere.flac", "cover.jpg",
    ]) + "\n")
    with open_index(tmp_path / "listed.duckdb") as idx:
        report = cluster.ingest(index=idx, listing=listing, workers=2, **QUIET)
        stored = dict(idx.con.execute("SELECT source_path, title FROM songs").fetchall())
    assert set(stored) == {str(music / "song01.flac"), str(music / "sub" / "song00.wav"),
                           f"{http_root}/song02.ogg"}
    assert stored[f"{http_root}/song02.ogg"] == "song02"
    failed = dict(report.failed)
    assert set(failed) == {f"{http_root}/missing.wav", str(music / "nowhere.flac"),
                           str(music / "cover.jpg")}
    assert "404" in failed[f"{http_root}/missing.wav"]
    assert "No audio file" in failed[str(music / "nowhere.flac")]
    assert "not an audio file" in failed[str(music / "cover.jpg")]
    # the same content as the local pool's (features keyed by content hash)
    reference = crash_harness.snapshot(local[0])["features"]
    features = crash_harness.snapshot(tmp_path / "listed.duckdb")["features"]
    assert len({song for song, _, _ in features}) == 3 and set(features) <= set(reference)
    assert all(np.allclose(reference[k], v, rtol=1e-5, atol=1e-6, equal_nan=True)
               for k, v in features.items())


def test_local_engine_takes_a_listing_of_paths_and_never_imports_ray(music, tmp_path):
    listing = tmp_path / "one.txt"
    listing.write_text(str(music / "song01.flac") + "\n")
    script = ("import sys; from emolab.cli import main; "
              f"code = main(['ingest', '--from-list', {str(listing)!r}, '--db', "
              f"{str(tmp_path / 'l.duckdb')!r}, '--no-models', '--workers', '1']); "
              "print(code, sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.')))")
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-1] == "0 []"
    assert "1 added" in out.stdout


def test_listings_refuse_urls_for_the_local_engine_and_flag_non_audio(tmp_path):
    listing = tmp_path / "list.txt"
    listing.write_text("a.flac\n  \n# note\nhttps://example.org/b.mp3\nc.txt\na.flac\n")
    assert read_listing(listing) == [str(tmp_path / "a.flac"), "https://example.org/b.mp3",
                                     str(tmp_path / "c.txt")]
    with pytest.raises(ParameterError, match="only '--engine ray' reads URLs"):
        read_listing(listing, urls=False)
    sources, problems = collect([], listing)
    assert sources == [str(tmp_path / "a.flac"), "https://example.org/b.mp3"]
    assert problems == [(str(tmp_path / "c.txt"),
                         "not an audio file (expected .wav, .mp3, .flac or .ogg)")]
