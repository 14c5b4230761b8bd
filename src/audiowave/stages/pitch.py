"""f0 contours of monophonic stems with torchcrepe (bundled 'tiny' model, Viterbi decoding)."""

from __future__ import annotations

import sys
import types
from importlib import metadata

import numpy as np
import soxr

from audiowave.schema import BackendInfo, PitchContour

CREPE_SR = 16000
HOP_S = 0.01
VOICED_THRESHOLD = 0.5


def _import_torchcrepe():
    """torchcrepe imports torchaudio only for file loading, which is never used here.

    The PyPI torchaudio wheel is a CUDA build that fails to import on CPU machines, so an empty
    placeholder module stands in for it while torchcrepe is imported.
    """
    if "torchaudio" not in sys.modules:
        sys.modules["torchaudio"] = types.ModuleType("torchaudio")
    import torchcrepe

    return torchcrepe


class PitchTracker:
    """Frame-wise f0 with a periodicity confidence; unvoiced frames are reported as None.

    ``fmin`` must stay above CREPE's lowest bin (32.7 Hz): below it torchcrepe masks every bin.
    """

    def __init__(self, model: str = "tiny", device: str = "cpu", fmin: float = 35.0, fmax: float = 1000.0) -> None:
        self.model, self.device, self.fmin, self.fmax = model, device, fmin, fmax

    @property
    def backend(self) -> BackendInfo:
        return BackendInfo(
            name="torchcrepe",
            version=metadata.version("torchcrepe"),
            model=f"crepe-{self.model}",
            licence="MIT",
        )

    def track(self, mono: np.ndarray, sr: int, stem: str) -> PitchContour:
        import torch

        torchcrepe = _import_torchcrepe()
        audio = soxr.resample(mono.astype(np.float32), sr, CREPE_SR)
        hop = int(HOP_S * CREPE_SR)
        with torch.inference_mode():
            f0, periodicity = torchcrepe.predict(
                torch.from_numpy(audio)[None],
                CREPE_SR,
                hop,
                self.fmin,
                self.fmax,
                model=self.model,
                decoder=torchcrepe.decode.viterbi,
                return_periodicity=True,
                batch_size=512,
                device=self.device,
            )
        periodicity = torchcrepe.filter.median(periodicity, 3)[0].numpy()
        f0 = f0[0].numpy()
        # Silence has no pitch even when CREPE is confident: gate by frame energy as well.
        frames = np.lib.stride_tricks.sliding_window_view(np.pad(audio, (hop // 2, hop)), hop)[::hop][: len(f0)]
        loud = 20 * np.log10(np.sqrt(np.mean(frames**2, axis=1)) + 1e-9) > -50
        voiced = (periodicity >= VOICED_THRESHOLD) & loud[: len(periodicity)]
        values = [round(float(v), 2) if ok else None for v, ok in zip(f0, voiced, strict=True)]
        return PitchContour(
            stem=stem,
            hop_s=HOP_S,
            f0_hz=values,
            confidence=[round(float(p), 3) for p in periodicity],
            median_f0_hz=round(float(np.median(f0[voiced])), 2) if voiced.any() else None,
            voiced_share=round(float(voiced.mean()), 4),
            backend=self.backend,
        )
