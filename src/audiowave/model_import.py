"""Verify and install user-supplied weights (HT-Demucs ``.th`` + bag yaml, PANNs checkpoint + labels)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import yaml

from audiowave.config import Settings, get_settings
from audiowave.errors import ModelUnavailableError
from audiowave.registry import MANIFEST, get_spec, sha256_file

DEMUCS_BAGS = {"955717e8": "htdemucs", "5c90dfd2": "htdemucs_6s"}
_DEMUCS_FILE = re.compile(r"^([0-9a-f]{8})-([0-9a-f]{8})\.th$")


def import_weights(path: Path, settings: Settings | None = None) -> list[str]:
    """Install every recognised weight file at ``path`` (a file or a directory). Returns what was done."""
    settings = settings or get_settings()
    path = Path(path)
    if not path.exists():
        raise ModelUnavailableError(f"{path}: no such file or directory")
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    done: list[str] = []
    for file in files:
        if file.suffix == ".th":
            done.append(_import_demucs(file, settings))
        elif file.suffix in {".yaml", ".yml"}:
            done.append(_import_demucs_bag(file, settings))
        elif file.suffix == ".pth":
            done.append(_import_panns_checkpoint(file, settings))
        elif file.suffix == ".csv":
            done.append(_import_panns_labels(file, settings))
        elif not path.is_dir():
            raise ModelUnavailableError(
                f"{file}: not a recognised weight file (expected demucs .th/.yaml, PANNs .pth or labels .csv)"
            )
    if not done:
        raise ModelUnavailableError(f"{path}: no weight files found")
    return done


def _install(src: Path, dest_dir: Path, name: str) -> Path:
    """Copy atomically (temp file + rename) and record the SHA-256 in the directory manifest."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / name
    tmp = dest_dir / f".{name}.partial"
    shutil.copyfile(src, tmp)
    tmp.replace(dest)
    manifest_path = dest_dir / MANIFEST
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    manifest[name] = sha256_file(dest)
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return dest


def _import_demucs(file: Path, settings: Settings) -> str:
    match = _DEMUCS_FILE.match(file.name)
    if not match:
        raise ModelUnavailableError(f"{file}: demucs weights must be named <signature>-<sha256 prefix>.th")
    sig, prefix = match.groups()
    if not sha256_file(file).startswith(prefix):
        raise ModelUnavailableError(f"{file}: checksum does not match the {prefix} in its name (corrupt download?)")
    from demucs.states import load_model

    try:
        load_model(file)
    except Exception as exc:  # any unpickling/architecture error means the file is unusable
        raise ModelUnavailableError(f"{file}: demucs cannot load it ({exc})") from exc
    dest_dir = settings.resolved_models_dir / get_spec("htdemucs").subdir
    dest = _install(file, dest_dir, file.name)
    bag = DEMUCS_BAGS.get(sig)
    if bag and not (dest_dir / f"{bag}.yaml").exists():
        (dest_dir / f"{bag}.yaml").write_text(yaml.safe_dump({"models": [sig]}))
    return f"demucs model {sig} -> {dest}" + (f" (bag {bag})" if bag else "")


def _import_demucs_bag(file: Path, settings: Settings) -> str:
    try:
        bag = yaml.safe_load(file.read_text())
    except yaml.YAMLError as exc:
        raise ModelUnavailableError(f"{file}: not valid YAML ({exc})") from exc
    if not isinstance(bag, dict) or not isinstance(bag.get("models"), list):
        raise ModelUnavailableError(f"{file}: a demucs bag file needs a 'models:' list")
    dest = _install(file, settings.resolved_models_dir / get_spec("htdemucs").subdir, file.name)
    return f"demucs bag {file.stem} -> {dest}"


def _import_panns_checkpoint(file: Path, settings: Settings) -> str:
    from audiowave.stages.tagging import build_cnn14, load_state_dict

    build_cnn14(load_state_dict(file), str(file))  # raises with the reason if it does not fit CNN14
    spec = get_spec("panns_cnn14")
    dest = _install(file, settings.resolved_models_dir / spec.subdir, spec.files[0].relpath)
    return f"PANNs CNN14 checkpoint -> {dest}"


def _import_panns_labels(file: Path, settings: Settings) -> str:
    from audiowave.stages.tagging import read_labels

    read_labels(file)
    spec = get_spec("panns_cnn14")
    dest = _install(file, settings.resolved_models_dir / spec.subdir, spec.files[1].relpath)
    return f"AudioSet labels -> {dest}"
