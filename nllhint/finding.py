"""The value every rule produces and every front end (hint, audit, CLI) consumes."""

from __future__ import annotations

from dataclasses import dataclass, field

SEVERITIES = ("error", "warning", "info")


@dataclass(frozen=True)
class Finding:
    """One diagnosed mistake. Holds only strings, so keeping it keeps no tensor alive."""

    code: str  # "NLH201": stable, never reused
    category: str  # a slug from the catalog, e.g. "target-range"
    severity: str  # "error", "warning" or "info"
    title: str  # one line naming the mistake
    message: str  # two to four plain sentences in the user's own expressions
    fix: str | None = None  # the user's line rewritten, or a short snippet
    evidence: tuple[str, ...] = field(default=())  # one line per tensor: name, shape, dtype, what it looks like
    location: str | None = None  # "cell 4, line 3" or "train.py:17"

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, not {self.severity!r}")


@dataclass(frozen=True)
class Hint:
    """What a rule or an audit answers; the registry adds code, category and severity to make a Finding."""

    title: str  # one line: what is wrong, with the user's names
    message: str  # 2-4 sentences: the evidence (and how sure), why it matters
    fix: str | None = None  # the user's line rewritten, or a short snippet
    evidence: tuple[str, ...] | None = None  # None: the tensors of the call, named as the user wrote them


@dataclass(frozen=True)
class Example:
    """A cell that shows a rule's finding: it is both a test and the rule's documentation."""

    code: str  # the cell, as a user would write it
    expect: tuple[str, ...] = ()  # strings the output must show (expression names, the rewritten line)
