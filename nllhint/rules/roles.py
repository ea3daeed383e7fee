"""Shared helpers for the rules of losses that take several tensors in fixed roles (anchor/positive/negative,
input1/input2/target, input/target/var): which tensor is the odd one out, how to name it, and the loss's
contract from ``nllhint.contracts`` (read there, never restated here).
"""

from __future__ import annotations

import ast
from collections import Counter

from ..probe import _num
from .shapes import shape_text  # noqa: F401  (re-exported for the loss-family modules)


def contract_of(ctx):
    """The loss contract of the failing call (functional or module name), or None."""
    try:
        from ..contracts import contract
    except ImportError:  # pragma: no cover - the table is part of the package
        return None
    return contract(ctx.loss) or contract(ctx.module)


def roles(ctx) -> tuple[str, ...]:
    """The tensor arguments of the loss, in the contract's order, that the context holds."""
    found = contract_of(ctx)
    names = found.tensors if found else tuple(ctx.tensors)
    return tuple(n for n in names if n in ctx.tensors)


def odd_one(values: dict[str, object]) -> str | None:
    """The one key whose value differs from all the others, which agree (two of three, or all but one)."""
    if len(values) < 3:
        return None
    counts = Counter(values.values())
    if len(counts) != 2:
        return None
    (common, n_common), (rare, n_rare) = counts.most_common()
    if n_rare != 1:
        return None
    return next(k for k, v in values.items() if v == rare)


def constant_value(facts) -> float | None:
    """The single value every (sampled) element holds (``torch.ones(n)`` -> 1.0), else None."""
    if facts is None or not facts.values or facts.distinct is None or len(facts.distinct) != 1:
        return None
    return facts.distinct[0]


def callee_of(expr: str) -> str | None:
    """``net`` for ``net(x_a)`` (a call with one positional argument), else None."""
    try:
        node = ast.parse(expr.strip(), mode="eval").body
    except SyntaxError:
        return None
    if isinstance(node, ast.Call) and len(node.args) == 1 and not node.keywords:
        return ast.unparse(node.func)
    return None


def full_of(ctx, value: float, count: str) -> str:
    """``torch.ones(n)`` / ``-torch.ones(n)`` / ``torch.full((n,), v)`` for a target of one repeated value."""
    if value == 1:
        return f"torch.ones({count})"
    if value == -1:
        return f"-torch.ones({count})"
    return f"torch.full(({count},), {_num(value)})"


def pick_fix(ctx, replacements: dict[str, str]) -> str | None:
    """The user's line with arguments replaced, or the replacements as assignments when the line is unknown."""
    fixed = ctx.fix(replacements)
    if fixed:
        return fixed
    return "\n".join(f"{ctx.name(k)} = {v}" for k, v in replacements.items()) or None
