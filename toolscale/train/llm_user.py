"""The simulated user behind `ask_user`: a model that answers the agent from the task's user scenario.

It is asked through the LLM layer (toolscale.llm), which retries transient faults; its client is made on
first use, so a class that is built but never rolled out starts none.
"""

from __future__ import annotations

import threading

from toolscale.llm.config import LLMConfig
from toolscale.llm.factory import make_client
from toolscale.llm.types import ChatReply, ChatRequest, LLMClient, LLMFailure
from toolscale.train.config import UserConfig


def llm_config(user: UserConfig) -> LLMConfig:
    assert user.endpoint is not None, "checked by UserConfig"
    assert user.model is not None, "checked by UserConfig"
    return LLMConfig(
        backend="openai",
        model=user.model,
        base_url=user.endpoint,
        api_key_env=user.api_key_env,
        max_tokens=user.max_tokens,
        timeout_s=user.timeout_s,
    )


class EndpointUser:
    def __init__(self, user: UserConfig) -> None:
        self._config = llm_config(user)
        self._client: LLMClient | None = None
        self._lock = threading.Lock()

    def answer(self, scenario: str, question: str) -> ChatReply | LLMFailure:
        with self._lock:
            if self._client is None:
                self._client = make_client(self._config, cache_path=None)
        messages = (
            {"role": "system", "content": f"You are the user in this scenario; answer the agent briefly.\n{scenario}"},
            {"role": "user", "content": question},
        )
        # A cut answer is still what the user said.
        [reply] = self._client.complete([ChatRequest(stage="user", messages=messages, accept_partial=True)])
        return reply
