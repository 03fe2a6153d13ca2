"""`toolscale domain new`: a domain written from recorded model replies, each stage checked and repaired.

The replies in tests/data/authoring/vet/ are a veterinary clinic written the way a model answers (one
JSON object per stage); tests/data/authoring/broken/<case>/ holds one broken reply each, as text where the
text is what is broken (invalid JSON or YAML), else as a JSON Patch (RFC 6902) of the good reply (`STAGE.patch.json`),
so each case shows only its mistake. A broken reply
followed by a good repair must lead to the same domain; one that stays broken must fail at its stage,
report why, and write nothing under the domains folder.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonpatch
import pytest
from typer.testing import CliRunner

from toolscale.authoring.author import AuthoringSettings, author_domain
from toolscale.authoring.draft import Draft
from toolscale.authoring.prober import Prober
from toolscale.authoring.replay import ReplayClient
from toolscale.authoring.stages import stage
from toolscale.cli import app
from toolscale.domain.loader import load_spec
from toolscale.populate.stage import populate
from toolscale.tasks.grammar import load_grammar

DATA = Path(__file__).parent / "data" / "authoring"
VET = DATA / "vet"
BROKEN = DATA / "broken"
PATCH = ".patch.json"
DESCRIBE = "a veterinary clinic: owners, pets, appointments, vaccinations, invoices"
CLOCK = "2025-06-02T10:00:00"


def new_domain(tmp_path: Path, *replies: Path, repairs: int = 3) -> tuple[int, str, Path, Path]:
    domains, report = tmp_path / "domains", tmp_path / "report"
    arguments = ["domain", "new", "vet", "--describe", DESCRIBE, "--domains-dir", str(domains), "--report", str(report)]
    arguments += ["--repairs", str(repairs)]
    for folder in replies:
        arguments += ["--replies", str(folder)]
    result = CliRunner().invoke(app, arguments)
    return result.exit_code, result.output, domains, report


@pytest.fixture(scope="module")
def clean_domain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The domain written from the good replies only."""
    code, output, domains, _ = new_domain(tmp_path_factory.mktemp("clean"), VET)
    assert code == 0, output
    return domains / "vet"


def test_fixture_replies_make_a_domain_that_validates_populates_probes_and_yields_tasks(tmp_path: Path) -> None:
    code, output, domains, report = new_domain(tmp_path, VET)
    assert code == 0, output
    folder = domains / "vet"
    assert sorted(path.name for path in folder.iterdir()) == ["authoring", "domain.yaml", "grammar.yaml", "policy.md"]
    spec = load_spec(folder / "domain.yaml")  # what `toolscale spec validate` checks
    grammar = load_grammar(folder / "grammar.yaml", spec)
    assert [table.name for table in spec.tables] == ["owners", "vets", "pets", "appointments", "vaccinations", "invoices"]
    assert len(spec.tools) == 14
    written = json.loads((folder / "authoring" / "report.json").read_text())
    outcomes = {outcome["stage"]: outcome for outcome in written["outcomes"]}
    assert [outcome["status"] for outcome in outcomes.values()] == ["passed"] * 9
    assert outcomes["sample"]["detail"] == "100 verified tasks"
    assert "sizes 60, 600" in outcomes["populate"]["detail"]
    conversation = [json.loads(line) for line in (folder / "authoring" / "conversation.jsonl").read_text().splitlines()]
    assert [entry["stage"] for entry in conversation] == ["tables", "caller", "tools", "policy", "grammar"]
    assert conversation[2]["reply"] == (VET / "tools.json").read_text()
    # The tools stage is asked with the tables and caller accepted before it.
    assert "owners" in conversation[2]["messages"][1]["content"]
    assert not report.exists()
    # The prober's verdict on the written domain, independently of the run.
    database = populate(spec, 600, seed=0)
    probes = Prober(database, grammar).probe_all()
    assert all(not probe.problems(database.tools[name]) for name, probe in probes.items())


def test_same_replies_give_byte_identical_files(tmp_path: Path) -> None:
    first = new_domain(tmp_path / "a", VET)
    second = new_domain(tmp_path / "b", VET)
    assert first[0] == second[0] == 0
    for name in ("domain.yaml", "grammar.yaml", "policy.md", "authoring/conversation.jsonl"):
        a, b = (run[2] / "vet" / name for run in (first, second))
        assert a.read_bytes() == b.read_bytes(), name
    reports = [json.loads((run[2] / "vet" / "authoring" / "report.json").read_text()) for run in (first, second)]
    assert [report.pop("written_to") for report in reports] == [str(run[2] / "vet") for run in (first, second)]
    assert reports[0] == reports[1]


def test_an_existing_domain_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "domains" / "vet").mkdir(parents=True)
    (tmp_path / "domains" / "vet" / "domain.yaml").write_text("mine\n")
    code, output, domains, _ = new_domain(tmp_path, VET)
    assert code == 1
    assert "a domain of that name exists already" in output
    assert (domains / "vet" / "domain.yaml").read_text() == "mine\n"


# case, the stage its broken reply answers, and the problem the model is shown: file, location, reason
REPAIRED = [
    (
        "reference-to-undeclared-column",
        "tables",
        "domain.yaml",
        "tables[2].columns[1].references",
        "references unknown column 'id'",
    ),
    ("invalid-json", "tables", "domain.yaml", "line 231, column 1", "the answer is not valid JSON or YAML"),
    ("caller-unknown-column", "caller", "domain.yaml", "caller.known[3]", "table 'owners' has no column 'phone_number'"),
    ("undeclared-column", "tools", "domain.yaml", "tools[2].result.query", "no such column: address"),
    ("write-without-effects", "tools", "domain.yaml", "tools[11].effects", "write tool 'pay_invoice' needs at least one effect"),
    ("parameter-not-declared", "tools", "domain.yaml", "tools[12].effects[0]", "uses parameter :weight, which is not declared"),
    ("ddl-statement", "tools", "domain.yaml", "tools[9].effects[1]", "DROP TABLE statements are not allowed"),
    ("policy-unknown-tool", "policy", "policy.md", "(sections)", "no '## Refusals' section"),
    ("invalid-yaml", "grammar", "grammar.yaml", "line 6, column 6", "the answer is not valid JSON or YAML"),
]
CASES = [(case, stage_name, f"{file}: {location}: ", reason) for case, stage_name, file, location, reason in REPAIRED]
CASE_IDS = [case for case, *_ in REPAIRED]


def broken_replies(case: str, folder: Path) -> Path:
    """The case's replies as the model sends them: its text files as they are, each patch applied to the good reply."""
    folder.mkdir(parents=True)
    for path in sorted((BROKEN / case).iterdir()):
        if path.name.endswith(PATCH):
            stage_file = path.name.removesuffix(PATCH) + ".json"
            good = json.loads((VET / stage_file).read_text())
            broken = jsonpatch.apply_patch(good, json.loads(path.read_text()))
            (folder / stage_file).write_text(json.dumps(broken, indent=2, ensure_ascii=False) + "\n")
        else:
            shutil.copy(path, folder / path.name)
    return folder


def with_repair(tmp_path: Path, case: str, stage_name: str) -> Path:
    """The broken reply, then the good one as the model's repair."""
    folder = broken_replies(case, tmp_path / "replies")
    shutil.copy(VET / f"{stage_name}.json", folder / f"{stage_name}.repair-1.json")
    return folder


@pytest.mark.parametrize(("case", "stage_name", "where", "reason"), CASES, ids=CASE_IDS)
def test_a_broken_reply_is_sent_back_with_its_problems_and_repaired(
    tmp_path: Path, clean_domain: Path, case: str, stage_name: str, where: str, reason: str
) -> None:
    code, output, domains, _ = new_domain(tmp_path, with_repair(tmp_path, case, stage_name), VET)
    assert code == 0, output
    assert f"{stage_name:<8} passed (2 answers)" in output
    conversation = [json.loads(line) for line in (domains / "vet" / "authoring" / "conversation.jsonl").read_text().splitlines()]
    broken, repaired = (entry for entry in conversation if entry["stage"] == stage_name)
    shown = [line.removeprefix(f"{domains}/vet/") for line in broken["problems"]]
    assert any(line.startswith(where) and reason in line for line in shown), shown
    # The repair request holds the broken answer and its problems.
    broken_reply = (tmp_path / "replies" / f"{stage_name}.json").read_text()
    assert repaired["messages"][-2] == {"role": "assistant", "content": broken_reply}
    assert f"- {domains}/vet/{where}" in repaired["messages"][-1]["content"]
    assert reason in repaired["messages"][-1]["content"]
    assert repaired["problems"] == []
    # The same domain as from good replies only.
    for name in ("domain.yaml", "grammar.yaml", "policy.md"):
        assert (domains / "vet" / name).read_bytes() == (clean_domain / name).read_bytes()


@pytest.mark.parametrize(("case", "stage_name", "where", "reason"), CASES, ids=CASE_IDS)
def test_a_reply_that_stays_broken_fails_its_stage_and_writes_nothing(
    tmp_path: Path, case: str, stage_name: str, where: str, reason: str
) -> None:
    folder = broken_replies(case, tmp_path / "replies")
    shutil.copy(folder / f"{stage_name}.json", folder / f"{stage_name}.repair-1.json")  # the same mistake again
    code, output, domains, report = new_domain(tmp_path, folder, VET, repairs=1)
    assert code == 1
    assert f"domain vet: failed at stage {stage_name!r}; nothing written" in output
    assert f"{stage_name:<8} failed (2 answers): still wrong after 1 repair(s)" in output
    assert not domains.exists() or not any(domains.iterdir())
    written = json.loads((report / "report.json").read_text())
    failed = next(outcome for outcome in written["outcomes"] if outcome["status"] == "failed")
    assert failed["stage"] == stage_name
    assert any(line.startswith(f"{domains}/vet/{where}") and reason in line for line in failed["problems"])
    stages = [outcome["stage"] for outcome in written["outcomes"]]
    later = written["outcomes"][stages.index(stage_name) + 1 :]
    assert {outcome["status"] for outcome in later} == {"not reached"}
    assert len((report / "conversation.jsonl").read_text().splitlines()) >= 2


@pytest.mark.parametrize(
    ("case", "stage_name", "problem"),
    [
        ("broken-invariant", "populate", "No appointment is ever cancelled."),
        ("precondition-never-fails", "probe", "pay_invoice: preconditions[2] never failed"),
    ],
)
def test_a_domain_that_validates_but_fails_a_check_is_not_written(
    tmp_path: Path, case: str, stage_name: str, problem: str
) -> None:
    code, output, domains, report = new_domain(tmp_path, broken_replies(case, tmp_path / "replies"), VET)
    assert code == 1
    assert f"domain vet: failed at stage {stage_name!r}; nothing written" in output
    assert problem in output
    assert not any(domains.iterdir())  # the staging folder is removed too
    assert (report / "report.json").is_file()


def test_a_stage_the_model_does_not_answer_is_reported(tmp_path: Path) -> None:
    folder = tmp_path / "replies"
    shutil.copytree(VET, folder)
    (folder / "policy.json").unlink()
    code, output, domains, _ = new_domain(tmp_path, folder)
    assert code == 1
    assert "policy   failed (1 answer): the model gave no answer (refused): no recorded reply policy.json" in output
    assert not domains.exists()


# What the validator must refuse in an answer, each with its reason. The full corpus (every statement
# role, every clock spelling, the run-time budgets) is tests/test_hardening_specs.py; these are the
# statements a model most plausibly writes, fed through the authoring stage that receives them.
MALICIOUS = [
    ("effects", "DROP TABLE invoices", "DROP TABLE statements are not allowed"),
    ("effects", "CREATE TABLE stash (x)", "CREATE TABLE statements are not allowed"),
    ("effects", "ATTACH DATABASE ':memory:' AS other", "ATTACH statements are not allowed"),
    ("effects", "PRAGMA foreign_keys = OFF", "PRAGMA statements are not allowed"),
    ("result", "SELECT load_extension('evil') AS x", "function load_extension() is not allowed"),
    (
        "effects",
        "UPDATE invoices SET status = 'paid' WHERE invoice_id = :invoice_id; DELETE FROM invoices",
        "You can only execute one statement at a time",
    ),
    (
        "result",
        "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) SELECT max(i) AS n FROM r",
        "ran over its budget of 10,000,000 SQLite steps",
    ),
]


@pytest.mark.parametrize(
    ("where", "sql", "reason"), MALICIOUS, ids=[sql.split()[0] + "-" + reason.split()[0] for _, sql, reason in MALICIOUS]
)
def test_statements_a_model_must_not_run_are_refused_with_their_reason(where: str, sql: str, reason: str) -> None:
    from datetime import datetime

    draft = Draft("vet", datetime.fromisoformat(CLOCK), Path("domains/vet"))
    for name in ("tables", "caller"):
        answer, issues = draft.read_answer(stage(name), (VET / f"{name}.json").read_text())
        assert answer is not None, issues
        draft.answers[name] = answer
    tools = json.loads((VET / "tools.json").read_text())
    pay = next(tool for tool in tools["tools"] if tool["name"] == "pay_invoice")
    if where == "effects":
        pay["effects"] = [sql]
    else:
        pay["result"] = {"query": sql}
    answer, issues = draft.read_answer(stage("tools"), json.dumps(tools))
    assert answer is not None, issues
    problems = [str(issue) for issue in draft.problems(stage("tools"), answer)]
    assert any(line.startswith("domains/vet/domain.yaml: tools[11].") and reason in line for line in problems), problems


def test_the_authoring_run_can_be_driven_without_the_command(tmp_path: Path) -> None:
    """The library entry point the pipeline stage uses: same outcome as the command."""
    from datetime import datetime

    settings = AuthoringSettings(name="vet", describe=DESCRIBE, clock=datetime.fromisoformat(CLOCK), sample=100)
    result = author_domain(ReplayClient([VET]), settings, tmp_path)
    assert result.report.passed
    assert result.report.written_to == str(tmp_path / "vet")


def test_an_answer_in_a_fence_with_prose_around_it_is_read() -> None:
    from datetime import datetime

    draft = Draft("vet", datetime.fromisoformat(CLOCK), Path("domains/vet"))
    caller = (VET / "caller.json").read_text()
    answer, issues = draft.read_answer(stage("caller"), f"Here is the caller part:\n```json\n{caller}```\nIt names the owners.\n")
    assert issues == []
    assert answer is not None
    assert answer.model_dump()["caller"]["table"] == "owners"
    _, issues = draft.read_answer(stage("caller"), 'Sure!\n```json\n{"caller": [\n```\n')
    assert [str(issue).split(": the answer")[0] for issue in issues] == [
        "domains/vet/domain.yaml: line 3, column 13"
    ]  # the line of the reply as sent


def test_a_name_that_is_not_a_domain_name_is_refused_before_any_request(tmp_path: Path) -> None:
    arguments = ["domain", "new", "Vet Clinic", "--describe", DESCRIBE, "--replies", str(VET), "--domains-dir", str(tmp_path)]
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 2
    assert "a domain name is lower case letters, digits and _" in result.output
    assert not any(tmp_path.iterdir())
