"""Nearest library samples by timbre (samples.timbre) and the sample-based recipe they give (recipes.sampled)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import butter, sosfilt

from audiowave.recipes.sampled import similar_candidates
from audiowave.recipes.suggest import suggest
from audiowave.samples import timbre
from audiowave.samples.descriptors import describe
from audiowave.samples.identify import LocalSampleMatcher
from audiowave.samples.index_store import IndexEntry, SampleIndex

SR = 44100


def pluck(f0: float, seed: int, seconds: float = 0.8) -> np.ndarray:
    """A decaying harmonic tone (partials 1/k, random phases) over a little noise: one 'take' per seed."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    tone = sum(np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 2 * np.pi)) / k for k in range(1, 12))
    return ((tone + 0.01 * rng.standard_normal(t.size)) * np.exp(-4 * t)).astype(np.float32)


def thud(seed: int) -> np.ndarray:
    """Low-passed noise, fast decay."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(0.5 * SR)) / SR
    return (sosfilt(butter(4, 300, fs=SR, output="sos"), rng.standard_normal(t.size)) * np.exp(-12 * t)).astype(
        np.float32
    )


def hat(seed: int) -> np.ndarray:
    """High-passed noise, very short."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(0.2 * SR)) / SR
    return (
        sosfilt(butter(4, 6000, "highpass", fs=SR, output="sos"), rng.standard_normal(t.size)) * np.exp(-40 * t)
    ).astype(np.float32)


@pytest.fixture
def library(tmp_path) -> LocalSampleMatcher:
    """Three sounds of different timbre written as a library, indexed in process."""
    sounds = {"pluck.wav": pluck(196.0, 0), "thud.wav": thud(1), "hat.wav": hat(2)}
    entries = []
    for name, audio in sounds.items():
        sf.write(tmp_path / name, audio, SR)
        meta = {
            "key": name * 4,
            "library": "kit",
            "path": name,
            "pack": "",
            "name": name,
            "duration_s": audio.size / SR,
            "kind": "one-shot",
            "licence": "",
        }
        entries.append(IndexEntry(meta, describe(audio, SR)))
    return LocalSampleMatcher(SampleIndex.from_entries(entries), {"kit": str(tmp_path)})


def test_the_nearest_sample_by_timbre_comes_with_the_pitch_to_play_it_at(library):
    # another take of the pluck (other phases and noise), 3 semitones higher and duller: no recording in the library
    take = sosfilt(butter(2, 4000, fs=SR, output="sos"), pluck(196.0 * 2 ** (3 / 12), 7)).astype(np.float32)
    entries, spectrograms = library.index.timbres
    assert spectrograms.shape == (3, 8, timbre.BANDS)
    near = timbre.nearest(timbre.query_spectrogram(take, SR), spectrograms, 3)
    assert library.index.entries[entries[near[0].entry]].meta["name"] == "pluck.wav"
    assert near[0].shift == 3 and near[0].similarity > near[1].similarity
    assert near[0].similarity > 0.8  # same sound (1 - 10 dB / 50 dB)
    for sound, name in ((thud(9), "thud.wav"), (hat(9), "hat.wav")):  # other takes of the unpitched sounds
        first = timbre.nearest(timbre.query_spectrogram(sound, SR), spectrograms, 1)[0]
        assert library.index.entries[entries[first.entry]].meta["name"] == name and first.shift == 0


def test_similar_samples_are_rendered_at_their_pitch_on_the_span_and_the_identified_one_left_out(library):
    take = np.concatenate([np.zeros(2205, np.float32), pluck(196.0 * 2 ** (-2 / 12), 7)])
    found = similar_candidates(take, SR, library, exclude=set())
    source = found[0].patch.sample
    assert source.name == "pluck.wav" and source.relation == "similar" and source.pitch_semitones == -2
    assert source.stretch == pytest.approx(2 ** (2 / 12))  # played slower, as a sampler does
    # placed on the span: the rendering starts where the take does (50 ms in) and lasts as long as the span
    audio = found[0].audio
    assert audio.size == take.size and np.abs(audio[:2000]).max() == 0 and np.abs(audio[2300:2600]).max() > 0.05
    # the same pitch ratio: the rendering's spectrum peaks where the take's does
    peak = [np.argmax(np.abs(np.fft.rfft(x[2205 : 2205 + 16384]))) for x in (audio, take)]
    assert abs(peak[0] - peak[1]) <= 2
    left = similar_candidates(take, SR, library, exclude={"pluck.wav" * 4})
    assert "pluck.wav" not in {c.patch.sample.name for c in left} and len(left) == 2


def test_suggest_offers_the_nearest_library_sample_when_none_is_found_in_the_sound(library):
    take = pluck(196.0 * 2 ** (1 / 12), 11)
    recipe = suggest(take, SR, budget_s=1.0, sample_matcher=library).recipe
    sampled = [c for c in recipe.candidates if c.source == "sample"]
    assert len(sampled) == 1 and sampled[0].sample.name == "pluck.wav" and sampled[0].sample.relation == "similar"
    assert sampled[0].sample.pitch_semitones == 1
    if recipe.patch.source == "sample":
        assert "nearest by timbre" in recipe.steps[0]


def test_the_steps_say_how_to_play_a_library_sample():
    from audiowave.recipes.describe import steps
    from audiowave.recipes.patch import Patch, SampleSource

    def played(**kw) -> str:
        source = SampleSource(name="a.wav", path="kit:a.wav", similarity=0.9, **kw)
        return steps(Patch(source="sample", sample=source))[1]

    assert played() == "Play it as it is: no pitch change, no time stretch."
    assert "+3.00 semitones by speed" in played(relation="similar", pitch_semitones=3, stretch=2 ** (-3 / 12))
    assert "time-stretched ×1.100" in played(pitch_semitones=-1, stretch=1.1)
