"""Sound-recreation recipes: estimate a synth patch from audio, render it, score it, refine it, explain it.

Ray-free. ``patch`` holds the recipe model, ``synth`` renders it (own wavetable/FM oscillators and filter,
pedalboard effects), ``distance`` scores a rendering against the original, ``estimate`` proposes patches
from signal measurements, ``refine`` searches their parameters (CMA-ES), ``describe`` writes the steps in
words, ``vital`` exports a Vital preset, and ``suggest`` ties them together.
"""
