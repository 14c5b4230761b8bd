"""Proof snippets: the track excerpt where a sample was found and the library sample rendered with the
estimated pitch, stretch and gain, placed on the same timeline; written as audio and as one picture."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import librosa
import librosa.display
import matplotlib.pyplot as plt
import numpy as np
import soundfile as sf
import soxr

from audiowave.audio_io import AudioClip
from audiowave.samples.identify import FoundSample
from audiowave.samples.library import decode_bytes, read_bytes
from audiowave.schema import SampleProof

PAD_S = 0.25
MAX_EXCERPT_S = 6.0


@dataclass
class ProofAudio:
    """Aligned audio of one match: ``excerpt`` (channels, n) from the track and ``rendered`` (n,)."""

    start_s: float
    excerpt: np.ndarray
    rendered: np.ndarray
    sample_rate: int


def render_sample(sample: np.ndarray, sample_rate: int, found: FoundSample) -> np.ndarray:
    """The library sample as it sounds in the track: resampled for the pitch shift, stretched, gained."""
    m = found.match
    y = np.asarray(sample, dtype=np.float32)
    ratio = 2.0 ** (m.pitch_semitones / 12)
    if m.pitch_semitones:  # resampling shifts the pitch and shortens by 1/ratio ...
        y = soxr.resample(y, sample_rate, sample_rate / ratio).astype(np.float32)
    if abs(m.time_stretch * ratio - 1.0) > 1e-3 and y.size > 4096:  # ... the stretch gives the duration found
        y = librosa.effects.time_stretch(y, rate=1.0 / (m.time_stretch * ratio)).astype(np.float32)
    return y * np.float32(10 ** (m.gain_db / 20))


def proof_audio(clip: AudioClip, found: FoundSample) -> ProofAudio:
    """Align the rendered library sample with its first occurrence; read from the library (fsspec URL)."""
    if not found.url:
        raise FileNotFoundError("the index does not record where its library lives (re-run `audiowave index`)")
    sample = decode_bytes(read_bytes(found.url), found.meta["path"], 0.0)
    sr = clip.sample_rate
    if sample.sample_rate != sr:
        raise ValueError(f"library sample decoded at {sample.sample_rate} Hz, track at {sr} Hz")
    rendered = render_sample(sample.mono, sr, found)
    m = found.match
    onset_s = m.occurrences[0].start_s - m.sample_offset_s * m.time_stretch
    start_s = max(onset_s - PAD_S, 0.0)
    end_s = min(onset_s + min(rendered.size / sr, MAX_EXCERPT_S) + PAD_S, clip.duration_s)
    a, b = int(start_s * sr), int(end_s * sr)
    excerpt = clip.samples[:, a:b]
    placed = np.zeros(b - a, dtype=np.float32)
    shift = round(onset_s * sr) - a
    src = rendered[max(-shift, 0) :]
    dst0 = max(shift, 0)
    n = max(min(src.size, placed.size - dst0), 0)
    placed[dst0 : dst0 + n] = src[:n]
    return ProofAudio(start_s=start_s, excerpt=excerpt, rendered=placed, sample_rate=sr)


def write_proof(proof: ProofAudio, found: FoundSample, out_dir: Path, stem: str) -> SampleProof:
    """Write ``<stem>-track.flac``, ``<stem>-sample.flac`` and ``<stem>-proof.png`` under ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    track, sample, picture = (out_dir / f"{stem}-{k}" for k in ("track.flac", "sample.flac", "proof.png"))
    sf.write(track, proof.excerpt.T, proof.sample_rate, subtype="PCM_24")
    sf.write(sample, np.clip(proof.rendered, -1, 1), proof.sample_rate, subtype="PCM_24")
    _picture(proof, found, picture)
    end_s = proof.start_s + proof.excerpt.shape[1] / proof.sample_rate
    return SampleProof(
        excerpt_start_s=round(proof.start_s, 3),
        excerpt_end_s=round(end_s, 3),
        track_audio=str(track),
        sample_audio=str(sample),
        picture=str(picture),
    )


def _picture(proof: ProofAudio, found: FoundSample, path: Path) -> None:
    """Track and aligned sample as mel spectrograms on one time axis, and their waveforms overlaid."""
    sr, m = proof.sample_rate, found.match
    mix = proof.excerpt.mean(axis=0)
    fig, axes = plt.subplots(3, 1, figsize=(10, 7), sharex=True, height_ratios=[3, 3, 2])
    mels = [
        librosa.feature.melspectrogram(y=y, sr=sr, n_fft=2048, hop_length=256, n_mels=96) for y in (mix, proof.rendered)
    ]
    ref = float(np.max(mels[0])) or 1.0  # one reference: the sample's level compares with the track's
    for ax, label, mel in zip(axes[:2], ("track excerpt", "library sample, aligned"), mels, strict=True):
        db = librosa.power_to_db(mel + 1e-12, ref=ref, top_db=80)
        librosa.display.specshow(db, sr=sr, hop_length=256, x_axis="time", y_axis="mel", ax=ax, cmap="magma")
        ax.set_ylabel(label)
        ax.set_xlabel("")
    t = np.arange(mix.size) / sr
    axes[2].plot(t, mix, color="0.55", lw=0.6, label="track")
    axes[2].plot(t, proof.rendered, color="tab:red", lw=0.6, alpha=0.8, label="sample")
    axes[2].legend(loc="upper right", fontsize=8)
    axes[2].set_xlabel(f"seconds from {proof.start_s:.2f} s in the track")
    fig.suptitle(
        f"{found.meta['name']}: confidence {m.confidence:.2f}, pitch {m.pitch_semitones:+d} st, "
        f"stretch {m.time_stretch:.2f}, gain {m.gain_db:+.1f} dB ({found.source})"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
