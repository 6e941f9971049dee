"""CPU cost of the pitch chain (emolab.features.pitch) against openSMILE's, same file, same run.

    .venv/bin/python benchmarks/pitch_speed.py [FILE] [--repeat 3] [--settings '{"hop": 2}']

FILE defaults to ``weight_of_revenge.ogg`` of the pretraining corpus (4 min,
``~/.cache/emolab/pretrain/audio``). Decoding is excluded; each figure is the smallest
``time.process_time`` of ``--repeat`` runs in one process, per minute of audio:

* the fast extractor's 55 columns (everything but the pitch chain), and all 67;
* the pitch chain, exact (openSMILE's configuration) and default (``pitch.FAST``, updated by
  ``--settings``), by stage:
  F0 candidates (60 ms FFTs, octave-scale spectrum, subharmonic summation), Viterbi,
  jitter/shimmer/HNR (the coarse-to-fine period search in the default); and
  ``pitch_llds`` whole (both include the 16-bit conversion and smoothing);
* openSMILE's pitch and voice-quality groups on the same audio (the reference cost);
* the one-off import of the numba kernels (cached machine code).

Target: the (default) pitch chain at most 0.15 CPU s per minute of audio (issue 11); read the ratio to
openSMILE's, which shares the machine's load.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def best(fn, repeat):
    times = []
    for _ in range(repeat):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return min(times)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", default=None)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--settings", default="{}",
                        help='JSON overriding pitch.FAST for the "default" rows, e.g. \'{"hop": 2}\'')
    args = parser.parse_args(argv)
    path = Path(args.file) if args.file else next(
        Path("~/.cache/emolab/pretrain/audio").expanduser().rglob("weight_of_revenge.ogg"))

    from emolab import audio
    from emolab.features import deam, deam_fast, pitch

    sound = audio.load(path, sr=None)
    y = np.clip(audio.mono_at_rate(sound.y, sound.sr, target_sr=44100, min_seconds=1.0), -1.0, 32767 / 32768)
    y = np.trunc(y.astype(np.float64) * 32768.0) / 32768.0
    n = (y.size - 2646) // 441 + 1
    minutes = y.size / 44100 / 60

    start = time.process_time()
    from emolab.features import pitch_kernels, voice_kernels
    kernels_import = time.process_time() - start
    pitch.pitch_llds(y[:441 * 400], 300)          # first calls: load the cached machine code
    pitch.pitch_llds(y[:441 * 400], 300, exact=True)

    wave = (np.round(y * 32768.0).astype(np.float32) / np.float32(32767.0))

    variants = {"exact": {"hop": 1, "bins": None, "points": None, "coarse": 1, "peaks": 0},
                "default": {**pitch.FAST, **json.loads(args.settings)}}
    rows = [("fast extractor, 55 columns", best(lambda: deam_fast.raw_frames(sound.y, sound.sr), args.repeat))]
    chains = {}
    for label, f in variants.items():
        state = {}
        m = (n + f["hop"] - 1) // f["hop"]

        def candidates():
            state["cand"] = pitch.pitch_candidates(wave, m, step=441 * f["hop"], bins=f["bins"], points=f["points"])

        def viterbi():
            f0, voicing, _ = state["cand"]
            state["states"] = pitch_kernels.viterbi_states(f0, voicing, float(np.float32(0.7)), 30)

        def voice_quality():
            f0, _, rms = state["cand"]
            states = state["states"]
            track = np.where((states < 6) & (rms > 0.001), f0[np.arange(m), np.minimum(states, 5)], 0.0)
            c = f["coarse"]
            coarse = wave[:wave.size // c * c].reshape(-1, c).mean(axis=1, dtype=np.float32)
            voice_kernels.voice_quality(wave, track.astype(np.float32), 0.25, 44100.0, 441.0 * f["hop"], 2646,
                                        coarse, c, f["peaks"], 0, m, np.zeros((m, 4)))

        stages = [(f"pitch {label}: F0 candidates", best(candidates, args.repeat)),
                  (f"pitch {label}: Viterbi", best(viterbi, args.repeat)),
                  (f"pitch {label}: jitter, shimmer, HNR", best(voice_quality, args.repeat))]
        rows += stages
        chains[label] = best(lambda: pitch.pitch_llds(y, n, exact=label == "exact", settings=f), args.repeat)
        rows.append((f"pitch {label}: pitch_llds, all 6 contours", chains[label]))
    rows.append(("fast extractor, 67 columns (55 + pitch)", best(
        lambda: deam_fast.raw_frames(sound.y, sound.sr, columns=deam_fast.FAST_PITCH_COLUMNS), args.repeat)))
    smile = best(lambda: deam.opensmile_llds(sound.y, sound.sr, groups=("pitch", "voice_quality")),
                 max(1, args.repeat - 1))
    rows.append(("openSMILE pitch + voice-quality groups", smile))
    print(f"{path.name}: {minutes:.2f} min of audio; CPU s per minute of audio (min of {args.repeat} runs)")
    for name, seconds in rows:
        print(f"  {name:42s} {seconds / minutes:6.3f}")
    print(f"  exact / default chain: {chains['exact'] / chains['default']:.1f}x; openSMILE / default chain: "
          f"{smile / chains['default']:.1f}x; numba kernels import (once per process): {kernels_import:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
