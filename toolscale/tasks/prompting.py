"""What the scenario writer and the task proposer share: their prompt templates and the callers' voices.

Prompts are Jinja files in `prompts/` with a `system` and a `user` block, rendered in a sandbox (the
same way as the grammar's scenario template). Voices are `prompts/personas.yaml`; one is drawn per task
from the run's seed and the task's id alone, so it does not depend on which unit or worker made it.
"""

from __future__ import annotations

import hashlib
import random
from functools import cache
from typing import Any

import pydantic
import yaml
from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from toolscale.errors import ToolScaleError
from toolscale.resources import data_dir
from toolscale.spec.errors import format_location
from toolscale.strict import StrictModel
from toolscale.yamlfile import load_yaml, read_yaml_text

PROMPTS_DIR = data_dir("prompts")
PERSONAS_FILE = PROMPTS_DIR / "personas.yaml"
REWRITE_TEMPLATE = "rewrite.j2"
PROPOSE_TEMPLATE = "propose.j2"
LLM_PROMPT_FILES = (REWRITE_TEMPLATE, PROPOSE_TEMPLATE, PERSONAS_FILE.name)


class PromptError(ToolScaleError, ValueError):
    """A prompt file that cannot be used; the message names the file, the field and the reason."""


class Persona(StrictModel):
    name: str
    voice: str  # how the caller speaks, completing "in the voice of ..."


@cache
def personas() -> tuple[Persona, ...]:
    try:
        data = load_yaml(read_yaml_text(PERSONAS_FILE))
        found = tuple(pydantic.TypeAdapter(list[Persona]).validate_python(data))
    except (OSError, ValueError, yaml.YAMLError) as error:
        if isinstance(error, pydantic.ValidationError):
            first = error.errors()[0]
            raise PromptError(f"{PERSONAS_FILE}: {format_location(first['loc'])}: {first['msg']}") from error
        raise PromptError(f"{PERSONAS_FILE}: cannot be read: {error}") from error
    if not found:
        raise PromptError(f"{PERSONAS_FILE}: (top level): lists no persona")
    return found


def persona_for(seed: int, task_id: str) -> Persona:
    return random.Random(f"persona:{seed}:{task_id}").choice(personas())


@cache
def _environment() -> SandboxedEnvironment:
    return SandboxedEnvironment(loader=FileSystemLoader(PROMPTS_DIR), undefined=StrictUndefined, autoescape=False)


def messages(template: str, context: dict[str, Any]) -> tuple[dict[str, str], ...]:
    """The template's system and user blocks as chat messages."""
    loaded = _environment().get_template(template)
    shared = loaded.new_context(context)
    return tuple({"role": role, "content": "".join(loaded.blocks[role](shared)).strip()} for role in ("system", "user"))


def llm_prompts_digest() -> str:
    """What LLM-written tasks are made from besides the model: its prompts and voices."""
    digest = hashlib.sha256()
    for name in LLM_PROMPT_FILES:
        digest.update(name.encode("utf-8") + b"\0" + (PROMPTS_DIR / name).read_bytes())
    return digest.hexdigest()
