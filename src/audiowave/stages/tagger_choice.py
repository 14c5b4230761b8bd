"""Which tagger runs: PANNs CNN14 when its checkpoint is installed, else the packaged offline recogniser
(``AUDIOWAVE_TAGGER=auto``), or one of them by name."""

from __future__ import annotations

from audiowave.config import Settings
from audiowave.errors import ModelUnavailableError
from audiowave.stages.tagging_protocol import Tagger


def load_tagger(settings: Settings) -> tuple[Tagger | None, str | None]:
    """(tagger, note): the first available of the configured choice; note says why others were skipped."""
    from audiowave.instruments.recogniser import FamilyRecogniser
    from audiowave.stages.tagging import PannsTagger

    loaders = {"panns": PannsTagger.from_registry, "audiowave": FamilyRecogniser.from_registry}
    order = ("panns", "audiowave") if settings.tagger == "auto" else (settings.tagger,)
    skipped = []
    for name in order:
        try:
            tagger = loaders[name]()
        except ModelUnavailableError as exc:
            skipped.append(str(exc))
            continue
        if settings.device != "cpu":
            tagger.model.to(settings.device)
        return tagger, "; ".join(skipped) or None
    return None, "; ".join(skipped)
