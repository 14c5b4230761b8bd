"""Shared fixtures: small generated signals and isolated settings (no user home touched)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audiowave.config import Settings, get_settings

from signals import SR

pytest_plugins = ["service_fixtures"]


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory, monkeypatch) -> Path:
    """Every test gets its own AUDIOWAVE_HOME (models dir included)."""
    home = tmp_path_factory.mktemp("awhome")
    monkeypatch.setenv("AUDIOWAVE_HOME", str(home))
    get_settings.cache_clear()
    yield home
    get_settings.cache_clear()


@pytest.fixture
def settings(isolated_home) -> Settings:
    return get_settings()


@pytest.fixture
def write_wav(tmp_path):
    """Write a (n,) or (n, ch) float array to a file in tmp_path; returns the path."""

    def _write(name: str, data: np.ndarray, sr: int = SR, **kw) -> Path:
        path = tmp_path / name
        sf.write(path, data, sr, **kw)
        return path

    return _write
