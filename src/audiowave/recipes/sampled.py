"""The sample-based recipe: the closest library sample (sample index), played as it sounds in the span."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import soxr

from audiowave.recipes.patch import Patch, SampleSource
from audiowave.samples.identify import FoundSample, SampleMatcher
from audiowave.samples.library import decode_bytes, read_bytes
from audiowave.samples.proof import render_sample

# A span usually holds one occurrence, so the matcher's repeat bonus cannot lift a true match over the track
# threshold (0.74); single pitched hits over other material score ~0.7. The lower bar only admits a candidate:
# it must still sound closer to the span than every refined synth recipe to be chosen.
SPAN_THRESHOLD = 0.6


@dataclass
class SampledCandidate:
    patch: Patch
    audio: np.ndarray  # the library sample rendered and placed on the span's timeline (span rate)


def sample_candidate(
    span: np.ndarray, sr: int, matcher: SampleMatcher, threshold: float = SPAN_THRESHOLD
) -> SampledCandidate | None:
    """The best library match inside ``span`` (mono), rendered with its pitch, stretch and gain; None if none."""
    found, _ = matcher.find([("span", span.astype(np.float32))], sr, threshold)
    usable = [f for f in found if f.url]
    if not usable:
        return None
    best: FoundSample = max(usable, key=lambda f: f.match.confidence)
    sample = decode_bytes(read_bytes(best.url), best.meta["path"], 0.0)
    mono = sample.mono if sample.sample_rate == sr else soxr.resample(sample.mono, sample.sample_rate, sr)
    rendered = render_sample(mono, sr, best)
    m = best.match
    onset = round((m.occurrences[0].start_s - m.sample_offset_s * m.time_stretch) * sr)
    placed = np.zeros(len(span), dtype=np.float32)
    src = rendered[max(-onset, 0) :]
    n = max(min(len(src), len(placed) - max(onset, 0)), 0)
    placed[max(onset, 0) : max(onset, 0) + n] = src[:n]
    source = SampleSource(
        name=best.meta["name"],
        path=f"{best.meta['library']}:{best.meta['path']}",
        pitch_semitones=float(m.pitch_semitones),
        stretch=float(m.time_stretch),
        similarity=float(m.confidence),
    )
    return SampledCandidate(Patch(source="sample", duration_s=max(len(span) / sr, 0.01), sample=source), placed)
