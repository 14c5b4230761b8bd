"""Our HPSS (1-D median filters) gives librosa's masks and harmonic part."""

import librosa
import numpy as np
import pytest
import scipy.ndimage

from audiowave.hpss import harmonic_part, hpss_masks, median_along


@pytest.mark.parametrize(("kernel", "margin"), [(31, 1.0), (17, 1.25), ((13, 21), (1.0, 2.0)), (31, (1.0, 1.0))])
def test_masks_are_librosas(kernel, margin):
    rng = np.random.default_rng(0)
    mag = np.abs(rng.standard_normal((2, 300, 200))).astype(np.float32) ** 2
    mag[:, :, 50:60] = 0.0  # silent frames: the zero-splitting rule applies
    ours = hpss_masks(mag, kernel_size=kernel, margin=margin)
    theirs = librosa.decompose.hpss(mag, kernel_size=kernel, margin=margin, mask=True)
    for a, b in zip(ours, theirs, strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_harmonic_part_is_librosas():
    t = np.arange(22050) / 22050
    y = (np.sin(2 * np.pi * 440 * t) + (np.arange(22050) % 5000 == 0)).astype(np.float32)
    np.testing.assert_allclose(harmonic_part(y, margin=2.0), librosa.effects.harmonic(y, margin=2.0), atol=1e-5)


def test_a_margin_below_one_is_refused():
    with pytest.raises(ValueError, match="margins must be >= 1"):
        hpss_masks(np.ones((10, 10)), margin=0.5)


@pytest.mark.parametrize(("axis", "mode"), [(0, "reflect"), (1, "reflect"), (0, "nearest"), (1, "nearest")])
def test_the_running_median_line_by_line_is_scipys_nd_one(axis, mode):
    """median_along gives what scipy.ndimage.median_filter gives over a (k, 1) or (1, k) window, edges alike."""
    x = np.random.default_rng(3).standard_normal((40, 50))
    window = (7, 1) if axis == 0 else (1, 7)
    assert np.array_equal(median_along(x, 7, axis, mode), scipy.ndimage.median_filter(x, size=window, mode=mode))
