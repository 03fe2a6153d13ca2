"""The domain spec: pydantic models for `domains/<name>/domain.yaml`.

A domain is data, not code: tables, the caller's identity and tools written as parameterized SQL.
These models check the *shape* of a spec; `toolscale.domain.checks` checks what shape cannot
(SQL compiles against the schema, references resolve, parameters are used, ...).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, JsonValue, StringConstraints, model_validator

from toolscale.spec.generators import Generator
from toolscale.strict import StrictModel

# Lower-case SQL-safe names; a leading underscore is reserved for the engine's own tables.
Identifier = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,62}$")]

ColumnType = Literal["text", "integer", "real", "boolean", "date", "datetime", "json"]
ParameterType = Literal["string", "integer", "number", "boolean", "array", "object"]
JsonScalar = str | int | float | bool
# What an expert model is good at (catalog/models.yaml); a domain names the kinds of help its tasks can use.
ExpertStrength = Literal["general", "reasoning", "tool-use", "math", "code"]


class Column(StrictModel):
    name: Identifier
    type: ColumnType
    description: str = ""
    primary_key: bool = False
    nullable: bool = False
    unique: bool = False
    references: str | None = Field(
        default=None,
        pattern=r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$",
        description="Foreign key as 'table.column'.",
    )
    enum: list[JsonScalar] | None = Field(
        default=None, min_length=1, description="Allowed values, enforced by a CHECK constraint."
    )
    generator: Generator | None = Field(default=None, description="How `toolscale populate` fills this column.")


class Check(StrictModel):
    """A table-level CHECK constraint; a write that breaks it fails with `message`."""

    name: Identifier
    expression: str = Field(min_length=1, description="SQL boolean expression over the table's columns.")
    message: str = Field(min_length=1)


class Table(StrictModel):
    name: Identifier
    description: str = ""
    columns: list[Column] = Field(min_length=1)
    checks: list[Check] = []
    indexes: list[str] = Field(
        default=[],
        description="Extra indexes for the lookups tools make, each a comma-separated list of this table's "
        "columns or expressions over them, e.g. 'lower(email)' for a case-insensitive search by email. "
        "References are indexed already.",
    )
    rows: Annotated[int, Field(ge=0)] | None = Field(
        default=None,
        description="Row count at the default populate size. `--size N` gives the caller table N rows and "
        "scales every table with `rows` by N / (the caller table's rows); omitted for tables whose rows come "
        "from a driving reference (children per parent row) or from `data`.",
    )
    data: list[dict[Identifier, JsonValue]] | None = Field(
        default=None,
        min_length=1,
        description="Fixed rows of a catalogue table (e.g. plans and their limits), inserted as given at every "
        "populate size instead of generated: keys are column names (a nullable column left out is null) and "
        "values are as stored (dates as ISO text, JSON values as YAML). Such a table declares no `rows` and no "
        "generators; its `derive` rules still run. A generated column that references it may use a `choice` or "
        "`constant` of its keys instead of a `reference` generator, keeping weighted draws.",
    )
    derive: list[str] = Field(
        default=[],
        description="Consistency rules as SQL UPDATEs of this table, run after every table is generated "
        "(tables in declared order), e.g. an order's total set to the sum of its lines. They must be "
        "idempotent: a populated database is a fixed point of its rules.",
    )

    @property
    def primary_key(self) -> Column:
        return next(column for column in self.columns if column.primary_key)

    def column(self, name: str) -> Column | None:
        return next((column for column in self.columns if column.name == name), None)


class Caller(StrictModel):
    """Who talks to the agent: a row of `table`, who knows the `known` columns about themselves."""

    table: Identifier
    known: list[Identifier] = Field(min_length=1)


class Parameter(StrictModel):
    """One tool parameter, in the JSON Schema subset the OpenAI function-calling format uses."""

    type: ParameterType
    description: str | None = None
    enum: list[JsonScalar] | None = Field(default=None, min_length=1)
    minimum: float | None = None
    maximum: float | None = None
    exclusiveMinimum: float | None = None  # noqa: N815 - JSON Schema keyword
    minLength: int | None = Field(default=None, ge=0)  # noqa: N815
    maxLength: int | None = Field(default=None, ge=0)  # noqa: N815
    pattern: str | None = None
    format: Literal["date", "date-time"] | None = None
    items: Parameter | None = None
    minItems: int | None = Field(default=None, ge=0)  # noqa: N815

    @model_validator(mode="after")
    def _items_only_for_arrays(self) -> Parameter:
        if (self.type == "array") != (self.items is not None):
            raise ValueError("'items' is required for type 'array' and allowed only there")
        return self


class Parameters(StrictModel):
    type: Literal["object"] = "object"
    properties: dict[Identifier, Parameter] = {}
    required: list[Identifier] = []


class Precondition(StrictModel):
    """A rule checked before a tool's effects: exactly one of `query` or `fail_if`.

    `query` must return at least one row, else the call fails with `error`. `fail_if` fails the
    call when it returns a row, and that row's columns (then the tool's arguments) fill the
    `{name}` placeholders of `error`, so a message can name the offending element of a list.
    """

    query: str | None = Field(default=None, min_length=1, description="A SELECT that must return a row.")
    fail_if: str | None = Field(
        default=None,
        min_length=1,
        description="A SELECT whose first row, if any, fails the call and fills the error's placeholders.",
    )
    error: str = Field(min_length=1)

    @model_validator(mode="after")
    def _one_query(self) -> Precondition:
        if (self.query is None) == (self.fail_if is None):
            raise ValueError("a precondition needs exactly one of 'query' and 'fail_if'")
        return self


class GeneratedId(StrictModel):
    """A deterministic id for a row a tool inserts: `pattern` formatted with `seq`.

    `seq` is one more than the table's largest rowid, so it depends only on the database state.
    """

    table: Identifier
    pattern: str = Field(min_length=1, description="Python format string using only {seq}, e.g. 'TRF-{seq:06d}'.")


ResultShape = Literal["row", "rows", "value", "values", "map", "value_map"]


class Result(StrictModel):
    """The query whose rows are returned to the agent as JSON, optionally assembled into nested JSON.

    Nested values are assembled from typed rows in the engine (not with SQL's JSON functions, which
    print reals with 15 significant digits): `nest` groups columns into an object and `children`
    replaces a column by the result of a query run once per row.
    """

    query: str = Field(min_length=1)
    shape: ResultShape = Field(
        default="row",
        description="row: one object; rows: a list of objects; value: the first column of the first row; "
        "values: the first column of every row; map: an object keyed by the first column whose values are "
        "objects of the other columns; value_map: an object keyed by the first column whose values are the second.",
    )
    types: dict[Identifier, ColumnType] = Field(
        default={},
        description="Types of result columns whose names are not (unambiguously) table columns.",
    )
    nest: dict[Identifier, list[Identifier]] = Field(
        default={},
        description="Objects assembled from columns: key -> the columns it holds (keys are the column names); "
        "the object takes the place of its first column.",
    )
    children: dict[Identifier, Result] = Field(
        default={},
        description="Columns replaced by a nested result whose query runs once per row and binds the row's "
        "columns as :name parameters besides the tool's (a row column shadows a parameter of the same name).",
    )
    omit_null: bool = Field(default=False, description="Leave out the keys of an object whose value is null.")


class Tool(StrictModel):
    name: Identifier
    description: str = Field(min_length=1)
    kind: Literal["read", "write"]
    parameters: Parameters = Parameters()
    derived: dict[Identifier, str] = Field(
        default={},
        description="Named scalar SELECTs run in order before the preconditions; each value (NULL without a row) "
        "is bound as :name for the later derived values, preconditions, effects and result.",
    )
    preconditions: list[Precondition] = []
    generated_ids: dict[Identifier, GeneratedId] = {}
    effects: list[str] = Field(default=[], description="DML statements, run in order with bound parameters.")
    result: Result | None = None


class Invariant(StrictModel):
    """A rule of the domain its populated data must keep, as a query for the rows that break it."""

    name: Identifier
    description: str = Field(min_length=1, description="The rule in words, reported with the first row that breaks it.")
    query: str = Field(
        min_length=1,
        description="A SELECT returning the rows that break the rule (the clock may be used as :now and :today); "
        "`toolscale populate` fails when it returns any row, at every size and seed.",
    )


class DomainSpec(StrictModel):
    spec_version: Literal[1] = 1
    name: Identifier
    description: str = Field(min_length=1)
    clock: datetime = Field(description="The environment's fixed 'now', bound as :now and :today.")
    tables: list[Table] = Field(min_length=1)
    caller: Caller
    tools: list[Tool] = Field(min_length=1)
    expert_strengths: list[ExpertStrength] = Field(
        default=["general", "reasoning", "tool-use"],
        min_length=1,
        description="The kinds of expert help this domain's tasks can use: a task offers only catalog models "
        "(catalog/models.yaml) good at one of them, so no math specialist is offered for a restaurant booking.",
    )
    invariants: list[Invariant] = Field(
        default=[],
        description="Rules the populated data must keep beyond its constraints (e.g. one valid policy per provider, "
        "prices in plausible ranges), each a query that must return no rows.",
    )

    def table(self, name: str) -> Table | None:
        return next((table for table in self.tables if table.name == name), None)

    def caller_table(self) -> Table:
        """The table of the callers' rows, which a checked spec has (`check_spec` reports it missing)."""
        table = self.table(self.caller.table)
        if table is None:
            raise ValueError(f"domain {self.name!r}: its caller table {self.caller.table!r} is not one of its tables")
        return table

    def tool(self, name: str) -> Tool | None:
        return next((tool for tool in self.tools if tool.name == name), None)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a domain spec, as committed in `schemas/domain.schema.json`."""
    schema = DomainSpec.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "ToolScale domain spec"
    return schema


def is_populated(spec: DomainSpec) -> bool:
    """Whether `toolscale populate` fills the domain: it declares at least one value generator."""
    return any(column.generator is not None for table in spec.tables for column in table.columns)
