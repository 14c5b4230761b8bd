"""Polyphonic note transcription of pitched stems with basic-pitch (bundled ONNX model).

basic-pitch's own ``predict`` reads a file path; here the same windowing/unwrapping/decoding
functions of the package run on an in-memory array, so stems need not be written first.
"""

from __future__ import annotations

import contextlib
import io
import logging
from functools import cached_property
from importlib import metadata
from pathlib import Path

import numpy as np
import soxr

from audiowave.midi import pretty_midi
from audiowave.schema import BackendInfo, NoteEvent, StemNotes

MIN_NOTE_MS = 100.0


class NoteTranscriber:
    """Loads the basic-pitch ONNX model once; ``transcribe`` maps a mono stem to note events."""

    @cached_property
    def model(self):
        logging.disable(logging.WARNING)  # basic-pitch warns at import about TF/CoreML/TFLite it won't use
        try:
            from basic_pitch import inference
        finally:
            logging.disable(logging.NOTSET)
        path = Path(inference.__file__).parent / "saved_models" / "icassp_2022" / "nmp.onnx"
        with contextlib.redirect_stdout(io.StringIO()):
            return inference.Model(path)

    @property
    def backend(self) -> BackendInfo:
        return BackendInfo(
            name="basic-pitch",
            version=metadata.version("basic-pitch"),
            model="icassp_2022 nmp.onnx",
            licence="Apache-2.0",
        )

    def transcribe(self, mono: np.ndarray, sr: int, stem: str) -> tuple[StemNotes, pretty_midi.PrettyMIDI]:
        model = self.model
        from basic_pitch import constants, note_creation
        from basic_pitch.inference import unwrap_output, window_audio_file

        audio = soxr.resample(mono.astype(np.float32), sr, constants.AUDIO_SAMPLE_RATE)
        n_overlap = 30
        overlap_len = n_overlap * constants.FFT_HOP
        hop = constants.AUDIO_N_SAMPLES - overlap_len
        padded = np.concatenate([np.zeros(overlap_len // 2, dtype=np.float32), audio])
        outputs: dict[str, list[np.ndarray]] = {"note": [], "onset": [], "contour": []}
        for window, _ in window_audio_file(padded, hop):
            for key, value in model.predict(window[None]).items():
                outputs[key].append(value)
        unwrapped = {k: unwrap_output(np.concatenate(v), len(audio), n_overlap) for k, v in outputs.items()}
        min_len = int(np.round(MIN_NOTE_MS / 1000 * (constants.AUDIO_SAMPLE_RATE / constants.FFT_HOP)))
        midi, events = note_creation.model_output_to_notes(
            unwrapped,
            onset_thresh=0.5,
            frame_thresh=0.3,
            min_note_len=min_len,
            melodia_trick=True,
        )
        notes = [
            NoteEvent(
                start=round(float(s), 3),
                end=round(float(e), 3),
                pitch=int(p),
                velocity=int(np.clip(round(a * 127), 1, 127)),
                confidence=round(float(np.clip(a, 0, 1)), 4),
            )
            for s, e, p, a, _bends in sorted(events, key=lambda ev: (ev[0], ev[2]))
        ]
        for inst in midi.instruments:
            inst.name = stem
        return StemNotes(stem=stem, notes=notes, backend=self.backend), midi
