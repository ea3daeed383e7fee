"""The registry: every rule, in the order they are tried (specific variants before general ones)."""

from __future__ import annotations

from . import (backward, batch, ctc, device, dtype, options, ranges, shapes, values)
from .base import Example, Hint, Rule, rule

RULES: list[Rule] = [
    *ranges.RULES,
    *shapes.RULES,
    *dtype.RULES,
    *batch.RULES,
    *values.RULES,
    *device.RULES,
    *backward.RULES,
    *ctc.RULES,
    *options.RULES,
]


def by_code(code: str) -> Rule | None:
    return next((r for r in RULES if r.code.upper() == code.upper()), None)


__all__ = ["RULES", "Rule", "Hint", "Example", "rule", "by_code"]
