"""Signal measurements of a one-shot that the first recipe guesses are made from.

Pitch (pYIN), the glide into the note, a drum body's pitch drop (zero crossings), the loudness contour and its
ADSR fit, the harmonic spectrum and how its brightness moves, and how noisy the sound is.
All on mono audio at the search sample rate.
"""

from __future__ import annotations

from dataclasses import dataclass

import librosa
import numpy as np
from scipy.optimize import least_squares

from audiowave.recipes.body_glide import BodyGlide, body_glide
from audiowave.recipes.patch import Envelope
from audiowave.recipes.pitch_track import f0_track
from audiowave.recipes.synth import envelope_curve

FRAME_HOP_S = 0.005
HARMONICS = 48
FLOOR_DB = 60.0


@dataclass
class Measurements:
    sr: int
    length_s: float
    pitched: bool
    f0_hz: float  # the settled note (median voiced f0); the body's spectral peak when unpitched
    glide_semitones: float  # how far the first voiced frames sit from the note
    glide_time_s: float
    envelope_db: np.ndarray  # loudness contour, FRAME_HOP_S hop, 0 dB = peak
    amp: Envelope
    hold_s: float  # key-held time of the ADSR fit
    harmonics: np.ndarray  # amplitudes of harmonics 1..HARMONICS after the attack, relative to the strongest
    brightness_drop_octaves: float  # how far the spectral centroid falls from the attack to the late sound
    brightness_time_s: float  # when half of that fall has happened
    noisiness: float  # 0 = pure partials, 1 = noise (share of energy between the partials)
    high_share: float  # share of the energy above 2 kHz
    f0_track: tuple[np.ndarray, np.ndarray]  # pYIN f0 (Hz) and voiced flags, 10 ms hop (for pitch scoring)
    body: BodyGlide | None  # a drum body's glide onto its note, from the zero crossings (None: no clean body)


def loudness_contour(x: np.ndarray, sr: int) -> np.ndarray:
    hop = max(1, int(FRAME_HOP_S * sr))
    rms = librosa.feature.rms(y=x, frame_length=4 * hop, hop_length=hop, center=True)[0]
    db = 20 * np.log10(np.maximum(rms, 1e-9))
    return np.maximum(db - db.max(), -FLOOR_DB)


def _envelope_of(p: np.ndarray) -> tuple[Envelope, float]:
    """ADSR and key-held time from fit parameters (log seconds; logit sustain), clipped to the patch's ranges."""
    p = np.clip(p, -12.0, 6.0)  # keeps exp() finite while the fit explores
    a, d, hold, r = np.exp(p[[0, 1, 3, 4]])
    env = Envelope(
        attack_s=float(np.clip(a, 5e-4, 10)),
        decay_s=float(np.clip(d, 5e-3, 20)),
        sustain=float(1 / (1 + np.exp(-p[2]))),
        release_s=float(np.clip(r, 5e-3, 20)),
    )
    return env, float(np.clip(hold, 0.01, 30))


def fit_envelope(contour_db: np.ndarray, length_s: float) -> tuple[Envelope, float]:
    """Least-squares ADSR + key-held time whose contour (in dB, floored) matches ``contour_db``."""
    rate = round(1 / FRAME_HOP_S)
    n = len(contour_db)
    peak_t = float(np.argmax(contour_db)) * FRAME_HOP_S

    def model(p: np.ndarray) -> np.ndarray:
        env, hold = _envelope_of(p)
        db = 20 * np.log10(np.maximum(envelope_curve(env, hold, n, rate), 1e-9))
        return np.maximum(db - max(db.max(), -120), -FLOOR_DB)

    best = None
    for sustain0 in (-3.0, 0.0, 2.0):
        for hold_frac in (0.3, 0.7):
            p0 = np.log([max(peak_t, 0.002), 0.2 * length_s + 0.01, 1.0, hold_frac * length_s, 0.1 * length_s + 0.01])
            p0[2] = sustain0
            fit = least_squares(lambda p: model(p) - contour_db, p0, method="trf", max_nfev=200)
            if best is None or fit.cost < best.cost:
                best = fit
    return _envelope_of(best.x)


def harmonic_amplitudes(frame: np.ndarray, sr: int, f0: float, count: int = HARMONICS) -> np.ndarray:
    """Peak magnitude near each multiple of ``f0`` in a Hann-windowed spectrum of ``frame``."""
    spec = np.abs(np.fft.rfft(frame * np.hanning(len(frame))))
    freqs = np.fft.rfftfreq(len(frame), 1 / sr)
    out = np.zeros(count)
    for k in range(1, count + 1):
        if k * f0 > 0.45 * sr:
            break
        band = (freqs > (k - 0.3) * f0) & (freqs < (k + 0.3) * f0)
        if band.any():
            out[k - 1] = spec[band].max()
    return out / out.max() if out.max() > 0 else out


def _noisiness(frame: np.ndarray, sr: int, f0: float) -> float:
    spec = np.abs(np.fft.rfft(frame * np.hanning(len(frame)))) ** 2
    freqs = np.fft.rfftfreq(len(frame), 1 / sr)
    rel = freqs / f0
    near = np.abs(rel - np.round(rel)) < 0.15
    return float(spec[~near].sum() / max(spec.sum(), 1e-20))


def settled_pitch(f0: np.ndarray, voiced: np.ndarray) -> float:
    """The note a sound settles on: the median f0 of the later half of its voiced frames (a drum's body or a
    glide reaches it at the end; over all frames the fall into it pulled the note up by 1-9 semitones)."""
    idx = np.flatnonzero(voiced)
    return float(np.nanmedian(f0[idx[len(idx) // 2 :]]))


def _glide(f0: np.ndarray, voiced: np.ndarray, note_hz: float) -> tuple[float, float]:
    idx = np.flatnonzero(voiced)
    if len(idx) < 4:
        return 0.0, 0.05
    semis = 12 * np.log2(f0[idx] / note_hz)
    start = float(np.median(semis[:2]))
    if abs(start) < 0.3:
        return 0.0, 0.05
    settled = np.flatnonzero(np.abs(semis) < abs(start) / np.e)
    t = (idx[settled[0]] - idx[0]) * 0.01 if len(settled) else 0.05
    return start, float(max(t, 0.005))


def _brightness(x: np.ndarray, sr: int, start: int) -> tuple[float, float]:
    cent = librosa.feature.spectral_centroid(y=x[start:], sr=sr, hop_length=int(0.01 * sr))[0]
    rms = librosa.feature.rms(y=x[start:], hop_length=int(0.01 * sr))[0]
    alive = rms > rms.max() * 0.03
    cent = cent[: len(alive)][alive[: len(cent)]]
    if len(cent) < 6:
        return 0.0, 0.1
    early, late = np.median(cent[:3]), np.median(cent[-3:])
    drop = float(np.log2(max(early, 1) / max(late, 1)))
    half = np.flatnonzero(np.log2(np.maximum(cent, 1) / max(late, 1)) < drop / 2)
    return drop, float(max(half[0] if len(half) else 1, 1) * 0.01)


def measure(x: np.ndarray, sr: int) -> Measurements:
    x = np.asarray(x, dtype=np.float64)
    length_s = len(x) / sr
    contour = loudness_contour(x, sr)
    amp, hold = fit_envelope(contour, length_s)
    f0, voiced = f0_track(x, sr)
    loud = np.repeat(contour[:: int(0.01 / FRAME_HOP_S)], 1)[: len(voiced)] > -30
    voiced_share = float(voiced[: len(loud)][loud].mean()) if loud.any() else 0.0
    peak = int(np.argmax(contour) * FRAME_HOP_S * sr)
    win = 4096 if len(x) - peak >= 4096 else 2048
    start = min(peak + int(0.02 * sr), max(0, len(x) - win))
    frame = np.pad(x[start : start + win], (0, max(0, win - len(x[start:]))))
    spec = np.abs(np.fft.rfft(frame * np.hanning(win))) ** 2
    freqs = np.fft.rfftfreq(win, 1 / sr)
    high_share = float(spec[freqs > 2000].sum() / max(spec.sum(), 1e-20))
    pitched = voiced_share >= 0.4 and bool(voiced.any())
    if pitched:
        note_hz = settled_pitch(f0, voiced)
        glide, glide_t = _glide(f0, voiced, note_hz)
    else:
        low = (freqs > 25) & (freqs < 400)
        note_hz = float(freqs[low][np.argmax(spec[low])])
        glide, glide_t = 0.0, 0.05
    drop, drop_t = _brightness(x, sr, peak)
    return Measurements(
        sr=sr,
        length_s=length_s,
        pitched=pitched,
        f0_hz=note_hz,
        glide_semitones=glide,
        glide_time_s=glide_t,
        envelope_db=contour,
        amp=amp,
        hold_s=hold,
        harmonics=harmonic_amplitudes(frame, sr, note_hz),
        brightness_drop_octaves=drop,
        brightness_time_s=drop_t,
        noisiness=_noisiness(frame, sr, note_hz),
        high_share=high_share,
        f0_track=(f0, voiced),
        body=body_glide(x, sr),
    )
