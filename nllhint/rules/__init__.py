"""The registry: every rule, in the order they are tried (specific variants before general ones)."""

from __future__ import annotations

from . import (api, backward, batch, ctc, cuda, device, dtype, fallbacks, margins, options, pairs, ranges,
               regression, shapes, values, vocab)
from .base import Example, Hint, Rule, rule

RULES: list[Rule] = [
    *margins.RULES,
    *ranges.RULES,
    *cuda.RULES,
    *shapes.RULES,
    *pairs.RULES,
    *regression.RULES,
    *vocab.RULES,
    *dtype.RULES,
    *batch.RULES,
    *values.RULES,
    *device.RULES,
    *backward.RULES,
    *ctc.RULES,
    *options.RULES,
    *api.RULES,
    *fallbacks.RULES,  # last: say the contract when no variant rule matched
]


def by_code(code: str) -> Rule | None:
    return next((r for r in RULES if r.code.upper() == code.upper()), None)


__all__ = ["RULES", "Rule", "Hint", "Example", "rule", "by_code"]
