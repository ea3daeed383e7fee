"""The line in the user's model that applied the softmax/sigmoid a loss input ends with.

NLH804/NLH807 (softmax or sigmoid into a loss that applies it again) and NLH802 (probabilities into NLLLoss)
are fixed in the model, not in the loss line, when the squashing sits at the model's end. The input's
``grad_fn`` gives the squashing node; the models in the user's frame whose parameters sit just below it give
the module; its source (a class's ``forward``/``__init__``, or the cell that built an ``nn.Sequential``) gives
the line: an ``nn.Sigmoid()`` entry of a Sequential, ``self.softmax(...)``, or ``torch.sigmoid(...)`` /
``F.softmax(...)`` / ``.softmax(...)`` whose value the ``forward`` returns. Metadata and source text only: no
user code runs, no value is read, nothing is kept.
"""

from __future__ import annotations

import ast
import inspect
import itertools
import linecache
import re
import textwrap
from dataclasses import dataclass

from .provenance import _PASS

NODES = {"softmax": "SoftmaxBackward0", "sigmoid": "SigmoidBackward0"}
MODULES = {"softmax": "Softmax", "sigmoid": "Sigmoid"}  # the nn class that applies it
_METHODS = {"view", "reshape", "squeeze", "unsqueeze", "flatten", "contiguous", "permute", "transpose"}
NEAR = 24  # autograd nodes searched below the squashing for the parameters of the layer before it
MAX_MODULES = 2000
_STOPS = frozenset(NODES.values())


@dataclass(frozen=True)
class Squash:
    """Where a squashing was applied, and its line rewritten two ways."""

    where: str  # "VAE.forward, line 10", "cell [3], line 2"
    code: str  # the line as written (whitespace collapsed)
    dropped: str | None  # the line without the squashing; None when the line goes entirely
    logged: str | None  # softmax only: the line with log_softmax (for NLLLoss)
    entry: str  # what applies it, as the user names it: "netD[3]", "torch.sigmoid(...)"

    def without(self) -> str:
        """The fix that removes the squashing: ``old  ->  new   # where``."""
        if not self.code:  # an entry whose source line was not found (appended, built elsewhere)
            return f"remove {self.entry} (the model's last layer); keep the activation for predictions only"
        new = self.dropped if self.dropped is not None else "(delete this line)"
        return f"{self.code}  ->  {new}   # {self.where}"

    def with_log(self) -> str | None:
        return f"{self.code}  ->  {self.logged}   # {self.where}" if self.code and self.logged else None


def squash_node(tensor, activation: str):
    """The autograd node of ``activation`` the tensor was made by (through views and reshapes), or None."""
    try:
        fn = tensor.grad_fn
    except Exception:
        return None
    for _ in range(12):
        if fn is None:
            return None
        name = type(fn).__name__
        if name == NODES[activation]:
            return fn
        if name not in _PASS:
            return None
        fn = next((f for f, _ in fn.next_functions if f is not None), None)
    return None


def squash_input(node):
    """The node that made the squashing's input (``x`` of ``softmax(x)``)."""
    return next((f for f, _ in getattr(node, "next_functions", ()) if f is not None), None)


def locate(call, activation: str) -> Squash | None:
    """The one place in the user's models that applied the ``activation`` the loss input ends with; None when
    the graph does not end with it, no model is visible, its source is not readable, or two places could."""
    node = squash_node(call.tensor("input"), activation)
    frame = call.user_frame() if node is not None else None
    if frame is None:
        return None
    try:
        return _locate(node, frame, activation)
    except Exception:  # source we cannot read or parse: no line, the prose fix stays
        return None
    finally:
        del frame


def _locate(node, frame, activation: str) -> Squash | None:
    import torch

    from ..context import _graph_params, _is, _library_class

    # the parameters within NEAR nodes below the squashing: the layer that fed it. The search stops at
    # another softmax/sigmoid: torch.sigmoid(model(x) * 2) in the cell is not the model's own sigmoid
    near = _graph_params(squash_input(node), NEAR, stop=_STOPS)
    if not near:
        return None
    found, seen = {}, set()
    scopes = list(frame.f_locals.items()) + list(itertools.islice(frame.f_globals.items(), 500))
    for var, root in scopes:
        if not _is(root, torch.nn.Module) or id(root) in seen or var.startswith("_") or _library_class(type(root)):
            continue
        seen.add(id(root))
        modules = list(itertools.islice(torch.nn.Module.named_modules(root), MAX_MODULES))
        for path, module in modules:
            if not _owns(module, near):
                continue
            if isinstance(module, torch.nn.Sequential):
                place = _sequential_entry(var, root, path, module, modules, frame, activation)
            elif not type(module).__module__.startswith("torch.") and not _library_class(type(module)):
                place = _forward_call(module, activation)
            else:
                place = None
            if place is not None:
                found.setdefault((place.where, place.code), place)
    return next(iter(found.values())) if len(found) == 1 else None


def _owns(module, near: set[int]) -> bool:
    import torch

    try:  # torch's own method: a model's override of parameters() is user code
        return any(id(p) in near for p in itertools.islice(torch.nn.Module.parameters(module), 10_000))
    except Exception:
        return False


def _children(module) -> dict:
    """A module's direct submodules, read from its ``__dict__`` (no ``__getattr__`` of the user's runs)."""
    children = vars(module).get("_modules")
    return children if isinstance(children, dict) else {}


def _name(var: str, path: str) -> str:
    return re.sub(r"\.(\d+)(?=\.|$)", r"[\1]", f"{var}.{path}") if path else var


# --- an entry of an nn.Sequential --------------------------------------------------------------------

def _sequential_entry(var, root, path, seq, modules, frame, activation) -> Squash | None:
    """``nn.Sequential(..., nn.Sigmoid())``: its last entry applies it, where the Sequential was built."""
    import torch

    entries = list(_children(seq).values())
    last = entries[-1] if entries else None
    kind = getattr(torch.nn, MODULES[activation])
    if type(last) is not kind:
        return None
    name = f"{_name(var, path)}[{len(entries) - 1}]"
    built = None
    if path:  # self.backbone = nn.Sequential(...) in the parent's __init__
        parent_path, _, attr = path.rpartition(".")
        parent = dict(modules).get(parent_path)
        if parent is not None and not attr.isdigit():
            built = _in_init(type(parent), attr, activation)
    else:  # netD = nn.Sequential(...) in this cell or an earlier one
        built = _in_cells(var, frame, activation)
    if built is None:
        return Squash(where="", code="", dropped=None, logged=None, entry=f"{name}, the final nn.{MODULES[activation]}")
    where, code, dropped, logged = built
    return Squash(where=where, code=code, dropped=dropped, logged=logged, entry=name)


def _in_init(cls, attr: str, activation: str):
    try:
        src, start = inspect.getsourcelines(cls.__init__)
    except (OSError, TypeError):
        return None
    text = textwrap.dedent("".join(src))
    for node in ast.walk(ast.parse(text)):
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Attribute) and node.targets[0].attr == attr
                and isinstance(node.targets[0].value, ast.Name) and node.targets[0].value.id == "self"):
            done = _without_entry(text, node.value, activation)
            if done is not None:
                line, code, dropped, logged = done
                return f"{cls.__name__}.__init__, line {start + line - 1}", code, dropped, logged
    return None


def _in_cells(var: str, frame, activation: str):
    import sys

    from ..context import location_of
    from ..recent import history

    filename = frame.f_code.co_filename
    texts = [("".join(linecache.getlines(filename)), lambda line: location_of(filename, line))]
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    running = getattr(shell, "execution_count", None)
    for number, cell in history(shell, running, cells=30) if isinstance(running, int) else ():
        texts.append((cell, lambda line, number=number: f"cell [{number}], line {line}"))
    for text, where in texts:
        if not text or len(text) > 200_000:
            continue
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        built = [n for n in ast.walk(tree) if isinstance(n, ast.Assign) and len(n.targets) == 1
                 and isinstance(n.targets[0], ast.Name) and n.targets[0].id == var]
        for node in sorted(built, key=lambda n: n.lineno, reverse=True):
            done = _without_entry(text, node.value, activation)
            if done is not None:
                line, code, dropped, logged = done
                return where(line), code, dropped, logged
        if built:
            return None  # built here without the entry (appended later?): not a line we can rewrite
    return None


def _without_entry(text: str, value, activation: str):
    """``(line, code, dropped, logged)`` for ``nn.Sequential(..., nn.Sigmoid())``: the physical line that
    holds the last entry, as written and without the entry (with ``nn.LogSoftmax`` for softmax)."""
    if not (isinstance(value, ast.Call) and _last_name(value.func) == "Sequential" and len(value.args) >= 2
            and not value.keywords):
        return None
    entry = value.args[-1]
    if not (isinstance(entry, ast.Call) and _last_name(entry.func) == MODULES[activation]):
        return None
    if entry.lineno != entry.end_lineno:
        return None
    lines = text.splitlines()
    row = lines[entry.lineno - 1]
    start, end = entry.col_offset, entry.end_col_offset
    entry_text = row[start:end]
    logged_entry = None
    if activation == "softmax":
        cut = entry.func.end_col_offset - start
        logged_entry = entry_text[: cut - len("Softmax")] + "LogSoftmax" + entry_text[cut:]
    whole = value.lineno == value.end_lineno == entry.lineno and len(" ".join(row.split())) <= 80
    previous = value.args[-2]
    if whole:  # the whole statement, short: as written and without the entry
        before = row[:start].rstrip()
        dropped = (before[:-1] if before.endswith(",") else before) + row[end:]
        code, logged = row, logged_entry and row[:start] + logged_entry + row[end:]
    elif previous.end_lineno == entry.lineno:  # "nn.Linear(32, 1), nn.Sigmoid()  ->  nn.Linear(32, 1)"
        first = previous.col_offset if previous.lineno == entry.lineno else None
        if first is None:
            return None
        code = row[first:end]
        dropped = ast.get_source_segment(text, previous)
        logged = logged_entry and row[first:start] + logged_entry
    else:  # the entry alone on its line
        code, dropped, logged = entry_text, None, logged_entry
    return entry.lineno, " ".join(code.split()), dropped and " ".join(dropped.split()), \
        logged and " ".join(logged.split())


def _last_name(func) -> str | None:
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None


# --- a call in a forward -----------------------------------------------------------------------------

def _forward_call(module, activation: str) -> Squash | None:
    """The one ``torch.sigmoid(...)`` / ``F.softmax(...)`` / ``self.act(...)`` in ``forward`` whose value the
    forward returns (directly, or through the name it is assigned to)."""
    cls = type(module)
    forward = cls.__dict__.get("forward")
    if forward is None:
        return None
    src, start = inspect.getsourcelines(forward)
    text = textwrap.dedent("".join(src))
    tree = ast.parse(text)
    own = {name: type(child).__name__ for name, child in _children(module).items()
           if type(child).__module__.startswith("torch.nn")}
    returned = set()
    returns = [n.value for n in ast.walk(tree) if isinstance(n, ast.Return) and n.value is not None]
    for value in returns:
        for item in value.elts if isinstance(value, ast.Tuple) else [value]:
            item = _strip_views(item)
            if isinstance(item, ast.Name):
                returned.add(item.id)
    last = {}  # name -> the line of its last assignment: an earlier one is overwritten before the return
    for stmt in ast.walk(tree):
        if isinstance(stmt, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            for target in stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]:
                for n in ast.walk(target):
                    if isinstance(n, ast.Name):
                        last[n.id] = max(last.get(n.id, 0), stmt.lineno)
    places = []
    for stmt in ast.walk(tree):
        if isinstance(stmt, ast.Return) and stmt.value is not None:
            items = stmt.value.elts if isinstance(stmt.value, ast.Tuple) else [stmt.value]
            calls = [_strip_views(i) for i in items]
        elif (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)
              and stmt.targets[0].id in returned and last.get(stmt.targets[0].id) == stmt.lineno):
            calls = [_strip_views(stmt.value)]
        else:
            continue
        for node in calls:
            arg = _squash_arg(node, activation, own)
            if arg is not None:
                places.append((stmt, node, arg))
    if len(places) != 1:
        return None
    stmt, node, arg = places[0]
    segment = ast.get_source_segment(text, stmt) or ""
    whole = ast.get_source_segment(text, node) or ""
    inner = ast.get_source_segment(text, arg) or ""
    if not segment or not whole or not inner:
        return None
    where = f"{cls.__name__}.forward, line {start + node.lineno - 1}"
    code = " ".join(segment.split())
    dropped = " ".join(segment.replace(whole, inner, 1).split())
    if isinstance(stmt, ast.Assign) and dropped.split("=", 1)[1].strip() == stmt.targets[0].id:
        dropped = None  # x = torch.sigmoid(x): the line goes
    logged = None
    if activation == "softmax":
        logged = " ".join(segment.replace(whole, _log_softmax_of(text, node, module, own, inner), 1).split())
    if len(code) > 100:  # a long statement: the call alone
        code, dropped = " ".join(whole.split()), " ".join(inner.split())
        logged = logged and _log_softmax_of(text, node, module, own, inner)
    return Squash(where=where, code=code, dropped=dropped, logged=logged, entry=" ".join(whole.split()))


def _strip_views(node):
    """``torch.sigmoid(x).view(-1)`` -> ``torch.sigmoid(x)``: the graph looks through these too."""
    while (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
           and node.func.attr in _METHODS):
        node = node.func.value
    return node


def _squash_arg(node, activation: str, own: dict):
    """The argument of a call that applies ``activation``, or None."""
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    cls = MODULES[activation]
    if isinstance(func, ast.Call) and _last_name(func.func) == cls:  # nn.Softmax(dim=1)(x)
        return node.args[0] if node.args else None
    if isinstance(func, ast.Attribute):
        if isinstance(func.value, ast.Name) and func.value.id == "self" and own.get(func.attr) == cls:
            return node.args[0] if node.args else None  # self.softmax(x)
        if func.attr == activation:
            base = func.value
            module_like = (isinstance(base, ast.Name) and base.id in ("F", "torch", "functional", "nn")) or (
                isinstance(base, ast.Attribute) and base.attr in ("functional", "special"))
            if module_like:
                return node.args[0] if node.args else None
            return base  # x.softmax(dim=1), x.sigmoid()
    elif isinstance(func, ast.Name) and func.id == activation:  # from torch import sigmoid
        return node.args[0] if node.args else None
    return None


def _log_softmax_of(text: str, node, module, own: dict, inner: str) -> str:
    """The softmax call written as log_softmax: ``F.softmax`` -> ``F.log_softmax``; ``self.softmax(z)`` and
    ``nn.Softmax(dim=1)(z)`` -> ``z.log_softmax(dim=1)``."""
    from .base import method_on

    func = node.func
    mine = isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "self" \
        and func.attr in own
    if isinstance(func, ast.Attribute) and func.attr == "softmax" and not mine:
        whole = ast.get_source_segment(text, node) or ""
        head = ast.get_source_segment(text, func.value) or ""
        return head + ".log_softmax" + whole[len(ast.get_source_segment(text, func) or ""):]
    dim = None
    if isinstance(func, ast.Attribute):  # self.softmax: the module's own dim
        child = _children(module).get(func.attr)
        dim = child.__dict__.get("dim") if child is not None else None
    elif isinstance(func, ast.Call):
        dim = next((ast.get_source_segment(text, k.value) for k in func.keywords if k.arg == "dim"), None)
        if dim is None and func.args:
            dim = ast.get_source_segment(text, func.args[0])
    return method_on(inner, f".log_softmax(dim={dim if dim is not None else 1})")


# --- the scores returned beside the probabilities ----------------------------------------------------

def unpacked_scores(call, activation: str) -> str | None:
    """``logits, probs = model(x)`` and the loss given ``probs``: the name ``logits``, when its tensor is the
    very input of the squashing node (autograd node identity); None otherwise."""
    node = squash_node(call.tensor("input"), activation)
    expr = call.name("input")
    if node is None or not expr.isidentifier():
        return None
    frame = call.user_frame()
    if frame is None:
        return None
    try:
        from ..rules.partners import unpacked_input_of

        scopes = (frame.f_locals, frame.f_globals)
        text = "".join(linecache.getlines(frame.f_code.co_filename))
        if len(text) > 200_000:
            return None
        return unpacked_input_of(text, expr, lambda n: next((s[n] for s in scopes if n in s), None),
                                 squash_input(node))
    except Exception:
        return None
    finally:
        del frame


def unpacked_logits(call, activation: str) -> str | None:
    """The user's loss line with the unpacked scores in place of the probabilities (see ``unpacked_scores``)."""
    name = unpacked_scores(call, activation)
    return call.fix({"input": name}) if name else None
