#!/usr/bin/env bash
# Fetch unlabelled game/film soundtracks from Debian packages for VAE pretraining.
#
# Usage: scripts/get_pretraining_audio.sh [CACHE_DIR] [PACKAGE ...]
#   CACHE_DIR defaults to ~/.cache/emolab/pretrain (outside the repository: nothing here
#   is ever committed). Packages are downloaded with `apt-get download` and unpacked with
#   `dpkg-deb -x`, never installed. Prints tracks, minutes and licences per package.
set -euo pipefail

CACHE="${1:-$HOME/.cache/emolab/pretrain}"
shift || true
PACKAGES=("$@")
if [ ${#PACKAGES[@]} -eq 0 ]; then
    # ogg/wav/flac only: ufoai-music (pk3 archive) and warzone2100-music (opus) are not used.
    PACKAGES=(wesnoth-1.16-music singularity-music)
fi
REPO="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-$REPO/.venv/bin/python}"

mkdir -p "$CACHE/debs" "$CACHE/audio"
if [ "${SKIP_APT_UPDATE:-0}" != "1" ]; then
    apt-get update -qq || echo "apt-get update failed; trying with the current package lists" >&2
fi
cd "$CACHE/debs"
for pkg in "${PACKAGES[@]}"; do
    if ! ls "${pkg}"_*.deb >/dev/null 2>&1; then
        apt-get download "$pkg" || { echo "could not download $pkg; skipped" >&2; continue; }
    fi
    if [ ! -d "$CACHE/audio/$pkg" ]; then
        dpkg-deb -x "${pkg}"_*.deb "$CACHE/audio/$pkg"
    fi
done

echo
printf '%-24s %7s %9s  %s\n' package tracks minutes licence
for pkg in "${PACKAGES[@]}"; do
    dir="$CACHE/audio/$pkg"
    [ -d "$dir" ] || continue
    licence=$(grep -h -o -E 'GPL-[23]\+?|CC-BY(-SA)?-[0-9.]+|CC0(-1\.0)?|Attribution-ShareAlike [0-9.]+|common-licenses/GPL(-[23])?' \
              "$dir"/usr/share/doc/*/copyright 2>/dev/null | sed 's|common-licenses/||' | sort -u | paste -sd ',' - || true)
    "$PYTHON" - "$dir" "$pkg" "${licence:-see copyright file}" <<'PY'
import sys
from pathlib import Path
import soundfile as sf
root, pkg, licence = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
seconds, tracks = 0.0, 0
for path in sorted(p for p in root.rglob("*") if p.suffix.lower() in (".ogg", ".wav", ".flac", ".mp3")):
    try:
        seconds += sf.info(str(path)).duration
        tracks += 1
    except RuntimeError:
        pass
print(f"{pkg:<24} {tracks:7d} {seconds / 60:9.1f}  {licence}")
PY
done
echo
echo "Audio is in $CACHE/audio. Pretrain with:"
echo "  python -m emolab pretrain-vae --audio $CACHE/audio"
