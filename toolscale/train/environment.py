"""The per-rollout environment TRL's `environment_factory` builds: a task's database fork and its tools.

TRL lists an environment's public methods on its class and derives each tool's schema from the
method's signature and docstring. A domain's tools are data (its spec), so `environment_class` makes
one subclass per domain whose methods are built from the spec: each a function object with an
`inspect.Signature`, type annotations and a Google-style docstring set on it (no generated source is
executed), which forwards to the one engine `Environment.call`. Every call is recorded (name,
arguments, outcome, priced latency, tokens and cost) for the reward and the metrics.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from toolscale.engine.database import DomainDatabase
from toolscale.engine.environment import Environment
from toolscale.errors import ToolScaleError
from toolscale.llm.types import LLMFailure
from toolscale.populate.stage import populate
from toolscale.spec.models import DomainSpec, Parameter, Tool
from toolscale.tasks.record import ToolScaleTask
from toolscale.train.config import UserConfig
from toolscale.train.data import policy, request, task_from_row
from toolscale.train.experts import ExpertContext, ExpertRouter
from toolscale.train.llm_user import EndpointUser

CallKind = Literal["tool", "expert", "user"]
RESERVED = frozenset({"reset", "get_reward", "call_expert", "ask_user"})  # TRL's hooks and our own tools


class TaskDatabaseError(ToolScaleError):
    """A task's database cannot be rebuilt as the task recorded it."""


_databases: dict[tuple[str, int, int], DomainDatabase] = {}


def task_database(spec: DomainSpec, task: ToolScaleTask) -> DomainDatabase:
    """The task's domain database, populated once per process from the size and seed the task names.

    Tools do not change what populate makes, so a spec with fewer tools (a test's) shares the rows and the hash.
    """
    key = (task.domain, task.database.size, task.database.seed)
    database = _databases.get(key)
    if database is None:
        database = populate(spec, task.database.size, task.database.seed)
        _databases[key] = database
    if database.state_hash != task.database.state_hash:
        raise TaskDatabaseError(
            f"task {task.id}: {task.domain} populated at size {task.database.size}, seed {task.database.seed} has state "
            f"{database.state_hash[:12]}, the task expects {task.database.state_hash[:12]} (another spec version?)"
        )
    return database


@dataclass(frozen=True)
class CallRecord:
    kind: CallKind
    name: str  # the tool, or the expert's alias
    arguments: dict[str, Any]
    ok: bool
    seconds: float  # priced (tools, simulated experts) or measured (endpoints) latency
    cost: float = 0.0  # dollars
    input_tokens: int = 0
    output_tokens: int = 0
    output: Any = None  # the tool's JSON output, or the expert's or user's answer
    error: str | None = None
    state_hash: str = ""  # the database state after the call (trajectories show where a write happened)


@dataclass
class Episode:
    task: ToolScaleTask
    environment: Environment
    calls: list[CallRecord] = field(default_factory=list)
    gold_done: int = 0  # gold actions made so far, in order (what a simulated expert advises from)
    engine_seconds: float = 0.0  # wall time spent in this module and the engine, for the overhead benchmark

    @property
    def final_hash(self) -> str:
        """The state the episode reached, ids it generated named by content (what the outcome compares)."""
        return self.environment.outcome_hash()


class ToolScaleEnvironment:
    """Base of the per-domain classes `environment_class` makes; TRL calls `reset(**row)` before each rollout."""

    spec: ClassVar[DomainSpec]
    experts: ClassVar[ExpertRouter]
    user: ClassVar[UserConfig]

    def __init__(self) -> None:
        self.episode: Episode | None = None

    def reset(self, **row: Any) -> None:
        """Start an episode on a fresh fork of the row's task database. The prompt is in the row already."""
        started = time.perf_counter()
        self._close()
        task = task_from_row(row)
        if task.domain != self.spec.name:
            raise ValueError(f"task {task.id} is a {task.domain} task, this environment serves {self.spec.name}")
        self.episode = Episode(task=task, environment=task_database(self.spec, task).fork())
        self.episode.engine_seconds += time.perf_counter() - started

    def _close(self) -> None:
        # Private: TRL exposes every public method as a tool.
        if self.episode is not None:
            self.episode.environment.close()
            self.episode = None

    def _episode(self) -> Episode:
        return episode_of(self)

    def _call_tool(self, name: str, arguments: dict[str, Any]) -> str:
        started = time.perf_counter()
        episode = self._episode()
        observation = episode.environment.call(name, arguments)
        episode.calls.append(
            CallRecord(
                kind="tool",
                name=name,
                arguments=arguments,
                ok=observation.ok,
                seconds=episode.task.pricing.tool_seconds_per_call,
                output=observation.output,
                error=observation.error,
                state_hash=episode.environment.state_hash(),
            )
        )
        gold = episode.task.actions
        if observation.ok and episode.gold_done < len(gold):
            step = gold[episode.gold_done]
            if step.name == name and step.arguments == arguments:
                episode.gold_done += 1
        content = observation.content
        episode.engine_seconds += time.perf_counter() - started
        return content

    def call_expert(self, expert: str, question: str) -> str:
        """Ask one of the experts listed in the system prompt for advice; each call is billed at that expert's price.

        Args:
            expert: The expert's alias, e.g. expert-1.
            question: What you want to know.
        """
        started = time.perf_counter()
        episode = self._episode()
        drawn = episode.task.pricing.experts.get(expert)
        if drawn is None:
            error = f"Error: unknown expert {expert!r}; choose one of {', '.join(episode.task.pricing.experts)}"
            episode.calls.append(
                CallRecord(
                    kind="expert",
                    name=expert,
                    arguments={"question": question},
                    ok=False,
                    seconds=0.0,
                    error=error,
                    state_hash=episode.final_hash,
                )
            )
            episode.engine_seconds += time.perf_counter() - started
            return error
        price = self.experts.price(drawn.model, drawn)
        context = ExpertContext(
            task_id=episode.task.id,
            policy=policy(episode.task.domain),
            request=request(episode.task),
            gold_steps=[(action.name, action.arguments) for action in episode.task.actions],
            done_steps=episode.gold_done,
            tool_names=[tool.name for tool in self.spec.tools],
            calls_so_far=sum(call.kind == "expert" for call in episode.calls),
        )
        episode.engine_seconds += time.perf_counter() - started
        answer = self.experts.ask(drawn.model, price, question, context)  # an endpoint's wait is not engine time
        if answer.error is not None:
            error = f"Error: expert {expert!r} could not answer ({answer.error})"
            episode.calls.append(
                CallRecord(
                    kind="expert",
                    name=expert,
                    arguments={"question": question},
                    ok=False,
                    seconds=answer.seconds,
                    error=error,
                    state_hash=episode.final_hash,
                )
            )
            return error
        cost = (answer.input_tokens * price.input_price_per_million + answer.output_tokens * price.output_price_per_million) / 1e6
        episode.calls.append(
            CallRecord(
                kind="expert",
                name=expert,
                arguments={"question": question},
                ok=True,
                seconds=answer.seconds,
                cost=cost,
                input_tokens=answer.input_tokens,
                output_tokens=answer.output_tokens,
                output=answer.text,
                state_hash=episode.final_hash,
            )
        )
        return answer.text

    def _record_failed_call(self, name: str, arguments: dict[str, Any], error: str) -> str:
        """A call the policy made that reached no tool (unknown name, arguments not a JSON object): a tool error."""
        episode = self._episode()
        episode.calls.append(
            CallRecord(
                kind="tool", name=name, arguments=arguments, ok=False, seconds=0.0, error=error, state_hash=episode.final_hash
            )
        )
        return f"Error: {error}"


def episode_of(environment: ToolScaleEnvironment) -> Episode:
    if environment.episode is None:
        raise RuntimeError("no episode: reset() was not called")
    return environment.episode


class LlmUserEnvironment(ToolScaleEnvironment):
    """With an LLM user: the ask_user tool. A method of a class, so its `self` carries no annotation that a
    schema reader (transformers' get_json_schema, which TRL uses) would try to turn into a parameter."""

    user_client: ClassVar[EndpointUser]

    def ask_user(self, question: str) -> str:
        """Ask the user a question and get their answer.

        Args:
            question: What you need to know from the user.
        """
        episode = self._episode()
        instructions = episode.task.user_scenario.instructions
        scenario = instructions if isinstance(instructions, str) else instructions.model_dump_json(exclude_none=True)
        started = time.perf_counter()
        reply = self.user_client.answer(scenario, question)
        if isinstance(reply, LLMFailure):
            error = f"Error: the user could not answer ({reply.reason}: {reply.detail})"
            episode.calls.append(
                CallRecord(
                    kind="user",
                    name="ask_user",
                    arguments={"question": question},
                    ok=False,
                    seconds=time.perf_counter() - started,
                    error=error,
                    state_hash=episode.final_hash,
                )
            )
            return error
        episode.calls.append(
            CallRecord(
                kind="user",
                name="ask_user",
                arguments={"question": question},
                ok=True,
                seconds=reply.seconds,
                input_tokens=reply.input_tokens,
                output_tokens=reply.output_tokens,
                output=reply.text,
                state_hash=episode.final_hash,
            )
        )
        return reply.text


_JSON_TYPES: dict[str, Any] = {"string": str, "integer": int, "number": float, "boolean": bool, "object": dict[str, Any]}


def python_type(parameter: Parameter) -> Any:
    """The annotation transformers turns back into this parameter's JSON Schema type (enums as Literal)."""
    if parameter.enum is not None:
        return Literal[tuple(parameter.enum)]
    if parameter.type == "array":
        assert parameter.items is not None, "checked by the spec"
        return list[python_type(parameter.items)]  # type: ignore[misc]
    return _JSON_TYPES[parameter.type]


def _describe(name: str, parameter: Parameter) -> str:
    text = " ".join((parameter.description or f"The {name.replace('_', ' ')}.").split())
    return f"{text} (format: {parameter.format})" if parameter.format else text


def tool_method(tool: Tool) -> Callable[..., str]:
    """A method TRL can expose: its signature, annotations and docstring say what the spec's tool takes."""
    required = set(tool.parameters.required)

    def method(self: ToolScaleEnvironment, **arguments: Any) -> str:
        # Optional parameters the model left out arrive as None; the engine's schema wants them absent.
        return self._call_tool(
            tool.name, {key: value for key, value in arguments.items() if value is not None or key in required}
        )

    parameters = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    annotations: dict[str, Any] = {}
    for name, parameter in tool.parameters.properties.items():
        annotation = python_type(parameter) if name in required else python_type(parameter) | None
        default = inspect.Parameter.empty if name in required else None
        parameters.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation))
        annotations[name] = annotation
    annotations["return"] = str
    args = "".join(f"\n    {name}: {_describe(name, parameter)}" for name, parameter in tool.parameters.properties.items())
    method.__name__ = method.__qualname__ = tool.name
    method.__doc__ = " ".join(tool.description.split()) + (f"\n\nArgs:{args}" if args else "")
    method.__annotations__ = annotations
    method.__signature__ = inspect.Signature(parameters, return_annotation=str)  # type: ignore[attr-defined]
    return method


def environment_class(spec: DomainSpec, experts: ExpertRouter, user: UserConfig) -> type[ToolScaleEnvironment]:
    """The domain's environment class: one method per spec tool, plus call_expert (and ask_user with an LLM user)."""
    clashes = sorted(RESERVED & {tool.name for tool in spec.tools})
    if clashes:
        raise ValueError(f"domain {spec.name!r}: tool name(s) {clashes} are reserved by the trainer")
    members: dict[str, Any] = {tool.name: tool_method(tool) for tool in spec.tools}
    members |= {"spec": spec, "experts": experts, "user": user}
    if user.mode == "llm":
        members["user_client"] = EndpointUser(user)
    name = "".join(part.capitalize() for part in spec.name.split("_")) + "Environment"
    return type(name, (LlmUserEnvironment if user.mode == "llm" else ToolScaleEnvironment,), members)


def environment_tools(environment: type[ToolScaleEnvironment]) -> list[Callable[..., Any]]:
    """The methods TRL exposes as tools (public functions of the class other than its hooks)."""
    return [
        member
        for name, member in inspect.getmembers(environment, predicate=inspect.isfunction)
        if not name.startswith("_") and name not in ("reset", "get_reward")
    ]


def environment_classes(
    domains: Mapping[str, DomainSpec], experts: ExpertRouter, user: UserConfig
) -> dict[str, type[ToolScaleEnvironment]]:
    """One class per domain: TRL's `environment_factory` in its multi-environment form (rows pick by `environment`)."""
    return {name: environment_class(spec, experts, user) for name, spec in domains.items()}
