"""Rendered training stems in one portable file, so that the network can be fitted on a machine without the
sound banks or FluidSynth (a GPU box): ``audiowave train-instruments --export-stems`` writes it,
``--stems`` reads it.

Each stem's audio is stored as Ogg Opus (libsndfile through soundfile: no other codec library), which keeps a
full training set of about 19,000 s near 80 MB where 16-bit PCM takes 610 MB; the labels, banks,
programs, effects and kinds travel beside it as JSON. Opus changes the audio slightly (its band energies, which
the log-mel front end sees, are kept); the archive says so, and the model card names the archive it was fitted on.
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import soundfile as sf

from audiowave.errors import InputError
from audiowave.instruments.recipe import SAMPLE_RATE, Stem

FORMAT = "audiowave-stems-v1"
# libsndfile's Opus compression level (0 best quality .. 1 smallest): about 33 kbit/s for these stems, whose
# log-mel bins within 40 dB of the loudest then differ from the original's by 0.8 dB (median; 1.8 dB at the 90th
# percentile); level 0.95 halves the size at twice the error.
COMPRESSION_LEVEL = 0.9


def save(stems: list[Stem], path: Path, recipe: dict, compression_level: float = COMPRESSION_LEVEL) -> dict:
    """Write ``stems`` to ``path`` (.npz), with the ``recipe`` that rendered them (phrases, seed); returns the
    archive's summary (recipe, codec, stems, seconds, bytes)."""
    blobs = []
    for stem in stems:
        buf = io.BytesIO()
        sf.write(buf, stem.audio, SAMPLE_RATE, format="OGG", subtype="OPUS", compression_level=compression_level)
        blobs.append(buf.getvalue())
    meta = [{k: v for k, v in asdict(s).items() if k != "audio"} | {"samples": int(s.audio.size)} for s in stems]
    summary = {
        "format": FORMAT,
        "recipe": recipe,
        "codec": f"ogg/opus, compression level {compression_level:g}",
        "sample_rate": SAMPLE_RATE,
        "stems": len(stems),
        "seconds": round(sum(s.audio.size for s in stems) / SAMPLE_RATE, 1),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        np.savez(
            f,
            audio=np.frombuffer(b"".join(blobs), np.uint8),
            offsets=np.cumsum([0] + [len(b) for b in blobs]),
            meta=np.array(json.dumps({"summary": summary, "stems": meta})),
        )
    return summary | {"bytes": path.stat().st_size}


def load(path: Path) -> tuple[list[Stem], dict]:
    """The stems of an archive written by :func:`save`, audio decoded to float32 at 16 kHz, and its summary."""
    try:
        with np.load(path) as z:
            audio, offsets, meta = z["audio"].tobytes(), z["offsets"], json.loads(str(z["meta"]))
    except FileNotFoundError as exc:
        raise InputError(f"{path}: no such stem archive") from exc
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(f"{path} is not a stem archive written by --export-stems") from exc
    if meta.get("summary", {}).get("format") != FORMAT:
        raise InputError(f"{path} is not a {FORMAT} archive")
    stems = []
    for i, m in enumerate(meta["stems"]):
        decoded, _ = sf.read(io.BytesIO(audio[offsets[i] : offsets[i + 1]]), dtype="float32")
        samples = m.pop("samples")
        stems.append(Stem(audio=np.pad(decoded, (0, max(0, samples - decoded.size)))[:samples], **m))
    return stems, meta["summary"]
