"""Separation throughput of the chunked HT-Demucs path on a GPU (or CPU), with random weights.

    python bench/gpu_separation.py --device cuda --seconds 30 180 600

The released weights cannot be downloaded here, so this times the real architecture
(``HTDemucs()`` defaults: 4 sources, 48 channels, depth 4, 5 transformer layers) with random
initialisation; compute and memory do not depend on the weight values. Prints a table.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from audiowave.audio_io import AudioClip
from audiowave.stages.separation import DemucsSeparator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--seconds", type=float, nargs="+", default=[30.0])
    parser.add_argument("--chunk", type=float, default=30.0)
    args = parser.parse_args()
    from demucs.htdemucs import HTDemucs

    torch.manual_seed(0)
    model = HTDemucs(sources=["drums", "bass", "other", "vocals"])
    params = sum(p.numel() for p in model.parameters()) / 1e6
    sep = DemucsSeparator(model, "htdemucs-architecture (random init)", args.device, args.chunk)
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"CPU x{torch.get_num_threads()}"
    print(f"device: {name}; model: HTDemucs {params:.1f} M parameters; chunk {args.chunk:.0f} s")
    print(f"{'audio s':>8} {'wall s':>8} {'x real time':>12} {'GPU peak GiB':>13} {'stems':>6}")
    rng = np.random.default_rng(0)
    warm = AudioClip(rng.standard_normal((2, 44100 * 5)).astype(np.float32) * 0.1, 44100, 44100, 2, "warm", "wav")
    sep.separate(warm)
    for seconds in args.seconds:
        samples = rng.standard_normal((2, int(44100 * seconds))).astype(np.float32) * 0.1
        clip = AudioClip(samples, 44100, 44100, 2, "bench", "wav")
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        out = sep.separate(clip)
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        wall = time.perf_counter() - t0
        peak = torch.cuda.max_memory_allocated() / 2**30 if args.device.startswith("cuda") else float("nan")
        assert all(s.shape == samples.shape and np.isfinite(s).all() for s in out.stems.values())
        print(f"{seconds:8.0f} {wall:8.2f} {seconds / wall:12.1f} {peak:13.2f} {len(out.stems):6d}")


if __name__ == "__main__":
    main()
