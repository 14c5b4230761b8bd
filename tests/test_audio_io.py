"""Decoding, validation and resampling of input files."""

from __future__ import annotations

import av
import numpy as np
import pytest

from audiowave.audio_io import load_audio, sniff_container
from audiowave.config import Settings
from audiowave.errors import InputError

from signals import SR, tone


@pytest.mark.parametrize("ext", ["wav", "flac", "ogg", "mp3"])
def test_decodes_common_formats_to_analysis_rate(write_wav, ext):
    data = np.stack([tone(440, 1.0, 22050), tone(660, 1.0, 22050)], axis=1)
    clip = load_audio(write_wav(f"a.{ext}", data, 22050))
    assert clip.sample_rate == SR and clip.native_sample_rate == 22050
    assert clip.channels == 2
    assert abs(clip.duration_s - 1.0) < 0.1  # MP3 adds encoder delay/padding
    left = np.abs(np.fft.rfft(clip.samples[0]))
    assert abs(np.argmax(left) * SR / len(clip.samples[0]) - 440) < 5


def test_decodes_m4a_aac_with_pyav(tmp_path):
    path = tmp_path / "a.m4a"
    x = np.stack([tone(440, 1.0, 16000), tone(440, 1.0, 16000)])
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=16000)
        stream.layout = "stereo"
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(x), format="fltp", layout="stereo")
        frame.sample_rate = 16000
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    clip = load_audio(path)
    assert clip.container == "mp4" and clip.channels == 2 and clip.native_sample_rate == 16000
    assert 0.9 < clip.duration_s < 1.2


def test_mono_stays_mono_and_multichannel_folds_to_stereo(write_wav):
    assert load_audio(write_wav("m.wav", tone(220, 0.5))).channels == 1
    six = np.stack([tone(220, 0.5)] * 6, axis=1)
    clip = load_audio(write_wav("six.wav", six))
    assert clip.channels == 2 and clip.native_channels == 6


def test_empty_file(tmp_path):
    (tmp_path / "e.wav").write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        load_audio(tmp_path / "e.wav")


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_audio(tmp_path / "nope.wav")


def test_corrupt_file_with_audio_extension(tmp_path):
    (tmp_path / "c.wav").write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(InputError, match="could not decode"):
        load_audio(tmp_path / "c.wav")


def test_truncated_flac(write_wav, tmp_path):
    full = write_wav("t.flac", np.random.default_rng(0).standard_normal(SR * 2).astype(np.float32) * 0.1)
    cut = tmp_path / "cut.flac"
    cut.write_bytes(full.read_bytes()[:2000])
    with pytest.raises(InputError):
        load_audio(cut)


def test_text_file_with_wrong_extension(tmp_path):
    (tmp_path / "notes.txt").write_text("not audio at all")
    with pytest.raises(InputError, match="unsupported file type"):
        load_audio(tmp_path / "notes.txt")


def test_extension_lies_about_content_is_decoded_by_content_with_warning(write_wav, tmp_path):
    real = write_wav("x.flac", tone(330, 0.5))
    liar = tmp_path / "liar.wav"
    liar.write_bytes(real.read_bytes())
    clip = load_audio(liar)
    assert clip.container == "flac"
    assert any("does not match" in w for w in clip.warnings)


def test_silence_is_rejected(write_wav):
    with pytest.raises(InputError, match="silent"):
        load_audio(write_wav("s.wav", np.zeros(SR, dtype=np.float32)))


def test_too_short(write_wav):
    with pytest.raises(InputError, match="too short"):
        load_audio(write_wav("short.wav", tone(440, 0.02)))


def test_too_long_is_rejected_before_decoding(write_wav):
    path = write_wav("long.wav", tone(440, 3.0))
    with pytest.raises(InputError, match="over the limit"):
        load_audio(path, Settings(max_duration_s=2.0))


@pytest.mark.parametrize("rate", [1000, 768000])
def test_absurd_sample_rates(write_wav, rate):
    path = write_wav(f"r{rate}.wav", tone(100, 0.5, rate), rate)
    with pytest.raises(InputError, match="sample rate"):
        load_audio(path)


def test_nan_samples(write_wav):
    data = tone(440, 0.5)
    data[100] = np.nan
    with pytest.raises(InputError, match="NaN"):
        load_audio(write_wav("nan.wav", data, subtype="FLOAT"))


def test_sniff_container():
    assert sniff_container(b"fLaC\x00\x00") == "flac"
    assert sniff_container(b"RIFF\x00\x00\x00\x00WAVE") == "wav"
    assert sniff_container(b"\x00\x00\x00\x1cftypM4A ") == "mp4"
    assert sniff_container(b"hello world") is None
