"""How a run reaches a language model: the `llm:` section of a pipeline, validated like the rest of it."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from toolscale.strict import StrictModel

Backend = Literal["template", "openai", "vllm"]
# How a request's JSON Schema is sent: OpenAI's and vLLM's servers take `json_schema`; llama-cpp-python's
# server takes the older `json_object` with a `schema` field (and constrains decoding to it either way).
SchemaFormat = Literal["json_schema", "json_object"]
PositiveInt = Annotated[int, Field(strict=True, ge=1)]


class LLMConfig(StrictModel):
    backend: Backend = Field(
        default="template", description="template: no model (offline); openai: an HTTP server; vllm: in process."
    )
    model: str | None = Field(default=None, description="The served model name (openai) or a model path (vllm).")
    base_url: str | None = Field(default=None, description="An OpenAI-compatible base URL, e.g. http://host:8000/v1.")
    api_key_env: str | None = Field(
        default=None, description="The NAME of the environment variable holding the key; the key itself is never written."
    )
    price_as: str | None = Field(
        default=None, description="The catalog model whose list prices cost this one's tokens (default: `model`)."
    )
    concurrency: Annotated[int, Field(strict=True, ge=1, le=1024)] = Field(default=8, description="Requests in flight at once.")
    requests_per_minute: PositiveInt | None = Field(default=None, description="A cap on requests sent per minute.")
    tokens_per_minute: PositiveInt | None = Field(default=None, description="A cap on prompt plus completion tokens per minute.")
    max_retries: Annotated[int, Field(strict=True, ge=0, le=20)] = Field(
        default=5, description="Retries of timeouts, 429, 5xx and dropped connections, with backoff and jitter."
    )
    timeout_s: Annotated[float, Field(gt=0, le=3600)] = Field(default=120.0, description="Per request.")
    max_repairs: Annotated[int, Field(strict=True, ge=0, le=10)] = Field(
        default=2, description="Times an answer that fails its schema is asked again, with the validation error."
    )
    response_format: SchemaFormat = Field(
        default="json_schema", description="How a schema is sent: json_schema (OpenAI, vLLM) or json_object (llama-cpp-python)."
    )
    temperature: Annotated[float, Field(ge=0, le=2)] = 0.0
    max_tokens: Annotated[int, Field(strict=True, ge=1, le=131072)] = 1024

    @model_validator(mode="after")
    def _complete(self) -> LLMConfig:
        if self.backend != "template" and self.model is None:
            raise ValueError(f"model: required by backend {self.backend!r}")
        if self.backend == "openai" and self.base_url is None:
            raise ValueError("base_url: required by backend 'openai'")
        return self
