"""EmoLab against VibeNet (the open peer) on every clip with human emotion labels.

Usage::

    .venv/bin/python benchmarks/peer_vibenet.py [--data /work/shared/data]
        [--python python3.12] [--venv ~/.cache/emolab/vibenet-venv] [--no-doc]

VibeNet (PyPI ``vibenet`` 0.1.0, GPL-3.0, an EfficientNet in ONNX) is never a
dependency of EmoLab: it is installed into its own virtual environment outside the
repository (made on first use with ``python3.12 -m venv`` and
``pip install vibenet==0.1.0``) and driven through a small subprocess that reads one
audio path per line on stdin and answers one JSON line. Its weights ship inside the
wheel (``vibenet/artifacts/efficientnet_model.onnx``); the runner refuses to start
without them, so nothing is downloaded at run time.

Both tools see the same clips in the same run, interleaved clip by clip so that the
load of the shared machine hits both alike. Model loading is timed apart; each tool
first analyses one clip untimed (warm-up), then every clip is timed from its path
(decoding included) to valence/arousal. EmoLab: ``audio.load`` +
``predict.predict_static`` (static valence/arousal on [-1, 1]). VibeNet:
``model.predict(path)`` (valence and energy on [0, 1]).

Human labels:

* emoMusic (10 clips): static means on 1–9 from ``annotations/static_annotations.csv``,
  mapped to [-1, 1] by ``(x - 5) / 4``.
* PMEmo (4 clips): ``emolab.datasets.read_pmemo`` (static means on [-1, 1]).
* Emotify (40 clips): no valence/arousal ratings, only GEMS felt-emotion votes. Per
  track, each category's share of the participants who ticked it; then
  valence-like = share(joyful_activation) - share(sadness),
  arousal-like = mean share(joyful_activation, tension, power)
  - mean share(calmness, tenderness). (This ``data.csv`` has no peacefulness column.)

Accuracy: Pearson and Spearman r of valence with valence, and of arousal with arousal
(EmoLab arousal, VibeNet energy), per dataset and pooled over emoMusic + PMEmo.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "benchmarks.md"
SECTION = "## Peer: VibeNet"
VIBENET_VERSION = "0.1.0"

EMOTIFY_GENRE_OFFSET = {"classical": 0, "rock": 100, "electronic": 200, "pop": 300}
EMOTIFY_VALENCE = (("joyful_activation",), ("sadness",))
EMOTIFY_AROUSAL = (("joyful_activation", "tension", "power"), ("calmness", "tenderness"))

RUNNER = r"""
import json, sys, time
from importlib import resources
t0 = time.perf_counter()
weights = resources.files("vibenet.artifacts") / "efficientnet_model.onnx"
if not weights.is_file():
    sys.exit("vibenet ships no ONNX weights here; refusing to let it download any")
import vibenet
model = vibenet.load_model()
print(json.dumps({"load_s": time.perf_counter() - t0, "weights": str(weights)}), flush=True)
for line in sys.stdin:
    path = line.rstrip("\n")
    t = time.perf_counter()
    out = model.predict(path)[0].to_dict()
    out["seconds"] = time.perf_counter() - t
    print(json.dumps(out), flush=True)
"""


# ----------------------------------------------------------------------------- VibeNet side
def find_python312(requested: str) -> str:
    """The interpreter for the VibeNet venv: ``requested`` if it runs, else a pyenv 3.12."""
    candidates = [requested, *sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3.12")))]
    for candidate in candidates:
        exe = shutil.which(candidate) or candidate
        ok = subprocess.run([exe, "-c", "import sys; assert sys.version_info >= (3, 12)"],
                            capture_output=True).returncode == 0 if Path(exe).exists() else False
        if ok:
            return exe
    sys.exit(f"No working Python >= 3.12 found (tried {candidates}); pass --python.")


def ensure_venv(venv: Path, python: str) -> Path:
    """Create the VibeNet venv outside the repo if needed; return its interpreter."""
    exe = venv / "bin" / "python"
    if REPO in venv.resolve().parents:
        sys.exit("The VibeNet venv must live outside the EmoLab repository.")
    if not exe.exists():
        subprocess.run([find_python312(python), "-m", "venv", str(venv)], check=True)
    installed = subprocess.run([str(exe), "-m", "pip", "show", "vibenet"], capture_output=True, text=True)
    if f"Version: {VIBENET_VERSION}" not in installed.stdout:
        subprocess.run([str(exe), "-m", "pip", "install", "-q", f"vibenet=={VIBENET_VERSION}"], check=True)
    return exe


class VibeNet:
    """VibeNet in its own process: one path in, one JSON line out."""

    def __init__(self, python: Path):
        started = time.perf_counter()
        self.proc = subprocess.Popen([str(python), "-c", RUNNER], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, bufsize=1)
        header = json.loads(self._line())
        self.load_s = header["load_s"]
        self.start_s = time.perf_counter() - started  # includes interpreter + onnxruntime import
        self.weights = header["weights"]

    def _line(self) -> str:
        line = self.proc.stdout.readline()
        if not line:
            sys.exit(f"The VibeNet process stopped (exit code {self.proc.poll()}).")
        return line

    def predict(self, path: str) -> dict:
        self.proc.stdin.write(path + "\n")
        return json.loads(self._line())

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


# ----------------------------------------------------------------------------- EmoLab side
def load_emolab(retries: int = 5):
    """The shipped static model; retried because it may be being rewritten by training."""
    from emolab import predict

    for attempt in range(retries):
        models = predict.load_models()
        if models.static is not None:
            return models.static
        print(f"static model not loadable ({models.static_error}); retrying in 60 s", file=sys.stderr)
        time.sleep(60)
    sys.exit("EmoLab's static model could not be loaded.")


def emolab_predict(path: str, model) -> dict:
    from emolab import audio, predict

    started = time.perf_counter()
    clip = audio.load(path, sr=None)
    out = predict.predict_static(clip.y, clip.sr, model=model)
    return {"valence": out["valence"], "arousal": out["arousal"], "seconds": time.perf_counter() - started}


# ----------------------------------------------------------------------------- human labels
def emomusic_clips(root: Path) -> pd.DataFrame:
    labels = pd.read_csv(root / "annotations" / "static_annotations.csv")
    labels.columns = [c.strip() for c in labels.columns]
    clips = sorted((root / "clips_45seconds_mp3").glob("*.mp3"), key=lambda p: int(p.stem))
    rows = labels.set_index("song_id").loc[[int(p.stem) for p in clips]]
    return pd.DataFrame({
        "dataset": "emoMusic", "name": [p.stem for p in clips], "path": [str(p) for p in clips],
        "valence": ((rows["mean_valence"] - 5) / 4).to_numpy(),
        "arousal": ((rows["mean_arousal"] - 5) / 4).to_numpy(),
    })


def pmemo_clips(root: Path) -> pd.DataFrame:
    from emolab.datasets import read_pmemo

    tables = read_pmemo(root)
    songs = tables.songs.dropna(subset=["audio_path"])
    merged = songs.merge(tables.static, on="dataset_id").dropna(subset=["valence", "arousal"])
    return pd.DataFrame({
        "dataset": "PMEmo", "name": merged["dataset_id"].astype(str), "path": merged["audio_path"],
        "valence": merged["valence"].to_numpy(), "arousal": merged["arousal"].to_numpy(),
    })


def emotify_targets(votes: pd.DataFrame) -> pd.DataFrame:
    """Per-track GEMS vote shares turned into valence-like and arousal-like scores."""
    shares = votes.groupby("track id").mean(numeric_only=True)

    def contrast(high, low):
        return shares[list(high)].mean(axis=1) - shares[list(low)].mean(axis=1)

    return pd.DataFrame({"valence": contrast(*EMOTIFY_VALENCE), "arousal": contrast(*EMOTIFY_AROUSAL)})


def emotify_clips(root: Path) -> pd.DataFrame:
    votes = pd.read_csv(root / "data.csv", skipinitialspace=True)
    votes.columns = [c.strip() for c in votes.columns]
    targets = emotify_targets(votes)
    rows = []
    for path in sorted((root / "emotifymusic").glob("*/*.mp3")):
        track = int(path.stem) + EMOTIFY_GENRE_OFFSET[path.parent.name]
        rows.append({"dataset": "Emotify", "name": f"{path.parent.name}/{path.stem}", "path": str(path),
                     "valence": targets.loc[track, "valence"], "arousal": targets.loc[track, "arousal"]})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- metrics
def correlations(truth: np.ndarray, pred: np.ndarray) -> dict:
    n = len(truth)
    pearson = stats.pearsonr(truth, pred).statistic
    half_width = 1.96 / np.sqrt(n - 3) if n > 3 else np.inf
    low, high = np.tanh(np.arctanh(np.clip(pearson, -0.999999, 0.999999)) + np.array([-half_width, half_width]))
    return {"n": n, "pearson": pearson, "ci": (low, high), "spearman": stats.spearmanr(truth, pred).statistic}


def accuracy_table(results: pd.DataFrame) -> list[dict]:
    groups = [(name, results[results.dataset == name]) for name in ("emoMusic", "PMEmo")]
    groups.append(("emoMusic + PMEmo", results[results.dataset.isin(["emoMusic", "PMEmo"])]))
    groups.append(("Emotify (GEMS votes)", results[results.dataset == "Emotify"]))
    rows = []
    for name, part in groups:
        if len(part) < 3:
            continue
        for target, vibenet_column in (("valence", "vibenet_valence"), ("arousal", "vibenet_energy")):
            rows.append({"data": name, "target": target,
                         "emolab": correlations(part[target].to_numpy(), part[f"emolab_{target}"].to_numpy()),
                         "vibenet": correlations(part[target].to_numpy(), part[vibenet_column].to_numpy())})
    return rows


def markdown(rows: list[dict], timing: dict) -> str:
    def cell(c):
        return f"{c['pearson']:+.2f} [{c['ci'][0]:+.2f}, {c['ci'][1]:+.2f}] / {c['spearman']:+.2f}"

    lines = ["| data | human target | n | EmoLab Pearson [95 % CI] / Spearman | VibeNet Pearson [95 % CI] / Spearman |",
             "|---|---|---|---|---|"]
    for row in rows:
        vibenet_target = "energy" if row["target"] == "arousal" else "valence"
        lines.append(f"| {row['data']} | {row['target']} (VibeNet: {vibenet_target}) | {row['emolab']['n']} "
                     f"| {cell(row['emolab'])} | {cell(row['vibenet'])} |")
    lines += ["", "| tool | model load s | s per clip, median | s per clip, mean | s per clip, max | clips |",
              "|---|---|---|---|---|---|"]
    for tool, t in timing.items():
        lines.append(f"| {tool} | {t['load_s']:.2f} | {t['median']:.3f} | {t['mean']:.3f} | {t['max']:.3f} "
                     f"| {t['n']} |")
    return "\n".join(lines)


def timing_summary(seconds: np.ndarray, load_s: float) -> dict:
    return {"load_s": load_s, "median": float(np.median(seconds)), "mean": float(np.mean(seconds)),
            "max": float(np.max(seconds)), "n": len(seconds)}


# ----------------------------------------------------------------------------- doc
def doc_section(table: str, command: str, load_avg: str, clip_seconds: float) -> str:
    return f"""{SECTION}

Command (on the shared 2-core machine, other helpers' jobs running; load average at the
start of the run {load_avg}):

    {command}

VibeNet {VIBENET_VERSION} (PyPI, GPL-3.0; EfficientNet in ONNX, weights shipped in the
wheel, nothing downloaded) runs in its own venv outside the repository
(`~/.cache/emolab/vibenet-venv`, Python 3.12) through a subprocess; it is not, and must
not become, a dependency of EmoLab. Both tools see the same clips in the same run,
interleaved clip by clip; each tool analyses one clip untimed first, then each clip is
timed from its file path (decoding included) to the prediction. EmoLab: `audio.load` +
`predict.predict_static` (the shipped static model in `data/models/static`). VibeNet:
`model.predict(path)`; its ONNX session uses onnxruntime's default threads (VibeNet 0.1.0
builds single-thread session options but does not pass them on). Clips are 42–60 s long
(mean {clip_seconds:.0f} s).

> **EmoLab's emoMusic figures are optimistic.** The emoMusic songs are also in DEAM,
> and EmoLab's static model was trained on DEAM, so these 10 clips (or the same songs)
> were in its training data. (VibeNet was trained on Free Music Archive tracks with
> Echonest labels, and emoMusic's songs come from the Free Music Archive, so it may have
> heard some of them too, with other labels.) PMEmo and Emotify are not in DEAM: they
> are the fairer comparison, but with n = 4 and n = 40 (proxy targets) only.

Human targets: emoMusic static means (1–9 → [-1, 1]); PMEmo static means (the
authors' per-song JSON, [-1, 1]); Emotify has **no valence/arousal ratings**, only GEMS
felt-emotion votes, so per track the share of participants ticking each category gives
valence-like = share(joyful activation) − share(sadness) and arousal-like = mean
share(joyful activation, tension, power) − mean share(calmness, tenderness) (this
`data.csv` has no peacefulness column). These are derived, felt-emotion proxies, not
ratings. VibeNet's *energy* is compared with human arousal. The CI is the Fisher-z 95 %
interval of Pearson r.

{table}

Caveats:

* Tiny samples: n = 10 / 4 / 14 / 40. With n = 4 a Pearson r has almost no meaning (the
  interval spans nearly [-1, 1]); with n = 10 the intervals are wide too. Differences
  between the tools smaller than the intervals are not evidence of anything.
* Pooling emoMusic with PMEmo mixes two rating scales and rater pools.
* Timings are from a loaded machine and vary run to run; compare the two tools within a
  run, not across runs.
* The audio is research-only (see each dataset's PROVENANCE.md) and is not in the
  repository.
"""


def write_section(text: str, path: Path = DOC) -> None:
    doc = path.read_text() if path.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(doc):
        doc = pattern.sub(lambda _: text.rstrip() + "\n\n", doc, count=1).rstrip() + "\n"
    else:
        doc = doc.rstrip() + "\n\n" + text.rstrip() + "\n"
    path.write_text(doc)


# ----------------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    parser.add_argument("--python", default="python3.12", help="interpreter for the VibeNet venv (>= 3.12)")
    parser.add_argument("--venv", type=Path, default=Path("~/.cache/emolab/vibenet-venv").expanduser())
    parser.add_argument("--csv", type=Path, help="also write the per-clip predictions here")
    parser.add_argument("--no-doc", action="store_true", help=f"do not write the '{SECTION}' section")
    args = parser.parse_args()

    clips = pd.concat([emomusic_clips(args.data / "emomusic"), pmemo_clips(args.data / "pmemo"),
                       emotify_clips(args.data / "emotify")], ignore_index=True)
    load_avg = "{:.1f} / {:.1f} / {:.1f}".format(*os.getloadavg())

    vibenet = VibeNet(ensure_venv(args.venv, args.python))
    started = time.perf_counter()
    model = load_emolab()
    emolab_load = time.perf_counter() - started
    print(f"loaded: EmoLab static model {emolab_load:.2f} s; VibeNet {vibenet.load_s:.2f} s "
          f"({vibenet.start_s:.2f} s with the process start); weights {vibenet.weights}", file=sys.stderr)

    vibenet.predict(clips.path[0])  # warm-up, untimed
    emolab_predict(clips.path[0], model)
    rows = []
    for i, clip in clips.iterrows():
        v = vibenet.predict(clip.path)
        e = emolab_predict(clip.path, model)
        rows.append({"vibenet_valence": v["valence"], "vibenet_energy": v["energy"], "vibenet_s": v["seconds"],
                     "emolab_valence": e["valence"], "emolab_arousal": e["arousal"], "emolab_s": e["seconds"]})
        print(f"{i + 1}/{len(clips)} {clip.dataset} {clip['name']}: EmoLab {e['seconds']:.2f} s, "
              f"VibeNet {v['seconds']:.2f} s", file=sys.stderr)
    vibenet.close()
    results = pd.concat([clips, pd.DataFrame(rows)], axis=1)
    if args.csv:
        results.to_csv(args.csv, index=False)

    timing = {"EmoLab (static)": timing_summary(results.emolab_s.to_numpy(), emolab_load),
              f"VibeNet {VIBENET_VERSION}": timing_summary(results.vibenet_s.to_numpy(), vibenet.load_s)}
    table = markdown(accuracy_table(results), timing)
    print(table)
    if not args.no_doc:
        import soundfile as sf

        clip_seconds = float(np.mean([sf.info(p).duration for p in clips.path]))
        command = " ".join([".venv/bin/python benchmarks/peer_vibenet.py", *sys.argv[1:]])
        write_section(doc_section(table, command, load_avg, clip_seconds))
        print(f"wrote the '{SECTION}' section of {DOC}", file=sys.stderr)


if __name__ == "__main__":
    main()
