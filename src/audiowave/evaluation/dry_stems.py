"""A corpus instrument played again from its MIDI file with the sound bank's own reverb and chorus off.

The dev corpus renders every instrument through FluidSynth with its reverb send (CC91: 45, drums 25) and, on 8
programs, its chorus send (CC93: 25) on. Effect cases built on those stems carry a reverb and a chorus that
their truth does not name: a detector that hears them is scored as a false alarm. Rendering the same MIDI file
with the same command but ``-R 0 -C 0`` gives the same performance without them; the corpus' gain for the stem
(``mix_gain_db``) puts it at the level it has in the mix.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from audiowave.errors import InputError

SOUNDFONT_DIRS = (Path("/usr/share/sounds/sf3"), Path("/usr/share/sounds/sf2"))
RENDER_GAIN = 0.5  # the corpus generator's ``fluidsynth -g``


def soundfont_path(name: str) -> Path:
    """The installed sound bank called ``name`` (a file name, as the corpus records it)."""
    for folder in SOUNDFONT_DIRS:
        if (folder / name).is_file():
            return folder / name
    raise InputError(f"sound bank {name} is not installed (looked in {', '.join(map(str, SOUNDFONT_DIRS))})")


def render_dry(midi: Path, soundfont: Path, sr: int, n_samples: int) -> np.ndarray:
    """``midi`` through ``soundfont`` by the FluidSynth command, reverb and chorus off: (2, n_samples) float32."""
    binary = shutil.which("fluidsynth")
    if binary is None:
        raise InputError("the fluidsynth command is needed to render dry stems (Debian package fluidsynth)")
    if not midi.is_file():
        raise InputError(f"{midi}: no such MIDI file")
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "dry.wav"
        cmd = [binary, "-ni", "-q", "-F", str(wav), "-r", str(sr), "-O", "float", "-T", "wav", "-g", str(RENDER_GAIN)]
        cmd += ["-o", "synth.cpu-cores=1", "-R", "0", "-C", "0", str(soundfont), str(midi)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not wav.is_file():
            raise InputError(f"fluidsynth could not render {midi}: {done.stderr.strip()[-300:]}")
        audio, _ = sf.read(wav, dtype="float32", always_2d=True)
    out = np.zeros((2, n_samples), dtype=np.float32)
    m = min(n_samples, len(audio))
    out[:, :m] = (audio if audio.shape[1] == 2 else np.repeat(audio, 2, axis=1))[:m].T
    return out


def dry_stem(corpus: Path, instrument: dict, sr: int, n_samples: int) -> np.ndarray:
    """A corpus instrument (its ground-truth entry) rendered dry at its level in the mix: (2, n_samples)."""
    for key in ("midi", "soundfont", "mix_gain_db"):
        if key not in instrument:
            name = instrument.get("name", "an instrument")
            raise InputError(f"{name}: no {key} in the ground truth to render it dry")
    audio = render_dry(corpus / instrument["midi"], soundfont_path(instrument["soundfont"]), sr, n_samples)
    return audio * np.float32(10 ** (instrument["mix_gain_db"] / 20))
