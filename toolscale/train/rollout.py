"""One rollout, shared by the trainer and `toolscale eval`: tool calls to the environment, scoring, the trajectory record.

During training TRL generates and calls the environment's methods itself; outside it `run_rollout`
drives a `Policy` turn by turn through the very same methods (`execute` calls them as TRL does).
Either way the episode is scored by `toolscale.train.reward` (outcome, group rewards) and written
by `trajectory_record` in one format (docs/eval.md, "Trajectories"), which the review site reads.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from transformers.utils.chat_template_utils import get_json_schema

from toolscale.tasks.record import ToolScaleTask
from toolscale.train.environment import Episode, ToolScaleEnvironment, environment_tools
from toolscale.train.reward import Rollout, Scored

Message = dict[str, Any]  # an OpenAI chat message
Source = Literal["eval", "train"]


@dataclass(frozen=True)
class Reply:
    """A policy's turn: an assistant message (OpenAI form, tool-call arguments as JSON text) and what it took."""

    message: Message
    input_tokens: int = 0
    output_tokens: int = 0
    seconds: float = 0.0  # the policy's own time for this turn (model generation), measured


class PolicyError(Exception):
    """A policy could not produce a turn (an endpoint still failing after its retries): the rollout's error."""


@dataclass(frozen=True)
class Turn:
    """What a policy sees: the task (baselines read it; models only read the messages), the conversation, the tools."""

    task: ToolScaleTask
    messages: Sequence[Message]
    tools: Sequence[Mapping[str, Any]]  # OpenAI tool schemas
    trial: int


class Policy(Protocol):
    def act(self, turn: Turn) -> Reply: ...


def tool_schemas(environment: type[ToolScaleEnvironment]) -> list[dict[str, Any]]:
    """The environment's tools as function schemas, derived as TRL derives them (transformers' reader), so a model
    reads the very text it was trained on; endpoints get them without the "return" key OpenAI does not take."""
    return [get_json_schema(method) for method in environment_tools(environment)]


def execute(environment: ToolScaleEnvironment, name: str, arguments: str) -> str:
    """Call one tool as TRL does (the environment's method with the arguments as keywords); what the policy is shown.

    Calls that reach no tool (unknown name, arguments that are not a JSON object, unexpected keywords) are
    recorded on the episode as failed tool calls, so they count as tool errors.
    """
    try:
        parsed = json.loads(arguments or "{}")
    except json.JSONDecodeError as error:
        return environment._record_failed_call(name, {}, f"arguments of {name} are not valid JSON: {error}")
    if not isinstance(parsed, dict):
        return environment._record_failed_call(name, {}, f"arguments of {name} must be a JSON object")
    tools = {method.__name__ for method in environment_tools(type(environment))}
    if name not in tools:
        return environment._record_failed_call(name, parsed, f"unknown tool {name!r}")
    try:
        result: str = getattr(environment, name)(**parsed)
    except TypeError as error:  # an argument the tool does not take, or a required one left out
        return environment._record_failed_call(name, parsed, str(error))
    return result


@dataclass
class Conversation:
    messages: list[Message]
    input_tokens: int = 0
    output_tokens: int = 0
    policy_seconds: float = 0.0
    error: str | None = None


def run_rollout(
    environment: ToolScaleEnvironment,
    policy: Policy,
    prompt: Sequence[Message],
    tools: Sequence[Mapping[str, Any]],
    *,
    trial: int,
    max_turns: int,
) -> Conversation:
    """Turns until the policy answers without a tool call or `max_turns` rounds of tool calls are spent."""
    episode = environment.episode
    assert episode is not None, "reset() first"
    conversation = Conversation(messages=[dict(message) for message in prompt])
    for _ in range(max_turns + 1):
        try:
            reply = policy.act(Turn(task=episode.task, messages=conversation.messages, tools=tools, trial=trial))
        except PolicyError as error:
            conversation.error = str(error)
            break
        conversation.messages.append(reply.message)
        conversation.input_tokens += reply.input_tokens
        conversation.output_tokens += reply.output_tokens
        conversation.policy_seconds += reply.seconds
        calls = reply.message.get("tool_calls") or []
        if not calls:
            break
        for call in calls:
            function = call["function"]
            content = execute(environment, function["name"], function["arguments"])
            conversation.messages.append({"role": "tool", "tool_call_id": call["id"], "content": content})
    return conversation


def openai_messages(messages: Sequence[Mapping[str, Any]]) -> list[Message]:
    """Chat messages in OpenAI's form: TRL's completions carry tool-call arguments as objects and no call ids."""
    converted: list[Message] = []
    pending: list[str] = []  # ids of the last assistant turn's calls, answered in order by the tool messages after it
    count = 0
    for message in messages:
        out: Message = {"role": message["role"], "content": message.get("content") or ""}
        if message.get("tool_calls"):
            out["tool_calls"] = []
            pending = []
            for call in message["tool_calls"]:
                function = call.get("function", call)
                arguments = function.get("arguments", {})
                call_id = call.get("id") or f"call_{count}"
                count += 1
                pending.append(call_id)
                out["tool_calls"].append(
                    {
                        "id": call_id,
                        "type": "function",
                        "function": {
                            "name": function.get("name", ""),
                            "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments),
                        },
                    }
                )
        if message["role"] == "tool":
            out["tool_call_id"] = message.get("tool_call_id") or (pending.pop(0) if pending else "")
        converted.append(out)
    return converted


def steps_of(episode: Episode) -> list[dict[str, Any]]:
    steps = []
    for index, call in enumerate(episode.calls):
        expert = call.kind == "expert"
        steps.append(
            {
                "index": index,
                "name": "call_expert" if expert else call.name,
                "arguments": {"expert": call.name, **call.arguments} if expert else call.arguments,
                "ok": call.ok,
                "output": call.output,
                "error": call.error,
                "alias": call.name if expert else None,
                "cost": call.cost,
                "latency": call.seconds,
                "state_hash": call.state_hash,
            }
        )
    return steps


@dataclass(frozen=True)
class Labels:
    """Where a rollout comes from: which policy, split and trial, and (training) the optimizer step."""

    policy: str
    split: str
    trial: int
    source: Source = "eval"
    step: int | None = None


def result_record(
    episode: Episode,
    rollout: Rollout,
    scored: Scored,
    labels: Labels,
    *,
    input_tokens: int,
    policy_seconds: float,
    error: str | None,
) -> dict[str, Any]:
    """One results.jsonl line (docs/eval.md, "Results")."""
    return {
        "policy": labels.policy,
        "task_id": episode.task.id,
        "domain": episode.task.domain,
        "split": labels.split,
        "trial": labels.trial,
        "outcome": rollout.correct,
        "reward": {"total": scored.reward, **scored.components},
        "cost": rollout.cost,
        "latency": rollout.latency + policy_seconds,
        "tool_calls": rollout.tool_calls,
        "expert_calls": dict(rollout.alias_calls),
        "tool_errors": rollout.tool_errors,
        "tokens": {"input": input_tokens, "output": rollout.tokens},
        "error": error,
        "environment_latency": rollout.latency,
        "policy_latency": policy_seconds,
    }


def trajectory_record(
    result: Mapping[str, Any], episode: Episode, messages: Sequence[Mapping[str, Any]], labels: Labels
) -> dict[str, Any]:
    """One trajectories.jsonl line: the result's keys plus the conversation, every call and the final state."""
    record = {**result, "source": labels.source}
    if labels.step is not None:
        record["step"] = labels.step
    return record | {"messages": openai_messages(messages), "steps": steps_of(episode), "final_hash": episode.final_hash}
