"""Effect hints for a recipe from the analysis' forensics section: what was detected on that stem (or the mix)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from audiowave.recipes.patch import PHASER_OCTAVES_PER_DEPTH, Effect

# pedalboard.Reverb's return energy against its dry path at equal wet and dry levels (dB), by room size: measured
# on noise bursts (its comb filters ring longer, so louder, in bigger rooms)
REVERB_ROOM_SIZES = (0.1, 0.3, 0.5, 0.7, 0.9)
REVERB_RETURN_GAIN_DB = (-4.2, -3.7, -3.1, -2.2, -0.7)


def _reverb(p: dict) -> Effect:
    """Room size from the RT60; wet level from the return's level against the dry sound (``wet_db``)."""
    room = float(np.clip((float(p.get("rt60_s", 1.0)) - 0.3) / 4.0, 0.05, 1.0))
    gain_db = float(np.interp(room, REVERB_ROOM_SIZES, REVERB_RETURN_GAIN_DB))
    ratio = 10 ** ((float(p.get("wet_db", -6.0)) - gain_db) / 20)  # wet level over dry level
    dry = 0.8 / max(1.0, ratio)  # the louder of the two at 0.8
    return Effect(kind="reverb", params={"room_size": room, "wet_level": dry * ratio, "dry_level": dry})


def _effect(effect: str, p: dict) -> Effect | None:
    if effect == "reverb":
        return _reverb(p)
    if effect == "delay":
        return Effect(
            kind="delay",
            params={
                "delay_seconds": float(np.clip(p.get("time_s", 0.25), 0.01, 2.0)),
                "feedback": float(np.clip(p.get("feedback", 0.3), 0.0, 0.9)),
                "mix": 0.3,
            },
        )
    if effect in ("chorus", "flanger"):  # both a swept delay line: pedalboard's Chorus swings depth x 10 ms
        return Effect(
            kind="chorus",
            params={
                "rate_hz": float(np.clip(p.get("rate_hz", 1.0), 0.05, 10.0)),
                "depth": float(np.clip(p.get("depth_ms", 2.5) / 10, 0.0, 1.0)),
                "centre_delay_ms": float(np.clip(p.get("centre_delay_ms", 7.0), 0.5, 30.0)),
                "feedback": 0.5 if effect == "flanger" else 0.0,
                "mix": 0.5,
            },
        )
    if effect == "phaser":
        return Effect(
            kind="phaser",
            params={
                "rate_hz": float(np.clip(p.get("rate_hz", 1.0), 0.05, 10.0)),
                "depth": float(np.clip(p.get("swing_octaves", 2.5) / PHASER_OCTAVES_PER_DEPTH, 0.0, 1.0)),
                "centre_frequency_hz": float(np.clip(p.get("notch_hz", 1300.0), 40.0, 16000.0)),
                "feedback": 0.0,
                "mix": 0.5,
            },
        )
    if effect == "distortion":
        return Effect(kind="distortion", params={"drive_db": 25.0 if p.get("kind") == "hard/fuzz" else 12.0})
    if effect == "bitcrush":
        return Effect(kind="bitcrush", params={"bit_depth": float(np.clip(p.get("effective_bits", 8.0), 2, 16))})
    return None


def hints_from_forensics(techniques: Iterable[dict], stem: str = "") -> list[Effect]:
    """Effects detected on ``stem`` (else on the mix), as starting points for the recipe's FX chain."""
    techniques = [t for t in techniques if t.get("detected")]
    chosen = [t for t in techniques if stem and t.get("source") == stem] or [
        t for t in techniques if t.get("source") == "mix"
    ]
    effects = (_effect(t["effect"], t.get("parameters") or {}) for t in chosen)
    return [e for e in effects if e is not None]
