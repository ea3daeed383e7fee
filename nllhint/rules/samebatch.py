"""The corrected line when scores and labels come from batches of different sizes.

When the user's code shows which rows of the longer tensor belong to the batch (the slice the input was
taken with, ``x_all[start:start + 16]``, or the loop ``for start in range(0, n, 16)`` that walks the
batches), the fix takes the same rows of it. Otherwise, when neither count is a multiple of the other, the fix keeps
the first rows and says that this is right only if those rows are the batch's. The source is parsed,
never run.
"""

from __future__ import annotations

import ast


def same_batch_fix(ctx, n_in: int, n_tg: int) -> str | None:
    """The user's line with the longer of input/target cut to the other's samples, or None."""
    if ctx.call is None or n_in == n_tg or not n_in or not n_tg:
        return None
    longer, shorter, n = ("target", "input", n_in) if n_tg > n_in else ("input", "target", n_tg)
    if longer not in ctx.call.args or shorter not in ctx.call.args:
        return None
    name = ctx.name(longer)
    rows = _batch_rows(ctx, n) if longer == "target" else None
    if rows:
        return ctx.fix({longer: ctx.with_method(longer, f"[{rows}]")})
    if max(n_in, n_tg) % n == 0:
        return None  # a multiple: more likely a view(-1, k) or a flatten than rows of another batch
    if _unpacked_with_others(ctx):
        return None  # x_batch, y_batch, y_aux = ...: the batch's labels are there, which one is not known
    fixed = ctx.fix({longer: ctx.with_method(longer, f"[:{n}]")})
    if fixed is None:
        return None
    return f"# only if the first {n} rows of {name} belong to {ctx.name(shorter)} (else take both from one batch)\n{fixed}"


def _unpacked_with_others(ctx) -> bool:
    """Is a name of the input's expression unpacked together with other names (``for x, y in loader``,
    ``x_batch, y_batch = ...``)? Then the code holds the batch's own labels somewhere."""
    tree, _ = _parsed(ctx)
    if tree is None:
        return False
    try:
        roots = {n.id for n in ast.walk(ast.parse(ctx.name("input").strip(), mode="eval")) if isinstance(n, ast.Name)}
    except SyntaxError:
        return False
    for node in ast.walk(tree):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.For) else []
        for target in targets:
            if isinstance(target, ast.Tuple) and roots & {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}:
                return True
    return False


def _parsed(ctx):
    """(the parsed user's cell or function, its first line number), or (None, None)."""
    parsed = ctx.user_tree()
    return (parsed[1], parsed[2]) if parsed else (None, None)


def _batch_rows(ctx, n: int) -> str | None:
    """The slice text of the rows in the batch: the input's own slice, or the range loop's step."""
    tree, start = _parsed(ctx)
    if tree is None or ctx.call is None:
        return None
    line = ctx.call.lineno - start + 1
    assigned = _assignments(tree, line)
    seen, todo = set(), [ctx.name("input")]
    while todo and len(seen) < 8:  # the input's expression, then what its names were assigned from
        expr = todo.pop(0)
        if expr in seen:
            continue
        seen.add(expr)
        try:
            node = ast.parse(expr.strip(), mode="eval").body
        except SyntaxError:
            continue
        for sub in ast.walk(node):
            if (isinstance(sub, ast.Subscript) and isinstance(sub.slice, ast.Slice) and sub.slice.upper is not None
                    and not isinstance(sub.slice.upper, ast.UnaryOp)):  # x[:-1] shifts a sequence: not a batch
                return ast.unparse(sub.slice)
        todo += [assigned[n_.id] for n_ in ast.walk(node) if isinstance(n_, ast.Name) and n_.id in assigned]
    for loop in _enclosing_loops(tree, line):
        var, step = _range_step(ctx, loop, n)
        if var:
            return f"{var}:{var} + {step}"
    return None


def _assignments(tree, line: int) -> dict[str, str]:
    """``name -> value text`` of the last plain assignment to each name on or before ``line``."""
    found: dict[str, tuple[int, str]] = {}
    for node in ast.walk(tree):
        if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                and node.lineno <= line):
            name = node.targets[0].id
            if name not in found or found[name][0] <= node.lineno:
                found[name] = (node.lineno, ast.unparse(node.value))
    return {k: v for k, (_, v) in found.items()}


def _enclosing_loops(tree, line: int) -> list[ast.For]:
    """``for`` statements whose body holds ``line``, innermost first."""
    loops = [node for node in ast.walk(tree) if isinstance(node, ast.For)
             and node.body[0].lineno <= line <= (node.end_lineno or 0)]
    return sorted(loops, key=lambda node: -node.lineno)


def _range_step(ctx, loop: ast.For, n: int) -> tuple[str | None, str | None]:
    """``for start in range(0, total, 16)`` with a step of ``n`` rows: ("start", "16")."""
    it = loop.iter
    if not (isinstance(loop.target, ast.Name) and isinstance(it, ast.Call) and isinstance(it.func, ast.Name)
            and it.func.id == "range" and len(it.args) == 3):
        return None, None
    step = it.args[2]
    value = step.value if isinstance(step, ast.Constant) else (
        ctx.lookup(step.id) if isinstance(step, ast.Name) else None)
    if type(value) is not int or value != n:
        return None, None
    return loop.target.id, ast.unparse(step)
