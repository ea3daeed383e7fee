"""The user's recent class-index loss calls, read from source text: the failing function or cell, then
the cells run just before it (IPython's input history).

A CUDA device-side assert surfaces at the next call that waits for the GPU, often a line or a cell after
the loss that caused it, and after it no tensor value may be read. What is left is the code: this module
finds the loss calls in it (``F.cross_entropy``, ``nn.NLLLoss()(...)``, ``criterion(...)``,
``F.one_hot``) and names their arguments as the user wrote them. Nothing is recorded while code runs, so
it costs nothing until such an error needs it; each cell text is parsed once (a small bounded cache) and
the record holds strings only, never a tensor.
"""

from __future__ import annotations

import ast
import functools
import inspect
import re
from dataclasses import dataclass

from .contracts import CONTRACTS, losses_where

# the contract table's class-index losses (functional names) and F.one_hot; module class name -> functional
# name (NLLLoss2d: torch's older name for NLLLoss)
_CLASS_INDEX = losses_where(lambda c: c.functional and c.class_loss)
FUNCTIONS = _CLASS_INDEX | {"one_hot"}
MODULES = {CONTRACTS[name].module: name for name in sorted(_CLASS_INDEX)} | {"NLLLoss2d": "nll_loss"}
HISTORY_CELLS = 5  # cells looked at before the failing one
MAX_CHARS = 20_000  # a longer cell or function is not parsed (a first parse costs ~2 ms per 1000 chars)
MAX_CALLS = 300  # calls kept per text


@dataclass(frozen=True)
class LossLine:
    """One class-index loss call in the user's code, as text."""

    lineno: int  # in the text it was found in
    loss: str  # "cross_entropy", "nll_loss", "one_hot"
    label: str  # how the user called it: "CrossEntropyLoss", "F.cross_entropy"
    callee: str  # as written: "criterion", "F.cross_entropy", "nn.CrossEntropyLoss()"
    call: str  # the whole call as written
    statement: str  # the statement holding it
    args: tuple[tuple[str, str], ...]  # (parameter, expression), as bound to the loss's parameters
    assigned: tuple[str, ...]  # names the statement assigns: ("loss",)
    constructor: str | None = None  # the loss module's constructor call, when found in the same code

    def arg(self, param: str) -> str | None:
        return next((expr for name, expr in self.args if name == param), None)


@dataclass(frozen=True)
class _Raw:
    lineno: int
    callee: str
    last: str  # last name of the callee, or of the constructor for ``nn.X(...)(...)``
    inline: bool  # ``nn.CrossEntropyLoss(...)(out, y)``
    call: str
    statement: str
    positional: tuple[str, ...]
    keywords: tuple[tuple[str, str], ...]
    assigned: tuple[str, ...]


class _Segments:
    """Source segments of AST nodes in one text: lines split once (``ast.get_source_segment`` splits the
    whole text again on every call, quadratic on a long cell)."""

    def __init__(self, text: str):
        self.text = text
        self.ascii = text.isascii()
        self.lines = re.findall(r"[^\r\n]*(?:\r\n|\r|\n|$)", text)  # as the parser counts lines
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line))

    def _offset(self, lineno: int, col: int) -> int:
        if self.ascii:
            return self.starts[lineno - 1] + col
        return self.starts[lineno - 1] + len(self.lines[lineno - 1].encode("utf-8")[:col].decode("utf-8", "replace"))

    def __call__(self, node) -> str:
        try:
            return self.text[self._offset(node.lineno, node.col_offset):self._offset(node.end_lineno, node.end_col_offset)]
        except (AttributeError, IndexError, TypeError):
            return ""


@functools.lru_cache(maxsize=64)
def _parse(text: str) -> tuple[tuple[_Raw, ...], tuple[tuple[str, str], ...]]:
    """(calls that may be losses, ``name = SomeLoss(...)`` constructor assignments) of one text."""
    if len(text) > MAX_CHARS:
        return (), ()
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return (), ()
    segment = _Segments(text)
    calls, built = [], []
    for stmt in ast.walk(tree):
        if not isinstance(stmt, ast.stmt) or isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                              ast.ClassDef, ast.If, ast.For, ast.While,
                                                              ast.With, ast.Try, ast.AsyncFor, ast.AsyncWith)):
            continue
        if (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.value, ast.Call)
                and _last(stmt.value.func) in MODULES):
            built.append((segment(stmt.targets[0]), segment(stmt.value)))
        statement = assigned = None
        for node in ast.walk(stmt):
            if not isinstance(node, ast.Call) or len(calls) >= MAX_CALLS or not node.args:
                continue
            inline = isinstance(node.func, ast.Call) and _last(node.func.func) in MODULES
            last = _last(node.func.func) if inline else _last(node.func)
            if not (inline or last in FUNCTIONS or (isinstance(node.func, (ast.Name, ast.Attribute))
                                                    and len(node.args) + len(node.keywords) >= 2)):
                continue  # a loss module takes (input, target): one argument is a model or a print
            if statement is None:
                statement = segment(stmt)
                assigned = tuple(segment(t) for t in _targets(stmt))
            calls.append(_Raw(
                lineno=node.lineno, callee=segment(node.func), last=last, inline=inline, call=segment(node),
                statement=statement, positional=tuple(segment(a) for a in node.args if not isinstance(a, ast.Starred)),
                keywords=tuple((k.arg, segment(k.value)) for k in node.keywords if k.arg), assigned=assigned))
    calls.sort(key=lambda c: c.lineno)
    return tuple(calls), tuple(built)


def _targets(stmt) -> list:
    if isinstance(stmt, ast.Assign):
        out = []
        for target in stmt.targets:
            out.extend(target.elts if isinstance(target, ast.Tuple) else [target])
        return out
    if isinstance(stmt, (ast.AugAssign, ast.AnnAssign)):
        return [stmt.target]
    return []


def _last(func) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


def constructors(texts: list[str]) -> dict[str, str]:
    """``{"criterion": "nn.CrossEntropyLoss(ignore_index=255)"}`` from assignments in ``texts`` (last wins)."""
    found: dict[str, str] = {}
    for text in reversed(texts):
        for name, call in _parse(text)[1]:
            found[name] = call
    return found


def loss_lines(text: str, lookup, built: dict[str, str] | None = None, *, upto: int | None = None) -> list[LossLine]:
    """The class-index loss calls in ``text`` (up to line ``upto``), in source order.

    ``lookup(name)`` gives the object a plain name is bound to where the code ran (a dictionary read, no
    code run), to tell ``criterion(out, y)`` with ``criterion = nn.CrossEntropyLoss()`` from a model call;
    ``built`` maps names to loss-module constructors found in the source, for names no longer bound.
    """
    calls, local_built = _parse(text)
    built = {**(built or {}), **dict(local_built)}
    found = []
    for raw in calls:
        if upto is not None and raw.lineno > upto:
            break
        kind = _kind(raw, lookup, built)
        if kind is None:
            continue
        loss, label, params, constructor = kind
        bound = list(zip(params, raw.positional)) + [kw for kw in raw.keywords]
        found.append(LossLine(lineno=raw.lineno, loss=loss, label=label, callee=raw.callee, call=raw.call,
                              statement=raw.statement, args=tuple(bound), assigned=raw.assigned,
                              constructor=constructor))
    return found


def _kind(raw: _Raw, lookup, built: dict[str, str]):
    """(loss, label, parameter names, constructor) when ``raw`` is a class-index loss call, else None."""
    if raw.inline:
        name = MODULES[raw.last]
        return name, raw.last, _module_params(raw.last), raw.callee
    if raw.last in FUNCTIONS and re.fullmatch(r"[A-Za-z_][\w.]*", raw.callee):
        label = "F.one_hot" if raw.last == "one_hot" else f"F.{raw.last}"
        return raw.last, label, _functional_params(raw.last), None
    if not re.fullmatch(r"[A-Za-z_][\w.]*", raw.callee) or raw.last in FUNCTIONS:
        return None
    module = _module_class(raw.callee, lookup)
    constructor = built.get(raw.callee)
    if module is None and constructor:
        try:
            module = _last(ast.parse(constructor, mode="eval").body.func)
        except (SyntaxError, AttributeError):
            module = None
    if module not in MODULES:
        return None
    return MODULES[module], module, _module_params(module), constructor


def _module_class(callee: str, lookup) -> str | None:
    """The class name of the torch loss module ``callee`` is bound to (looked up, attributes read statically)."""
    parts = callee.split(".")
    try:
        value = lookup(parts[0])
        for part in parts[1:]:
            value = inspect.getattr_static(value, part)
    except Exception:
        return None
    for klass in type(value).__mro__:
        if klass.__name__ in MODULES and klass.__module__.startswith("torch.nn"):
            return klass.__name__
    return None


@functools.lru_cache(maxsize=16)
def _functional_params(name: str) -> tuple[str, ...]:
    from torch.nn import functional

    from .source import positional_params

    found = tuple(positional_params(getattr(functional, name, None)))
    return found or (("tensor", "num_classes") if name == "one_hot" else ("input", "target"))


@functools.lru_cache(maxsize=16)
def _module_params(name: str) -> tuple[str, ...]:
    from torch import nn

    from .source import positional_params

    klass = getattr(nn, name, None)
    found = tuple(positional_params(klass.forward)) if klass is not None else ()
    return found or ("input", "target")


def history(shell, current: int | None, cells: int = HISTORY_CELLS) -> list[tuple[int, str]]:
    """``(number, source)`` of the cells run before cell ``current``, newest first (raw input; magic lines
    blanked, a ``%%`` cell magic's first line dropped so the body's line numbers stay)."""
    raw = getattr(getattr(shell, "history_manager", None), "input_hist_raw", None)
    if not isinstance(raw, list) or not isinstance(current, int):
        return []
    out = []
    for number in range(min(current, len(raw)) - 1, max(0, current - 1 - cells), -1):
        text = raw[number] if isinstance(raw[number], str) else ""
        out.append((number, _python_only(text)))
    return out


@functools.lru_cache(maxsize=64)
def _python_only(text: str) -> str:
    lines = text.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):
        lines[0] = ""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in lines)
