"""The labels that belong with the user's inputs, read from how the code unpacks its batches.

``for x_batch, y_batch in loader`` or ``inputs, labels = batch`` pair an input with its labels. When the loss
gets scores of one batch and labels of another (``model(x_batch)`` with ``y_train``), the partner of the
input's own name in that unpacking, holding a tensor of the right length, is the label the user meant.
Parsed and looked up only: no user code runs.
"""

from __future__ import annotations

import ast


def batch_partner(ctx, keep: str, replace: str, rows: int) -> str | None:
    """The name unpacked together with a name of ``keep``'s expression (one assignment back is followed:
    ``outputs = model(inputs)``) that now holds a tensor of ``rows`` samples of ``replace``'s kind (integer
    or floating point); None unless exactly one such name exists."""
    import torch

    parsed = ctx.user_tree()
    current = ctx.t(replace)
    if not parsed or current is None:
        return None
    text, tree, _ = parsed
    roots = _names(ctx.name(keep))
    for node in ast.walk(tree):  # outputs = model(inputs): inputs is a root too
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id in roots for t in node.targets):
            roots |= {n.id for n in ast.walk(node.value) if isinstance(n, ast.Name)}
    partners = set()
    for node in ast.walk(tree):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.For) else []
        for target in targets:
            names = [n.id for n in ast.walk(target) if isinstance(n, ast.Name)] if isinstance(target, ast.Tuple) else []
            if roots & set(names):
                partners |= set(names) - roots
    used = _names(ctx.name(replace))
    fits = []
    for name in sorted(partners - used):
        value = ctx.lookup(name)
        if (issubclass(type(value), torch.Tensor) and value.dim() >= 1 and value.shape[0] == rows
                and value.is_floating_point() == current.is_float):
            fits.append(name)
    return fits[0] if len(fits) == 1 else None


def _names(expr: str) -> set[str]:
    try:
        return {n.id for n in ast.walk(ast.parse(expr.strip(), mode="eval")) if isinstance(n, ast.Name)}
    except SyntaxError:
        return set()


def unpacked_input_of(text: str, name: str, lookup, node) -> str | None:
    """``logits, probs = model(x)``: the name unpacked beside ``name`` whose tensor made ``node`` (compared
    by autograd node identity, no value read), for a loss given ``probs`` where ``logits`` was meant. None
    unless exactly one such name exists. ``lookup`` reads a name where the loss was called."""
    import torch

    if node is None or not name.isidentifier():
        return None
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None
    siblings = set()
    for stmt in ast.walk(tree):
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target] if isinstance(stmt, ast.For) else []
        for target in targets:
            if isinstance(target, (ast.Tuple, ast.List)):
                names = [n.id for n in target.elts if isinstance(n, ast.Name)]
                if name in names:
                    siblings |= set(names) - {name}
    fits = []
    for sibling in sorted(siblings):
        value = lookup(sibling)
        if type(value) in (torch.Tensor, torch.nn.Parameter) and value.grad_fn is node:
            fits.append(sibling)
    return fits[0] if len(fits) == 1 else None
