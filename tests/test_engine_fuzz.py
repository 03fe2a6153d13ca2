"""Property-based fuzzing of tool calls: nothing crashes the Environment, and a failed call changes nothing."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toolscale.engine.database import DomainDatabase
from toolscale.examples import example_database
from toolscale.spec.models import Parameter

BANK = example_database("bank")
TOOL_NAMES = sorted(BANK.tools)

# Values that hit real rows often enough for writes to succeed, mixed with hostile ones.
IDS = ["CL-000001", "CL-000002", "CL-000003", "ACC-0000001", "ACC-0000002", "ACC-0000003", "ACC-0000004",
       "ACC-0000005", "CARD-0000001", "CARD-0000002", "CARD-0000003", "PAY-0000001", "PAY-0000002"]  # fmt: skip
hostile_text = st.text(alphabet=st.characters(codec=None), max_size=20)  # includes NUL and lone surrogates
scalars = st.one_of(
    st.sampled_from(IDS),
    hostile_text,
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 0.001, 50, 999.99, 1e6, -1, "1234567890", "a@b.co", "2025-06-02"]),
    st.booleans(),
    st.none(),
)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=6
)


PLAUSIBLE = {
    "string": st.sampled_from([*IDS, "1234567890", "a@b.co", "Gym", "555-123-4567", "Maria", "Okafor", "1984-03-12"]),
    "number": st.sampled_from([0.01, 1, 12.5, 50, 250, 999.99, 5000]),
    "integer": st.integers(min_value=1, max_value=20),
    "boolean": st.booleans(),
}


def _plausible(parameter: str, schema: Parameter | None) -> st.SearchStrategy[Any]:
    """Ids of the kind the parameter names (so ownership checks pass now and then), else a value of its type."""
    for suffix, prefix in (("client_id", "CL-"), ("account_id", "ACC-"), ("card_id", "CARD-"), ("payee_id", "PAY-")):
        if parameter.endswith(suffix):
            return st.sampled_from([value for value in IDS if value.startswith(prefix)])
    return PLAUSIBLE[schema.type] if schema is not None else scalars


@st.composite
def tool_calls(draw: st.DrawFn) -> tuple[str, Any]:
    name = draw(st.sampled_from(TOOL_NAMES) if draw(st.integers(0, 9)) else st.text(max_size=12))
    tool = BANK.tools.get(name)
    mode = draw(st.integers(0, 9))
    if tool is None or mode == 0:
        return name, draw(json_values | st.text(max_size=30))
    # Mostly well-formed: the required parameters (some optional ones too) with plausible values of
    # their type; now and then hostile values (mode 1) or an unknown parameter (mode 2).
    properties = tool.spec.parameters.properties
    optional = [parameter for parameter in properties if parameter not in tool.spec.parameters.required]
    names = [*tool.spec.parameters.required, *draw(st.lists(st.sampled_from(optional), unique=True) if optional else st.just([]))]
    if mode == 2:
        names.append("extra")
    return name, {
        parameter: draw(scalars if mode == 1 else _plausible(parameter, properties.get(parameter))) for parameter in names
    }


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(calls=st.lists(tool_calls(), min_size=1, max_size=6))
def test_calls_never_raise_and_failures_change_nothing(calls: list[tuple[str, Any]]) -> None:
    database: DomainDatabase = BANK
    with database.fork() as env:
        for name, arguments in calls:
            before = env.state_hash()
            observation = env.call(name, arguments)
            assert isinstance(observation.content, str)
            if observation.ok:
                assert observation.error is None
            else:
                assert observation.error
                assert env.state_hash() == before
            assert env.state_hash() == env.rescanned_state_hash()
