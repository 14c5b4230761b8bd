"""What a detector returns, and the envelope, beat and modulation-line helpers several detectors share."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import scipy.signal

from audiowave.schema import Technique, TimeSpan

if TYPE_CHECKING:
    from audiowave.forensics.comb import CombTrack

ENV_HOP_S = 0.01  # envelope frame hop: 10 ms
CANDIDATE_LINES = 6  # strongest modulation lines scored by best_line
RATE_REFINE_HZ = 0.1  # a fitted sinusoid's rate is searched this far around its Welch bin


@dataclass
class Evidence:
    """What a picture of a finding shows: curves over one x axis, marked positions, optionally an image."""

    title: str
    x: np.ndarray
    curves: dict[str, np.ndarray]
    xlabel: str
    ylabel: str
    marks: list[tuple[float, str]] = field(default_factory=list)
    image: np.ndarray | None = None  # (rows, len(x)) drawn above the curves
    image_label: str = ""
    image_y: tuple[float, float] | None = None  # the image's row range in ylabel's units (default: row numbers)


@dataclass
class Finding:
    """One detector's verdict on one source."""

    effect: str
    detected: bool
    confidence: float
    parameters: dict[str, float | str] = field(default_factory=dict)
    description: str = ""
    spans: list[tuple[float, float]] = field(default_factory=list)
    evidence: Evidence | None = None

    def to_technique(self, source: str, evidence_path: str | None = None) -> Technique:
        return Technique(
            effect=self.effect,
            source=source,
            detected=self.detected,
            confidence=round(float(np.clip(self.confidence, 0.0, 1.0)), 3),
            spans=[TimeSpan(start=round(a, 3), end=round(b, 3)) for a, b in self.spans],
            parameters={k: round(v, 4) if isinstance(v, float) else v for k, v in self.parameters.items()},
            description=self.description,
            evidence=evidence_path,
        )


@dataclass
class Signal:
    """The audio a detector examines, (channels, n), with the beat grid and the intermediate measurements
    that several detectors share (computed once, on first use)."""

    samples: np.ndarray
    sr: int
    beats: np.ndarray | None = None

    @cached_property
    def mono(self) -> np.ndarray:
        return self.samples.mean(axis=0)

    @cached_property
    def beat_grid(self) -> tuple[float, np.ndarray]:
        """(beat period in s, beat times): the given beats, else librosa's beat tracker."""
        return beat_period(self.beats, self.mono, self.sr)

    @cached_property
    def sustained(self) -> SustainedSpectrogram:
        return sustained_spectrogram(self.mono, self.sr)

    @cached_property
    def sustained_db(self) -> np.ndarray:
        return self.sustained.level_db

    @cached_property
    def onset_strength(self) -> np.ndarray:
        """librosa's onset strength of the mono signal per ENV_HOP_S frame."""
        import librosa

        return librosa.onset.onset_strength(y=self.mono, sr=self.sr, hop_length=int(self.sr * ENV_HOP_S))

    @cached_property
    def comb_white(self) -> np.ndarray:
        """The mono signal whitened for the swept comb's correlation along its path (see :func:`comb.whitened`)."""
        from audiowave.forensics.comb import whitened

        return whitened(self.mono, self.sr)

    @cached_property
    def swept_comb(self) -> CombTrack | None:
        """The strongest LFO-swept comb delay (see :mod:`comb`): the flanger's, and the chorus's starting point."""
        from audiowave.forensics.comb import swept_comb

        return swept_comb(self.mono, self.sr, self.comb_white)

    @cached_property
    def chorus_comb(self) -> CombTrack | None:
        """The swept comb, or the lag correlogram's path where that reads higher (see :func:`comb.chorus_track`)."""
        from audiowave.forensics.comb import chorus_track

        track = self.swept_comb
        return None if track is None else chorus_track(track, self.comb_white, self.sr)

    @cached_property
    def drift(self) -> tuple[np.ndarray, np.ndarray]:
        from audiowave.forensics.gestures import pitch_drift

        return pitch_drift(self.mono, self.sr)


def beat_period(beats: np.ndarray | None, mono: np.ndarray, sr: int) -> tuple[float, np.ndarray]:
    """Beat period (s) and beat times: from the rhythm stage when given, else librosa's beat tracker."""
    if beats is None or len(beats) < 4:
        import librosa

        _, frames = librosa.beat.beat_track(y=mono, sr=sr, hop_length=512)
        beats = librosa.frames_to_time(frames, sr=sr, hop_length=512)
    beats = np.asarray(beats, dtype=float)
    if len(beats) < 4:
        return 0.0, beats
    return float(np.median(np.diff(beats))), beats


@dataclass
class SustainedSpectrogram:
    """Magnitudes above 150 Hz per 10 ms frame (bins, frames) and their harmonic part (HPSS soft mask)."""

    magnitude: np.ndarray
    harmonic: np.ndarray

    @cached_property
    def level_db(self) -> np.ndarray:
        """dB level of the harmonic part per frame (tremolo, compression)."""
        return 10 * np.log10(np.square(self.harmonic).sum(axis=0) + 1e-10)


def sustained_spectrogram(mono: np.ndarray, sr: int) -> SustainedSpectrogram:
    """The 20 ms-window spectrogram above 150 Hz every ENV_HOP_S, frames centred, and its harmonic part."""
    import librosa

    hop = int(sr * ENV_HOP_S)
    mag = np.abs(librosa.stft(mono, n_fft=2 * hop, hop_length=hop, center=False))  # 20 ms: short dips survive
    mask, _ = librosa.decompose.hpss(mag, mask=True)  # a soft mask keeps the level changes median filters smooth
    above = librosa.fft_frequencies(sr=sr, n_fft=2 * hop) > 150
    mag = np.concatenate([mag[above, :1], mag[above]], axis=1)  # frame i starts at (i - 1) hops: centre it
    mask = np.concatenate([mask[above, :1], mask[above]], axis=1)
    return SustainedSpectrogram(mag, mag * mask)


NOTE_VALUES = {0.25: "1/16", 0.5: "1/8", 0.75: "1/8 dotted", 1.0: "1/4", 1.5: "1/4 dotted", 2.0: "1/2", 4.0: "1/1"}


def note_value(seconds: float, period: float) -> tuple[str, float]:
    """The nearest note value (in beats, quarter-note beats) to a duration, and the duration in beats."""
    if period <= 0:
        return "", 0.0
    beats = seconds / period
    best = min(NOTE_VALUES, key=lambda v: abs(np.log2(beats / v)))
    label = NOTE_VALUES[best] if abs(np.log2(beats / best)) < 0.1 else ""
    return label, float(beats)


def sinusoid_amplitude(level: np.ndarray, fs: float, rates: np.ndarray | float) -> np.ndarray:
    """Amplitude of the sinusoid at each of ``rates`` (Hz) in ``level`` (last axis: frames at ``fs``): shape
    ``level.shape[:-1] + np.shape(rates)``."""
    t = np.arange(level.shape[-1]) / fs
    return 2 * np.abs(level @ np.exp(-2j * np.pi * np.multiply.outer(t, rates))) / level.shape[-1]


def fold(values: np.ndarray, times: np.ndarray, rate: float, phases: int) -> np.ndarray:
    """(phases, columns): the mean of ``values`` (frames at ``times``, columns) at each of ``phases`` phase bins of
    an LFO at ``rate`` Hz (the phaser's residual, the tremolo's level)."""
    bins = np.floor(phases * ((rate * times) % 1.0)).astype(int)
    folded = np.zeros((phases, values.shape[1]))
    np.add.at(folded, bins, values)
    return folded / np.maximum(np.bincount(bins, minlength=phases), 1)[:, None]


def _fit_sinusoid(level: np.ndarray, fs: float, rate: float) -> tuple[float, float]:
    """(rate, amplitude) of the sinusoid within RATE_REFINE_HZ of ``rate`` that best fits ``level``."""
    rates = rate + np.linspace(-RATE_REFINE_HZ, RATE_REFINE_HZ, 41)
    amplitudes = sinusoid_amplitude(level, fs, rates)
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
