"""Sample-based recipes: the library sample found in the span (sample index), played as it sounds there, and the
library's nearest samples by timbre (:mod:`audiowave.samples.timbre`), played at their best pitch."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import soxr

from audiowave.recipes.patch import Patch, SampleSource
from audiowave.samples.descriptors import first_onset
from audiowave.samples.identify import FoundSample, LocalSampleMatcher
from audiowave.samples.library import decode_bytes, read_bytes
from audiowave.samples.proof import render_sample

# A span usually holds one occurrence, so the matcher's repeat bonus cannot lift a true match over the track
# threshold (0.74); single pitched hits over other material score ~0.7. The lower bar only admits a candidate:
# it must still sound closer to the span than every refined synth recipe to be chosen.
SPAN_THRESHOLD = 0.6
SIMILAR_COUNT = 4  # nearest samples by timbre that are rendered and scored against the span


@dataclass
class SampledCandidate:
    patch: Patch
    audio: np.ndarray  # the library sample rendered and placed on the span's timeline (span rate)


def _decoded(url: str, path: str, sr: int) -> np.ndarray:
    sample = decode_bytes(read_bytes(url), path, 0.0)
    return sample.mono if sample.sample_rate == sr else soxr.resample(sample.mono, sample.sample_rate, sr)


def _placed(rendered: np.ndarray, onset: int, n: int) -> np.ndarray:
    """``rendered`` on a timeline of ``n`` samples, its start at ``onset`` (cut where it falls outside)."""
    placed = np.zeros(n, dtype=np.float32)
    src = rendered[max(-onset, 0) :]
    count = max(min(len(src), n - max(onset, 0)), 0)
    placed[max(onset, 0) : max(onset, 0) + count] = src[:count]
    return placed


def sample_candidate(
    span: np.ndarray, sr: int, matcher: LocalSampleMatcher, threshold: float = SPAN_THRESHOLD
) -> tuple[SampledCandidate | None, FoundSample | None]:
    """The best library match inside ``span`` (mono), rendered with its pitch, stretch and gain, and the match;
    (None, None) if none."""
    found, _ = matcher.find([("span", span.astype(np.float32))], sr, threshold)
    usable = [f for f in found if f.url]
    if not usable:
        return None, None
    best: FoundSample = max(usable, key=lambda f: f.match.confidence)
    rendered = render_sample(_decoded(best.url, best.meta["path"], sr), sr, best)
    m = best.match
    onset = round((m.occurrences[0].start_s - m.sample_offset_s * m.time_stretch) * sr)
    source = SampleSource(
        name=best.meta["name"],
        path=f"{best.meta['library']}:{best.meta['path']}",
        pitch_semitones=float(m.pitch_semitones),
        stretch=float(m.time_stretch),
        similarity=float(m.confidence),
    )
    patch = Patch(source="sample", duration_s=max(len(span) / sr, 0.01), sample=source)
    return SampledCandidate(patch, _placed(rendered, onset, len(span))), best


def similar_candidates(
    span: np.ndarray, sr: int, matcher: LocalSampleMatcher, exclude: set[str], count: int = SIMILAR_COUNT
) -> list[SampledCandidate]:
    """The ``count`` library samples nearest ``span`` by timbre, leaving out the recordings keyed in ``exclude``
    (the one identified in it), each varispeeded to its best pitch with its onset on the span's."""
    span_onset = first_onset(span)
    out = []
    for s in matcher.similar(span.astype(np.float32), sr, count + len(exclude)):
        if s.meta["key"] in exclude or not s.url or len(out) == count:
            continue
        ratio = 2.0 ** (s.shift / 12)
        y = _decoded(s.url, s.meta["path"], sr)
        y = soxr.resample(y, sr, sr / ratio) if s.shift else y  # a sampler's pitch: faster and higher
        onset = span_onset - round(s.onset_s * sr / ratio)
        source = SampleSource(
            name=s.meta["name"],
            path=f"{s.meta['library']}:{s.meta['path']}",
            relation="similar",
            pitch_semitones=float(s.shift),
            stretch=1.0 / ratio,
            similarity=float(np.clip(s.similarity, -1, 1)),
        )
        patch = Patch(source="sample", duration_s=max(len(span) / sr, 0.01), sample=source)
        out.append(SampledCandidate(patch, _placed(np.asarray(y, np.float32), onset, len(span))))
    return out
