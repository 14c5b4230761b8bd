"""Where report prose comes from: vLLM in-process on a GPU, or any OpenAI-compatible server."""

from __future__ import annotations

from pathlib import Path

from audiowave.errors import ModelUnavailableError
from audiowave.report.prose import OpenAICompatible, ProseWriter
from audiowave.service.settings import ServiceSettings

MAX_TOKENS = 160


class VLLMWriter:
    """vLLM's offline engine on the local GPU; the model is a local directory (weights cannot be downloaded)."""

    def __init__(self, model_dir: str) -> None:
        path = Path(model_dir)
        if not model_dir or not (path / "config.json").exists():
            raise ModelUnavailableError(
                f"vLLM model directory {model_dir or '(unset)'} has no config.json: put a Hugging Face model "
                "directory there and set AUDIOWAVE_LLM_MODEL to it"
            )
        try:
            from vllm import LLM, SamplingParams
        except ImportError as exc:
            raise ModelUnavailableError(
                "vLLM is not installed: `pip install vllm` on a machine with a CUDA GPU"
            ) from exc
        self.llm, self.params = LLM(model=str(path)), SamplingParams(temperature=0.2, max_tokens=MAX_TOKENS)
        self.name = f"vLLM ({path.name})"

    def complete(self, messages: list[dict[str, str]]) -> str:
        return self.llm.chat(messages, self.params)[0].outputs[0].text.strip()


def load_prose_writer(settings: ServiceSettings) -> ProseWriter | None:
    """The configured writer; None when prose is off (``llm_engine=none``)."""
    if settings.llm_engine == "vllm":
        return VLLMWriter(settings.llm_model)
    if settings.llm_engine == "openai":
        if not settings.llm_url:
            raise ModelUnavailableError("llm_engine=openai needs AUDIOWAVE_LLM_URL (an OpenAI-compatible server)")
        return OpenAICompatible(settings.llm_url, settings.llm_model, settings.llm_api_key)
    return None
