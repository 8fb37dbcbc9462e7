"""The rulesets joinedup knows, by name, each built once per process."""

from __future__ import annotations

import functools
import importlib

from joinedup.core.errors import NotFound
from joinedup.rules import bind as _bind  # noqa: F401 - binding is needed by every use of a ruleset
from joinedup.rules.ruleset import Ruleset

RULESETS: dict[str, str] = {
    "country_template": "joinedup.rules.rulesets.country_template",
    "demo": "joinedup.rules.rulesets.demo",
}


class UnknownRuleset(NotFound):
    slug = "unknown-ruleset"
    title = "No such ruleset"


def ruleset_names() -> list[str]:
    return sorted(RULESETS)


@functools.cache
def get_ruleset(name: str) -> Ruleset:
    """The ruleset called ``name``; ``UnknownRuleset`` lists the known ones."""
    module = RULESETS.get(name)
    if module is None:
        raise UnknownRuleset(
            f"There is no ruleset '{name}'; known rulesets: {', '.join(ruleset_names())}.",
            ruleset=name,
        )
    ruleset: Ruleset = importlib.import_module(module).build()
    return ruleset
