"""The one way callers get an LLM client: the config says which backend, the caller says where to cache."""

from __future__ import annotations

import importlib
from pathlib import Path

from toolscale.errors import ToolScaleError
from toolscale.llm.config import LLMConfig
from toolscale.llm.types import LLMClient
from toolscale.llm.usage import Price


def make_client(config: LLMConfig, *, cache_path: Path | None, price: Price | None = None) -> LLMClient:
    """A client for `config.backend`; `cache_path` None asks every request afresh (a latency measurement).

    `template` has no model: callers check `config.backend == "template"` and leave the LLM out.
    `vllm` lives in toolscale.llm.vllm_backend, imported only here, as `make(config, cache_path=, price=)`,
    so that machines without vLLM never import it.
    """
    if config.backend == "openai":
        try:
            from toolscale.llm.openai_backend import OpenAIClient
        except ModuleNotFoundError as error:
            raise ToolScaleError(
                f"llm.backend: the openai backend needs the llm extra, pip install 'toolscale[llm]' ({error})"
            ) from error
        return OpenAIClient(config, cache_path=cache_path, price=price)
    if config.backend == "vllm":
        try:
            vllm_backend = importlib.import_module("toolscale.llm.vllm_backend")
        except ModuleNotFoundError as error:
            raise ToolScaleError(f"llm.backend: vllm backend needs `make vllm` ({error})") from error
        client: LLMClient = vllm_backend.make(config, cache_path=cache_path, price=price)
        return client
    raise ToolScaleError("llm.backend: 'template' writes without a model, so it has no client")
