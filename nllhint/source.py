"""The user's own call, read from source text (parsed, never executed).

Finds the exact call node of a traceback entry with ``executing`` (multi-line calls included), maps its
argument expressions onto the loss's parameter names, and rewrites the statement with some of them
replaced, so a fix reads as the user's own line corrected.
"""

from __future__ import annotations

import ast
import inspect
import re
from dataclasses import dataclass, field

_SIMPLE = (ast.Name, ast.Attribute, ast.Call, ast.Subscript, ast.Constant)


@dataclass
class UserCall:
    """A call in the user's code: where it is, what it says, and its arguments by parameter name."""

    filename: str
    lineno: int
    statement: str  # the whole statement, possibly several lines, dedented
    callee: str  # the callee as written: "criterion", "F.cross_entropy", "nn.NLLLoss()"
    args: dict[str, str] = field(default_factory=dict)  # parameter name -> expression text
    simple: dict[str, bool] = field(default_factory=dict)  # may a method be appended without parentheses
    _spans: dict[str, tuple[int, int]] = field(default_factory=dict, repr=False)  # offsets in statement
    _callee_span: tuple[int, int] | None = field(default=None, repr=False)
    _close_paren: int | None = field(default=None, repr=False)  # offset of the call's closing ")"
    inside: bool = False  # a call into a library that computes the loss itself (HF ``labels=``)

    def keep(self, renames: dict[str, str]) -> None:
        """Keep only the arguments in ``renames``, under their new names (library parameter -> loss parameter)."""
        self.args = {renames[k]: v for k, v in self.args.items() if k in renames}
        self.simple = {renames[k]: v for k, v in self.simple.items() if k in renames}
        self._spans = {renames[k]: v for k, v in self._spans.items() if k in renames}

    def rewrite(self, replacements: dict[str, str] | None = None, callee: str | None = None,
                add: dict[str, str] | None = None) -> str:
        """The statement with named arguments (and maybe the callee) replaced, and keywords added."""
        edits = [(self._spans[name], text) for name, text in (replacements or {}).items() if name in self._spans]
        if callee is not None and self._callee_span is not None:
            edits.append((self._callee_span, callee))
        if add and self._close_paren is not None:
            sep = ", " if (self.args or self.statement[: self._close_paren].rstrip()[-1:] not in "(") else ""
            extra = ", ".join(f"{k}={v}" for k, v in add.items())
            edits.append(((self._close_paren, self._close_paren), sep + extra))
        text = self.statement
        for (start, end), new in sorted(edits, key=lambda e: e[0][0], reverse=True):
            text = text[:start] + new + text[end:]
        return text


def find_call(tb) -> tuple[ast.Call | None, object]:
    """The call node executing in traceback entry ``tb`` and executing's Source, or ``(None, None)``."""
    try:
        import executing

        ex = executing.Source.executing(tb)
        node = ex.node
        source = ex.source
    except Exception:
        return None, None
    while node is not None and not isinstance(node, ast.Call):
        node = getattr(node, "parent", None)
        if isinstance(node, ast.stmt):
            return None, None
    return node, source


def callee_name(node: ast.Call) -> str:
    """The last name of the callee: ``F.cross_entropy`` -> ``cross_entropy``, ``criterion`` -> ``criterion``."""
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


def user_call(node: ast.Call, source, filename: str, params: list[str]) -> UserCall | None:
    """Describe ``node``; ``params`` are the parameter names its positional arguments bind to."""
    text = getattr(source, "text", None)
    if not text:
        return None
    stmt = node
    while stmt is not None and not isinstance(stmt, ast.stmt):
        stmt = getattr(stmt, "parent", None)
    stmt = stmt or node
    lines = text.splitlines(keepends=True)
    try:
        start = _offset(lines, stmt.lineno, stmt.col_offset)
        end = _offset(lines, stmt.end_lineno, stmt.end_col_offset)
    except (IndexError, TypeError):
        return None
    statement = text[start:end]
    call = UserCall(
        filename=filename,
        lineno=node.lineno,
        statement=statement,
        callee=_segment(text, lines, node.func, start)[0],
        _callee_span=_segment(text, lines, node.func, start)[1],
    )
    call_end = _offset(lines, node.end_lineno, node.end_col_offset) - start
    if statement[call_end - 1 : call_end] == ")":
        call._close_paren = call_end - 1
    bound: dict[str, ast.expr] = {}
    for name, arg in zip(params, node.args):
        if isinstance(arg, ast.Starred):
            break
        bound[name] = arg
    for kw in node.keywords:
        if kw.arg is not None:
            bound[kw.arg] = kw.value
    for name, arg in bound.items():
        seg, span = _segment(text, lines, arg, start)
        call.args[name] = seg
        call._spans[name] = span
        call.simple[name] = isinstance(arg, _SIMPLE)
    return call


def positional_params(func) -> list[str]:
    """Parameter names a call's positional arguments bind to (``self`` dropped)."""
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return []
    return [p.name for p in sig.parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name != "self"]


def _offset(lines: list[str], lineno: int, col: int) -> int:
    """Character offset in the joined text of (1-based line, UTF-8 byte column)."""
    before = sum(len(line) for line in lines[: lineno - 1])
    return before + len(lines[lineno - 1].encode("utf-8")[:col].decode("utf-8", "replace"))


def _segment(text: str, lines: list[str], node: ast.AST, base: int) -> tuple[str, tuple[int, int]]:
    s = _offset(lines, node.lineno, node.col_offset)
    e = _offset(lines, node.end_lineno, node.end_col_offset)
    return text[s:e], (s - base, e - base)


def method(expr: str, simple: bool, suffix: str) -> str:
    """``expr`` with ``suffix`` (``.long()``) appended, parenthesised when it is an operator expression."""
    return f"{expr}{suffix}" if simple else f"({expr}){suffix}"


def strip_call(expr: str, method_name: str) -> str | None:
    """``outputs.argmax(dim=1)`` -> ``outputs`` when the expression ends in that method call."""
    m = re.fullmatch(rf"(.+?)\.{method_name}\([^()]*\)", expr.strip(), re.S)
    return m.group(1) if m else None
