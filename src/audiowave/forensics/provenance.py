"""Tuning reference (A4 in Hz) and band-limit history (an MP3 lowpass, a Nyquist edge from a lower rate).

Tuning uses librosa's pitch-deviation estimate over the harmonic part; the band-limit detector is
hand-written: the long-term spectrum falls by >= 25 dB within 1 kHz at a cliff above 5 kHz.
"""

from __future__ import annotations

import librosa
import numpy as np
import scipy.ndimage
import scipy.signal

from audiowave.forensics.common import Evidence, Finding, Signal
from audiowave.forensics.rules import decide
from audiowave.hpss import harmonic_part

COMMON_RATES = (8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000)
MP3_LOWPASS_HZ = (10000.0, 20500.0)
SPREAD_FLOOR_CENTS = 0.5  # piptrack's peaks are not read finer
CLIFF_MAX_NYQUIST = 0.95  # a band limit is looked for up to this share of the Nyquist frequency (20.9 kHz at 44.1)


def detect_tuning(sig: Signal) -> Finding:
    """A4 reference from the median deviation of spectral peaks from the equal-tempered grid; off the A440
    standard only when the offset is at least twice the peaks' median scatter around the grid it defines. On the
    dev corpus' cases every true retuning read 2.6x its scatter or more, and on the development clips every false
    reading (material whose instruments are off by nature) 1.4x or less; held out, F1 0.83 -> 0.96."""
    mono, sr = sig.mono, sig.sr
    harmonic = harmonic_part(mono, margin=2.0)
    pitches, mags = librosa.piptrack(y=harmonic, sr=sr, n_fft=4096, hop_length=1024, fmin=80.0, fmax=2000.0)
    strong = mags > np.percentile(mags[mags > 0], 80) if np.any(mags > 0) else mags > 0
    freqs = pitches[strong]
    if len(freqs) < 50:
        return Finding("tuning", False, 0.0, description="not enough tonal content to measure the tuning")
    tuning = float(librosa.pitch_tuning(freqs, resolution=0.01))
    a4 = 440.0 * 2 ** (tuning / 12)
    cents = 100 * tuning
    midi = librosa.hz_to_midi(freqs)
    spread = float(np.median(np.abs((midi - tuning + 0.5) % 1 - 0.5)) * 100)
    params: dict[str, float | str] = {
        "a4_hz": a4,
        "cents_from_440": cents,
        "abs_cents": abs(cents),
        "peak_spread_cents": spread,
        # an offset no larger than the partials' own scatter is no clear reference (detuned instruments, chorus)
        "offset_over_spread": abs(cents) / max(spread, SPREAD_FLOOR_CENTS),
    }
    detected, confidence = decide("tuning", params)
    hist_x = np.arange(-50, 50, 2.0)
    hist, _ = np.histogram(((midi + 0.5) % 1 - 0.5) * 100, bins=np.append(hist_x, 50))
    return Finding(
        "tuning",
        detected,
        confidence * max(0.0, 1 - spread / 50),
        parameters=params,
        description=f"tuned to A4 = {a4:.1f} Hz ({cents:+.0f} cents from 440)",
        evidence=Evidence(
            title="Deviation of spectral peaks from the A440 semitone grid",
            x=hist_x,
            curves={"peaks": hist.astype(float)},
            xlabel="cents from A440 equal temperament",
            ylabel="peaks",
            marks=[(cents, f"A4={a4:.1f} Hz")],
        ),
    )


def detect_band_limit(sig: Signal) -> Finding:
    """Highest steep spectral cliff below CLIFF_MAX_NYQUIST of the Nyquist frequency: its frequency, depth and
    what likely left it (codec or resampling). Above that every resampler's and converter's anti-alias filter
    cuts (a 44.1 kHz render of the dev corpus without the sound bank's reverb has a 32-43 dB cliff at 21.3-22.0
    kHz): no history to report. The highest codec lowpass looked for, MP3 at 320 kbit/s, is 20.5 kHz."""
    mono, sr = sig.mono, sig.sr
    freqs, psd = scipy.signal.welch(mono.astype(np.float64), fs=sr, nperseg=8192)
    db = 10 * np.log10(psd + 1e-20)
    smooth = scipy.ndimage.uniform_filter1d(db, size=5)
    step = round(1000 / (freqs[1] - freqs[0]))
    best_f, best_drop = 0.0, 0.0
    top = min(int(CLIFF_MAX_NYQUIST * sr / 2 / freqs[1]), len(freqs) - 1)  # neither side of a cliff reaches above
    for k in range(int(5000 / freqs[1]), top):
        below = smooth[max(k - step, 0) : k].mean()
        above = smooth[k + 1 : min(k + 1 + step, top + 1)].mean()
        drop = below - above
        if drop > best_drop:
            best_f, best_drop = float(freqs[k]), float(drop)
    detected, confidence = decide("band_limit", {"cliff_db": best_drop})
    nyquist_of = [r for r in COMMON_RATES if r < sr and abs(r / 2 - best_f) < 300]
    if not detected:
        origin = "full band"
    elif nyquist_of:
        origin = f"resampled from {nyquist_of[0]} Hz"
    elif MP3_LOWPASS_HZ[0] <= best_f <= MP3_LOWPASS_HZ[1]:
        origin = "lossy codec lowpass (MP3/AAC-like)"
    else:
        origin = "lowpass"
    return Finding(
        "band_limit",
        detected,
        confidence,
        parameters={"cutoff_hz": best_f, "cliff_db": best_drop, "origin": origin},
        description=(
            f"band-limited at {best_f / 1000:.1f} kHz ({best_drop:.0f} dB cliff): {origin}"
            if detected
            else f"full-band spectrum up to {sr / 2000:.1f} kHz"
        ),
        evidence=Evidence(
            title="Long-term spectrum (a codec or resampler leaves a cliff)",
            x=freqs,
            curves={"level (dB)": db},
            xlabel="frequency (Hz)",
            ylabel="dB",
            marks=[(best_f, f"{best_f / 1000:.1f} kHz")] if detected else [],
        ),
    )
