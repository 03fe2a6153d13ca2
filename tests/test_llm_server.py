"""The LLM layer against a real OpenAI-compatible server: llama.cpp's (llama-cpp-python, `make llm-server`) serving
SmolLM2-135M-Instruct on loopback. A structured request comes back as JSON that fits its schema (the server
constrains decoding to it), with the server's token counts, and is then served from the cache with the server gone.
Skipped only where the server is not built and CI is not set."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from toolscale.eval.llama_server import MODEL_ALIAS, LlamaServer, server_python, smollm2_model
from toolscale.llm.config import LLMConfig
from toolscale.llm.factory import make_client
from toolscale.llm.types import ChatReply, ChatRequest

BUILT = server_python() is not None and smollm2_model() is not None
pytestmark = pytest.mark.skipif(
    not BUILT and os.environ.get("CI") != "true", reason="llama.cpp server not built (make llm-server)"
)

CITY = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
    "required": ["city", "population"],
    "additionalProperties": False,
}


def test_a_real_server_answers_a_structured_request_and_a_rerun_comes_from_the_cache(tmp_path: Path) -> None:
    model = smollm2_model()
    assert model is not None, "CI must build the server: make llm-server"
    request = ChatRequest(
        stage="rewrite",
        messages=({"role": "user", "content": "Name a large city and its population, as JSON."},),
        json_schema=CITY,
        schema_name="city",
    )
    fields = {"backend": "openai", "model": MODEL_ALIAS, "max_tokens": 48, "timeout_s": 300, "response_format": "json_object"}
    with LlamaServer(model) as base_url:
        config = LLMConfig.model_validate({**fields, "base_url": base_url})
        client = make_client(config, cache_path=tmp_path / "cache.sqlite")
        [reply] = client.complete([request])
        client.close()
    assert isinstance(reply, ChatReply), reply
    print(f"SmolLM2-135M answered {reply.text!r} in {reply.seconds:.1f} s")
    assert set(reply.parsed) == {"city", "population"}
    assert isinstance(reply.parsed["population"], int)
    assert reply.input_tokens > 0
    assert reply.output_tokens > 0
    assert client.usage()["rewrite"].requests == 1
    # The server is gone: only the cache can answer.
    again = make_client(config, cache_path=tmp_path / "cache.sqlite")
    [cached] = again.complete([request])
    again.close()
    assert isinstance(cached, ChatReply)
    assert (cached.cached, cached.parsed) == (True, reply.parsed)
    assert again.usage()["rewrite"].cache_hits == 1
