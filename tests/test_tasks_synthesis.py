"""Task synthesis: deterministic, grounded in the database, verified, and in the caller's words."""

from __future__ import annotations

import gc
import re
import threading
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

from toolscale.domain.loader import domain_dir, load_domain
from toolscale.engine.database import DomainDatabase
from toolscale.populate.stage import populate
from toolscale.spec.errors import SpecError
from toolscale.tasks.ambiguity import grammar_words
from toolscale.tasks.grammar import GRAMMAR_FILE, fill, load_grammar, phrasings, template_fields
from toolscale.tasks.preference import SynthesisConfig
from toolscale.tasks.run import _YOUNG_COLLECTIONS, YOUNG_COLLECTION_THRESHOLD, synthesize_domain
from toolscale.tasks.spoken import spoken
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
        # Values as people say them: no ISO dates, no snake_case enum values, no "(s)" plurals.
        assert not re.search(r"\d{4}-\d{2}-\d{2}|\b[a-z]+_[a-z_]+\b|\(s\)", text), text


def test_scenarios_vary_their_openings_and_phrasings() -> None:
    """The same goal is asked for in several ways, and calls open in several ways."""
    made = tasks(1, 120)
    openings = {task.scenario.reason_for_call.split(".")[0] for task in made}
    assert len(openings) >= 8, openings
    pay = [task for task in made if task.goals == ("pay_payee",)]
    wordings = {re.sub(r"\d+", "#", task.scenario.reason_for_call.split("pay")[-1]) for task in pay}
    assert len(wordings) >= 3, wordings
    assert all(task.scenario.persona for task in made)


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
    """Per domain: most candidates verify, every write tool and 80% of the read tools are gold actions.

    Most, not 80%: the verifier also rejects what the template grammars still make, values to tell that
    prove nothing (medicine's coverage "70"), rows named only by columns no read returns, repeated writes."""
    spec = load_domain(domain)
    database = populate(spec, 150, seed=0)
    grammar = load_grammar(domain_dir(domain) / GRAMMAR_FILE, spec)
    made = [task for task in Synthesizer(database, grammar, CONFIG).synthesize(0, range(300)) if task]
    verifier = Verifier(database, grammar_words(grammar))
    verdicts = [verifier.verify(task.candidate) for task in made]
    kept = [task for task, verdict in zip(made, verdicts, strict=True) if verdict.kept]
    rejected = sorted({f"{reason.check}: {reason.detail}" for verdict in verdicts for reason in verdict.reasons})
    assert len(kept) >= 0.6 * 300, rejected[:10]
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
    # A task that writes: an information task stops at no_state_change before the leak check is reached.
    task = next(task for task in synth.synthesize(0, range(50)) if task is not None and task.kind == "write")
    verifier = Verifier(database)
    candidate = task.candidate
    with_plan = type(candidate)(candidate.actions, candidate.scenario + " You are thinking about the enterprise plan.")
    assert "leaked_id" not in {reason.check for reason in verifier.verify(with_plan).reasons}
    customer_key = task.actions[-1].arguments.get("user_id")
    leaky = type(candidate)(candidate.actions, candidate.scenario + f" Your user id is {customer_key}.")
    assert "leaked_id" in {reason.check for reason in Verifier(database).verify(leaky).reasons}


def test_conditional_steps_follow_the_value_the_agent_reads() -> None:
    """'If X is then below T, also do Y': Y is a gold action exactly when the reported X is below T, and T
    lies close to X on either side (never a line the domain's values cannot reach)."""
    spec = load_domain("bank")
    always = SynthesisConfig(writes={2: 1.0}, conditional=1.0, information=0, refusal=0)
    synth = Synthesizer(bank(), load_grammar(domain_dir("bank") / GRAMMAR_FILE, spec), always)
    verifier = Verifier(bank())
    taken = untaken = 0
    for task in synth.synthesize(0, range(500)):
        if task is None or task.kind != "conditional" or not task.communicate_info:
            continue
        match = re.search(r"(?:below|under|less than) (\d+(?:\.\d+)?)", task.scenario.reason_for_call)
        assert match is not None, task.scenario.reason_for_call
        value, threshold = float(task.communicate_info[0]), float(match.group(1))
        below = value < threshold
        assert below == (len(task.goals) == 2), task.scenario.reason_for_call
        assert abs(threshold - value) <= 0.2 * value + 2, (value, threshold)
        assert verifier.verify(task.candidate).kept
        taken, untaken = taken + below, untaken + (not below)
    assert taken >= 3
    assert untaken >= 3


def test_information_tasks_only_read_and_must_be_answered() -> None:
    """A caller who only wants to know something: no writes, kept by the verifier, and what the agent
    must tell is nowhere in the scenario (so doing nothing, or guessing from the request, fails)."""
    informing = SynthesisConfig(information=1.0)
    spec = load_domain("bank")
    synth = Synthesizer(bank(), load_grammar(domain_dir("bank") / GRAMMAR_FILE, spec), informing)
    verifier = Verifier(bank())
    made = [task for task in synth.synthesize(0, range(40)) if task is not None]
    assert len(made) >= 30
    for task in made:
        assert task.kind == "information"
        assert not any(bank().tools[action.name].writes for action in task.actions)
        assert task.communicate_info
        assert not any(info in task.scenario.text for info in task.communicate_info), task.scenario.text
        reasons = [reason.check for reason in verifier.verify(task.candidate).reasons]
        assert reasons in ([], ["duplicate"]), reasons  # the same questions twice are rightly one task
    # Without values to tell, the same reads teach nothing: the verifier still rejects them.
    silent = type(made[0].candidate)(made[0].actions, made[0].scenario.text)
    assert [reason.check for reason in Verifier(bank()).verify(silent).reasons] == ["no_state_change"]


def test_refusal_tasks_leave_the_forbidden_write_undone() -> None:
    """Beside allowed asks, one the tools forbid: the gold does only the allowed ones, the forbidden write
    still fails on the final state, and an nl_assertion records the refusal."""
    refusing = SynthesisConfig(information=0, refusal=1.0)
    spec = load_domain("bank")
    synth = Synthesizer(bank(), load_grammar(domain_dir("bank") / GRAMMAR_FILE, spec), refusing)
    verifier = Verifier(bank())
    made = [task for task in synth.synthesize(0, range(60)) if task is not None and task.kind == "refusal"]
    kept = [task for task in made if verifier.verify(task.candidate).kept]
    assert len(made) >= 30
    assert len(kept) >= 0.8 * len(made)
    for task in kept:
        (forbidden,) = task.forbidden
        assert forbidden not in task.actions
        (assertion,) = task.nl_assertions
        assert assertion.startswith("The agent declines")
        with bank().fork() as env:
            for action in task.actions:
                assert env.call(action.name, dict(action.arguments)).ok
            assert env.call(forbidden.name, dict(forbidden.arguments)).reason in ("precondition", "constraint")


def test_values_are_said_as_people_say_them() -> None:
    assert spoken("2025-08-02") == "August 2, 2025"
    assert spoken("2025-10-15T09:00:00") == "October 15, 2025 at 9 AM"
    assert spoken("2025-10-15T21:30:00") == "October 15, 2025 at 9:30 PM"
    assert spoken("first_class") == "first class"
    assert spoken(50.0) == "50"
    assert spoken("ACC-0000001") == "ACC-0000001"
    assert spoken("2025-13-45") == "2025-13-45"  # shaped like a date, but not one
    assert fill("{nights:night} for {guests:person|people}", {"nights": "1", "guests": "3"}) == "1 night for 3 people"
    assert fill("{nights:night}", {"nights": "2"}) == "2 nights"
    assert fill("{{literal}} {name}", {"name": "Maria"}) == "{literal} Maria"


_COUNTED = re.compile(r"\{(\w+):([^}|]*)\|?([^}]*)\}")


def _formatted(text: str, words: dict[str, str]) -> str:
    """What str.format makes of a phrasing once each counted noun ({nights:night}) is spelled out by hand."""

    def counted(match: re.Match[str]) -> str:
        one, many = match[2], match[3] or match[2] + "s"
        return "{" + match[1] + "} " + (one if words[match[1]] == "1" else many)

    return _COUNTED.sub(counted, text).format(**words)


@pytest.mark.parametrize("domain", GRAMMAR_DOMAINS)
def test_fill_says_what_python_formatting_would(domain: str) -> None:
    """`fill` parses a phrasing once and joins its parts: every phrasing of a shipped grammar comes out as
    str.format makes it."""
    grammar = load_grammar(domain_dir(domain) / GRAMMAR_FILE, load_domain(domain))
    texts = [text for templates in grammar.mentions.values() for text in phrasings(templates)]
    for goal in grammar.goals:
        texts += [*goal.asks, *(text for phrase in goal.tell.values() for text in phrasings(phrase))]
    texts += [text for refusal in grammar.refusals for text in refusal.asks]
    assert len(texts) > 20
    for text in texts:
        for number in ("1", "2"):
            words = {name: number for name in template_fields(text)}
            assert fill(text, words) == _formatted(text, words), text


def test_an_argument_said_in_words_is_grounded() -> None:
    """Weather's alert metrics are enum values: the scenario says 'temperature max', the write passes
    'temperature_max', and the verifier counts the value as stated by the caller."""
    spec = load_domain("weather")
    database = populate(spec, 150, seed=0)
    synth = Synthesizer(database, load_grammar(domain_dir("weather") / GRAMMAR_FILE, spec), CONFIG)
    verifier = Verifier(database)
    checked = 0
    for task in synth.synthesize(0, range(300)):
        alerts = [action for action in task.actions if action.name == "create_alert"] if task else []
        if not alerts or task is None:
            continue
        metric = alerts[0].arguments["metric"]
        assert metric not in task.scenario.text
        assert spoken(metric) in task.scenario.text
        checked += verifier.verify(task.candidate).kept
    assert checked >= 5


def test_grammar_phrasings_and_pools_are_checked(tmp_path: Path) -> None:
    path = tmp_path / GRAMMAR_FILE
    path.write_text(
        "goals:\n"
        "  - tool: freeze_card\n"
        "    candidates: SELECT card_id FROM cards\n"
        "    ask: ['freeze your {card_id}', 'freeze it now']\n"
        "  - tool: add_payee\n"
        "    candidates: SELECT :caller_id AS client_id\n"
        "    values: {name: {faker: no_such_provider}, account_number: {between: [9, 1]}}\n"
        "    ask: ['add {name} with account number {account_number}', 'add {name!r} as {account_number}']\n"
        "refusals:\n"
        "  - {tool: get_account, candidates: SELECT 1, ask: x, because: y}\n"
    )
    with pytest.raises(SpecError) as raised:
        load_grammar(path, load_domain("bank"))
    issues = {(issue.location, issue.reason) for issue in raised.value.issues}
    assert issues == {
        ("goals[0].ask[1]", "names [], not the same fields as the first phrasing ['card_id']"),
        (
            "goals[1].ask[1]",
            "'add {name!r} as {account_number}': a field takes a noun to count, not a conversion or a nested field",
        ),
        ("goals[1].values.name", "Faker has no provider 'no_such_provider' for locale 'en_US'"),
        ("goals[1].values.account_number", "'between' must be [low, high] with low <= high"),
        ("refusals[0].tool", "'get_account' is not a write tool of domain 'bank'"),
    }


def test_synthesis_collects_less_often_while_it_runs_and_puts_the_threshold_back() -> None:
    """synthesize_domain raises the collector's young threshold for its own loop only: the process it runs in
    (a CLI, a Ray worker, a notebook) keeps its own setting, even when synthesis fails half-way."""
    grammar = load_grammar(domain_dir("bank") / GRAMMAR_FILE, load_domain("bank"))
    before = gc.get_threshold()
    seen: list[tuple[int, int, int]] = []

    def indices() -> Iterator[int]:
        yield 0
        seen.append(gc.get_threshold())
        raise RuntimeError("stop")

    with pytest.raises(RuntimeError):
        synthesize_domain(bank(), grammar, CONFIG, seed=0, indices=indices())
    assert seen == [(YOUNG_COLLECTION_THRESHOLD, *before[1:])]
    assert gc.get_threshold() == before
    synthesize_domain(bank(), grammar, CONFIG, seed=0, indices=range(3))
    assert gc.get_threshold() == before


@pytest.mark.parametrize("domain", GRAMMAR_DOMAINS)
def test_no_kept_task_has_a_write_that_can_be_dropped(domain: str) -> None:
    """The redundancy check replays only some writes (`Verifier._redundancy_reasons`); dropping every gold write
    of every kept task in turn, with nothing skipped, finds none the check let through."""
    spec = load_domain(domain)
    database = populate(spec, 200, seed=0)
    grammar = load_grammar(domain_dir(domain) / GRAMMAR_FILE, spec)
    kept = synthesize_domain(database, grammar, SynthesisConfig(), seed=0, indices=range(200)).kept
    tried = 0
    for task in kept:
        actions = [(action.name, dict(action.arguments)) for action in task.evaluation_criteria.actions]
        writes = [index for index, (name, _) in enumerate(actions) if database.tools[name].writes]
        for dropped in writes if len(writes) > 1 else ():
            tried += 1
            with database.fork() as env:
                rest = [actions[index] for index in writes if index != dropped]
                reached = all(env.call(name, arguments).ok for name, arguments in rest) and (
                    env.outcome_hash() == task.verification.expected_outcome_hash
                )
            assert not reached, f"{task.id}: without {actions[dropped][0]} the other writes reach its outcome"
    assert tried >= 50


def test_threads_synthesizing_at_once_share_one_raise_of_the_threshold() -> None:
    """Domain authoring synthesizes in threads: one that finishes first must not put the threshold back under
    another still running, and the last one out restores the setting the first one found."""
    before = gc.get_threshold()
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen: list[tuple[int, int, int]] = []

    def first() -> None:
        with _YOUNG_COLLECTIONS.fewer():
            first_in.set()
            second_in.wait(5)
        first_out.set()

    def second() -> None:
        first_in.wait(5)
        with _YOUNG_COLLECTIONS.fewer():
            second_in.set()
            first_out.wait(5)
            seen.append(gc.get_threshold())

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert seen == [(YOUNG_COLLECTION_THRESHOLD, *before[1:])]
    assert gc.get_threshold() == before
