"""What a rule is: a code, a catalog category and a pure check from a context to a hint or nothing."""

from __future__ import annotations

import inspect

from dataclasses import dataclass, field
from typing import Callable

from ..context import LossContext
from ..finding import Example, Hint


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
                    check=check, examples=examples, doc=inspect.cleandoc(check.__doc__ or ""))

    return wrap
