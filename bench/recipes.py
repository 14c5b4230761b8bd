"""Recipe engine speed: what one search step costs, and one whole ``suggest``, per sound length.

    python bench/recipes.py            # or: make bench-recipes

For one-shots of 0.5, 1, 2, 4 and 6 s (a detuned saw through a resonant low-pass with reverb; 6 s is the longest
span ``suggest`` takes): render time at the search rate, distance time, evaluations per second, the time of one
pitch track (``suggest`` runs three), and wall time, evaluations and peak memory (RSS growth) of a whole ``suggest``
with a 5 s budget.
"""

from __future__ import annotations

import resource
import time

from rich.console import Console
from rich.table import Table

from audiowave.recipes.distance import Target
from audiowave.recipes.patch import Effect, Envelope, Filter, Oscillator, Patch
from audiowave.recipes.pitch_track import f0_track
from audiowave.recipes.suggest import SEARCH_SR, suggest
from audiowave.recipes.synth import render


def patch(seconds: float) -> Patch:
    return Patch(
        source="subtractive",
        note_midi=48,
        duration_s=seconds * 0.7,
        oscillators=[Oscillator(waveform="saw", unison=5, unison_detune_cents=20)],
        amp=Envelope(attack_s=0.01, decay_s=0.3, sustain=0.6, release_s=seconds * 0.3),
        filter=Filter(type="lowpass", cutoff_hz=600, resonance=0.5, env_octaves=2.5),
        fx=[Effect(kind="reverb", params={"room_size": 0.5, "wet_level": 0.25})],
    )


def timed(fn, repeats: int) -> float:
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def main() -> None:
    table = Table(title="recipe engine (search rate 22.05 kHz; suggest budget 5 s)")
    columns = ("sound", "render ms", "distance ms", "evals/s", "pitch track ms", "suggest s", "evaluations", "RSS +MB")
    for col in columns:
        table.add_column(col, justify="right")
    f0_track(render(patch(0.5), SEARCH_SR), SEARCH_SR)  # compile (or load) the numba code once
    for seconds in (0.5, 1.0, 2.0, 4.0, 6.0):
        p = patch(seconds)
        y = render(p, SEARCH_SR)
        target = Target(y, SEARCH_SR)
        r_ms = 1000 * timed(lambda p=p: render(p, SEARCH_SR), 20)
        d_ms = 1000 * timed(lambda y=y, t=target: t.loss(y), 20)
        f0_ms = 1000 * timed(lambda y=y: f0_track(y, SEARCH_SR), 3)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.perf_counter()
        recipe = suggest(render(p, 44100), 44100, budget_s=5.0).recipe
        wall = time.perf_counter() - start
        grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
        table.add_row(
            f"{seconds:g} s",
            f"{r_ms:.1f}",
            f"{d_ms:.1f}",
            f"{1000 / (r_ms + d_ms):.0f}",
            f"{f0_ms:.0f}",
            f"{wall:.1f}",
            str(recipe.search.evaluations),
            f"{grown:.0f}",
        )
    Console(width=120).print(table)


if __name__ == "__main__":
    main()
