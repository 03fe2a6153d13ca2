"""Load and validate `domains/<name>/domain.yaml`."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pydantic

from toolscale.domain.checks import check_spec
from toolscale.resources import data_dir
from toolscale.spec.errors import SpecError, SpecIssue, format_location
from toolscale.spec.models import DomainSpec
from toolscale.yamlfile import YamlFileError, read_yaml_file

DOMAINS_DIR = data_dir("domains")
SPEC_FILE = "domain.yaml"


def load_spec(path: Path) -> DomainSpec:
    """Parse, shape-check and semantically check a spec file; raise SpecError listing every problem."""
    try:
        data = read_yaml_file(path)
    except YamlFileError as error:
        raise SpecError([SpecIssue(path, error.where or "(file)", error.reason)]) from error
    try:
        spec = DomainSpec.model_validate(data)
    except pydantic.ValidationError as error:
        issues = [SpecIssue(path, format_location(detail["loc"]), detail["msg"]) for detail in error.errors()]
        raise SpecError(issues) from error
    issues = [SpecIssue(path, format_location(location), reason) for location, reason in check_spec(spec)]
    if path.name == SPEC_FILE and path.parent.name != spec.name:
        issues.append(SpecIssue(path, "name", f"{spec.name!r} differs from its folder name {path.parent.name!r}"))
    if issues:
        raise SpecError(issues)
    return spec


def domain_dir(name: str) -> Path:
    return DOMAINS_DIR / name


@cache
def load_domain(name: str) -> DomainSpec:
    """The validated spec of a domain shipped in `domains/`."""
    return load_spec(domain_dir(name) / SPEC_FILE)


def domain_names() -> list[str]:
    return sorted(path.parent.name for path in DOMAINS_DIR.glob(f"*/{SPEC_FILE}"))
