"""The customer's top-level layout never shadows third-party packages (e.g. Hugging Face `datasets`)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_top_level_ray_folders_are_not_importable_packages():
    for folder in ("ray_apps", "actors", "datasets", "cluster"):
        assert (ROOT / folder).is_dir()
        assert not (ROOT / folder / "__init__.py").exists(), f"{folder}/__init__.py would shadow PyPI packages"


def test_ray_folders_are_mapped_inside_the_audiowave_namespace():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    for folder in ("ray_apps", "actors", "datasets"):
        assert config["package-dir"][f"audiowave.{folder}"] == folder
        assert f"audiowave.{folder}" in config["packages"]


def test_import_datasets_from_the_repository_root_never_gets_ours(tmp_path):
    """Run from the repo root (cwd first on sys.path): a regular package elsewhere must win."""
    fake = tmp_path / "site" / "datasets"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("ORIGIN = 'third-party'\n")
    code = f"import sys; sys.path.append({str(tmp_path / 'site')!r}); import datasets; print(datasets.ORIGIN)"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.stdout.strip() == "third-party", proc.stderr
