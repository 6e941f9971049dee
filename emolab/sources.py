"""Where the audio of a distributed ingest comes from: listing files, paths and URLs.

A listing names one path or URL per line. The driver only lists; each Ray worker opens
what it is given with :func:`read_source` (paths on a filesystem the cluster shares,
``http(s)://`` with the standard library, other schemes through fsspec when installed).
"""
from __future__ import annotations

import importlib.util
import re
import urllib.parse
import urllib.request
from pathlib import Path, PurePosixPath

from emolab import audio
from emolab.config import AudioLimits
from emolab.exceptions import ParameterError
from emolab.ingest import find_audio_files

#: Seconds a URL may take to answer (and between two received blocks).
URL_TIMEOUT = 60.0
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_url(source: str) -> bool:
    """Whether ``source`` is a URL (``scheme://...``) rather than a path."""
    return bool(_SCHEME.match(str(source)))


def source_name(source: str) -> str:
    """The file name of a path or URL (for titles and messages)."""
    if is_url(source):
        return PurePosixPath(urllib.parse.unquote(urllib.parse.urlparse(source).path)).name
    return Path(source).name


def read_listing(path, *, urls: bool = True) -> list[str]:
    """The entries of a listing file: one path or URL per line.

    Blank lines and lines starting with ``#`` are skipped; a relative path is relative to
    the listing's folder. Paths are not checked here: on a cluster the driver may not see
    the files its workers read.

    Parameters
    ----------
    path : path
        The listing file (UTF-8 text).
    urls : bool
        Accept URLs (the Ray engine); when False a URL is refused with a sentence.

    Returns
    -------
    list of str
        Absolute paths and URLs, in file order, each once.
    """
    listing = Path(path)
    try:
        text = listing.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ParameterError(f"The listing '{listing}' could not be read ({exc}).") from None
    entries = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if is_url(line):
            if not urls:
                raise ParameterError(f"The listing '{listing.name}' holds URLs ({line}); only "
                                     "'--engine ray' reads URLs.")
            entries.append(line)
        else:
            entries.append(str((listing.parent / Path(line).expanduser()).resolve()))
    return list(dict.fromkeys(entries))


def collect(paths=(), listing=None) -> tuple[list[str], list[tuple[str, str]]]:
    """Files to analyse: ``paths`` expanded like the local ingest, then the listing's entries.

    Returns ``(sources, problems)``; a listed entry without an audio extension is a problem.
    """
    files, problems = find_audio_files(paths)
    sources = [str(p) for p in files]
    for entry in read_listing(listing) if listing is not None else []:
        if not is_url(entry) and Path(entry).is_dir():
            found, more = find_audio_files([entry])
            sources += [str(p) for p in found]
            problems += more
        elif PurePosixPath(source_name(entry)).suffix.lower() in audio.AUDIO_EXTENSIONS:
            sources.append(entry)
        else:
            problems.append((entry, "not an audio file (expected .wav, .mp3, .flac or .ogg)"))
    return list(dict.fromkeys(sources)), problems


def read_source(source: str, *, max_bytes: int | None = None) -> bytes:
    """The bytes of a path or URL, refusing what is empty or too big.

    Paths and ``file://`` URLs are read directly, ``http(s)://`` with the standard
    library; any other scheme (``s3://``, ``gs://`` ...) through fsspec, which must be
    installed where this runs together with the package for that scheme (e.g. s3fs).
    """
    if not is_url(source):
        return audio.read_bytes(source, max_bytes=max_bytes)
    parsed = urllib.parse.urlparse(source)
    scheme = parsed.scheme.lower()
    if scheme == "file":
        return audio.read_bytes(urllib.request.url2pathname(parsed.path), max_bytes=max_bytes)
    limit = max_bytes or AudioLimits().max_bytes
    try:
        if scheme in ("http", "https"):
            with urllib.request.urlopen(source, timeout=URL_TIMEOUT) as response:
                data = response.read(limit + 1)
        else:
            fsspec = _fsspec_for(scheme)
            with fsspec.open(source, "rb") as handle:
                data = handle.read(limit + 1)
    except (OSError, ValueError) as exc:  # URLError, HTTPError, timeouts, missing objects
        raise ParameterError(f"'{source}' could not be read ({exc}).") from None
    return audio.read_bytes(data, max_bytes=limit)


def _fsspec_for(scheme: str):
    """fsspec, once it is known to open ``scheme://`` here; otherwise say what to install."""
    if importlib.util.find_spec("fsspec") is None:
        raise ParameterError(f"Reading {scheme}:// URLs needs the Python package fsspec (and the "
                             "one for that storage, e.g. s3fs) on every Ray worker.")
    import fsspec

    known = fsspec.registry.known_implementations.get(scheme)
    if known is None and scheme not in fsspec.registry.registry:
        raise ParameterError(f"EmoLab cannot read {scheme}:// URLs (fsspec does not know them).")
    package = (known or {}).get("class", "fsspec").split(".")[0]
    if importlib.util.find_spec(package) is None:
        raise ParameterError(f"Reading {scheme}:// URLs needs the Python package '{package}' "
                             "on every Ray worker.")
    return fsspec
