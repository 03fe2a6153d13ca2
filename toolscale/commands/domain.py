"""`toolscale domain new NAME --describe "..."`: a new domain written by a language model, checked stage by stage."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import pydantic
import typer

from toolscale.atomic import write_atomically
from toolscale.domain.loader import DOMAINS_DIR
from toolscale.errors import ToolScaleError
from toolscale.llm.config import Backend, LLMConfig, SchemaFormat
from toolscale.llm.types import LLMClient
from toolscale.spec.models import Identifier

# The name is the folder's and the spec's `name`, so it is the spec's Identifier.
_DOMAIN_NAME = pydantic.TypeAdapter(Identifier)

app = typer.Typer(no_args_is_help=True, help="Write new domains with a language model.")


@app.command()
def new(
    name: Annotated[str, typer.Argument(help="The new domain's name (lower case, digits, _), its folder under domains/.")],
    describe: Annotated[str, typer.Option(help="What the domain is, e.g. 'a veterinary clinic: owners, pets, ...'.")],
    backend: Annotated[
        Backend | None, typer.Option(help="The model's backend: openai (any OpenAI-compatible server) or vllm.")
    ] = None,
    model: Annotated[str | None, typer.Option(help="The served model name (openai) or a model path (vllm).")] = None,
    base_url: Annotated[
        str | None, typer.Option(help="The server's OpenAI-compatible base URL, e.g. http://host:8000/v1.")
    ] = None,
    api_key_env: Annotated[str | None, typer.Option(help="The NAME of the environment variable holding the API key.")] = None,
    response_format: Annotated[
        SchemaFormat, typer.Option(help="How the schema is sent: json_schema (OpenAI, vLLM) or json_object (llama-cpp-python).")
    ] = "json_schema",
    schema_in_prompt: Annotated[
        bool,
        typer.Option(help="Send each stage's JSON Schema in the prompt, not as the response format (llama-cpp-python)."),
    ] = False,
    max_tokens: Annotated[int, typer.Option(min=1, help="Most tokens of one stage's answer.")] = 8192,
    timeout: Annotated[float, typer.Option(min=1, help="Seconds per request.")] = 600.0,
    cache: Annotated[
        Path, typer.Option(help="The LLM reply cache (SQLite): a rerun with the same answers is served from it.")
    ] = Path("output/authoring/llm-cache.sqlite"),
    replies: Annotated[
        list[Path] | None,
        typer.Option(help="Answer from recorded reply files in these folders instead of a model (<stage>.json, ...)."),
    ] = None,
    domains_dir: Annotated[Path, typer.Option(help="Where the domain folder is written.")] = DOMAINS_DIR,
    report: Annotated[
        Path | None,
        typer.Option(help="Folder for a failed run's report.json and conversation.jsonl (default output/authoring/NAME)."),
    ] = None,
    repairs: Annotated[int, typer.Option(min=0, max=10, help="Times a stage's answer is sent back with its problems.")] = 3,
    sample: Annotated[int, typer.Option(min=1, help="Verified tasks the domain must yield before it is written.")] = 100,
    seed: Annotated[int, typer.Option(help="Seed of the requests, the populate and the sample.")] = 0,
    clock: Annotated[str, typer.Option(help="The domain's fixed now, ISO.")] = "2025-06-02T10:00:00",
) -> None:
    """Write a domain from a description: tables, caller, tools, policy, grammar, each checked and repaired."""
    from toolscale.authoring.author import AUTHORING_DIR, CONVERSATION_FILE, REPORT_FILE, AuthoringSettings, author_domain
    from toolscale.authoring.replay import ReplayClient
    from toolscale.llm.factory import make_client

    try:
        _DOMAIN_NAME.validate_python(name)
    except pydantic.ValidationError as error:
        raise typer.BadParameter(
            f"{name!r}: a domain name is lower case letters, digits and _, starting with a letter"
        ) from error
    try:
        now = datetime.fromisoformat(clock)
    except ValueError as error:
        raise typer.BadParameter(f"--clock {clock!r}: {error}") from error
    client: LLMClient
    for folder in replies or []:
        if not folder.is_dir():
            typer.echo(f"{folder}: not a folder of recorded replies", err=True)
            raise typer.Exit(1)
    if replies:
        client = ReplayClient(replies)
    elif backend is None:
        raise typer.BadParameter("give --backend (with --model, and --base-url for openai) or --replies FOLDER")
    else:
        fields: dict[str, object] = {"backend": backend, "model": model, "base_url": base_url, "api_key_env": api_key_env}
        fields |= {"response_format": response_format, "max_tokens": max_tokens, "timeout_s": timeout}
        try:
            config = LLMConfig.model_validate(fields)
        except pydantic.ValidationError as error:
            raise typer.BadParameter(
                "; ".join(detail["msg"].removeprefix("Value error, ") for detail in error.errors())
            ) from error
        client = make_client(config, cache_path=cache)
    settings = AuthoringSettings(
        name=name,
        describe=describe,
        clock=now,
        repairs=repairs,
        sample=sample,
        seed=seed,
        schema_as_response_format=not schema_in_prompt,
    )
    try:
        result = author_domain(client, settings, domains_dir)
    except ToolScaleError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from error
    finally:
        client.close()
    typer.echo(result.report.text(), nl=False)
    if result.report.passed:
        conversation = domains_dir / name / AUTHORING_DIR / CONVERSATION_FILE
        typer.echo(f"wrote {domains_dir / name} (the conversation is in {conversation})")
        return
    folder = report if report is not None else Path("output") / AUTHORING_DIR / name
    write_atomically(folder / REPORT_FILE, result.report.json_text())
    write_atomically(folder / CONVERSATION_FILE, result.conversation_text())
    typer.echo(f"nothing written to {domains_dir}; the report and the conversation are in {folder}", err=True)
    raise typer.Exit(1)
