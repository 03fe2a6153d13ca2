"""The LLM client inside Ray workers (real Ray, a local cluster): each worker process makes its own client and
writes replies into one shared cache file, which the driver then reads as all hits."""

from __future__ import annotations

from pathlib import Path

from tests.llm_stand_in import Scripted
from tests.stand_in_server import serving
from toolscale.llm.config import LLMConfig
from toolscale.llm.factory import make_client
from toolscale.llm.types import ChatReply, ChatRequest
from toolscale.pipeline.executor import RayExecutor


def requests(topics: list[str]) -> list[ChatRequest]:
    return [ChatRequest(stage="rewrite", messages=({"role": "user", "content": topic},)) for topic in topics]


def ask_in_a_worker(base_url: str, cache: str, topics: list[str]) -> list[str]:
    client = make_client(LLMConfig(backend="openai", model="stand-in", base_url=base_url), cache_path=Path(cache))
    try:
        return [reply.text if isinstance(reply, ChatReply) else reply.reason for reply in client.complete(requests(topics))]
    finally:
        client.close()


def test_clients_in_ray_workers_share_one_cache_that_the_driver_then_reads(tmp_path: Path) -> None:
    Scripted.script({}, after="answered")
    cache = str(tmp_path / "cache.sqlite")
    batches = [[f"a{index}" for index in range(5)], [f"b{index}" for index in range(5)]]
    with serving(Scripted) as base_url, RayExecutor(workers=2, progress=False) as executor:
        calls = [(base_url, cache, batch) for batch in batches]
        results = dict(executor.map(ask_in_a_worker, calls, description="ask", names=["a", "b"]))
        assert results == {0: ["answered"] * 5, 1: ["answered"] * 5}
        sent = len(Scripted.seen)
        client = make_client(LLMConfig(backend="openai", model="stand-in", base_url=base_url), cache_path=Path(cache))
        replies = client.complete(requests(batches[0] + batches[1]))
        client.close()
    assert sent == 10
    assert len(Scripted.seen) == sent
    assert all(isinstance(reply, ChatReply) and reply.cached for reply in replies)
