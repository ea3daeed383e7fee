"""``explain(exc)``: the pure core. Exception in, findings out; prints nothing, keeps nothing."""

from __future__ import annotations

import os
import sys

from .finding import Finding

EVIDENCE_ORDER = ("input", "log_probs", "input1", "input2", "target", "targets", "weight", "pos_weight",
                  "input_lengths", "target_lengths", "var", "tensor", "loss")


def explain(exc: BaseException) -> list[Finding]:
    """Diagnose an exception raised through a PyTorch loss. ``[]`` when it has nothing to do with one.

    Follows ``__cause__``/``__context__`` a few steps, so an error re-raised by a training helper is
    still explained. Never raises (set ``NLLHINT_DEBUG=1`` to see internal errors), also when called
    with almost no stack left (a handler deep in a recursion): what fails there returns ``[]``.
    """
    try:
        return _explain_chain(exc)
    except Exception:  # RecursionError outside the per-rule guards (an import, an except clause)
        try:
            debug = os.environ.get("NLLHINT_DEBUG")
        except Exception:  # not even the stack for that
            debug = None
        if debug:
            raise
        return []


def _explain_chain(exc: BaseException) -> list[Finding]:
    torch = sys.modules.get("torch")
    if torch is None:  # no torch imported: the error cannot have come through a loss
        return []
    seen = set()
    current: BaseException | None = exc
    with torch._C.DisableTorchFunctionSubclass():  # a tensor subclass's __torch_function__ is user code
        for _ in range(5):
            if current is None or id(current) in seen:
                break
            seen.add(id(current))
            findings = _explain_one(current)
            if findings:
                return findings
            current = current.__cause__ or current.__context__
    return []


def _explain_one(exc: BaseException) -> list[Finding]:
    from .context import from_exception
    from .rules import RULES

    try:
        ctx = from_exception(exc)
    except Exception:
        if os.environ.get("NLLHINT_DEBUG"):
            raise
        return []
    if ctx is None:
        return []
    try:
        families = {m.family for m in ctx.matches}
        for rule in RULES:
            if families.isdisjoint(rule.families):
                continue
            try:
                hint = rule.check(ctx)
            except Exception:
                if os.environ.get("NLLHINT_DEBUG"):
                    raise
                continue
            if hint is not None:
                return [Finding(
                    code=rule.code, category=rule.category, severity=rule.severity, title=hint.title,
                    message=hint.message, fix=hint.fix,
                    evidence=hint.evidence if hint.evidence is not None else default_evidence(ctx),
                    location=ctx.location,
                )]
        return []
    finally:
        ctx.close()


def default_evidence(ctx) -> tuple[str, ...]:
    """One line per tensor of the call, named as the user wrote it."""
    names = sorted(ctx.tensors, key=lambda k: EVIDENCE_ORDER.index(k) if k in EVIDENCE_ORDER else 99)
    shown = [(ctx.name(k), ctx.tensors[k]) for k in names]
    width = min(max((len(n) for n, _ in shown), default=0), 24)
    return tuple(f"{n[:40]:<{width}}  {facts.summary()}" for n, facts in shown)
