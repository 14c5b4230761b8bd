"""Tremolo: a steady sinusoidal modulation of the sustained level at 1.5-12 Hz.

Hand-written: the sustained level (see :mod:`pumping`) is detrended and its modulation spectrum taken.
Music on a steady grid has narrow lines too (its notes' rhythm), so each of the strongest lines is scored
by how far it stands out of the spectrum around it times how much of the level's variance one sinusoid at
its rate explains (an LFO moves the level the whole clip long; a rhythm's line is a small part of a level
that also jumps at every note). The best-scoring line is the tremolo.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.ndimage
import scipy.signal

from audiowave.forensics.common import ENV_HOP_S, Evidence, Finding, Signal, note_value
from audiowave.forensics.rules import decide

RATE_RANGE_HZ = (1.5, 12.0)
CANDIDATE_LINES = 6
REACH = 12  # bins either side (3 and more away) that a line is compared with
RATE_REFINE_HZ = 0.1  # the fitted sinusoid's rate is searched this far around its Welch bin


def _fit_sinusoid(level: np.ndarray, fs: float, rate: float) -> tuple[float, float]:
    """(rate, amplitude) of the sinusoid within RATE_REFINE_HZ of ``rate`` that best fits ``level``."""
    t = np.arange(len(level)) / fs
    rates = rate + np.linspace(-RATE_REFINE_HZ, RATE_REFINE_HZ, 41)
    amplitudes = 2 * np.abs(np.exp(-2j * np.pi * rates[:, None] * t[None, :]) @ level) / len(level)
    k = int(np.argmax(amplitudes))
    return float(rates[k]), float(amplitudes[k])


@dataclass
class Line:
    """One line of a modulation spectrum and the sinusoid fitted at its rate."""

    rate_hz: float
    amplitude: float  # of the fitted sinusoid
    line_ratio: float  # its power over the median of the bins around it
    fit_r2: float  # share of the level's variance the sinusoid explains

    @property
    def score(self) -> float:
        return self.line_ratio * self.fit_r2


def best_line(
    level: np.ndarray, fs: float, rates_hz: tuple[float, float], nperseg: int, reach: int
) -> tuple[Line | None, np.ndarray, np.ndarray]:
    """The line of ``level``'s (detrended) modulation spectrum most like an LFO: of the CANDIDATE_LINES strongest
    local maxima of its Welch spectrum (``nperseg``) in ``rates_hz``, the one with the best :attr:`Line.score`
    (its power over the median of the bins 3..``reach`` away either side, times the fit R2); with the spectrum
    over that range (frequencies, power). None when the clip is too short for one."""
    freqs, power = scipy.signal.welch(level, fs=fs, nperseg=min(len(level), nperseg))
    band = (freqs >= rates_hz[0]) & (freqs <= rates_hz[1])
    peaks = scipy.signal.argrelmax(np.where(band, power, 0.0))[0]
    peaks = peaks[band[peaks]]
    if band.sum() < 3 or peaks.size == 0:
        return None, freqs[band], power[band]
    lines = []
    for k in peaks[np.argsort(-power[peaks])][:CANDIDATE_LINES]:
        around = np.concatenate([power[max(k - reach, 0) : max(k - 2, 0)], power[k + 3 : k + reach + 1]])
        rate, amplitude = _fit_sinusoid(level, fs, float(freqs[k]))
        r2 = float(amplitude**2 / 2 / (np.var(level) + 1e-12))
        lines.append(Line(rate, amplitude, float(power[k] / (np.median(around) + 1e-12)), r2))
    return max(lines, key=lambda line: line.score), freqs[band], power[band]


def detect_tremolo(sig: Signal) -> Finding:
    """Rate (Hz, note value) and depth (dB peak to peak) of the most LFO-like line of the level's modulation
    spectrum (:func:`best_line`)."""
    env = sig.sustained_db
    fs = 1 / ENV_HOP_S
    level = env - scipy.ndimage.uniform_filter1d(env, size=int(fs))
    line, freqs, power = best_line(level, fs, RATE_RANGE_HZ, int(8 * fs), REACH)
    if line is None or freqs.size < 5:
        return Finding("tremolo", False, 0.0, description="clip too short for a modulation spectrum")
    rate = line.rate_hz
    label, _ = note_value(1 / rate, sig.beat_grid[0])
    params: dict[str, float | str] = {
        "rate_hz": rate,
        "note_value": label,
        "depth_db": 2 * line.amplitude,  # peak to peak
        "line_ratio": line.line_ratio,
        "fit_r2": line.fit_r2,
        "line_score": line.score,
    }
    detected, confidence = decide("tremolo", params)
    return Finding(
        "tremolo",
        detected,
        confidence,
        parameters=params,
        description=(
            f"tremolo at {rate:.2f} Hz{f' ({label} note)' if label else ''}, about {2 * line.amplitude:.1f} dB deep"
            if detected
            else "no tremolo"
        ),
        evidence=Evidence(
            title="Modulation spectrum of the sustained level (a tremolo is one narrow line)",
            x=freqs,
            curves={"power (dB)": 10 * np.log10(power + 1e-12)},
            xlabel="modulation rate (Hz)",
            ylabel="dB",
            marks=[(rate, f"{rate:.2f} Hz")],
        ),
    )
