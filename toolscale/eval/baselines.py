"""Policies that bound the scale: gold replay (100%), do-nothing (0%), random calls, always the priciest expert.

They read the task (gold replay its actions, the expert baseline its prices) instead of the messages a
model reads; they speak through the same messages and tools, so the environment, outcome and reward
that grade them are those that grade a model.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Mapping, Sequence
from typing import Any

from toolscale.eval.config import RandomPolicy
from toolscale.train.experts import ExpertRouter
from toolscale.train.rollout import Message, Reply, Turn

ADVICE = re.compile(r"^Call (\w+) with (\{.*\})\.$", re.DOTALL)  # a simulated expert's step (toolscale.train.experts)
QUESTION = "What should I do next?"


def tool_call_reply(index: int, name: str, arguments: Mapping[str, Any]) -> Reply:
    call = {"id": f"call_{index}", "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}
    return Reply(message={"role": "assistant", "content": "", "tool_calls": [call]})


def text_reply(text: str) -> Reply:
    return Reply(message={"role": "assistant", "content": text})


def calls_made(messages: Sequence[Message]) -> list[dict[str, Any]]:
    return [call for message in messages if message["role"] == "assistant" for call in message.get("tool_calls") or []]


class GoldReplay:
    def act(self, turn: Turn) -> Reply:
        made = len(calls_made(turn.messages))
        actions = turn.task.actions
        if made < len(actions):
            return tool_call_reply(made, actions[made].name, actions[made].arguments)
        criteria = turn.task.evaluation_criteria
        info = (criteria.communicate_info or []) if criteria is not None else []
        return text_reply("Done. " + "; ".join(info) if info else "Done.")


class DoNothing:
    def act(self, turn: Turn) -> Reply:
        return text_reply("I cannot help with that.")


def random_value(schema: Mapping[str, Any], rng: random.Random) -> Any:
    if "enum" in schema:
        return rng.choice(schema["enum"])
    kind = schema.get("type")
    if isinstance(kind, list):  # optional parameters: ["string", "null"]
        kind = next((item for item in kind if item != "null"), "string")
    if kind == "integer":
        return rng.randint(0, 1000)
    if kind == "number":
        return round(rng.uniform(0, 1000), 2)
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "array":
        return [random_value(schema.get("items", {}), rng) for _ in range(rng.randint(1, 2))]
    if kind == "object":
        return {}
    return "".join(rng.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=8))


class RandomCalls:
    def __init__(self, config: RandomPolicy) -> None:
        self._config = config

    def act(self, turn: Turn) -> Reply:
        made = len(calls_made(turn.messages))
        if made >= self._config.calls:
            return text_reply("Done.")
        rng = random.Random(f"{self._config.seed}:{turn.task.id}:{turn.trial}:{made}")  # str seeds are stable across runs
        function = rng.choice(list(turn.tools))["function"]
        parameters = function.get("parameters", {})
        required = set(parameters.get("required", []))
        arguments = {
            name: random_value(schema, rng)
            for name, schema in parameters.get("properties", {}).items()
            if name in required or rng.random() < 0.5
        }
        return tool_call_reply(made, function["name"], arguments)


class ExpensiveExpert:
    """The cost ceiling: every step is the answer of the task's most expensive expert, taken as advised."""

    def __init__(self, router: ExpertRouter) -> None:
        self._router = router

    def _priciest(self, turn: Turn) -> str:
        def dollars(alias: str) -> float:
            drawn = turn.task.pricing.experts[alias]
            price = self._router.price(drawn.model, drawn)
            return price.input_price_per_million + price.output_price_per_million

        return max(turn.task.pricing.experts, key=dollars)

    def act(self, turn: Turn) -> Reply:
        made = calls_made(turn.messages)
        last = turn.messages[-1]
        asked = bool(made) and made[-1]["function"]["name"] == "call_expert" and last["role"] == "tool"
        if not asked:
            return tool_call_reply(len(made), "call_expert", {"expert": self._priciest(turn), "question": QUESTION})
        advice = ADVICE.match(str(last["content"]).strip())
        if advice is None:  # the expert says all is done (or gave no step): report what the tools returned
            expert_ids = {call["id"] for call in made if call["function"]["name"] == "call_expert"}
            read = [str(m["content"]) for m in turn.messages if m["role"] == "tool" and m.get("tool_call_id") not in expert_ids]
            return text_reply("Done. " + " ".join(read))
        return tool_call_reply(len(made), advice.group(1), json.loads(advice.group(2)))
