"""The instrument/source family vocabulary shared by taggers, evaluation and reports."""

from __future__ import annotations

FAMILIES = (
    "piano",
    "electric piano",
    "organ",
    "chromatic percussion",
    "acoustic guitar",
    "electric guitar",
    "bass",
    "strings",
    "brass",
    "woodwind",
    "synth lead",
    "synth pad",
    "drums",
    "vocals",
    "other",
)

# General MIDI program ranges -> family (used to read the dev corpus' ground truth).
_GM_RANGES: tuple[tuple[range, str], ...] = (
    (range(0, 4), "piano"),
    (range(4, 6), "electric piano"),
    (range(6, 8), "piano"),
    (range(8, 16), "chromatic percussion"),
    (range(16, 24), "organ"),
    (range(24, 26), "acoustic guitar"),
    (range(26, 32), "electric guitar"),
    (range(32, 40), "bass"),
    (range(40, 52), "strings"),
    (range(52, 55), "vocals"),
    (range(55, 56), "strings"),
    (range(56, 64), "brass"),
    (range(64, 80), "woodwind"),
    (range(80, 88), "synth lead"),
    (range(88, 96), "synth pad"),
)


# Kinds within a family that producers ask about, each with the family it refines. A recogniser reports one as
# its own instrument (label = the kind, family = its parent) where it hears it.
DETAILS: dict[str, str] = {
    "distorted guitar": "electric guitar",
    "synth bass": "bass",
    "808 bass": "bass",
}
_GM_DETAILS = {29: "distorted guitar", 30: "distorted guitar", 38: "synth bass", 39: "synth bass"}


def scored_name(label: str, family: str) -> str:
    """What a reported instrument is scored and calibrated as: its kind when it names one, else its family."""
    return label if label in DETAILS else family


def gm_detail(program: int | None, is_drum: bool) -> str | None:
    """The kind within its family (a key of ``DETAILS``) that a General MIDI program plays, if any."""
    return None if is_drum or program is None else _GM_DETAILS.get(program)


def gm_family(program: int | None, is_drum: bool) -> str:
    """Family of a General MIDI program (0-127) or of the drum channel."""
    if is_drum:
        return "drums"
    for programs, family in _GM_RANGES:
        if program is not None and program in programs:
            return family
    return "other"


# What a separated stem can hold: a bass stem says "bass", a drum stem "drums"; the residual stems of the
# fallback separator (harmonic, rest, other) hold neither (their drums and bass went to the other stems).
STEM_FAMILIES: dict[str, frozenset[str]] = {
    "bass": frozenset({"bass"}),
    "drums": frozenset({"drums"}),
    "percussive": frozenset({"drums", "chromatic percussion"}),
    "vocals": frozenset({"vocals"}),
    "piano": frozenset({"piano", "electric piano"}),
    "guitar": frozenset({"acoustic guitar", "electric guitar"}),
}
NOT_IN_RESIDUAL = frozenset({"bass", "drums"})


def stem_allows(stem: str, family: str) -> bool:
    """Whether a tag of ``family`` found in ``stem`` (or in the mix) is plausible."""
    if stem == "mix":
        return True
    if stem in STEM_FAMILIES:
        return family in STEM_FAMILIES[stem]
    return family not in NOT_IN_RESIDUAL
