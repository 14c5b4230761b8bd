"""Reverb (diffuseness, decay time) and delay/echo (time, feedback), blind, from the signal alone.

Hand-written: reverb from the L/R coherence (a stereo reverb adds decorrelated energy) and, for its RT60,
the distribution of free-decay slopes of the level (a room cannot let sound
die away faster than its RT60, so the fastest decays measure it; Ratnam et al. 2003, Löllmann 2010);
delay from the phase-transform autocorrelation, in which an echo is a sharp peak at its lag.
"""

from __future__ import annotations

import numpy as np
import scipy.ndimage
import scipy.signal

from audiowave.forensics.common import ENV_HOP_S, Evidence, Finding, Signal, note_value
from audiowave.forensics.rules import decide

MIN_DECAY_DB = 12.0
MIN_DECAY_FRAMES = 12
FAST_DECAY_PERCENTILE = 20
DELAY_RANGE_S = (0.06, 1.2)


def band_envelope_db(mono: np.ndarray, sr: int, band=(500.0, 4000.0)) -> np.ndarray:
    """Smoothed dB level per 10 ms of one band (decays are clearest in the mid band)."""
    sos = scipy.signal.butter(4, band, btype="bandpass", fs=sr, output="sos")
    x = scipy.signal.sosfiltfilt(sos, mono.astype(np.float64))
    hop = int(sr * ENV_HOP_S)
    n = len(x) // hop
    power = np.square(x[: n * hop]).reshape(n, hop).mean(axis=1)
    power = np.convolve(power, np.ones(3) / 3, mode="same")
    return 10 * np.log10(power + 1e-12)


def decay_slopes(env: np.ndarray) -> list[tuple[int, int, float]]:
    """(start, end, dB per second) of every free decay: a fall of >= MIN_DECAY_DB that never rises by more
    than 1 dB, fitted between 5 dB and the end below its start (skipping the direct sound)."""
    out = []
    i, n = 1, len(env)
    floor = np.percentile(env, 5)
    while i < n - MIN_DECAY_FRAMES:
        if not (env[i] >= env[i - 1] and env[i] >= env[i + 1]):
            i += 1
            continue
        j, low = i, env[i]
        while j + 1 < n and env[j + 1] <= low + 1.0 and env[j + 1] > floor + 3:
            j += 1
            low = min(low, env[j])
        fall = env[i] - low
        if fall >= MIN_DECAY_DB and j - i >= MIN_DECAY_FRAMES:
            seg = env[i : j + 1]
            start = int(np.argmax(seg <= env[i] - 5))
            if len(seg) - start >= MIN_DECAY_FRAMES // 2:
                t = np.arange(len(seg) - start) * ENV_HOP_S
                slope = float(np.polyfit(t, seg[start:], 1)[0])
                if slope < 0:
                    out.append((i, j, slope))
        i = j + 1
    return out


def diffuseness(samples: np.ndarray, sr: int, band: tuple[float, float] = (500.0, 4000.0)) -> float:
    """1 - the median L/R magnitude-squared coherence in the mid band: ~0 for panned dry sources, rising with
    the decorrelated (diffuse) energy a stereo reverb adds. NaN for mono audio."""
    if samples.shape[0] < 2 or not np.any(samples[0] - samples[1]):
        return float("nan")
    freqs, coherence = scipy.signal.coherence(samples[0], samples[1], fs=sr, nperseg=2048)
    return float(1 - np.median(coherence[(freqs > band[0]) & (freqs < band[1])]))


def detect_reverb(sig: Signal) -> Finding:
    """Reverb from the diffuse share of the stereo field, RT60 from the fastest free decays of the mid band."""
    mono, sr = sig.mono, sig.sr
    env = band_envelope_db(mono, sr)
    slopes = decay_slopes(env)
    t = np.arange(len(env)) * ENV_HOP_S
    rts = np.array([-60.0 / s for _, _, s in slopes])
    rt60 = float(np.percentile(rts, FAST_DECAY_PERCENTILE)) if len(rts) >= 4 else float("nan")
    params: dict[str, float | str] = {"diffuseness": diffuseness(sig.samples, sr), "decays": float(len(slopes))}
    if np.isfinite(rt60):
        params["rt60_s"] = rt60
    detected, confidence = decide("reverb", params)
    decay = f"RT60 about {rt60:.2f} s (from {len(slopes)} free decays)" if np.isfinite(rt60) else "RT60 not measurable"
    return Finding(
        "reverb",
        detected,
        confidence,
        parameters=params,
        description=(
            f"reverb: {100 * params['diffuseness']:.0f} % diffuse stereo field, {decay}"
            if detected
            else f"dry or mono: {decay}"
        ),
        evidence=Evidence(
            title="Mid-band level (500 Hz-4 kHz) with the free decays fitted",
            x=t,
            curves={"level (dB)": env},
            xlabel="time (s)",
            ylabel="dB",
            marks=[(i * ENV_HOP_S, f"{-60 / s:.1f}s") for i, _, s in slopes[:40]],
        ),
    )


def phat_autocorrelation(mono: np.ndarray, beta: float = 0.8) -> np.ndarray:
    """Autocorrelation with the spectrum whitened (|X|^2 / |X|^(2 beta)), normalised to 1 at lag 0."""
    n = len(mono)
    spec = np.fft.rfft(mono.astype(np.float64), 2 * n)
    power = np.abs(spec) ** 2
    r = np.fft.irfft(power / (power**beta + 1e-20))[:n]
    return r / (r[0] + 1e-20)


def detect_delay(sig: Signal) -> Finding:
    """Echo lag from the strongest sharp autocorrelation peak in 60 ms-1.2 s, feedback from its repeat."""
    mono, sr, beat_s = sig.mono, sig.sr, sig.beat_grid[0]
    r = phat_autocorrelation(mono)
    lo, hi = (int(v * sr) for v in DELAY_RANGE_S)
    hi = min(hi, len(r) // 2)
    if hi <= lo:
        return Finding("delay", False, 0.0, description="clip too short to look for echoes")
    seg = np.abs(r[lo:hi])
    background = scipy.ndimage.median_filter(seg, size=int(0.02 * sr)) if len(seg) > 10 else seg
    sharp = seg - background
    k = int(np.argmax(sharp))
    lag = (lo + k) / sr
    peak = float(sharp[k])
    k2 = lo + k
    second = float(np.abs(r[2 * k2 - 2 : 2 * k2 + 3]).max()) if 2 * k2 + 3 < len(r) else 0.0
    feedback = float(np.clip(second / (abs(r[k2]) + 1e-9), 0, 1))
    label, beats = note_value(lag, beat_s)
    step = max(1, (hi - lo) // 4000)
    params: dict[str, float | str] = {
        "time_s": lag,
        "note_value": label,
        "beats": beats,
        "feedback": feedback,
        "peak": peak,
    }
    detected, confidence = decide("delay", params)
    return Finding(
        "delay",
        detected,
        confidence,
        parameters=params,
        description=(
            f"echo every {lag * 1000:.0f} ms{f' ({label} note)' if label else ''}, feedback about {feedback:.2f}"
            if detected
            else f"no echo (strongest repeat at {lag * 1000:.0f} ms, {peak:.3f})"
        ),
        evidence=Evidence(
            title="Whitened autocorrelation (an echo is a sharp peak at its delay)",
            x=np.arange(lo, hi, step) / sr,
            curves={"|r|": seg[::step], "background": background[::step]},
            xlabel="lag (s)",
            ylabel="correlation",
            marks=[(lag, f"{lag * 1000:.0f} ms")],
        ),
    )
