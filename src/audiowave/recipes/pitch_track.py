"""pYIN f0 tracking: librosa's pYIN, decoded on the band of its transition matrix.

``librosa.pyin`` decodes its pitch HMM with a dense Viterbi. Here it has 1,454 states (727 pitch bins 10 cents
apart from 30 Hz to 2 kHz, voiced and unvoiced), and every state is weighed against every other at every frame,
though a pitch can move only 2 semitones either way per 10 ms hop: that is 97 % of pYIN's time (3.4 s on a 6 s
note, three times per recipe). This module runs librosa's own pYIN front end (difference function, threshold prior,
observation probabilities: its private helpers, which is safe because ``librosa`` is pinned) and decodes with a
Viterbi that visits only the transitions the model allows. No library offers a banded Viterbi; the tests check
that the path is librosa's, frame for frame.
"""

from __future__ import annotations

import functools

import librosa
import numba
import numpy as np
import scipy.stats
from librosa.core import pitch as librosa_pitch

FMIN_HZ = 30.0
FMAX_HZ = 2000.0
HOP_S = 0.01
# librosa.pyin's defaults
N_THRESHOLDS = 100
BETA_PARAMETERS = (2, 18)
BOLTZMANN_PARAMETER = 2
RESOLUTION = 0.1
MAX_TRANSITION_RATE = 35.92
SWITCH_PROB = 0.01
NO_TROUGH_PROB = 0.01

_observations = getattr(librosa_pitch, "__pyin_helper")  # a module-private name


def f0_track(x: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """pYIN f0 (Hz, NaN where unvoiced) and voiced flags, 10 ms hop: what ``librosa.pyin(x, fmin=30, fmax=2000,
    sr=sr, frame_length=<two periods of 30 Hz>, hop_length=10 ms)`` returns, in a fraction of its time."""
    frame_length = 1 << int(np.ceil(np.log2(2.2 * sr / FMIN_HZ)))  # two periods of the lowest f0
    hop = int(HOP_S * sr)
    y = np.pad(np.asarray(x, dtype=np.float64), frame_length // 2)
    frames = librosa.util.frame(y, frame_length=frame_length, hop_length=hop)
    min_period = int(np.floor(sr / FMAX_HZ))
    max_period = min(int(np.ceil(sr / FMIN_HZ)), frame_length - 1)
    yin = librosa_pitch._cumulative_mean_normalized_difference(frames, min_period, max_period)
    shifts = librosa_pitch._parabolic_interpolation(yin)
    thresholds = np.linspace(0, 1, N_THRESHOLDS + 1)
    beta_probs = np.diff(scipy.stats.beta.cdf(thresholds, *BETA_PARAMETERS))
    per_semitone = int(np.ceil(1.0 / RESOLUTION))
    n_bins = int(np.floor(12 * per_semitone * np.log2(FMAX_HZ / FMIN_HZ))) + 1
    probs, _ = _observations(
        yin, shifts, sr, thresholds, BOLTZMANN_PARAMETER, beta_probs, NO_TROUGH_PROB, min_period, FMIN_HZ, n_bins,
        per_semitone,
    )  # fmt: skip
    width = round(MAX_TRANSITION_RATE * 12 * hop / sr) * per_semitone + 1
    tiny = np.finfo(np.float64).tiny
    states = _banded_viterbi(
        np.log(probs[0].T + tiny), _log_transition(n_bins, width), np.log(np.full(2 * n_bins, 1 / (2 * n_bins)) + tiny),
        n_bins, width // 2,
    )  # fmt: skip
    freqs = FMIN_HZ * 2 ** (np.arange(n_bins) / (12 * per_semitone))
    voiced = states < n_bins
    f0 = np.where(voiced, freqs[states % n_bins], np.nan)
    return f0, voiced


@functools.lru_cache(maxsize=4)
def _log_transition(n_bins: int, width: int) -> np.ndarray:
    """pYIN's log transition matrix (voiced and unvoiced blocks of ``n_bins``, moves within ``width`` bins), as
    librosa builds it. It depends on the sample rate only, and building it took most of a short sound's track, so
    it is built once per rate (read-only, 17 MB at 22.05 kHz)."""
    local = librosa.sequence.transition_local(n_bins, width, window="triangle", wrap=False)
    transition = np.kron(librosa.sequence.transition_loop(2, 1 - SWITCH_PROB), local)
    out = np.log(transition + np.finfo(np.float64).tiny)
    out.flags.writeable = False
    return out


@numba.njit(cache=True)
def _banded_viterbi(
    log_prob: np.ndarray, log_trans: np.ndarray, log_init: np.ndarray, n_bins: int, reach: int
) -> np.ndarray:  # pragma: no cover (compiled)
    """librosa's ``_viterbi`` for pYIN's two blocks of ``n_bins`` states: predecessors of a state are only the
    bins within ``reach`` of its bin, in either block (the transitions outside are zero). Ties go to the lowest
    state, as in librosa."""
    steps, n_states = log_prob.shape
    value = np.empty((steps, n_states))
    ptr = np.zeros((steps, n_states), dtype=np.int64)
    value[0] = log_prob[0] + log_init
    for t in range(1, steps):
        for j in range(n_states):
            bin_j = j % n_bins
            lo, hi = max(0, bin_j - reach), min(n_bins, bin_j + reach + 1)
            best, arg = -np.inf, 0
            for block in range(2):
                for i in range(block * n_bins + lo, block * n_bins + hi):
                    v = value[t - 1, i] + log_trans[i, j]
                    if v > best:
                        best, arg = v, i
            ptr[t, j] = arg
            value[t, j] = log_prob[t, j] + best
    states = np.empty(steps, dtype=np.int64)
    states[-1] = np.argmax(value[-1])
    for t in range(steps - 2, -1, -1):
        states[t] = ptr[t + 1, states[t + 1]]
    return states
