"""`toolscale populate`: generate a domain's database from its spec."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from toolscale.domain.loader import load_domain
from toolscale.populate.stage import default_size, populate

DATABASES_DIR = Path("output") / "databases"


def run_populate(
    domain: Annotated[str, typer.Option(help="Domain name, a folder of domains/.")],
    size: Annotated[
        int | None, typer.Option(help="Rows of the caller table; other tables scale with it. Default: the spec's rows.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed; same spec, size and seed give the same bytes.")] = 0,
    out: Annotated[Path | None, typer.Option(help="Database file to write. Default: output/databases/DOMAIN.sqlite.")] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Generate a consistent database for a domain at a size and seed, and write it atomically."""
    spec = load_domain(domain)
    rows_of_caller = default_size(spec) if size is None else size
    started = time.perf_counter()
    database = populate(spec, rows_of_caller, seed, progress=progress)
    elapsed = time.perf_counter() - started
    path = out if out is not None else DATABASES_DIR / f"{domain}.sqlite"
    database.save(path)
    with database.fork() as environment:
        counts = {table.name: environment.query(f"SELECT count(*) FROM {table.name}")[0][0] for table in spec.tables}
    typer.echo(
        f"{path}: {domain}, size {rows_of_caller}, seed {seed}: {sum(counts.values()):,} rows in {elapsed:.2f}s "
        f"({', '.join(f'{name} {count:,}' for name, count in counts.items())}), state {database.state_hash[:12]}"
    )
