"""Optional LLM prose for the report, accepted only when every checkable claim agrees with the analysis.

The model gets the facts and is asked for a short paragraph. The paragraph is then read back: tempi (BPM),
keys, instrument words, effect words and talk of samples are extracted and compared with the facts; it must
also state the tempo and key when they are known, so empty flattery does not pass. Prose that contradicts
or ignores the analysis is rejected, and the report keeps its template text alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

import httpx

from audiowave.report.facts import Facts
from audiowave.stages.tonal import pitch_class

TEMPO_TOLERANCE_BPM = 2.0
TEMPO = re.compile(r"(\d{2,3}(?:\.\d+)?)\s*(?:bpm|beats per minute)", re.IGNORECASE)
KEY = re.compile(r"\b([A-G](?:#|b|♯|♭)?)[ -]?(major|minor|maj\b|min\b)", re.IGNORECASE)
INSTRUMENT_WORDS = {
    "piano": "piano",
    "keys": "piano",
    "rhodes": "electric piano",
    "electric piano": "electric piano",
    "organ": "organ",
    "marimba": "chromatic percussion",
    "vibraphone": "chromatic percussion",
    "bell": "chromatic percussion",
    "guitar": "guitar",
    "bass": "bass",
    "808": "808 bass",
    "synth bass": "synth bass",
    "distorted guitar": "distorted guitar",
    "strings": "strings",
    "violin": "strings",
    "cello": "strings",
    "brass": "brass",
    "trumpet": "brass",
    "horn": "brass",
    "saxophone": "woodwind",
    "sax": "woodwind",
    "flute": "woodwind",
    "clarinet": "woodwind",
    "synth lead": "synth lead",
    "lead synth": "synth lead",
    "synth pad": "synth pad",
    "drums": "drums",
    "drum": "drums",
    "kick": "drums",
    "snare": "drums",
    "hi-hat": "drums",
    "vocal": "vocals",
    "vocals": "vocals",
    "voice": "vocals",
    "singer": "vocals",
    "choir": "vocals",
}
EFFECT_WORDS = {
    "sidechain": "sidechain",
    "pumping": "sidechain",
    "compress": "compression",
    "limit": "limiting",
    "clipping": "clipping",
    "clipped": "clipping",
    "distort": "distortion",
    "saturat": "distortion",
    "overdrive": "distortion",
    "bitcrush": "bitcrush",
    "bit-crush": "bitcrush",
    "reverb": "reverb",
    "delay": "delay",
    "echo": "delay",
    "filter sweep": "filter_sweep",
    "sweep": "filter_sweep",
    "tremolo": "tremolo",
    "vibrato": "vibrato",
    "tape stop": "tape_stop",
    "glide": "glide",
    "chorus": "chorus",
    "flanger": "flanger",
    "phaser": "phaser",
    "auto-tune": "autotune",
    "autotune": "autotune",
}


@dataclass
class ProseCheck:
    accepted: bool
    problems: list[str] = field(default_factory=list)


def _families(facts: Facts) -> set[str]:
    known = set(facts.instruments)
    if any("guitar" in f for f in known):
        known.add("guitar")
    return known


def check_prose(text: str, facts: Facts) -> ProseCheck:
    """Accept ``text`` only if its tempi, keys, instruments, effects and samples agree with ``facts``."""
    problems = []
    lower = text.lower()
    tempi = [float(m) for m in TEMPO.findall(text)]
    for bpm in tempi:
        if facts.tempo_bpm is None or abs(bpm - facts.tempo_bpm) > TEMPO_TOLERANCE_BPM:
            problems.append(f"tempo {bpm:g} BPM contradicts the analysis ({facts.tempo_bpm or 'no tempo'})")
    keys = KEY.findall(text)
    for tonic, mode in keys:
        mode = "major" if mode.lower().startswith("maj") else "minor"
        tonic = tonic.replace("♯", "#").replace("♭", "b")
        stated = f"{tonic} {mode}"
        if not facts.key or not _same_key(stated, facts.key):
            problems.append(f"key {stated} contradicts the analysis ({facts.key or 'no key'})")
    families = _families(facts)
    for word, family in INSTRUMENT_WORDS.items():
        if re.search(rf"\b{re.escape(word)}s?\b", lower) and family not in families:
            problems.append(f"'{word}' is not among the instruments found ({', '.join(sorted(families)) or 'none'})")
    for stem, effect in EFFECT_WORDS.items():
        if re.search(rf"\b{re.escape(stem)}", lower) and effect not in facts.effects:
            problems.append(
                f"'{stem}' is not among the effects detected ({', '.join(sorted(facts.effects)) or 'none'})"
            )
    negated = re.search(r"\bno (?:library )?samples?\b|samples?:?\s*none", lower)
    if re.search(r"\bsampl", lower) and not facts.samples and not negated:
        problems.append("the prose mentions samples, but no library sample was found")
    if facts.tempo_bpm is not None and not tempi:
        problems.append("the prose does not state the tempo")
    if facts.key and not keys:
        problems.append("the prose does not state the key")
    return ProseCheck(not problems, problems)


def _same_key(stated: str, label: str) -> bool:
    s_tonic, s_mode = stated.split()
    l_tonic, l_mode = label.split()[0], label.split()[-1]
    return pitch_class(s_tonic) == pitch_class(l_tonic) and s_mode == l_mode


def prompt_messages(facts: Facts) -> list[dict[str, str]]:
    lines = []
    if facts.tempo_bpm is not None:
        lines.append(f"tempo: {facts.tempo_bpm:.0f} BPM")
    if facts.key:
        lines.append(f"key: {facts.key}")
    lines.append(f"instruments: {', '.join(sorted(facts.instruments)) or 'none identified'}")
    lines.append(f"effects: {', '.join(sorted(facts.effects)) or 'none detected'}")
    if facts.samples:
        lines.append(f"library samples: {', '.join(sorted(facts.samples))}")
    if facts.sections:
        lines.append(f"sections: {' '.join(facts.sections)}")
    return [
        {
            "role": "system",
            "content": "You describe a music analysis for producers in two or three plain sentences. "
            "Use only the facts given. State the tempo in BPM and the key. Never add instruments, effects or samples.",
        },
        {"role": "user", "content": "Facts:\n" + "\n".join(f"- {line}" for line in lines) + "\nWrite the sentences."},
    ]


class ProseWriter(Protocol):
    name: str

    def complete(self, messages: list[dict[str, str]]) -> str: ...


class OpenAICompatible:
    """Chat completions from any OpenAI-compatible server (llama.cpp's llama-server, vLLM's server, ...)."""

    def __init__(self, base_url: str, model: str = "", api_key: str = "", timeout_s: float = 60.0) -> None:
        self.base_url, self.model, self.api_key, self.timeout_s = base_url.rstrip("/"), model, api_key, timeout_s
        self.name = f"openai-compatible {self.base_url}" + (f" ({model})" if model else "")

    def complete(self, messages: list[dict[str, str]]) -> str:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        body = {"messages": messages, "temperature": 0.2, "max_tokens": 160} | (
            {"model": self.model} if self.model else {}
        )
        r = httpx.post(f"{self.base_url}/v1/chat/completions", json=body, headers=headers, timeout=self.timeout_s)
        r.raise_for_status()
        return str(r.json()["choices"][0]["message"]["content"]).strip()


@dataclass
class Prose:
    text: str  # the accepted paragraph, or "" when rejected or unavailable
    status: str  # accepted, rejected or unavailable
    problems: list[str] = field(default_factory=list)
    writer: str = ""


def compose_prose(facts: Facts, writer: ProseWriter) -> Prose:
    """Ask ``writer`` for prose and keep it only if it passes :func:`check_prose`."""
    try:
        text = writer.complete(prompt_messages(facts))
    except (httpx.HTTPError, KeyError, IndexError, ValueError) as exc:
        return Prose("", "unavailable", [f"{type(exc).__name__}: {exc}"], writer.name)
    check = check_prose(text, facts)
    return Prose(
        text if check.accepted else "", "accepted" if check.accepted else "rejected", check.problems, writer.name
    )
