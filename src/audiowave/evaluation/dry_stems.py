"""A corpus instrument played again from its MIDI file with the sound bank's own reverb and chorus off.

The dev corpus renders every instrument through FluidSynth with its reverb send (CC91: 45, drums 25) and, on 8
programs, its chorus send (CC93: 25) on. Effect cases built on those stems carry a reverb and a chorus that
their truth does not name: a detector that hears them is scored as a false alarm. Rendering the same MIDI file
with the same settings but ``-R 0 -C 0`` (in process, through libfluidsynth: sample for sample what the command
gives with TimGM6mb, within 5e-6 (-106 dBFS) with MuseScore General's compressed samples) plays the same
performance without them; the corpus' gain for the stem (``mix_gain_db``) puts it at the level it has in the mix.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf

from audiowave.errors import InputError

SOUNDFONT_DIRS = (Path("/usr/share/sounds/sf3"), Path("/usr/share/sounds/sf2"))
# the corpus generator's command, ``fluidsynth -F out.wav -r SR -O float -T wav -g 0.5 -o synth.cpu-cores=1``, with
# ``-R 0 -C 0``
SETTINGS = {
    "synth.cpu-cores": 1,
    "synth.reverb.active": 0,
    "synth.chorus.active": 0,
    "audio.file.type": "wav",
    "audio.file.format": "float",
}
RENDER_GAIN = 0.5


def soundfont_path(name: str) -> Path:
    """The installed sound bank called ``name`` (a file name, as the corpus records it)."""
    for folder in SOUNDFONT_DIRS:
        if (folder / name).is_file():
            return folder / name
    raise InputError(f"sound bank {name} is not installed (looked in {', '.join(map(str, SOUNDFONT_DIRS))})")


def _synth(sr: int):
    try:
        import fluidsynth
    except ImportError as exc:  # pyfluidsynth is installed, but libfluidsynth is not
        raise InputError(f"rendering dry stems needs libfluidsynth (Debian package libfluidsynth3): {exc}") from exc
    return fluidsynth.Synth(gain=RENDER_GAIN, samplerate=float(sr), **SETTINGS)


@functools.cache
def _bank_kept_loaded(soundfont: Path, sr: int):
    """A synth that holds ``soundfont`` for the process' life, so that FluidSynth's sample cache keeps the bank's
    decoded samples for the fresh synth of each rendering (MuseScore General's: 4-7 s to load, then 0.2 s)."""
    synth = _synth(sr)
    if synth.sfload(str(soundfont)) < 0:
        raise InputError(f"FluidSynth could not load the sound bank {soundfont}")
    return synth


def render_dry(midi: Path, soundfont: Path, sr: int, n_samples: int) -> np.ndarray:
    """``midi`` through ``soundfont`` as the corpus' FluidSynth command renders it, reverb and chorus off:
    (2, n_samples) float32. A fresh synth each time: one that has played a file before sounds slightly different."""
    if not midi.is_file():
        raise InputError(f"{midi}: no such MIDI file")
    _bank_kept_loaded(soundfont, sr)
    synth = _synth(sr)
    try:
        synth.sfload(str(soundfont))
        with tempfile.TemporaryDirectory() as tmp:
            wav = Path(tmp) / "dry.wav"
            synth.midi2audio(str(midi), str(wav))
            if not wav.is_file():
                raise InputError(f"FluidSynth could not play {midi}")
            audio, _ = sf.read(wav, dtype="float32", always_2d=True)
    finally:
        synth.delete()
    stereo = audio if audio.shape[1] == 2 else np.repeat(audio, 2, axis=1)
    return librosa.util.fix_length(np.ascontiguousarray(stereo.T), size=n_samples)


def dry_stem(corpus: Path, instrument: dict, sr: int, n_samples: int) -> np.ndarray:
    """A corpus instrument (its ground-truth entry) rendered dry at its level in the mix: (2, n_samples)."""
    for key in ("midi", "soundfont", "mix_gain_db"):
        if key not in instrument:
            name = instrument.get("name") or instrument.get("label", "an instrument")
            raise InputError(f"{name}: no {key} in the ground truth to render it dry (or use --rendered-stems)")
    audio = render_dry(corpus / instrument["midi"], soundfont_path(instrument["soundfont"]), sr, n_samples)
    return audio * np.float32(10 ** (instrument["mix_gain_db"] / 20))
