"""The comb search's compiled loops (audiowave.forensics.path_sums) against the numpy forms they replace."""

import numpy as np

from audiowave.forensics.path_sums import segment_correlations, sums_along_offsets


def test_sums_along_offsets_are_the_gathered_sums():
    rng = np.random.default_rng(0)
    image = rng.standard_normal((50, 30))
    reach = 4
    offsets = rng.integers(-reach, reach + 1, (6, 50))
    centres = np.arange(reach, 30 - reach)
    gathered = image[np.arange(50)[None, :, None], centres[None, None, :] + offsets[:, :, None]].sum(axis=1)
    np.testing.assert_allclose(sums_along_offsets(image, offsets, reach, len(centres)), gathered, rtol=1e-12)


def test_segment_correlations_are_the_interpolated_ones():
    """Fractional delays, read as np.interp reads them: zero before the signal starts, its last sample past its end
    (a negative delay reaches ahead)."""
    rng = np.random.default_rng(1)
    white = rng.standard_normal(400)
    index = np.arange(400)
    delay = 20 + 15 * np.sin(index / 30)
    shifts = np.array([-40.0, -2.5, 0.0, 0.75, 9.0])
    segment = 50
    expected = np.empty((8, len(shifts)))
    for k, shift in enumerate(shifts):
        delayed = np.interp(index - (delay + shift), index, white, left=0.0)
        product = (white * delayed).reshape(8, segment).sum(axis=1)
        energy = (0.5 * (white**2 + delayed**2)).reshape(8, segment).sum(axis=1)
        expected[:, k] = product / (energy + 1e-12)
    np.testing.assert_allclose(segment_correlations(white, delay, shifts, segment), expected, rtol=1e-10, atol=1e-12)
