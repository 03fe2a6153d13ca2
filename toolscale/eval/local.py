"""A transformers model or checkpoint as a policy: the trainer's `final/` (or its `tiny-initial/`), or a Hub model.

The conversation is rendered with the model's chat template and the same tool schemas training used,
and the generated tokens are parsed back into an assistant message by TRL's response parser, as
training parses them; a turn the parser cannot read becomes plain text, as in training.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from trl.chat_template_utils import add_response_schema, parse_response

from toolscale.eval.config import LocalPolicy
from toolscale.train.rollout import Message, Reply, Turn


def template_messages(messages: list[Message]) -> list[dict[str, Any]]:
    """OpenAI messages as chat templates take them: tool-call arguments as objects, not JSON text."""
    converted = []
    for message in messages:
        out = {key: value for key, value in message.items() if key != "tool_calls"}
        if message.get("tool_calls"):
            out["tool_calls"] = [
                {"type": "function", "function": {"name": call["function"]["name"], "arguments": _arguments(call)}}
                for call in message["tool_calls"]
            ]
        converted.append(out)
    return converted


def _arguments(call: dict[str, Any]) -> Any:
    try:
        return json.loads(call["function"]["arguments"] or "{}")
    except json.JSONDecodeError:
        return {}


class LocalModel:
    def __init__(self, config: LocalPolicy) -> None:
        self._config = config
        tokenizer: Any = AutoTokenizer.from_pretrained(config.path)
        self._tokenizer = add_response_schema(tokenizer)
        model: Any = AutoModelForCausalLM.from_pretrained(config.path)
        self._model = model.to(config.device).eval()

    def _seed(self, turn: Turn) -> int:
        """Sampling fixed by the task, trial and turn: a rerun of one task draws what the first run drew."""
        key = f"{self._config.seed}:{turn.task.id}:{turn.trial}:{len(turn.messages)}"
        return int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big")

    def act(self, turn: Turn) -> Reply:
        started = time.perf_counter()
        text = self._tokenizer.apply_chat_template(
            template_messages(list(turn.messages)),
            tools=[dict(tool) for tool in turn.tools],
            add_generation_prompt=True,
            tokenize=False,
        )
        prompt_ids: list[int] = self._tokenizer(text, add_special_tokens=False)["input_ids"]
        sampling = self._config.temperature > 0
        torch.manual_seed(self._seed(turn))
        with torch.no_grad():
            generated = self._model.generate(
                torch.tensor([prompt_ids], device=self._config.device),
                attention_mask=torch.ones(1, len(prompt_ids), dtype=torch.long, device=self._config.device),
                max_new_tokens=self._config.max_new_tokens,
                do_sample=sampling,
                temperature=self._config.temperature if sampling else None,
                top_p=None,
                top_k=None,
                pad_token_id=self._tokenizer.pad_token_id,
            )
        new_ids: list[int] = generated[0, len(prompt_ids) :].tolist()
        parsed = parse_response(self._tokenizer, new_ids, prefix=prompt_ids, tools=[dict(tool) for tool in turn.tools])
        made = sum(len(message.get("tool_calls") or []) for message in turn.messages)
        message: Message = {"role": "assistant", "content": str(parsed.get("content") or "")}
        calls = parsed.get("tool_calls") or []
        if calls:
            message["tool_calls"] = [
                {
                    "id": f"call_{made + number}",
                    "type": "function",
                    "function": {
                        "name": call["function"]["name"],
                        "arguments": json.dumps(call["function"].get("arguments") or {}),
                    },
                }
                for number, call in enumerate(calls)
            ]
        return Reply(
            message=message, input_tokens=len(prompt_ids), output_tokens=len(new_ids), seconds=time.perf_counter() - started
        )
