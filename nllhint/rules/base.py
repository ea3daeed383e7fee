"""What a rule is: a code, a catalog category and a pure check from a context to a hint or nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ..context import LossContext


@dataclass(frozen=True)
class Hint:
    """A rule's answer; the registry turns it into a ``Finding`` with the rule's code and category."""

    title: str
    message: str
    fix: str | None = None
    evidence: tuple[str, ...] | None = None  # None: the tensors of the call, named as the user wrote them


@dataclass(frozen=True)
class Example:
    """A cell that triggers the rule; it is both a test and the rule's documentation."""

    code: str  # the cell, as a user would write it
    expect: tuple[str, ...] = ()  # strings the hint must show (expression names, the rewritten line)


@dataclass(frozen=True)
class Rule:
    code: str
    category: str
    severity: str
    summary: str  # one line for `%nllhint rules`
    families: tuple[str, ...]  # message families handled; a rule runs only when one matched
    check: Callable[[LossContext], Hint | None]
    examples: tuple[Example, ...] = field(default=())
    doc: str = ""


def rule(code: str, category: str, summary: str, *, families: tuple[str, ...], severity: str = "error",
         examples: tuple[Example, ...] = ()):
    """Declare a rule: ``@rule("NLH201", "target-range", "labels are 1-based", families=(...))``."""

    def wrap(check: Callable[[LossContext], Hint | None]) -> Rule:
        return Rule(code=code, category=category, severity=severity, summary=summary, families=families,
                    check=check, examples=examples, doc=(check.__doc__ or "").strip())

    return wrap
