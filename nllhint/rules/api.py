"""Rules for the loss API used the wrong way round, before or after any loss ran.

A loss module (``criterion = nn.CrossEntropyLoss()``) is a function object; calling it returns the loss value,
a tensor, and the tensor has ``backward``/``item``/``mean``/``sum``. Asking the module for them raises
``AttributeError`` from ``nn.Module.__getattr__``, far from any loss call: the user's own code names the
tensor they meant (``loss = criterion(...)``), which is what the fix says (NLH595). A loss name looked up in
the wrong namespace (``F.CrossEntropyLoss``) gets the right one (NLH596); the class stored without ``()``
(``criterion = nn.CrossEntropyLoss``) is found for NLH590 by ``class_not_instance``.
"""

from __future__ import annotations

import ast
import re
import textwrap

from .base import Example, Hint, rule

TENSOR_METHODS = ("backward", "item", "mean", "sum")  # what a loss value is asked for right after the loss


def _result_of(ctx, receiver: str) -> tuple[str | None, str | None]:
    """``(variable, statement)`` for the user's call of the loss module: ``("loss", "loss = criterion(out, y)")``.

    The last assignment ``name = receiver(...)`` at or before the failing line wins (a loop body); without one,
    ``(None, text of a call of receiver)`` when the cell or function has one, so ``.backward()`` goes on it.
    A notebook's earlier cell counts too (the loss computed in one cell, ``criterion.backward()`` in the next)
    when its name still holds a tensor.
    """
    import torch

    from .usercode import user_texts

    found = ctx.user_source()
    line = ctx.call.lineno - found[1] + 1 if found else 0
    for number, (text, first, where) in enumerate(user_texts(ctx)):
        named, calls = _calls_of(textwrap.dedent(text), receiver)
        if number:  # the enclosing cell or an earlier one: only while its variable still holds the loss tensor
            named = [n for n in named if issubclass(type(ctx.lookup(n[1])), torch.Tensor)]
            calls = []
        before = [n for n in named if number or n[0] <= line] or named
        if before:
            return before[-1][1], before[-1][2]
        if calls:
            return None, min(calls)[1]
    return None, None


def _calls_of(text: str, receiver: str) -> tuple[list, list]:
    """``(assignments, calls)`` of ``receiver(...)`` in ``text``: ``(line, variable, statement)`` for each
    assignment whose value calls it (``loss = criterion(out, y) + reg``, ``total += ...``), ``(line, call)``
    for every call; sorted by line."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return [], []
    named, calls = [], []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and ast.get_source_segment(text, node.func) == receiver:
            calls.append((node.lineno, ast.get_source_segment(text, node)))
        if (isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)) and node.value is not None
                and any(isinstance(n, ast.Call) and ast.get_source_segment(text, n.func) == receiver
                        for n in ast.walk(node.value))):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if len(targets) == 1 and isinstance(targets[0], (ast.Name, ast.Attribute)):
                named.append((node.lineno, ast.get_source_segment(text, targets[0]),
                              ast.get_source_segment(text, node)))
    return sorted(named), sorted(calls)


@rule("NLH595", "bad-option", "`.backward()` (or .item()) called on the loss module instead of the loss it returned",
      families=("module-attribute",),
      examples=(
          Example(
              "import torch, torch.nn as nn\n"
              "model = nn.Linear(10, 3)\n"
              "criterion = nn.CrossEntropyLoss()\n"
              "inputs, labels = torch.randn(8, 10), torch.randint(0, 3, (8,))\n"
              "loss = criterion(model(inputs), labels)\n"
              "criterion.backward()",
              expect=("`criterion` is the CrossEntropyLoss module", "loss.backward()")),
          Example(
              "import torch, torch.nn as nn\n"
              "loss_fn = nn.MSELoss()\n"
              "pred, target = torch.randn(4, 1, requires_grad=True), torch.randn(4, 1)\n"
              "loss_fn(pred, target)\n"
              "loss_fn.backward()",
              expect=("loss_fn(pred, target).backward()",)),
      ))
def backward_on_loss_module(ctx) -> Hint | None:
    """``criterion.backward()``: the module that computes the loss was asked for a method of the loss value.
    The fix names the user's loss variable (``loss = criterion(...)`` in the same cell or function), else
    calls the method on the module's call."""
    m = ctx.family("module-attribute")
    receiver = ctx.aliases.get("module")
    if (m is None or ctx.via != "attribute" or ctx.call is None or not receiver or not ctx.module
            or m.groups.get("module") != ctx.module):
        return None
    attr = m.groups.get("attr")
    if attr not in TENSOR_METHODS or ctx.call.callee != f"{receiver}.{attr}":
        return None
    from ..contracts import by_module

    variable, called = _result_of(ctx, receiver)
    found = by_module(ctx.module)
    args = ", ".join(found.forward) if found else "input, target"
    value = variable or called or f"{receiver}({args})"
    if variable:
        line = " ".join(called.split())
        said = f"`{line if len(line) <= 70 else line[:67] + '...'}` holds it"
    else:
        said = f"`{value}` returns it"
    return Hint(
        title=f"`{receiver}` is the {ctx.module} module: .{attr}() belongs to the loss value it returns",
        message=(f"Calling `{receiver}` on the tensors ({args}) computes the loss and returns it as a tensor; "
                 f".{attr}() is a method of that tensor, not of the module: {said}."),
        fix=ctx.fix(callee=f"{value}.{attr}") or f"{value}.{attr}()",
        evidence=(),
    )


def _squash(name: str) -> str:
    """``CrossEntropyLoss``, ``cross_entropy``, ``crossentropy`` -> ``crossentropy``: how a misremembered loss
    name is matched against the table (``bce_loss`` finds BCELoss, ``MSELoss`` finds mse_loss)."""
    name = name.lower().replace("_", "")
    return name[:-4] if name.endswith("loss") and len(name) > 4 else name


def _namespace_alias(ctx, module: str, default: str) -> str:
    """The user's own name for ``torch.nn`` / ``torch.nn.functional`` (``nn``, ``F``), else the full path."""
    import sys

    wanted = sys.modules.get(module)
    frame = ctx._user_frame
    if wanted is None or frame is None:
        return default
    for scope in (frame.f_locals, frame.f_globals):
        for name, value in list(scope.items())[:2000]:
            if value is wanted and not name.startswith("_"):
                return name
    return default


@rule("NLH596", "bad-option", "a loss looked up in the wrong namespace: F.CrossEntropyLoss, nn.cross_entropy",
      families=("torch-namespace",),
      examples=(
          Example(
              "import torch, torch.nn.functional as F\n"
              "logits, labels = torch.randn(8, 5), torch.randint(0, 5, (8,))\n"
              "loss = F.CrossEntropyLoss(logits, labels)",
              expect=("loss = F.cross_entropy(logits, labels)",)),
          Example(
              "import torch, torch.nn as nn\n"
              "criterion = nn.BCEWithLogits(pos_weight=torch.tensor([3.0]))",
              expect=("criterion = nn.BCEWithLogitsLoss(pos_weight=torch.tensor([3.0]))",)),
      ))
def loss_in_wrong_namespace(ctx) -> Hint | None:
    """torch.nn holds the loss classes (``nn.CrossEntropyLoss()``, built then called) and torch.nn.functional
    the loss functions (``F.cross_entropy(input, target)``). A name from the other one, or a class without its
    ``Loss``, is an AttributeError; called on tensors it becomes the function, otherwise the class."""
    from ..contracts import CONTRACTS

    m = ctx.family("torch-namespace")
    if m is None or ctx.via != "attribute" or ctx.call is None:
        return None
    attr = m.groups.get("attr", "")
    if not ctx.call.callee.endswith("." + attr):
        return None
    wanted = _squash(attr)
    found = next((c for c in CONTRACTS.values() if wanted in (_squash(c.name), _squash(c.module))), None)
    if found is None:
        return None
    functional = _namespace_alias(ctx, "torch.nn.functional", "torch.nn.functional")
    nn = _namespace_alias(ctx, "torch.nn", "torch.nn")
    tensors = ctx.options.get("positional", 0) >= 2  # F.CrossEntropyLoss(logits, labels): the function's call
    if tensors and found.functional:
        callee, what = f"{functional}.{found.name}", "Called on the tensors, as here, it is the function."
    else:
        callee, what = f"{nn}.{found.module}", "Built without the tensors, as here, it is the class."
    where = "torch.nn.functional" if m.groups.get("functional") else "torch.nn"
    return Hint(
        title=f"{where} has no `{attr}`: the loss is {callee}",
        message=(f"torch.nn has the loss classes ({nn}.{found.module}(...), built once, then called on the "
                 f"tensors) and torch.nn.functional the loss functions ({functional}.{found.name}(input, "
                 f"target)). {what}"),
        fix=ctx.fix(callee=callee) or f"{callee}(...)",
        evidence=(),
    )


def class_not_instance(ctx) -> tuple[str | None, str] | None:
    """``criterion = nn.CrossEntropyLoss`` (no parentheses) then ``criterion(out, y)``: the call went to the
    class's constructor. ``(fix, sentence)``: the assignment with ``()`` when the cell or function shows it,
    else the user's line with the loss built inline; None when the callee is not a name bound to the class."""
    callee = ctx.call.callee if ctx.call else ""
    if not ctx.module or not re.fullmatch(r"[A-Za-z_][\w.]*", callee) or callee.split(".")[-1] == ctx.module:
        return None
    value = ctx.lookup(callee) if "." not in callee else None
    if "." not in callee and not (isinstance(value, type) and value.__name__ == ctx.module):
        return None
    assigned, where = _assignment(ctx, callee)
    if assigned and assigned.split(".")[-1] == ctx.module:
        return (f"{callee} = {assigned}()",
                f"`{callee} = {assigned}` ({where}) stores the class itself, not a loss built from it: "
                "add the parentheses there.")
    return (ctx.fix(callee=f"nn.{ctx.module}()"),
            f"`{callee}` is the class nn.{ctx.module} itself, not a loss built from it.")


def _assignment(ctx, name: str) -> tuple[str | None, str]:
    """The expression last assigned to ``name`` when it is a plain (dotted) name such as
    ``nn.CrossEntropyLoss``, and where (``line 3``, ``cell [2], line 1``): in the user's function, the cell or
    file around it (``self.criterion = ...`` in ``__init__``), or an earlier notebook cell. Parsed, never run."""
    from .usercode import user_texts

    for number, (text, first, where) in enumerate(user_texts(ctx)):
        if number > 1 and "." in name:  # an earlier cell's self.criterion may be another object's
            break
        text = textwrap.dedent(text)
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        values = [node.value for node in ast.walk(tree)
                  if isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(node.value, (ast.Name, ast.Attribute))
                  and any(ast.get_source_segment(text, t) == name
                          for t in (node.targets if isinstance(node, ast.Assign) else [node.target]))]
        if values:
            last = max(values, key=lambda v: v.lineno)
            return ast.get_source_segment(text, last), f"{where}line {first + last.lineno - 1}"
    return None, ""


RULES = [backward_on_loss_module, loss_in_wrong_namespace]
