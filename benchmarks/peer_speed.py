"""Speed side by side with VibeNet, same machine, same run (issue 11, Deliver 6).

Usage::

    .venv/bin/python benchmarks/peer_speed.py [--folder ../shared/data/emotify/emotifymusic]
        [--songs 20] [--long FILE] [--workers 2] [--rounds 2] [--extractor fast]
        [--venv ~/.cache/emolab/vibenet-venv] [--python python3.12]

Three comparisons, each timed from outside as wall time of whole processes (interpreter
start, imports, model loading, decoding, everything), the two tools alternating in ABBA
order (``--rounds`` pairs) so that the shared machine's load hits both alike:

1. **ingest**: ``python -m emolab ingest FOLDER --db FRESH --workers N`` (features, static
   and dynamic predictions, DuckDB writes; a fresh index every time) against one VibeNet
   process predicting every file of the same folder (``model.predict(path)`` per file).
   The folder holds ``--songs`` clips of real music, taken round-robin over the
   sub-folders (Emotify: classical, electronic, pop, rock; ~1 min each), linked into a
   temp folder so both tools read the very same files.
2. **cold analyze**: ``python -m emolab analyze LONG --json`` against one VibeNet process
   that loads its model and predicts ``LONG`` once. ``LONG`` defaults to the
   pretraining-audio track closest to 4 minutes (``~/.cache/emolab/pretrain/audio``).
3. **warm analysis**: one :class:`emolab.worker.AnalysisWorker` (the app's path: the
   time-limited child, models loaded) analyses ``LONG`` once untimed, then ``--repeats``
   times timed (bytes sent to the child, decoded, analysed, the result sent back).

Targets (2 cores): ingest wall-time ratio EmoLab/VibeNet <= 1.0; cold analyze <= 1.5;
warm analysis of a 4-minute song <= 1 s. The machine's load (``os.getloadavg``) is printed
beside the figures: compare the tools within a run, not across runs.

VibeNet (PyPI ``vibenet`` 0.1.0, GPL-3.0) lives in its own venv outside the repository and
is never a dependency of EmoLab (see ``benchmarks/peer_vibenet.py``, whose venv helpers
this script reuses).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from peer_vibenet import VIBENET_VERSION, ensure_venv  # noqa: E402

AUDIO_EXTENSIONS = (".mp3", ".wav", ".flac", ".ogg")

VIBENET_BATCH = r"""
import sys
from importlib import resources
from pathlib import Path
weights = resources.files("vibenet.artifacts") / "efficientnet_model.onnx"
if not weights.is_file():
    sys.exit("vibenet ships no ONNX weights here; refusing to let it download any")
import vibenet
model = vibenet.load_model()
paths = sorted(p for p in Path(sys.argv[1]).iterdir()) if Path(sys.argv[1]).is_dir() else [Path(sys.argv[1])]
for path in paths:
    model.predict(str(path))
print(len(paths))
"""


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f} / {five:.1f} / {fifteen:.1f}"


def pick_songs(folder: Path, n: int) -> list[Path]:
    """``n`` audio files, round-robin over the sub-folders (sorted names), deterministic."""
    groups = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix.lower() in AUDIO_EXTENSIONS:
            groups.setdefault(path.parent, []).append(path)
    if not groups:
        sys.exit(f"No audio files under {folder}.")
    columns = [sorted(files, key=lambda p: (len(p.stem), p.stem)) for _, files in sorted(groups.items())]
    picked = []
    for row in range(max(map(len, columns))):
        picked += [files[row] for files in columns if row < len(files)]
    return picked[:n]


def longest_near(seconds: float) -> Path:
    """The pretraining-audio track whose length is closest to ``seconds``."""
    import soundfile as sf

    root = Path("~/.cache/emolab/pretrain/audio").expanduser()
    tracks = sorted(root.rglob("*.ogg"))
    if not tracks:
        sys.exit(f"No pretraining audio under {root} (run scripts/get_pretraining_audio.sh) or pass --long.")
    return min(tracks, key=lambda p: (abs(sf.info(str(p)).duration - seconds), str(p)))


def wall(cmd: list[str], **kwargs) -> float:
    """Seconds for ``cmd`` to run to completion (it must succeed)."""
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return seconds


def abba(rounds: int, first, second) -> tuple[list[float], list[float]]:
    """Alternate two timed runs A B B A ...; returns both lists of seconds."""
    a, b = [], []
    for r in range(rounds):
        order = (first, second) if r % 2 == 0 else (second, first)
        for fn in order:
            (a if fn is first else b).append(fn())
    return a, b


def emolab_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "emolab", *args]


def env() -> dict:
    out = dict(os.environ)
    out["PYTHONPATH"] = str(REPO) + (os.pathsep + out["PYTHONPATH"] if out.get("PYTHONPATH") else "")
    return out


def warm_analysis(path: Path, repeats: int, extractor: str) -> tuple[list[float], dict]:
    from emolab.worker import AnalysisWorker

    data = path.read_bytes()
    with AnalysisWorker(extractor=extractor) as worker:
        first = worker.analyse(data, name=path.name)  # models loaded, kernels warm
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            worker.analyse(data, name=path.name)
            times.append(time.perf_counter() - start)
    return times, {"duration": first.duration, "static": first.static is not None,
                   "dynamic": first.dynamic is not None, "stages": stages(data, extractor)}


def stages(data: bytes, extractor: str) -> dict:
    """Seconds of each stage of one warm analysis, in this process (best of three), set up as
    the analysis child is (:func:`emolab.worker.tune_memory`, one BLAS thread, the models'
    numpy form and the boosted trees' compiled walk, as :func:`emolab.worker._load_models`). Stages run one after the other here; ``pipeline.analyse`` overlaps the tonal
    pass with the DEAM features and decodes long files in two threads, and the DEAM features
    run the pitch chain in threads beside the rest (one thread where ``threadpool_limits`` does
    not reach: numba's and the chain's own threads follow the machine's cores)."""
    from threadpoolctl import threadpool_limits

    from emolab import audio, pipeline, predict
    from emolab.features import tonal
    from emolab.models.valence import EXCERPT_S
    from emolab.worker import _load_models, tune_memory

    tune_memory()
    models = _load_models(None)
    out = {}

    def timed(name, fn):
        best = None
        for _ in range(3):
            start = time.perf_counter()
            value = fn()
            best = min(best or 1e9, time.perf_counter() - start)
        out[name] = round(best, 3)
        return value

    with threadpool_limits(1):
        clip = timed("decode", lambda: audio.decode(data, sr=None))
        columns, frames, vector = timed("DEAM features", lambda: pipeline.deam_features(
            clip.y, clip.sr, extractor=extractor))
        tonal_vector = timed("tonal pass (4Q valence stage, middle 12 s)", lambda: tonal.tonal_vector(
            audio.middle_excerpt(clip.y, clip.sr, EXCERPT_S), clip.sr))
        if models.static is not None:
            timed("static model + valence stage", lambda: predict.predict_static(
                clip.y, clip.sr, model=models.static, deam_vector=vector, tonal_vector=tonal_vector))
        if models.dynamic is not None:
            timed("dynamic curve (windowed static model)", lambda: predict.predict_dynamic_band(
                clip.y, clip.sr, model=models.dynamic, extractor=extractor, frames=(columns, frames)))
        timed("whole analysis (pipeline.analyse)", lambda: pipeline.analyse(data, models=models, extractor=extractor))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", type=Path, default=REPO.parent / "shared" / "data" / "emotify" / "emotifymusic")
    parser.add_argument("--songs", type=int, default=20)
    parser.add_argument("--long", type=Path, default=None, help="the ~4-minute file (default: see above)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2, help="timed runs of each tool per comparison")
    parser.add_argument("--repeats", type=int, default=3, help="timed warm analyses")
    parser.add_argument("--extractor", default="fast", choices=("fast", "opensmile"))
    parser.add_argument("--venv", type=Path, default=Path("~/.cache/emolab/vibenet-venv").expanduser())
    parser.add_argument("--python", default="python3.12", help="interpreter for a new VibeNet venv")
    parser.add_argument("--skip", default="", help="comma-separated: ingest,cold,warm")
    args = parser.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))

    vibenet = ensure_venv(args.venv.expanduser(), args.python)
    long = args.long or longest_near(240.0)
    rows = []
    print(f"load at start: {load()}  (VibeNet {VIBENET_VERSION}, EmoLab extractor '{args.extractor}', "
          f"{os.cpu_count()} cores)", flush=True)

    with tempfile.TemporaryDirectory(prefix="emolab-peer-speed-") as tmp:
        tmp = Path(tmp)
        if "ingest" not in skip:
            folder = tmp / "music"
            folder.mkdir()
            songs = pick_songs(args.folder, args.songs)
            for i, song in enumerate(songs):
                (folder / f"{i:03d}-{song.parent.name}-{song.name}").symlink_to(song.resolve())
            import soundfile as sf

            minutes = sum(sf.info(str(s)).duration for s in songs) / 60
            counter = iter(range(1000))

            def emolab_ingest():
                db = tmp / f"fresh{next(counter)}.duckdb"
                return wall(emolab_cmd("ingest", str(folder), "--db", str(db), "--workers", str(args.workers),
                                       "--extractor", args.extractor), env=env(), cwd=tmp)

            def vibenet_batch():
                return wall([str(vibenet), "-c", VIBENET_BATCH, str(folder)], cwd=tmp)

            before = load()
            e, v = abba(args.rounds, emolab_ingest, vibenet_batch)
            rows.append(("ingest", f"{len(songs)} files, {minutes:.1f} min of audio", e, v, 1.0, before, load(),
                         minutes))
            print(f"ingest: EmoLab {e} VibeNet {v}", flush=True)

        if "cold" not in skip:
            def emolab_cold():
                return wall(emolab_cmd("analyze", str(long), "--json", "--extractor", args.extractor),
                            env=env(), cwd=tmp)

            def vibenet_cold():
                return wall([str(vibenet), "-c", VIBENET_BATCH, str(long)], cwd=tmp)

            import soundfile as sf

            minutes = sf.info(str(long)).duration / 60
            before = load()
            e, v = abba(args.rounds, emolab_cold, vibenet_cold)
            rows.append(("cold analyze", f"'{long.name}', {minutes:.1f} min", e, v, 1.5, before, load(), minutes))
            print(f"cold: EmoLab {e} VibeNet {v}", flush=True)

    warm = None
    if "warm" not in skip:
        before = load()
        times, info = warm_analysis(long, args.repeats, args.extractor)
        warm = (times, info, before, load())
        print(f"warm: {times} {info}", flush=True)

    print("\n| comparison | material | EmoLab s (each run) | VibeNet s (each run) | ratio of medians "
          "| target | × real time EmoLab / VibeNet | load before → after |")
    print("|---|---|---|---|---:|---|---|---|")
    for name, material, e, v, target, before, after, minutes in rows:
        ratio = statistics.median(e) / statistics.median(v)
        verdict = "met" if ratio <= target else "**missed**"
        print(f"| {name} | {material} | {', '.join(f'{x:.1f}' for x in e)} | {', '.join(f'{x:.1f}' for x in v)} "
              f"| {ratio:.2f} | ≤ {target:g} — {verdict} | {60 * minutes / statistics.median(e):.0f}× / "
              f"{60 * minutes / statistics.median(v):.0f}× | {before} → {after} |")
    if warm is not None:
        times, info, before, after = warm
        best, median = min(times), statistics.median(times)
        verdict = "met" if median <= 1.0 else "**missed**"
        print(f"\nwarm analysis of '{long.name}' ({info['duration'] / 60:.1f} min; static "
              f"{'yes' if info['static'] else 'no'}, dynamic {'yes' if info['dynamic'] else 'no'}): "
              f"median {median:.2f} s, best {best:.2f} s of {len(times)} — target ≤ 1 s: {verdict} "
              f"(load {before} → {after})")
        print("in-process stages, best of three (s): " + ", ".join(f"{k} {v}" for k, v in info["stages"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
