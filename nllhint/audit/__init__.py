"""Audits of loss calls that do *not* raise: the silent mistakes ``nllhint.watch`` / ``%%losscheck`` look for.

``AUDITS`` is the registry, in the order findings are listed. Codes NLH8xx (input and target formats)
and NLH9xx (numbers and shapes) belong to the audits; the exception rules own the others. An audit with
an empty ``losses`` runs for every loss.
"""

from __future__ import annotations

import os

from . import contracts, conventions, formats, handwritten, layout, numeric, targets
from .base import Audit, Example, Hint, LossCall, audit

AUDITS: list[Audit] = [
    *formats.RULES,
    *layout.RULES,
    *conventions.RULES,
    *targets.RULES,
    *numeric.RULES,
    *contracts.RULES,
    *handwritten.RULES,
]


def by_code(code: str) -> Audit | None:
    return next((a for a in AUDITS if a.code.upper() == code.upper()), None)


def run(call: LossCall) -> list[tuple[Audit, Hint]]:
    """Every audit's answer for one call. An audit that fails is skipped (``NLLHINT_DEBUG=1`` raises)."""
    found = []
    call.found = []  # codes found so far in this call: a later audit may defer to an earlier one
    for item in AUDITS:
        if item.losses and call.loss not in item.losses:
            continue
        try:
            hint = item.check(call)
        except Exception:
            if os.environ.get("NLLHINT_DEBUG"):
                raise
            continue
        if hint is not None:
            found.append((item, hint))
            call.found.append(item.code)
    return found


__all__ = ["AUDITS", "Audit", "Example", "Hint", "LossCall", "audit", "by_code", "run"]
