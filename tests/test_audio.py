import io

import numpy as np
import pytest

from emolab import audio
from emolab.config import AudioLimits
from emolab.exceptions import (AudioTooLongError, CorruptAudioError, EmptyAudioError,
                               ParameterError)
from tests.conftest import chord, encode, tone


@pytest.mark.parametrize("fmt", ["WAV", "FLAC", "OGG", "MP3"])
@pytest.mark.parametrize("sr", [8000, 22050, 44100, 48000])
def test_every_format_and_rate_decodes_to_mono_float32(fmt, sr):
    data = encode(tone(440, seconds=1.5, sr=sr, channels=2), sr, fmt)
    clip = audio.load(data, sr=22050)
    assert clip.y.dtype == np.float32 and clip.y.ndim == 1
    assert clip.sr == 22050 and clip.original_sr == sr and clip.channels == 2
    assert clip.duration == pytest.approx(1.5, abs=0.1)
    assert not clip.silent
    # the tone survives decoding and resampling: its spectrum peaks at 440 Hz
    spectrum = np.abs(np.fft.rfft(clip.y))
    peak_hz = np.argmax(spectrum) * clip.sr / clip.y.size
    assert peak_hz == pytest.approx(440, abs=5)


def test_native_rate_is_kept_when_sr_is_none():
    clip = audio.load(encode(chord(sr=16000), 16000), sr=None)
    assert clip.sr == 16000 and clip.y.size == 3 * 16000


def test_path_and_file_object_and_bytes_agree(tmp_path):
    data = encode(chord(), 22050, "FLAC")
    path = tmp_path / "c.flac"
    path.write_bytes(data)
    a, b, c = audio.load(path), audio.load(io.BytesIO(data)), audio.load(data)
    assert np.array_equal(a.y, b.y) and np.array_equal(b.y, c.y)


def test_stereo_is_mixed_to_mono_by_averaging():
    sr = 22050
    left = tone(440, seconds=1, sr=sr)
    stereo = np.stack([left, np.zeros_like(left)], axis=1)
    clip = audio.load(encode(stereo, sr, "WAV", subtype="FLOAT"), sr=None)
    assert np.allclose(clip.y, left / 2, atol=1e-6)


def test_empty_file_is_refused(tmp_path):
    (tmp_path / "e.wav").write_bytes(b"")
    with pytest.raises(EmptyAudioError, match="empty"):
        audio.load(tmp_path / "e.wav")


def test_truncated_file_is_refused_or_shorter():
    data = encode(tone(seconds=2), 22050, "FLAC")
    with pytest.raises(CorruptAudioError):
        audio.load(data[:40])


def test_non_audio_with_audio_extension(tmp_path):
    path = tmp_path / "notes.mp3"
    path.write_text("these are my listening notes, not music\n" * 20)
    with pytest.raises(CorruptAudioError, match="could not be read as audio"):
        audio.load(path)


def test_missing_file_is_a_parameter_error(tmp_path):
    with pytest.raises(ParameterError, match="No audio file"):
        audio.load(tmp_path / "nothing.wav")


def test_silence_is_allowed_but_flagged():
    clip = audio.load(encode(np.zeros(22050, dtype=np.float32), 22050))
    assert clip.silent and clip.duration == pytest.approx(1.0)


def test_zero_length_audio_is_flagged_silent():
    clip = audio.load(encode(np.zeros(0, dtype=np.float32), 22050))
    assert clip.silent and clip.y.size == 0


def test_too_long_recording_is_refused_with_minutes_in_the_message():
    data = encode(np.zeros(8000 * 130, dtype=np.float32), 8000)
    with pytest.raises(AudioTooLongError, match="2.2 minutes"):
        audio.load(data, limits=AudioLimits(max_duration=120))


def test_too_large_file_is_refused():
    data = encode(tone(seconds=2), 22050)
    with pytest.raises(AudioTooLongError, match="larger than"):
        audio.load(data, limits=AudioLimits(max_bytes=1000))


def test_nan_samples_become_finite():
    y = tone(seconds=1)
    y[100:200] = np.nan
    clip = audio.load(encode(y, 22050, "WAV", subtype="FLOAT"), sr=None)
    assert np.isfinite(clip.y).all()


def test_content_hash_identifies_bytes():
    a = encode(tone(440), 22050)
    assert audio.content_hash(a) == audio.content_hash(bytes(a))
    assert audio.content_hash(a) != audio.content_hash(encode(tone(441), 22050))


def test_files_claiming_a_tiny_sample_rate_are_refused():
    data = bytearray(encode(tone(seconds=0.5), 22050))
    data[24:28] = (1).to_bytes(4, "little")  # the WAV header's sample rate: 1 Hz
    with pytest.raises(CorruptAudioError, match="1 Hz"):
        audio.load(bytes(data))


def test_resampled_clipped_audio_stays_within_unit_range():
    square = np.sign(tone(110, seconds=1, sr=16000)).astype(np.float32)
    clip = audio.load(encode(square, 16000, "WAV", subtype="FLOAT"), sr=22050)
    assert np.abs(clip.y).max() <= 1.0


def test_fuzzed_audio_never_crashes(tmp_path):
    """Damaged, odd and hostile files: a valid analysis with finite features, or an EmoLab
    error with a message (benchmarks/fuzz.py runs the same generators 1,000 times)."""
    from tests import fuzzing

    door = fuzzing.AudioDoor(tmp_path, isolated=False)
    report = fuzzing.run_door(door, 40, seed=2, time_limit=60)
    fuzzing.assert_clean(report)
    assert report.refused and report.valid


def test_long_files_decode_in_two_halves_without_a_seam(tmp_path, monkeypatch):
    """Decoding a long OGG/FLAC in two threads gives the very samples of one sequential read."""
    import io as _io

    import soundfile as _sf

    from emolab import audio as _audio

    sr = 44100
    t = np.arange(int(12.3 * sr)) / sr
    stereo = np.stack([0.3 * np.sin(2 * np.pi * 440 * t), 0.2 * np.sin(2 * np.pi * 660 * t + 1)], axis=1)
    for fmt in ("OGG", "FLAC"):
        buffer = _io.BytesIO()
        _sf.write(buffer, stereo, sr, format=fmt)
        data = buffer.getvalue()
        monkeypatch.setattr(_audio, "SPLIT_SECONDS", 1e9)
        whole = _audio.decode(data, sr=None)
        monkeypatch.setattr(_audio, "SPLIT_SECONDS", 5.0)
        halves = _audio.decode(data, sr=None)
        assert halves.y.shape == whole.y.shape and halves.channels == 2
        np.testing.assert_array_equal(halves.y, whole.y)
        assert np.abs(whole.y).max() > 0.1
