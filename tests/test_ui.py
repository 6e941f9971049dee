"""The Streamlit adapter's upload handling: limits, names that never become paths, no leftovers."""
from __future__ import annotations

import io
import tomllib
from pathlib import Path

import pytest

from emolab import ui
from emolab.config import MAX_FILE_BYTES
from emolab.exceptions import AudioTooLongError, EmptyAudioError

ROOT = Path(__file__).resolve().parents[1]


class Upload(io.BytesIO):
    """What ``st.file_uploader`` hands the page: bytes with a name."""

    def __init__(self, data: bytes, name: str):
        super().__init__(data)
        self.name = name


def test_streamlit_and_library_share_one_upload_limit():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] * 2**20 == MAX_FILE_BYTES


def test_empty_and_oversized_uploads_are_refused_by_name():
    with pytest.raises(EmptyAudioError, match="'a.wav' is empty"):
        ui.read_upload(Upload(b"", "a.wav"))
    with pytest.raises(AudioTooLongError, match="'big.wav' is larger than 200 MB"):
        ui.read_upload(Upload(b"\0" * (MAX_FILE_BYTES + 1), "big.wav"))


@pytest.mark.parametrize("name", ["../../etc/evil.wav", "/tmp/abs.flac", "..\\win.ogg",
                                  "song.exe", "", "x" * 5000 + ".mp3", "nul\0byte.wav"])
def test_uploaded_file_names_never_become_paths(name):
    data = b"RIFF-some-audio-bytes"
    path = ui.save_upload(data, name, "ab" * 32)
    folder = ui.upload_dir()
    assert path.parent == folder and path.stem == "ab" * 16
    assert path.suffix in {".wav", ".mp3", ".flac", ".ogg"}
    assert path.read_bytes() == data
    assert sorted(p.name for p in folder.iterdir()) == [path.name]  # no temporary file left
    path.unlink()


def test_saving_the_same_upload_twice_keeps_one_file():
    first = ui.save_upload(b"one", "a.wav", "cd" * 32)
    second = ui.save_upload(b"one", "renamed.wav", "cd" * 32)
    assert first == second and len(list(ui.upload_dir().iterdir())) == 1
