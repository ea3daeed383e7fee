"""Every rule and audit code in one place for the front ends (``%nllhint rules``, ``nllhint rules``)."""

from __future__ import annotations


def rules_table() -> str:
    """Every code with one line: the exception rules, then the %%losscheck audits."""
    from .audit import AUDITS
    from .rules import RULES

    rows = [f"{r.code}  {r.category:<19} {r.summary}" for r in RULES]
    rows += [f"{a.code}  {a.category:<19} {a.summary}  (%%losscheck)" for a in AUDITS]
    return "\n".join(rows)


def find_rule(code: str):
    """The rule or audit with this code, or None."""
    from .audit import by_code as audit_by_code
    from .rules import by_code

    return by_code(code) or audit_by_code(code)
