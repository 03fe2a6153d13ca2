"""Rollouts in `toolscale eval`'s trajectories.jsonl format, made by replaying gold actions through the Environment.

Two scripted policies stand in for trained ones: `gold-replay` calls exactly the gold actions (it
succeeds), `stops-early` asks an expert first and leaves out the last gold action (it diverges).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from toolscale.domain.loader import load_domain
from toolscale.engine.database import DomainDatabase
from toolscale.review.site import domain_tasks
from toolscale.tasks.record import ToolScaleTask


def rollout(database: DomainDatabase, task: ToolScaleTask, policy: str, source: str, trial: int) -> dict[str, Any]:
    actions = list((task.evaluation_criteria.actions if task.evaluation_criteria else None) or [])
    instructions = task.user_scenario.instructions
    opening = instructions if isinstance(instructions, str) else instructions.reason_for_call
    messages: list[dict[str, Any]] = [{"role": "user", "content": opening}]
    steps: list[dict[str, Any]] = []
    expert_calls: dict[str, int] = {}
    seconds = task.pricing.tool_seconds_per_call
    with database.fork() as env:
        if policy == "stops-early":
            alias = sorted(task.pricing.experts)[0]
            expert_calls[alias] = 1
            steps.append(
                {
                    "index": 0,
                    "name": "call_expert",
                    "arguments": {"alias": alias, "question": "what next?"},
                    "ok": True,
                    "output": "look the caller up first",
                    "error": None,
                    "alias": alias,
                    "cost": 0.0012,
                    "latency": task.pricing.experts[alias].seconds_per_call,
                    "state_hash": env.state_hash(),
                }
            )
            actions = actions[:-1]
        for action in actions:
            observation = env.call(action.name, dict(action.arguments))
            call_id = f"call-{len(steps)}"
            messages.append(
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [
                        {
                            "id": call_id,
                            "type": "function",
                            "function": {"name": action.name, "arguments": json.dumps(action.arguments)},
                        }
                    ],
                }
            )
            messages.append({"role": "tool", "tool_call_id": call_id, "content": observation.content})
            steps.append(
                {
                    "index": len(steps),
                    "name": action.name,
                    "arguments": dict(action.arguments),
                    "ok": observation.ok,
                    "output": observation.output,
                    "error": observation.error,
                    "alias": None,
                    "cost": 0.0,
                    "latency": seconds,
                    "state_hash": env.state_hash(),
                }
            )
        final = env.state_hash()
    outcome = final == task.verification.expected_final_hash
    return {
        "policy": policy,
        "task_id": task.id,
        "domain": task.domain,
        "split": "test",
        "trial": trial,
        "outcome": outcome,
        "reward": {"outcome": float(outcome), "cost": -0.0012 * len(expert_calls), "latency": -0.1 * len(steps)},
        "cost": 0.0012 * len(expert_calls),
        "latency": sum(step["latency"] for step in steps),
        "tool_calls": len(steps),
        "expert_calls": expert_calls,
        "tool_errors": sum(not step["ok"] for step in steps),
        "tokens": {"input": 900, "output": 120},
        "error": None,
        "source": source,
        **({"step": 10} if source == "train" else {}),
        "messages": messages,
        "steps": steps,
        "final_hash": final,
        "a_key_readers_ignore": True,
    }


def write_trajectories(output: Path, domain: str, task_ids: Sequence[str], path: Path) -> Path:
    """Rollouts of both policies (eval) and one training rollout for each task, as one trajectories.jsonl."""
    database = DomainDatabase.load(load_domain(domain), output / "databases" / f"{domain}.sqlite")
    tasks = {task.id: task for task, _ in domain_tasks(output, domain)}
    lines = []
    for task_id in task_ids:
        task = tasks[task_id]
        lines += [rollout(database, task, "gold-replay", "eval", 0), rollout(database, task, "stops-early", "eval", 0)]
        lines.append(rollout(database, task, "stops-early", "train", 0))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(line, sort_keys=True) + "\n" for line in lines), encoding="utf-8")
    return path
