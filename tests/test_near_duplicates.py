"""Near-duplicates (same writes, same wording values aside) and the per-domain figures of what tasks teach."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from toolscale.data.card import dataset_card
from toolscale.data.figures import domain_figures, trigram_ratio
from toolscale.domain.loader import domain_dir, load_domain
from toolscale.populate.stage import populate
from toolscale.tasks import run
from toolscale.tasks.grammar import GRAMMAR_FILE, load_grammar
from toolscale.tasks.near_duplicates import NearDuplicateCap, near_duplicate_share, task_key, wording
from toolscale.tasks.preference import SynthesisConfig
from toolscale.tasks.record import ToolScaleTask
from toolscale.tasks.run import SynthesisResult, synthesize_domain


def test_wording_masks_values_but_not_words() -> None:
    one = "You want to pay 85 to your saved payee Moore-Patterson on 2025-08-02, email jo@example.com, two times."
    other = "You want to pay 1,200.50 to your saved payee Lee on 2026-01-15, email x.y@example.org, three times."
    assert wording(one) == wording(other)
    assert wording(one) != wording(one.replace("pay", "send"))


def test_the_cap_admits_near_duplicates_up_to_its_share_of_the_tasks() -> None:
    cap = NearDuplicateCap(tasks=10, max_share=0.2)  # at most 2 of 10 tasks share their key
    assert [cap.admit(key, f"t{n}") for n, key in enumerate("AAAB")] == [True, True, False, True]
    assert cap.first_of("A") == "t0"
    assert near_duplicate_share(["A", "A", "B", "C"]) == 0.5


def _bank(share: float | None) -> SynthesisResult:
    spec = load_domain("bank")
    grammar = load_grammar(domain_dir("bank") / GRAMMAR_FILE, spec)
    return synthesize_domain(
        populate(spec, 60, seed=0), grammar, SynthesisConfig(), seed=0, indices=range(80), max_near_duplicate_share=share
    )


def write_tools_only(task: ToolScaleTask, kinds: Mapping[str, str]) -> str:
    """A coarser key than task_key (writes alone, wording ignored): the grammar's phrasings make real
    near-duplicates rare in 80 tasks, and the test is about what the funnel does with them."""
    return " ".join(action.name for action in task.actions if kinds[action.name] == "write")


def test_synthesis_rejects_near_duplicates_past_the_cap_naming_the_first(monkeypatch: pytest.MonkeyPatch) -> None:
    kinds = {tool.name: tool.kind for tool in load_domain("bank").tools}
    monkeypatch.setattr(run, "task_key", write_tools_only)
    uncapped, capped = _bank(None), _bank(0.0)
    assert uncapped.funnel["near_duplicate"] == 0
    assert near_duplicate_share([write_tools_only(task, kinds) for task in uncapped.kept]) > 0
    assert capped.funnel["near_duplicate"] > 0
    assert near_duplicate_share([write_tools_only(task, kinds) for task in capped.kept]) == 0
    rejected = [task for task in capped.rejected if task.verification.reasons[0].check == "near_duplicate"]
    first = {write_tools_only(task, kinds): task.id for task in capped.kept}
    assert all(first[write_tools_only(task, kinds)] in task.verification.reasons[0].detail for task in rejected)


def test_figures_measure_variety_near_duplicates_and_kinds_and_the_card_shows_them() -> None:
    assert trigram_ratio(["a b c a b c"]) == 0.75  # a-b-c, b-c-a, c-a-b, a-b-c: 3 distinct of 4
    kinds = {tool.name: tool.kind for tool in load_domain("bank").tools}
    result = _bank(None)
    figures = domain_figures(result.kept, kinds)
    assert 0 < figures["reason_for_call_3gram_ratio"]["min"] <= figures["reason_for_call_3gram_ratio"]["mean"] < 1
    assert figures["near_duplicate_share"] == round(near_duplicate_share([task_key(t, kinds) for t in result.kept]), 4)
    assert sum(figures["kinds"].values()) == len(result.kept)
    for kind in ("write", "information", "refusal", "conditional"):
        assert figures["kinds"].get(kind, 0) == sum(task.kind == kind for task in result.kept), kind
    card = dataset_card(
        "t", {"bank": {"train": 1}}, {"bank": 0}, {"bank": result.funnel}, list(result.funnel), "c" * 16, {"bank": figures}
    )
    row = next(line for line in card.splitlines() if line.startswith("| bank |") and "%" in line)
    assert f"{figures['near_duplicate_share']:.1%}" in row
