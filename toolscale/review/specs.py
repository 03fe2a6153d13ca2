"""Domain specs for the review, parsed without checking them again.

`load_domain` also compiles every SQL statement and samples every generator (about a second per
domain, most of a site build's start). The review reads only the output of runs whose specs the
pipeline checked, and `DomainDatabase.load` refuses a database built from any other version of a
spec, so parsing is enough; a spec that does not even parse gets `load_domain`'s full error.
"""

from __future__ import annotations

from functools import cache

import pydantic
import yaml

from toolscale.domain.loader import SPEC_FILE, domain_dir, load_domain
from toolscale.spec.models import DomainSpec

_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present; the same documents either way


@cache
def parsed_spec(domain: str) -> DomainSpec:
    path = domain_dir(domain) / SPEC_FILE
    try:
        return DomainSpec.model_validate(yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER))
    except (OSError, yaml.YAMLError, pydantic.ValidationError):
        return load_domain(domain)  # raises SpecError naming the file, the place and the reason
