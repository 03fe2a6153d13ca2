"""Task synthesis: deterministic, grounded in the database, verified, and in the caller's words."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

from toolscale.domain.loader import domain_dir, load_domain
from toolscale.engine.database import DomainDatabase
from toolscale.populate.stage import populate
from toolscale.spec.errors import SpecError
from toolscale.tasks.grammar import GRAMMAR_FILE, load_grammar
from toolscale.tasks.preference import SynthesisConfig
from toolscale.tasks.synthesize import SynthesizedTask, Synthesizer
from toolscale.tasks.verify import Verifier

CONFIG = SynthesisConfig(writes={1: 0.4, 2: 0.3, 3: 0.2, 4: 0.1})


@cache
def bank() -> DomainDatabase:
    return populate(load_domain("bank"), 200, seed=0)


def synthesizer() -> Synthesizer:
    spec = load_domain("bank")
    return Synthesizer(bank(), load_grammar(domain_dir("bank") / GRAMMAR_FILE, spec), CONFIG)


def tasks(seed: int, count: int) -> list[SynthesizedTask]:
    return [task for task in synthesizer().synthesize(seed, range(count)) if task is not None]


def test_same_seed_same_tasks_and_any_slice_alone() -> None:
    first, again = tasks(3, 40), tasks(3, 40)
    assert first == again
    alone = [task for task in synthesizer().synthesize(3, range(20, 40)) if task is not None]
    assert alone == [task for task in first if task.index >= 20]
    assert tasks(4, 40) != first


def test_synthesized_tasks_verify_and_mix_difficulties() -> None:
    verifier = Verifier(bank())
    made = tasks(0, 150)
    verdicts = [verifier.verify(task.candidate) for task in made]
    kept = [task for task, verdict in zip(made, verdicts, strict=True) if verdict.kept]
    assert len(made) >= 140
    assert len(kept) >= 0.85 * len(made), {reason.check for verdict in verdicts for reason in verdict.reasons}
    assert {len(task.goals) for task in kept} == {1, 2, 3, 4}


def test_scenarios_speak_in_the_callers_words() -> None:
    for task in tasks(1, 60):
        text = task.scenario.text
        assert task.caller_id not in text
        for action in task.actions:
            for name, value in action.arguments.items():
                if name.endswith("_id"):
                    assert str(value) not in text, (name, value, text)
        assert text.startswith("You are calling bank customer support. You want to ")


def test_grammar_errors_name_file_place_and_reason(tmp_path: Path) -> None:
    path = tmp_path / GRAMMAR_FILE
    path.write_text(
        "mentions: {wallets: '{colour}'}\n"
        "goals:\n"
        "  - {tool: list_accounts, candidates: SELECT 1, ask: x}\n"
        "  - {tool: freeze_card, candidates: SELECT 1, ask: 'freeze {card}'}\n"
        "  - {tool: freeze_card, candidates: 'SELECT card_id FROM cards WHERE owner = :caller_id', ask: x}\n"
    )
    with pytest.raises(SpecError) as raised:
        load_grammar(path, load_domain("bank"))
    issues = {(issue.location, issue.reason) for issue in raised.value.issues}
    assert issues == {
        ("mentions.wallets", "unknown table 'wallets'"),
        ("goals[0].tool", "'list_accounts' is not a write tool of domain 'bank'"),
        ("goals[1].ask", "{card} is not a parameter of freeze_card nor a context column"),
        ("goals[2].candidates", "does not compile against the schema: no such column: owner"),
    }
    assert all(issue.file == path for issue in raised.value.issues)


GRAMMAR_DOMAINS = sorted(path.parent.name for path in domain_dir("bank").parent.glob(f"*/{GRAMMAR_FILE}"))


@pytest.mark.parametrize("domain", GRAMMAR_DOMAINS)
def test_every_grammar_yields_verified_tasks_covering_the_tools(domain: str) -> None:
    """Per domain: most candidates verify, every write tool and 80% of the read tools are gold actions."""
    spec = load_domain(domain)
    database = populate(spec, 150, seed=0)
    made = [
        task
        for task in Synthesizer(database, load_grammar(domain_dir(domain) / GRAMMAR_FILE, spec), CONFIG).synthesize(0, range(300))
        if task
    ]
    verifier = Verifier(database)
    verdicts = [verifier.verify(task.candidate) for task in made]
    kept = [task for task, verdict in zip(made, verdicts, strict=True) if verdict.kept]
    rejected = sorted({f"{reason.check}: {reason.detail}" for verdict in verdicts for reason in verdict.reasons})
    assert len(kept) >= 0.8 * 300, rejected[:10]
    used = {action.name for task in kept for action in task.actions}
    writes = {tool.name for tool in spec.tools if tool.kind == "write"}
    reads = {tool.name for tool in spec.tools if tool.kind == "read"}
    assert writes <= used, f"write tools never a gold action: {sorted(writes - used)}"
    assert len(reads & used) >= 0.8 * len(reads), f"read tools never a gold action: {sorted(reads - used)}"
    assert sum(len(task.goals) >= 2 for task in kept) >= 0.3 * len(kept)


def test_catalogue_keys_are_public_words_not_leaked_ids() -> None:
    """Weather's plans are a catalogue: saying 'enterprise' names a plan, it does not leak an id."""
    spec = load_domain("weather")
    database = populate(spec, 60, seed=0)
    synth = Synthesizer(database, load_grammar(domain_dir("weather") / GRAMMAR_FILE, spec), CONFIG)
    task = next(task for task in synth.synthesize(0, range(50)) if task is not None)
    verifier = Verifier(database)
    candidate = task.candidate
    with_plan = type(candidate)(candidate.actions, candidate.scenario + " You are thinking about the enterprise plan.")
    assert "leaked_id" not in {reason.check for reason in verifier.verify(with_plan).reasons}
    customer_key = task.actions[-1].arguments.get("user_id")
    leaky = type(candidate)(candidate.actions, candidate.scenario + f" Your user id is {customer_key}.")
    assert "leaked_id" in {reason.check for reason in Verifier(database).verify(leaky).reasons}


def test_conditional_steps_follow_the_value_the_agent_reads() -> None:
    """'If X is then below T, also do Y': Y is a gold action exactly when the reported X is below T."""
    spec = load_domain("bank")
    always = SynthesisConfig(writes={2: 1.0}, conditional=1.0)
    synth = Synthesizer(bank(), load_grammar(domain_dir("bank") / GRAMMAR_FILE, spec), always)
    verifier = Verifier(bank())
    taken = untaken = 0
    for task in synth.synthesize(0, range(500)):
        if task is None or not task.conditional:
            continue
        match = re.search(r"is then below (\d+)", task.scenario.reason_for_call)
        assert match is not None
        below = float(task.communicate_info[0]) < float(match.group(1))
        assert below == (len(task.goals) == 2), task.scenario.reason_for_call
        assert below != task.scenario.reason_for_call.endswith("(otherwise nothing more).")
        assert verifier.verify(task.candidate).kept
        taken, untaken = taken + below, untaken + (not below)
    assert taken >= 3
    assert untaken >= 3
