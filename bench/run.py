"""Benchmark: time and peak memory per stage on a 30 s stereo clip, then `audiowave eval` figures.

    python bench/run.py [--seconds 30] [--corpus corpus/dev] [--eval-limit N]

Peak memory is the process's peak resident set during each stage (Linux: VmHWM, reset before each
stage through /proc/self/clear_refs), so native allocations of torch/ONNX Runtime are counted.
Each stage runs twice: 'cold' includes model loading and JIT compilation, 'warm' is steady state.
Real-time factor = processing seconds / audio seconds (below 1 is faster than real time).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from rich.console import Console
from rich.table import Table

from audiowave.cli import EXAMPLE_CLIP
from audiowave.pipeline import Pipeline


def _vm(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


class MemoryObserver:
    """Records wall time and peak RSS (MiB) per stage."""

    def __init__(self) -> None:
        self.rows: dict[str, tuple[float, float, float]] = {}
        self._t0 = 0.0
        self._base = 0.0

    def start(self, stage: str) -> None:
        Path("/proc/self/clear_refs").write_text("5")  # reset the peak-RSS counter
        self._base = _vm("VmRSS")
        self._t0 = time.perf_counter()

    def progress(self, stage: str, fraction: float) -> None:
        pass

    def end(self, stage: str, seconds: float) -> None:
        self.rows[stage] = (time.perf_counter() - self._t0, _vm("VmHWM"), _vm("VmHWM") - self._base)


def make_clip(seconds: float, directory: Path) -> Path:
    """The bundled example tiled to ``seconds`` of stereo audio at 44.1 kHz."""
    audio, sr = sf.read(EXAMPLE_CLIP, dtype="float32", always_2d=True)
    reps = int(np.ceil(seconds * sr / len(audio)))
    clip = np.tile(audio, (reps, 1))[: int(seconds * sr)]
    path = directory / f"bench_{int(seconds)}s.wav"
    sf.write(path, clip, sr)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--corpus", type=Path, default=None, help="dev corpus for the eval figures")
    parser.add_argument("--eval-limit", type=int, default=None)
    args = parser.parse_args()
    console = Console(width=120)

    with tempfile.TemporaryDirectory() as tmp:
        clip = make_clip(args.seconds, Path(tmp))
        pipeline = Pipeline()
        cold, warm = MemoryObserver(), MemoryObserver()
        pipeline.analyze(clip, cold)
        result = pipeline.analyze(clip, warm).result

    table = Table(
        "stage",
        "backend",
        "cold s",
        "warm s",
        "real-time factor (warm)",
        "peak RSS MiB",
        "+MiB in stage",
        title=f"Per-stage cost, {args.seconds:.0f} s stereo clip, {os.cpu_count()} CPU cores",
        title_justify="left",
    )
    backend_of = {"tonal": "key", "decode": None}
    for stage, (w_time, w_peak, w_delta) in warm.rows.items():
        b = result.backends.get(backend_of.get(stage, stage) or "", None)
        name = (
            "soundfile+soxr"
            if stage == "decode"
            else (b.name + (" (fallback)" if b.fallback else "") if b else "no tagger")
        )
        table.add_row(
            stage,
            name,
            f"{cold.rows[stage][0]:.2f}",
            f"{w_time:.2f}",
            f"{w_time / args.seconds:.3f}",
            f"{max(cold.rows[stage][1], w_peak):.0f}",
            f"{max(cold.rows[stage][2], w_delta):.0f}",
        )
    total_w = sum(r[0] for r in warm.rows.values())
    total_c = sum(r[0] for r in cold.rows.values())
    table.add_row("total", "", f"{total_c:.2f}", f"{total_w:.2f}", f"{total_w / args.seconds:.3f}", "", "")
    console.print(table)

    if args.corpus and (args.corpus / "ground_truth.json").is_file():
        from audiowave.evaluation.runner import run_eval

        run_eval(args.corpus, Path("audiowave-eval"), limit=args.eval_limit, console=console)
    else:
        console.print("no corpus given (or no ground_truth.json): skipping the eval figures; see `make corpus`")


if __name__ == "__main__":
    main()
