"""Rules for ``backward-nonscalar`` and ``no-grad``: errors raised by ``loss.backward()``.

``backward-nonscalar``: the tensor ``.backward()`` was called on holds one loss per sample or element
(``reduction='none'``, or a hand-written loss without a mean); its shape and autograd nodes say which.

``no-grad``: the loss has no ``grad_fn``, so something cut it off the model's graph. The message cannot
say what. The user's code around the call is parsed (never run) and followed backwards from the loss
(``loss`` <- ``criterion(preds, y)`` <- ``preds = outputs.argmax(1)`` ...); on that path the usual cuts are
looked for (``torch.no_grad()`` blocks, ``argmax``, comparisons, ``.detach()``, ``.item()``/``.numpy()``
and re-wrapping with ``torch.tensor``, ``.data``, integer casts), and each candidate is checked against
the live values in the user's frame (metadata only: ``requires_grad``), so a cut on the *labels'* path
(``y.long()``) is not blamed. ``model.eval()`` is not a cut. Frozen parameters and a session where
``torch.set_grad_enabled(False)`` was left on are read from the data directly. A loss rebuilt from
numbers (``losses.append(loss.item())`` ... ``torch.tensor(losses).mean()``) is told apart from other cuts:
the list is read from the frame, its first element only (a float accumulator is NLH713's cut).
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from dataclasses import dataclass

from ..context import location_of
from ..contracts import by_module, contract
from ..probe import describe
from .base import Example, Hint, rule

LOSS_NODE_LABELS = {
    "nll_loss": "CrossEntropyLoss / NLLLoss", "mse_loss": "MSELoss", "l1_loss": "L1Loss",
    "binary_cross_entropy": "BCELoss", "binary_cross_entropy_with_logits": "BCEWithLogitsLoss",
    "smooth_l1_loss": "SmoothL1Loss", "huber_loss": "HuberLoss", "ctc_loss": "CTCLoss", "kl_div": "KLDivLoss",
}
NO_GRAD_CONTEXTS = ("no_grad", "inference_mode")
STRONG = {"detach": "detach", "detach_": "detach", "item": "item", "tolist": "item", "numpy": "numpy",
          "argmax": "argmax", "argmin": "argmax"}
REWRAP = {"tensor", "Tensor", "FloatTensor", "LongTensor", "DoubleTensor", "as_tensor", "from_numpy", "array",
          "asarray"}
INT_CASTS = {"long", "int", "bool", "short", "byte"}
INT_DTYPES = {"long", "int64", "int32", "int", "bool", "int16", "uint8", "int8"}


# --- reading the user's code (parsing only) ------------------------------------------------------------

@dataclass
class Program:
    tree: ast.AST
    text: str  # dedented source
    start: int  # line number of the first line
    filename: str
    parents: dict

    def line(self, node) -> int:
        return self.start + node.lineno - 1

    def where(self, node) -> str:
        return location_of(self.filename, self.line(node))

    def segment(self, node) -> str:
        return ast.get_source_segment(self.text, node) or ""

    def first_line(self, node) -> str:
        return self.text.splitlines()[node.lineno - 1].strip()

    def statement(self, node) -> str:
        """The statement's code without its comment (its first line for a compound statement)."""
        text = self.segment(node) or self.first_line(node)
        return text.splitlines()[0].rstrip() if text else ""


def program_of(text: str, start: int, filename: str) -> Program | None:
    text = textwrap.dedent(text)
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None
    return Program(tree, text, start, filename, _parents(tree))


def _parents(tree) -> dict:
    """Each node's parent (a map beside the tree: the tree itself is left as parsed)."""
    parents = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node
    return parents


def user_program(ctx) -> Program | None:
    parsed = ctx.user_tree()
    if not parsed or ctx.call is None:
        return None
    text, tree, start = parsed
    return Program(tree, text, start, ctx.call.filename, _parents(tree))


def load_names(node) -> list[str]:
    return [n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)]


def _target_names(target) -> list[str]:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [n for t in target.elts for n in _target_names(t)]
    if isinstance(target, ast.Starred):
        return _target_names(target.value)
    return []


def assignments(prog: Program) -> dict[str, list[tuple[ast.stmt, ast.AST]]]:
    """name -> [(statement, value expression)] for every binding of a plain name."""
    found: dict[str, list] = {}
    for node in ast.walk(prog.tree):
        pairs = []
        if isinstance(node, ast.Assign):
            pairs = [(n, node.value) for t in node.targets for n in _target_names(t)]
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)) and node.value is not None:
            pairs = [(n, node.value) for n in _target_names(node.target)]
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            pairs = [(n, node.iter) for n in _target_names(node.target)]
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            pairs = [(n, item.context_expr) for item in node.items if item.optional_vars is not None
                     for n in _target_names(item.optional_vars)]
        for name, value in pairs:
            found.setdefault(name, []).append((node, value))
    return found


def path_to(prog: Program, roots: list[str], until_line: int) -> tuple[list[tuple[ast.stmt, ast.AST]], set[str]]:
    """Statements the roots' values were computed by (before ``until_line``, relative), and every name met."""
    binds = assignments(prog)
    seen, todo, path = set(), list(roots), []
    while todo and len(seen) < 500:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for stmt, value in binds.get(name, ()):
            if stmt.lineno > until_line or any(s is stmt for s, _ in path):
                continue
            path.append((stmt, value))
            todo.extend(load_names(value))
            if isinstance(stmt, ast.AugAssign):
                todo.extend(_target_names(stmt.target))
    path.sort(key=lambda p: p[0].lineno)
    return path, seen


def _is_grad_off_call(node) -> bool:
    """``torch.no_grad()``, ``torch.inference_mode()``, ``torch.set_grad_enabled(False)``."""
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    if name in NO_GRAD_CONTEXTS:
        return not (node.args and isinstance(node.args[0], ast.Constant) and node.args[0].value is False)
    if name == "set_grad_enabled":
        return bool(node.args) and isinstance(node.args[0], ast.Constant) and node.args[0].value is False
    return False


def grad_off_block(prog: Program, node) -> ast.AST | None:
    """The ``with torch.no_grad():`` (or no_grad-decorated function) enclosing ``node``, if any."""
    current = prog.parents.get(node)
    while current is not None:
        if isinstance(current, (ast.With, ast.AsyncWith)):
            if any(_is_grad_off_call(item.context_expr) for item in current.items):
                return current
        if isinstance(current, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for deco in current.decorator_list:
                if _is_grad_off_call(deco) or (isinstance(deco, ast.Attribute) and deco.attr in NO_GRAD_CONTEXTS):
                    return deco
        current = prog.parents.get(current)
    return None


@dataclass
class Cut:
    kind: str  # "argmax", "compare", "intcast", "detach", "data", "item", "numpy", "rewrap"
    node: ast.AST  # the expression that cuts
    operand: ast.AST  # what it was applied to
    stmt: ast.stmt


def cuts_in(stmt, value) -> list[Cut]:
    found = []
    for node in ast.walk(value):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            attr, base = node.func.attr, node.func.value
            is_torch = isinstance(base, ast.Name) and base.id in ("torch", "np", "numpy")
            if attr in STRONG and not is_torch:
                found.append(Cut(STRONG[attr], node, base, stmt))
            elif attr in ("argmax", "argmin") and is_torch and node.args:
                found.append(Cut("argmax", node, node.args[0], stmt))
            elif attr in REWRAP and is_torch and node.args:
                found.append(Cut("rewrap", node, node.args[0], stmt))
            elif attr in INT_CASTS and not node.args and not is_torch:
                found.append(Cut("intcast", node, base, stmt))
            elif (attr in ("max", "min", "topk", "sort") and node is value and isinstance(stmt, ast.Assign)
                  and isinstance(stmt.targets[0], ast.Tuple) and len(stmt.targets[0].elts) == 2
                  and (len(node.args) + len(node.keywords)) >= (2 if is_torch else 1)):
                # _, predicted = torch.max(outputs, 1): the indices half is what reaches the loss
                found.append(Cut("argmax", node, node.args[0] if is_torch else base, stmt))
            elif attr == "to" and any(isinstance(a, ast.Attribute) and a.attr in INT_DTYPES for a in
                                      list(node.args) + [k.value for k in node.keywords]):
                found.append(Cut("intcast", node, base, stmt))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("tensor", "array") \
                and node.args:
            found.append(Cut("rewrap", node, node.args[0], stmt))
        elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Call) \
                and isinstance(node.value.func, ast.Attribute) and node.value.func.attr in ("max", "min", "topk") \
                and isinstance(node.slice, ast.Constant) and node.slice.value == 1:
            found.append(Cut("argmax", node, node.value.func.value, stmt))
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
            if node.attr == "data":
                found.append(Cut("data", node, node.value, stmt))
            elif node.attr == "indices":
                found.append(Cut("argmax", node, node.value, stmt))
        elif isinstance(node, ast.Compare) and all(
                isinstance(op, (ast.Gt, ast.Lt, ast.GtE, ast.LtE, ast.Eq, ast.NotEq)) for op in node.ops):
            found.append(Cut("compare", node, node.left, stmt))
    return found


def _bound_names(stmt) -> list[str]:
    if isinstance(stmt, ast.Assign):
        return [n for t in stmt.targets for n in _target_names(t)]
    if isinstance(stmt, (ast.AugAssign, ast.AnnAssign)):
        return _target_names(stmt.target)
    return []


STRONG_KINDS = ("argmax", "detach", "item", "numpy", "rewrap")  # blamed even when the operand is unknown
_MISSING = object()


# --- the live values in the user's frame (metadata only) ---------------------------------------------------

def _module_grad(module) -> bool | None:
    """Does the module have a parameter that requires grad (None: no parameters)."""
    any_param = False
    for i, p in enumerate(module.parameters()):
        if i >= 5000:
            break
        any_param = True
        if p.requires_grad:
            return True
    return False if any_param else None


def _is_loss_module(value) -> bool:
    return type(value).__name__.endswith("Loss")


def carries_grad(ctx, node, exclude=()) -> str:
    """``"yes"`` if a name in ``node`` is, right now, a tensor requiring grad or a model with trainable
    parameters; ``"no"`` if every name is something that cannot carry a gradient; else ``"unknown"``."""
    import types

    import torch

    verdict = "no"
    for name in load_names(node):
        if name in exclude:
            return "unknown"
        value = ctx.lookup(name, _MISSING)
        if isinstance(value, torch.Tensor):
            if value.requires_grad:
                return "yes"
        elif isinstance(value, torch.nn.Module):
            if _module_grad(value):
                return "yes"
        elif value is _MISSING or not (
                isinstance(value, (int, float, bool, str, type(None), types.ModuleType, list, tuple, dict))
                or type(value).__module__ == "numpy" or callable(value)):
            verdict = "unknown"
    return verdict


def _facts_row(ctx, name: str) -> tuple[str, str] | None:
    import torch

    value = ctx.lookup(name)
    if not isinstance(value, torch.Tensor):
        return None
    facts = describe(value, read_values=ctx.values_readable)
    grad = "requires grad" if facts.requires_grad else "does not require grad"
    return name, f"{facts.summary()}, {grad}"


# --- backward-nonscalar -----------------------------------------------------------------------------------

def _nonscalar(ctx):
    loss = ctx.t("loss")
    if ctx.via != "backward" or loss is None or ctx.call is None or "loss" not in ctx.call.args:
        return None
    if loss.numel == 1:
        return None
    return loss


def _rewrite_receiver(ctx, new: str) -> str:
    receiver = ctx.call.args["loss"]
    statement = ctx.call.statement
    at = statement.find(receiver + ".backward")
    if at < 0:
        return f"{new}.backward()"
    return statement[:at] + new + statement[at + len(receiver):]


def _reduction_none_line(ctx) -> str | None:
    prog = user_program(ctx)
    if prog is None:
        return None
    for node in ast.walk(prog.tree):
        if isinstance(node, ast.keyword) and node.arg in ("reduction", "reduce") and isinstance(node.value, ast.Constant) \
                and node.value.value in ("none", False):
            return f"line {prog.line(node.value)}"
    return None


def _receiver_loss(ctx) -> str | None:
    """The loss class whose result backward() ran on, when the source shows it was built with
    reduction='none': ``criterion(a, b).backward()`` or ``loss = criterion(a, b)`` then ``loss.backward()``.
    Reads the call's source and the bound objects' ``__dict__`` only."""
    import torch

    receiver = ctx.call.args.get("loss") or ""
    try:
        node = ast.parse(receiver, mode="eval").body
    except SyntaxError:
        return None
    if isinstance(node, ast.Name):  # loss = criterion(...); loss.backward()
        assigned = ctx.assigned_call(node.id)
        try:
            node = ast.parse(assigned, mode="eval").body if assigned else None
        except SyntaxError:
            return None
    if not isinstance(node, ast.Call):
        return None
    keywords = {k.arg: k.value.value for k in node.keywords if isinstance(k.value, ast.Constant)}
    callee = node.func
    if isinstance(callee, ast.Name):
        bound = ctx.lookup(callee.id)
        if isinstance(bound, torch.nn.Module):
            if bound.__dict__.get("reduction") == "none":  # torch's loss, or the user's own (FocalLoss)
                found = by_module(type(bound).__name__)
                return found.module if found is not None else type(bound).__name__
            return None
        name = getattr(bound, "__name__", None) if callable(bound) else None
    elif isinstance(callee, ast.Attribute):
        name = callee.attr
    else:
        return None
    found = contract(name) if isinstance(name, str) else None
    if found is not None and keywords.get("reduction") == "none":
        return found.module
    return None


@rule("NLH701", "backward-nonscalar", "backward() on an unreduced loss (reduction='none')",
      families=("backward-nonscalar",),
      examples=(
          Example(
              "import torch, torch.nn as nn\n"
              "model = nn.Linear(8, 4)\n"
              "optimizer = torch.optim.SGD(model.parameters(), lr=0.01)\n"
              "criterion = nn.CrossEntropyLoss(reduction='none')\n"
              "x, y = torch.randn(16, 8), torch.randint(0, 4, (16,))\n"
              "optimizer.zero_grad()\n"
              "loss = criterion(model(x), y)\n"
              "loss.backward()",
              expect=("loss.mean().backward()", "(16,)", "CrossEntropyLoss", "reduction='none'")),
          Example(
              "import torch, torch.nn.functional as F\n"
              "pred = torch.randn(4, 3, requires_grad=True)\n"
              "target = torch.randn(4, 3)\n"
              "F.mse_loss(pred, target, reduction='none').backward()",
              expect=("F.mse_loss(pred, target, reduction='none').mean().backward()",)),
          Example(
              "import torch, torch.nn as nn\n"
              "criterion_rank = nn.MarginRankingLoss(margin=0.05, reduction='none')\n"
              "s1, s2 = torch.rand(32, requires_grad=True), torch.rand(32, requires_grad=True)\n"
              "criterion_rank(s1, s2, -torch.ones(32)).backward()",
              expect=("criterion_rank(s1, s2, -torch.ones(32)).mean().backward()", "MarginRankingLoss")),
      ))
def unreduced_loss(ctx) -> Hint | None:
    """``backward()`` on per-sample losses: average (or sum) them first."""
    loss = _nonscalar(ctx)
    if loss is None:
        return None
    if ctx.loss is not None:
        label = LOSS_NODE_LABELS.get(ctx.loss, ctx.loss)
    else:  # a loss whose graph has no loss node (MarginRankingLoss is clamp(...)): read the call itself
        label = _receiver_loss(ctx)
        if label is None:
            return None
    expr = ctx.name("loss")
    shape = "(" + ", ".join(map(str, loss.shape)) + ("," if loss.ndim == 1 else "") + ")"
    where = _reduction_none_line(ctx)
    weighted = bool(ctx.graph) and ctx.graph[0] in ("MulBackward0", "DivBackward0", "IndexBackward0",
                                                    "MaskedSelectBackward0", "WhereBackward0")
    extra = (" It was weighted or masked after the loss: average over the kept elements "
             "(e.g. (loss * mask).sum() / mask.sum())." if weighted else
             f" Or drop reduction='none' ({where}) to get the mean directly." if where else
             " Or build the loss without reduction='none'.")
    return Hint(
        title=f"`{expr}` holds {loss.numel} values (shape {shape}); backward() needs a single number",
        message=(f"`{expr}` comes from {label} without reduction (reduction='none'): one loss per "
                 f"{'sample' if loss.ndim == 1 else 'element'}. backward() can only start from a scalar "
                 f"unless you pass a gradient; reduce it with .mean() (what reduction='mean' does) or "
                 f".sum().{extra}"),
        fix=_rewrite_receiver(ctx, ctx.with_method("loss", ".mean()")),
    )


@rule("NLH702", "backward-nonscalar", "backward() on a hand-written loss that was never averaged",
      families=("backward-nonscalar",),
      examples=(Example(
          "import torch\n"
          "w = torch.zeros(3, requires_grad=True)\n"
          "X, y = torch.randn(20, 3), torch.randn(20)\n"
          "loss = (X @ w - y) ** 2\n"
          "loss.backward()",
          expect=("loss.mean().backward()", "(20,)")),))
def unaveraged_custom_loss(ctx) -> Hint | None:
    """A loss written by hand (``(pred - y) ** 2``) without ``.mean()``."""
    loss = _nonscalar(ctx)
    if loss is None or ctx.loss is not None or not loss.is_float:
        return None
    expr = ctx.name("loss")
    if not re.search(r"loss|cost|objective|error|err\b|mse|nll", expr, re.I):
        return None  # not named like a loss: may be an output the user meant to backprop a gradient into
    shape = "(" + ", ".join(map(str, loss.shape)) + ("," if loss.ndim == 1 else "") + ")"
    return Hint(
        title=f"`{expr}` holds {loss.numel} values (shape {shape}); backward() needs a single number",
        message=(f"`{expr}` looks like a per-element loss that was never reduced (its last operation is "
                 f"{ctx.graph[0] if ctx.graph else 'unknown'}). backward() can only start from a scalar "
                 "unless you pass a gradient: take the mean (or the sum) over the elements."),
        fix=_rewrite_receiver(ctx, ctx.with_method("loss", ".mean()")),
    )


# --- no-grad ---------------------------------------------------------------------------------------------

def _no_grad_ctx(ctx):
    loss = ctx.t("loss")
    if ctx.via != "backward" or ctx.call is None or loss is None or loss.grad_fn is not None or loss.requires_grad:
        return None
    return loss


def _loss_evidence(ctx, loss, names=()) -> tuple[str, ...]:
    expr = ctx.name("loss", "loss")
    rows = [(expr, f"{loss.summary()}, no grad_fn")]
    for name in names:
        row = _facts_row(ctx, name)
        if row and name != expr and not name.startswith("_") and all(r[0] != name for r in rows):
            rows.append(row)
    width = min(max(len(n) for n, _ in rows), 24)
    return tuple(f"{n[:40]:<{width}}  {text}" for n, text in rows[:5])


def _analysis(ctx):
    """(program, path, relative backward line) for the no-grad rules."""
    prog = user_program(ctx)
    if prog is None:
        return None
    rel = ctx.call.lineno - prog.start + 1
    roots = load_names(ast.parse(ctx.call.args.get("loss", "loss").strip(), mode="eval")) \
        if ctx.call.args.get("loss") else []
    if not roots:
        return None
    path, names = path_to(prog, roots, rel)
    return prog, path, names, rel


@rule("NLH710", "no-grad", "gradient tracking is switched off for the whole session",
      families=("no-grad",),
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "torch.set_grad_enabled(False)   # left over from an evaluation cell\n"
          "model = nn.Linear(4, 2)\n"
          "loss = nn.CrossEntropyLoss()(model(torch.randn(3, 4)), torch.tensor([0, 1, 1]))\n"
          "loss.backward()",
          expect=("torch.set_grad_enabled(True)", "line 2")),))
def grad_disabled(ctx) -> Hint | None:
    """``torch.set_grad_enabled(False)`` (or ``no_grad().__enter__()``) left on: nothing is recorded."""
    loss = _no_grad_ctx(ctx)
    if loss is None or ctx.grad_enabled is not False:
        return None
    where = ""
    prog = user_program(ctx)
    if prog is not None:
        for node in ast.walk(prog.tree):
            if isinstance(node, ast.Expr) and _is_grad_off_call(node.value):
                where = f" (line {prog.line(node)}: `{prog.segment(node)}`)"
                break
    return Hint(
        title="gradient tracking is off for the whole session, so the loss has no grad_fn",
        message=(f"torch.is_grad_enabled() is False even outside any `with` block: a "
                 f"torch.set_grad_enabled(False){where} or a no_grad().__enter__() switched autograd off "
                 "globally. Nothing computed since then is recorded, so "
                 f"`{ctx.name('loss')}` cannot be differentiated. Switch it back on and recompute the loss."),
        fix="torch.set_grad_enabled(True)   # then run the forward pass and the loss again",
        evidence=_loss_evidence(ctx, loss),
    )


@rule("NLH711", "no-grad", "the loss was computed inside torch.no_grad() (an evaluation block)",
      families=("no-grad",),
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "model = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 3))\n"
          "criterion = nn.CrossEntropyLoss()\n"
          "optimizer = torch.optim.Adam(model.parameters())\n"
          "val_batches = [(torch.randn(8, 10), torch.randint(0, 3, (8,))) for _ in range(2)]\n"
          "model.eval()\n"
          "with torch.no_grad():\n"
          "    for x, y in val_batches:\n"
          "        out = model(x)\n"
          "        loss = criterion(out, y)\n"
          "        loss.backward()\n"
          "        optimizer.step()",
          expect=("torch.no_grad()", "line 7", "line 9", "out = model(x)")),))
def under_no_grad(ctx) -> Hint | None:
    """The loss (or the model output it uses) was computed in a ``torch.no_grad()``/``inference_mode`` block."""
    loss = _no_grad_ctx(ctx)
    if loss is None:
        return None
    found = _analysis(ctx)
    if not found:
        return None
    prog, path, _, rel = found
    sure, unsure = [], []
    for stmt, value in path:
        block = grad_off_block(prog, stmt)
        if block is None:
            continue
        verdict = carries_grad(ctx, value)
        if verdict == "yes":
            sure.append((stmt, block))
        elif verdict == "unknown":
            unsure.append((stmt, block))
    # without live values, prefer computations over loop headers (`for x, y in loader:`)
    hits = sure or [h for h in unsure if not isinstance(h[0], (ast.For, ast.AsyncFor, ast.With))] or unsure
    if not hits:
        return None
    expr = ctx.name("loss")
    stated = loss_statement(ctx, prog)
    loss_stmt = stated[1] if stated else None
    # criterion(pred, target): a target computed under no_grad is normal (DQN's expected Q values);
    # what cuts the loss off is the no-grad line on the prediction's path
    input_path = _input_path(prog, stated, rel)
    if input_path is not None:
        hits = [h for h in hits if h[0] is loss_stmt or any(h[0] is s for s, _ in input_path)]
        if not hits:  # only the target was computed without grad, which is normal: the cut is elsewhere
            return None
    stmt, block = hits[0]
    decorated = isinstance(block, ast.expr)
    if decorated:
        block_text = "@" + prog.segment(block)
    else:
        block_text = "with " + ", ".join(prog.segment(i.context_expr) for i in block.items)
    backward_stmt = _statement_at(prog, rel)
    backward_inside = backward_stmt is not None and grad_off_block(prog, backward_stmt) is not None
    loss_inside = grad_off_block(prog, loss_stmt) is not None if loss_stmt is not None else backward_inside
    evaluating = (loss_inside or backward_inside) and (
        bool(re.search(r"\.eval\(\)|def \w*(eval|valid|test)", prog.text))
        or bool(re.search(r"(?<![a-z])(val(?!ue)|valid|test|eval)", prog.segment(stmt), re.I)))
    lines = sorted({prog.line(s) for s, _ in hits})
    computed = (f"line {lines[0]} (`{prog.statement(hits[0][0])}`) runs" if len(lines) == 1 else
                f"lines {', '.join(map(str, lines[:3]))} (`{prog.statement(hits[0][0])}`, ...) run")
    produced = [n for n in _bound_names(stmt) if n != expr][:1]
    if not loss_inside and produced and not decorated and isinstance(stmt, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
        # the loss itself is computed outside the block: name the value that was computed inside
        value_name = produced[0]
        kept = [s for s, _ in path if input_path is not None and grad_off_block(prog, s) is block
                and not any(s is h[0] for h in hits) and not any(s is t for t, _ in input_path)]
        moved = [prog.statement(h[0]) for h in hits][:3]
        kept_lines = [str(prog.line(s)) for s in kept[:3]]
        stays = ((f" The other line{'s' if len(kept_lines) > 1 else ''} of the block on the way to `{expr}` "
                  f"(line{'s' if len(kept_lines) > 1 else ''} {', '.join(kept_lines)}) "
                  f"{'compute' if len(kept_lines) > 1 else 'computes'} the target, "
                  "which usually needs no gradient, so they can stay.") if kept else "")
        tail = [prog.statement(loss_stmt)] if loss_stmt is not None and loss_stmt.lineno > stmt.lineno else []
        return Hint(
            title=f"`{value_name}` was computed inside `{block_text}` (line {prog.line(block)}), so `{expr}` "
                  "has no grad_fn",
            message=(f"Inside `{block_text}` autograd records nothing, and {computed} there: `{value_name}` "
                     f"reaches `{expr}` without a link to the model's parameters, so backward() has nothing "
                     f"to differentiate. To train on it, compute `{value_name}` outside the block.{stays}"),
            fix="\n".join([f"# move out of `{block_text}` (line {', '.join(map(str, lines[:3]))}):"] + moved
                          + tail + [ctx.call.statement]),
            evidence=_loss_evidence(ctx, loss, [value_name]),
        )
    if evaluating:
        advice = (f"If this is evaluation, it needs no gradients: remove `{ctx.call.statement}` (and the "
                  "optimizer step) from this loop. If it is training, compute the forward pass and the "
                  f"loss outside `{block_text}`.")
        fix = (f"# evaluation: keep `{block_text}`, drop the backward/step lines\n"
               f"# {ctx.call.statement}   <- remove")
    elif decorated:
        func = prog.parents.get(block)
        name = getattr(func, "name", "the function")
        advice = f"Remove the decorator from `{name}`, which trains (it calls backward())."
        header = prog.statement(func) if func is not None else f"def {name}(...):"
        fix = f"{header}   # without {block_text} (line {prog.line(block)})"
    else:
        advice = f"Compute the forward pass and the loss outside `{block_text}` to train on them."
        keep = {id(s) for s, _ in input_path} | {id(loss_stmt)} if input_path is not None else None
        after = [prog.statement(s) for s, _ in path if s.lineno >= hits[0][0].lineno
                 and (keep is None or id(s) in keep)][:4]
        fix = "\n".join([f"# outside `{block_text}`:"] + after + [ctx.call.statement])
    return Hint(
        title=f"`{expr}` was computed inside `{block_text}` (line {prog.line(block)}), so it has no grad_fn",
        message=(f"Inside `{block_text}` autograd records nothing, and {computed} there, so `{expr}` is "
                 "cut off from the model's "
                 "parameters. model.eval() does not do this (it only switches dropout/batch norm); the "
                 f"no-grad block does. {advice}"),
        fix=fix,
        evidence=_loss_evidence(ctx, loss),
    )


def _input_path(prog: Program, stated, rel: int):
    """Statements the loss call's first argument (the prediction) was computed by, or None."""
    if not stated:
        return None
    _, _, value = stated
    if not (isinstance(value, ast.Call) and len(value.args) >= 2):
        return None
    roots = load_names(value.args[0])
    if not roots:
        return None
    return path_to(prog, roots, rel)[0]


def _statement_at(prog: Program, rel: int):
    """The innermost statement on relative line ``rel``."""
    found = None
    for node in ast.walk(prog.tree):
        if isinstance(node, ast.stmt) and node.lineno <= rel <= (node.end_lineno or node.lineno):
            if found is None or node.lineno >= found.lineno:
                found = node
    return found


@rule("NLH712", "no-grad", "every parameter of the model is frozen (requires_grad=False)",
      families=("no-grad",),
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "backbone = nn.Sequential(nn.Linear(12, 8), nn.ReLU(), nn.Linear(8, 2))\n"
          "for p in backbone.parameters():\n"
          "    p.requires_grad = False   # meant to freeze all but the head\n"
          "x, y = torch.randn(5, 12), torch.tensor([0, 1, 1, 0, 1])\n"
          "loss = nn.CrossEntropyLoss()(backbone(x), y)\n"
          "loss.backward()",
          expect=("backbone", "frozen", "backbone[-1].parameters()")),))
def frozen_model(ctx) -> Hint | None:
    """All parameters of the model the loss came from have ``requires_grad=False``."""
    import torch

    loss = _no_grad_ctx(ctx)
    if loss is None:
        return None
    found = _analysis(ctx)
    if not found:
        return None
    prog, path, names, _ = found
    frozen = [n for n in sorted(names) if isinstance(ctx.lookup(n), torch.nn.Module)
              and not _is_loss_module(ctx.lookup(n)) and _module_grad(ctx.lookup(n)) is False]
    trainable = [n for n in names if isinstance(ctx.lookup(n), torch.nn.Module) and _module_grad(ctx.lookup(n))]
    if not frozen or trainable:
        return None
    name = frozen[0]
    model = ctx.lookup(name)
    count = sum(1 for _ in zip(range(100000), model.parameters()))
    where = ""
    for node in ast.walk(prog.tree):
        if (isinstance(node, ast.Assign) and any(isinstance(t, ast.Attribute) and t.attr == "requires_grad"
                                                  for t in node.targets)
                and isinstance(node.value, ast.Constant) and node.value.value is False) or (
                isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "requires_grad_" and node.args and isinstance(node.args[0], ast.Constant)
                and node.args[0].value is False):
            where = f" (line {prog.line(node)})"
            break
    last = _last_child(model)
    head = f"{name}[-1]" if isinstance(model, torch.nn.Sequential) else (f"{name}.{last}" if last else name)
    return Hint(
        title=f"all {count} parameters of `{name}` are frozen (requires_grad=False): nothing to differentiate",
        message=(f"Every parameter of `{name}` has requires_grad=False{where}, and no other input of the loss "
                 f"requires grad, so `{ctx.name('loss')}` has no grad_fn. To fine-tune, leave at least the "
                 "layers you train (usually the head) trainable."),
        fix=f"for p in {head}.parameters():\n    p.requires_grad = True",
        evidence=_loss_evidence(ctx, loss),
    )


def _last_child(model) -> str | None:
    last = None
    for child, _ in model.named_children():
        last = child
    return last


CUT_TEXT = {
    "argmax": "turns the scores into class labels (argmax), which have no gradient",
    "compare": "compares the scores (a bool result has no gradient)",
    "intcast": "casts to an integer type, which cannot carry a gradient",
    "detach": "detaches the tensor from the graph",
    "data": "uses `.data`, which is outside the graph",
    "item": "turns the tensor into Python numbers",
    "numpy": "goes through NumPy, outside autograd",
    "rewrap": "re-wraps plain values in a new tensor with no history",
}


REMOVABLE = (".detach()", ".data", ".item()", ".tolist()", ".numpy()", ".cpu()")


def _strip_cuts(prog: Program, stmt, cuts: list[Cut]) -> str:
    """The statement's line with its detach/.item()/.numpy()/re-wrapping removed."""
    line = prog.statement(stmt)
    for cut in sorted(cuts, key=lambda c: -len(prog.segment(c.node))):
        seg = prog.segment(cut.node)
        if seg not in line:
            continue
        if cut.kind == "rewrap":
            line = line.replace(seg, prog.segment(cut.operand))
        elif cut.kind in ("detach", "data", "item", "numpy"):
            new = seg
            for suffix in REMOVABLE:
                new = new.replace(suffix, "")
            line = line.replace(seg, new)
    return line


def _scores_fix(ctx, prog: Program, cut: Cut, path) -> str | None:
    """For argmax/comparison cuts: the loss statement given the scores, with a loss that takes scores."""
    import torch

    targets = set(_bound_names(cut.stmt))
    operand = prog.segment(cut.operand)
    for stmt, value in reversed(path):
        if not (isinstance(value, ast.Call) and len(value.args) >= 2):
            continue
        args = value.args[:2]
        hit = [i for i, arg in enumerate(args)
               if (set(load_names(arg)) & targets and stmt is not cut.stmt) or any(n is cut.node for n in ast.walk(arg))]
        if not hit:
            continue
        other = prog.segment(args[1 - hit[0]])
        callee_obj = ctx.lookup(value.func.id) if isinstance(value.func, ast.Name) else None
        line = prog.statement(stmt)
        at = line.find(prog.segment(value))
        prefix = line[:at] if at >= 0 else "loss = "
        if cut.kind == "argmax":
            labels = re.sub(r"\.float\(\)$", "", other)
            if not _class_index_labels(ctx, cut, operand, labels):
                return _soft_argmax_fix(ctx, prog, cut, operand)
            keeps = isinstance(callee_obj, (torch.nn.CrossEntropyLoss, torch.nn.NLLLoss))
            callee = prog.segment(value.func) if keeps else "nn.CrossEntropyLoss()"
            if _is_float_tensor(ctx, labels):
                labels += ".long()"
            return f"{prefix}{callee}({operand}, {labels})   # class scores and int64 labels, not argmax"
        keeps = isinstance(callee_obj, torch.nn.BCEWithLogitsLoss)
        callee = prog.segment(value.func) if keeps else "nn.BCEWithLogitsLoss()"
        logits = re.fullmatch(r"(?:torch\.|F\.|nn\.functional\.)sigmoid\((.+)\)|(.+)\.sigmoid\(\)", operand)
        scores = next((g for g in logits.groups() if g), operand) if logits else operand
        labels = other if other.endswith(".float()") or _is_float_tensor(ctx, other) else f"{other}.float()"
        return f"{prefix}{callee}({scores}, {labels})   # raw scores (logits), not thresholded predictions"
    return None


def _argmax_dim(cut: Cut):
    """The ``dim`` an argmax / ``max(x, dim)`` cut reduces over (an int), or None when not written."""
    node = cut.node
    if isinstance(node, ast.Subscript):  # outputs.max(1)[1]
        node = node.value
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
        return None
    is_torch = isinstance(node.func.value, ast.Name) and node.func.value.id == "torch"
    pos = 1 if is_torch else 0
    dim = node.args[pos] if len(node.args) > pos else next((k.value for k in node.keywords if k.arg == "dim"), None)
    if isinstance(dim, ast.UnaryOp) and isinstance(dim.op, ast.USub) and isinstance(dim.operand, ast.Constant):
        return -dim.operand.value if type(dim.operand.value) is int else None
    return dim.value if isinstance(dim, ast.Constant) and type(dim.value) is int else None


def _class_index_labels(ctx, cut: Cut, operand: str, labels: str) -> bool:
    """Are ``labels`` class indices for the scores ``operand`` (so CrossEntropyLoss on the scores is right)?

    Whole numbers >= 0, read from the live tensor; with the scores in view also: the argmax ran over dim 1
    (the class dim), the labels have the scores' shape without it and stay below its size.
    """
    import torch

    target = ctx.lookup(labels) if re.fullmatch(r"[A-Za-z_]\w*", labels) else None
    if not isinstance(target, torch.Tensor):
        return False
    facts = describe(target, read_values=ctx.values_readable)
    if not facts.values or facts.min is None or not facts.whole or facts.min < 0 or facts.has_nan:
        return False
    scores = ctx.lookup(operand) if re.fullmatch(r"[A-Za-z_]\w*", operand) else None
    if not isinstance(scores, torch.Tensor):
        return True
    dim = _argmax_dim(cut)
    shape = tuple(scores.shape)
    if dim is None or len(shape) < 2 or dim % len(shape) != 1:
        return False
    return tuple(target.shape) == shape[:1] + shape[2:] and facts.max < shape[1]


def _soft_argmax_fix(ctx, prog: Program, cut: Cut, operand: str) -> str:
    """A hedged fix when the labels are not class indices: a differentiable (soft) argmax, or binned targets."""
    import torch

    general = (f"# argmax has no gradient: compute the loss from `{operand}` itself, e.g.\n"
               f"# CrossEntropyLoss on `{operand}` with the targets binned into int64 class indices,\n"
               "# or a soft-argmax (the expected index under softmax) in place of the argmax")
    scores = ctx.lookup(operand) if re.fullmatch(r"[A-Za-z_]\w*", operand) else None
    dim = _argmax_dim(cut)
    node = cut.node
    if (not isinstance(scores, torch.Tensor) or dim is None or not isinstance(node, ast.Call)
            or not -scores.dim() <= dim < scores.dim() or any(k.arg == "keepdim" for k in node.keywords)
            or not isinstance(node.func, ast.Attribute) or node.func.attr != "argmax"):
        return general
    dim = dim % scores.dim()
    size = scores.shape[dim]
    replaced = node
    parent = prog.parents.get(node)
    if isinstance(parent, ast.Attribute) and parent.attr == "float" and isinstance(prog.parents.get(parent), ast.Call) \
            and not prog.parents[parent].args:
        replaced = prog.parents[parent]  # argmax(...).float(): replace both
    shape = ", ".join("-1" if i == dim else "1" for i in range(scores.dim()))
    device = "" if scores.device.type == "cpu" else f", device={operand}.device"
    bins = f"torch.arange({size}.0{device})" + ("" if dim == scores.dim() - 1 else f".view({shape})")
    soft = f"(torch.softmax({operand}, dim={dim}) * {bins}).sum({dim})"
    line, seg = prog.statement(cut.stmt), prog.segment(replaced)
    if seg not in line:
        return general
    return (f"# argmax has no gradient. Use CrossEntropyLoss on `{operand}` with the targets\n"
            f"# binned into int64 indices 0..{size - 1}, or a soft-argmax (the expected bin) instead:\n"
            + line.replace(seg, soft, 1))


def _is_float_tensor(ctx, expr: str) -> bool:
    import torch

    value = ctx.lookup(expr) if re.fullmatch(r"[A-Za-z_]\w*", expr) else None
    return isinstance(value, torch.Tensor) and value.is_floating_point()


def _cut_fix(ctx, prog: Program, cuts: list[Cut], path) -> str:
    first = cuts[0]
    if first.kind in ("argmax", "compare"):
        return (_scores_fix(ctx, prog, first, path)
                or f"# give the loss `{prog.segment(first.operand)}` (the scores), not labels computed from it")
    if first.kind == "intcast":
        return f"# keep `{prog.segment(first.operand)}` floating point on the way to the loss"
    by_stmt: dict[int, list[Cut]] = {}
    for cut in cuts:
        by_stmt.setdefault(id(cut.stmt), []).append(cut)
    lines = [_strip_cuts(prog, group[0].stmt, group) for group in by_stmt.values()]
    return "\n".join(lines[:3]) + "   # tensors stay in the graph"


@rule("NLH713", "no-grad", "the loss is built from argmax/.detach()/.item()/... of the model output",
      families=("no-grad",),
      examples=(
          Example(
              "import torch, torch.nn as nn\n"
              "model = nn.Linear(6, 3)\n"
              "optimizer = torch.optim.SGD(model.parameters(), lr=0.1)\n"
              "criterion = nn.MSELoss()\n"
              "x, labels = torch.randn(10, 6), torch.randint(0, 3, (10,))\n"
              "outputs = model(x)\n"
              "preds = outputs.argmax(dim=1)\n"
              "loss = criterion(preds.float(), labels.float())\n"
              "loss.backward()",
              expect=("line 7", "argmax", "loss = nn.CrossEntropyLoss()(outputs, labels)")),
          Example(
              "import torch, torch.nn as nn\n"
              "import numpy as np\n"
              "net = nn.Linear(4, 1)\n"
              "xb, yb = torch.randn(8, 4), torch.randn(8, 1)\n"
              "pred = net(xb).detach().numpy()\n"
              "loss = nn.functional.mse_loss(torch.tensor(pred), yb)\n"
              "loss.backward()",
              expect=("line 5", "pred = net(xb)\n", "loss = nn.functional.mse_loss(pred, yb)")),
      ))
def graph_cut(ctx) -> Hint | None:
    """An operation on the loss's path that leaves autograd: argmax, comparisons, .detach(), .item(), ..."""
    loss = _no_grad_ctx(ctx)
    if loss is None:
        return None
    found = _analysis(ctx)
    if not found:
        return None
    prog, path, _, rel = found
    confirmed, possible = [], []
    for stmt, value in path:
        exclude = set(_bound_names(stmt))
        for cut in cuts_in(stmt, value):
            grad = carries_grad(ctx, cut.operand, exclude=exclude)
            if grad == "yes":
                confirmed.append(cut)
            elif grad == "unknown" and cut.kind in STRONG_KINDS:
                possible.append(cut)
    # re-wrapping values that a confirmed cut produced (torch.tensor(pred) after pred = out.numpy())
    tainted = {n for c in confirmed for n in _bound_names(c.stmt)}
    for stmt, value in path:
        for cut in cuts_in(stmt, value):
            if cut.kind == "rewrap" and set(load_names(cut.operand)) & tainted \
                    and not any(c.node is cut.node for c in confirmed):
                confirmed.append(cut)
    confirmed.sort(key=lambda c: (c.stmt.lineno, len(ast.get_source_segment(prog.text, c.node) or "")))
    possible.sort(key=lambda c: (c.stmt.lineno, len(ast.get_source_segment(prog.text, c.node) or "")))
    cuts = confirmed or possible
    if not cuts:
        return _cut_in_callee(ctx, prog, path, loss)
    first = cuts[0]
    lines = []
    for cut in cuts:
        entry = f"line {prog.line(cut.stmt)}"
        if entry not in lines:
            lines.append(entry)
    hedge = "most likely " if confirmed else "possibly "
    expr = ctx.name("loss")
    operand = prog.segment(first.operand)
    names = [n for n in load_names(first.operand)][:1] + (
        _bound_names(first.stmt))
    return Hint(
        title=f"`{expr}` has no grad_fn: {hedge}{lines[0]} cuts it off the graph ({first.kind})",
        message=(f"`{prog.statement(first.stmt)}` ({lines[0]}) {CUT_TEXT[first.kind]}, and `{expr}` is "
                 f"computed from it, so backward() has no path to the model's parameters"
                 + (f" (`{operand}` requires grad, the result does not)" if confirmed else "")
                 + "." + (f" Also on the path: {', '.join(lines[1:4])}." if len(lines) > 1 else "")
                 + " Compute the loss from the model's raw outputs; derive labels or numbers from them only "
                 "for metrics and logging."),
        fix=_cut_fix(ctx, prog, cuts, path),
        evidence=_loss_evidence(ctx, loss, names),
    )


# --- a loss rebuilt from Python numbers: losses.append(loss.item()) ... torch.tensor(losses).mean() ------------

NUMBER_CUTS = {"item": ".item()", "tolist": ".tolist()", "numpy": ".numpy()", "detach": ".detach()"}
COLLECT = ("append", "extend", "insert")
REBUILD = {"tensor", "Tensor", "FloatTensor", "DoubleTensor", "as_tensor", "from_numpy"}  # torch.<name>(list)
REDUCE = {"mean": ".mean()", "average": ".mean()", "sum": ".sum()", "nanmean": ".mean()", "fsum": ".sum()"}


def _to_number(node) -> ast.AST | None:
    """In ``x``, the ``loss.item()`` / ``float(loss)`` / ``.tolist()`` / ``.numpy()`` that made a number."""
    for sub in ast.walk(node):
        if not isinstance(sub, ast.Call):
            continue
        if isinstance(sub.func, ast.Attribute) and sub.func.attr in NUMBER_CUTS and not sub.args:
            return sub
        if isinstance(sub.func, ast.Name) and sub.func.id == "float" and len(sub.args) == 1:
            return sub
    return None


def _collections(prog: Program, until: int) -> dict[str, tuple[ast.stmt, ast.AST, ast.AST]]:
    """list name -> (statement, collected expression, the number-making call) for lists filled with numbers
    made from tensors: ``losses.append(loss.item())``, ``losses += [float(loss)]``, ``[l.item() for ...]``."""
    found = {}
    for stmt in ast.walk(prog.tree):
        if not isinstance(stmt, ast.stmt) or stmt.lineno > until:
            continue
        name, value = None, None
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            call = stmt.value
            if isinstance(call.func, ast.Attribute) and call.func.attr in COLLECT and call.args \
                    and isinstance(call.func.value, ast.Name):
                name, value = call.func.value.id, call.args[-1]
        elif isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name) and isinstance(stmt.op, ast.Add):
            name, value = stmt.target.id, stmt.value
        elif isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name) \
                and isinstance(stmt.value, (ast.ListComp, ast.List)):
            name, value = stmt.targets[0].id, stmt.value
        cut = _to_number(value) if value is not None else None
        if cut is None and value is not None:  # value = loss.item(); losses.append(value)
            made = _number_names(prog, until)
            hit = next((made[n] for n in load_names(value) if n in made), None)
            if hit is not None:
                stmt, value, cut = hit
        if cut is not None and name not in found:
            found[name] = (stmt, value, cut)
    return found


def _number_names(prog: Program, until: int) -> dict[str, tuple[ast.stmt, ast.AST, ast.AST]]:
    """name -> its assignment, for ``value = loss.item()`` / ``value = float(loss)``."""
    out = {}
    for name, binds in assignments(prog).items():
        for stmt, value in binds:
            if isinstance(stmt, ast.Assign) and stmt.lineno <= until:
                cut = _to_number(value)
                if cut is not None and cut is value:
                    out[name] = (stmt, value, cut)
    return out


def _holds_numbers(value) -> bool:
    """A list (or NumPy array) of plain numbers: a look at its first element only."""
    if type(value).__module__ == "numpy":
        return getattr(getattr(value, "dtype", None), "kind", "") in "fiu"
    if not isinstance(value, list) or not value:
        return False
    first = value[0]
    return isinstance(first, (float, int)) or type(first).__module__ == "numpy"


def _reduced(node, names: dict) -> tuple[str, str] | None:
    """``np.mean(losses)``, ``sum(losses)``, ``statistics.mean(losses)``: the list's name and the reduction."""
    if not (isinstance(node, ast.Call) and len(node.args) == 1 and isinstance(node.args[0], ast.Name)):
        return None
    inner = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
    if inner in REDUCE and node.args[0].id in names:
        return node.args[0].id, REDUCE[inner]
    return None


def _rebuilt(node, names: dict, aliases: dict) -> tuple[ast.Call, str, str, str | None] | None:
    """``torch.tensor(losses)``, ``torch.tensor(np.mean(losses))``, ``torch.FloatTensor(losses)``,
    ``torch.as_tensor(avg)`` after ``avg = np.mean(losses)``: the rebuilding call, the list's name, the
    reduction to keep (``.mean()`` or "") and the alias's name (``avg``) when it went through one. (A float
    accumulator, ``running += loss.item()``, is NLH713's: the cut on the path.)"""
    for sub in ast.walk(node):
        if not (isinstance(sub, ast.Call) and sub.args):
            continue
        func = sub.func
        is_rebuild = (isinstance(func, ast.Attribute) and func.attr in REBUILD and isinstance(func.value, ast.Name)
                      and func.value.id == "torch") or (isinstance(func, ast.Name) and func.id == "tensor")
        if not is_rebuild:
            continue
        arg = sub.args[0]
        if isinstance(arg, ast.Call) and isinstance(arg.func, ast.Attribute) and arg.func.attr in ("array", "asarray") \
                and arg.args:
            arg = arg.args[0]  # torch.from_numpy(np.array(losses))
        reduced = _reduced(arg, names)
        if reduced:
            return sub, reduced[0], reduced[1], None
        if isinstance(arg, ast.Name) and arg.id in names:
            return sub, arg.id, "", None
        if isinstance(arg, ast.Name) and arg.id in aliases:
            return sub, aliases[arg.id][0], aliases[arg.id][1], arg.id
    return None


@rule("NLH714", "no-grad", "the loss is rebuilt with torch.tensor from numbers collected with .item()/float()",
      families=("no-grad",),
      examples=(Example(
          "import torch, torch.nn as nn, torch.nn.functional as F\n"
          "model = nn.Linear(4, 1)\n"
          "losses = []\n"
          "for i in range(3):\n"
          "    x, y = torch.randn(5, 4), torch.randn(5, 1)\n"
          "    losses.append(F.mse_loss(model(x), y).item())\n"
          "total = torch.tensor(losses).mean()\n"
          "total.backward()",
          expect=("line 6", ".item()", "losses.append(F.mse_loss(model(x), y))", "total = torch.stack(losses).mean()")),))
def numbers_rebuilt(ctx) -> Hint | None:
    """``losses.append(loss.item())`` then ``torch.tensor(losses).mean().backward()``: the numbers have no
    history, so the new tensor has none either. Read from the code (parsed) and the list's first element."""
    loss = _no_grad_ctx(ctx)
    if loss is None or "loss" not in ctx.call.args:
        return None
    prog = user_program(ctx)
    if prog is None:
        return None
    rel = ctx.call.lineno - prog.start + 1
    receiver_text = ctx.call.args["loss"].strip()
    try:
        receiver = ast.parse(receiver_text, mode="eval").body
    except SyntaxError:
        return None
    collected = {n: c for n, c in _collections(prog, rel).items() if _holds_numbers(ctx.lookup(n))}
    if not collected:
        return None
    path, _ = path_to(prog, load_names(receiver), rel)
    aliases = {}  # avg = np.mean(losses)
    for stmt, value in path:
        reduced = _reduced(value, collected)
        if reduced and isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name):
            aliases[stmt.targets[0].id] = (*reduced, stmt)
    found, at = _rebuilt(receiver, collected, aliases), None
    for stmt, value in reversed(path):
        if found is None:
            found, at = _rebuilt(value, collected, aliases), stmt
    if found is None:
        return None
    call, name, reduce, alias = found
    stmt, _, cut = collected[name]
    if carries_grad(ctx, cut.args[0] if not isinstance(cut.func, ast.Attribute) else cut.func.value) == "no":
        return None  # numbers from tensors without grad (accuracies): not the loss's history
    how = "float()" if isinstance(cut.func, ast.Name) else NUMBER_CUTS[cut.func.attr]
    kept = [_strip_number(prog, stmt, cut) + "   # keep the tensor"]
    stacked = f"torch.stack({name}){reduce}"
    rebuilt = prog.segment(call) if at is not None else ast.get_source_segment(receiver_text, call) or ""
    if alias is not None:  # avg = torch.stack(losses).mean(), and avg itself where it was rebuilt
        alias_stmt = aliases[alias][2]
        kept.append(prog.statement(alias_stmt).replace(prog.segment(alias_stmt.value), stacked, 1))
        stacked = alias
    if at is None:
        line = ctx.call.statement.replace(receiver_text, receiver_text.replace(rebuilt, stacked))
    else:
        line = prog.statement(at).replace(rebuilt, stacked)
    expr = ctx.name("loss")
    where = f"line {prog.line(stmt)}"
    return Hint(
        title=f"`{expr}` has no grad_fn: `{name}` holds Python numbers ({how} at {where}), and "
              f"`{rebuilt}` makes a new tensor with no history",
        message=(f"`{prog.statement(stmt)}` ({where}) turns each loss into a Python number with {how}, "
                 f"which cuts it off the graph; `{rebuilt}` (line {prog.line(at) if at is not None else ctx.call.lineno}) "
                 f"builds a fresh tensor from those numbers, so backward() has no path to the model's "
                 f"parameters. Keep the loss tensors in `{name}` and combine them with torch.stack; take "
                 f"{how} only for logging. (Each kept loss holds its graph until "
                 "backward(): for many steps, call backward() once per step instead.)"),
        fix="\n".join(kept + [line] + ([ctx.call.statement] if at is not None else [])),
        evidence=_numbers_evidence(ctx, loss, name),
    )


def _numbers_evidence(ctx, loss, name: str) -> tuple[str, ...]:
    expr = ctx.name("loss", "loss")
    value = ctx.lookup(name)
    what = f"a list of {len(value)} Python numbers" if isinstance(value, list) else "a NumPy array"
    width = min(max(len(expr), len(name)), 24)
    return (f"{expr[:40]:<{width}}  {loss.summary()}, no grad_fn", f"{name[:40]:<{width}}  {what}")


def _strip_number(prog: Program, stmt, cut) -> str:
    """The collecting statement without the ``.item()`` / ``float(...)`` that made numbers."""
    line = prog.statement(stmt)
    seg = prog.segment(cut)
    if isinstance(cut.func, ast.Name):  # float(loss)
        return line.replace(seg, prog.segment(cut.args[0]), 1)
    base = prog.segment(cut.func.value)
    return line.replace(seg, base, 1)


def _cut_in_callee(ctx, prog: Program, path, loss) -> Hint | None:
    """No cut in view: look one level down, in user functions and models' ``forward`` on the path."""
    import types

    import torch

    for stmt, value in path:
        for name in load_names(value):
            obj = ctx.lookup(name)
            if isinstance(obj, torch.nn.Module) and not type(obj).__module__.startswith("torch."):
                func, label = type(obj).forward, f"{type(obj).__name__}.forward"
            elif isinstance(obj, types.FunctionType) and not (obj.__module__ or "").startswith("torch"):
                func, label = obj, f"{name}()"
            else:
                continue
            try:
                src, start = inspect.getsourcelines(func)
            except (OSError, TypeError):
                continue
            inner = program_of("".join(src), start, func.__code__.co_filename)
            if inner is None:
                continue
            for node in ast.walk(inner.tree):
                hits = []
                if isinstance(node, (ast.With, ast.AsyncWith)) and any(
                        _is_grad_off_call(i.context_expr) for i in node.items):
                    hits = [("no_grad", node)]
                elif isinstance(node, ast.stmt) and not isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                    value_node = getattr(node, "value", None)
                    if value_node is not None:
                        inner_cuts = sorted((c for c in cuts_in(node, value_node) if c.kind in STRONG_KINDS),
                                            key=lambda c: len(inner.segment(c.node)))
                        hits = [(c.kind, node) for c in inner_cuts]
                if hits:
                    kind, at = hits[0]
                    what = ("runs its computation under torch.no_grad()" if kind == "no_grad"
                            else CUT_TEXT[kind])
                    return Hint(
                        title=f"`{ctx.name('loss')}` has no grad_fn: {label} probably cuts the graph "
                              f"({inner.where(at)})",
                        message=(f"`{inner.statement(at)}` in {label} ({inner.where(at)}) {what}, and "
                                 f"`{ctx.name('loss')}` is computed through {label} (line {prog.line(stmt)}). "
                                 "Keep the computation in torch tensors attached to the graph."),
                        fix=f"# in {label}: {inner.statement(at)}   <- remove the cut",
                        evidence=_loss_evidence(ctx, loss),
                    )
    return None


RULES = [unreduced_loss, unaveraged_custom_loss, grad_disabled, under_no_grad, frozen_model, numbers_rebuilt,
         graph_cut]


def loss_statement(ctx, prog: Program | None = None):
    """``(program, statement, value)`` of the last assignment to the name ``.backward()`` was called on."""
    if ctx.call is None or "loss" not in ctx.call.args:
        return None
    prog = prog or user_program(ctx)
    if prog is None:
        return None
    receiver = ctx.call.args["loss"].strip()
    if not re.fullmatch(r"[A-Za-z_]\w*", receiver):
        return None
    rel = ctx.call.lineno - prog.start + 1
    found = [(s, v) for s, v in assignments(prog).get(receiver, ()) if s.lineno <= rel and isinstance(s, ast.Assign)]
    if not found:
        return None
    stmt, value = max(found, key=lambda p: p[0].lineno)
    return prog, stmt, value
