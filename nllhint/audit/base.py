"""What an audit is, and the data it looks at: one watched loss call.

An audit is a small declarative unit (code, catalog category, severity, the losses it applies to, a
pure ``check(call) -> Hint | None`` and runnable examples), in the spirit of the exception rules in
``nllhint.rules``. It looks for the *silent* mistakes: calls that do not raise but compute the wrong
loss. Evidence is asked for lazily, cheapest first:

1. metadata (``call.shape``, ``call.dtype``, the loss options) — free;
2. provenance (``call.origin(name)``: what op produced the tensor, from ``grad_fn``) — no value read;
3. a bounded value summary (``call.facts(name)``, from ``nllhint.probe.describe``) — a few small reads,
   done at most once per tensor per examined call, and never when values are switched off.

Each Hint says how sure it is and why, in words: "its grad_fn says softmax produced `probs`" is certain;
"every row is >= 0 and sums to 1" is "looks like".
"""

from __future__ import annotations

import inspect

import ast
from dataclasses import dataclass, field
from typing import Callable

from ..contracts import CONTRACTS, effective_reduction
from ..finding import Example, Hint
from ..probe import TensorFacts
from ..source import UserCall
from .provenance import NO_ORIGIN, Origin, origin


@dataclass(frozen=True)
class Audit:
    code: str
    category: str
    severity: str
    summary: str
    losses: frozenset[str]
    check: Callable[["LossCall"], Hint | None]
    examples: tuple[Example, ...] = ()
    doc: str = ""


def audit(code: str, category: str, summary: str, *, losses: tuple[str, ...], severity: str = "warning",
          examples: tuple[Example, ...] = ()):
    """Declare an audit: ``@audit("NLH804", "double-softmax", "...", losses=("cross_entropy",))``."""

    def wrap(check: Callable[[LossCall], Hint | None]) -> Audit:
        return Audit(code=code, category=category, severity=severity, summary=summary,
                     losses=frozenset(losses), check=check, examples=examples,
                     doc=inspect.cleandoc(check.__doc__ or ""))

    return wrap


MODULE_LABELS = {c.name: c.module for c in CONTRACTS.values()}  # "cross_entropy" -> "CrossEntropyLoss"


@dataclass
class LossCall:
    """One examined loss call. Holds the tensors only while the audits run (``close()`` drops them)."""

    loss: str  # functional name: "cross_entropy"
    module: str | None = None  # "CrossEntropyLoss" when called through the module
    options: dict = field(default_factory=dict)  # non-tensor arguments, defaults filled in
    user: UserCall | None = None  # the user's call: names and rewrites (see ``call``)
    step: int = 1  # the call's number at its site
    read_values: bool = True
    why_no_values: str = "values not read (values=False)"
    result_finite: bool | None = None  # the loss value: None when not looked at
    result_facts: TensorFacts | None = None
    result_value: float | None = None  # a scalar loss's value, when read
    found: list = field(default_factory=list)  # codes of the audits that already fired on this call
    site_call: Callable | None = field(default=None, repr=False)  # builds ``call`` on first use
    frame_finder: Callable | None = field(default=None, repr=False)  # the user's frame, while the audits run
    _tensors: dict = field(default_factory=dict, repr=False)
    _facts: dict = field(default_factory=dict, repr=False)
    _origins: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        # Legacy size_average/reduce decide the reduction when given: audits read options["reduction"].
        if self.options.get("size_average") is not None or self.options.get("reduce") is not None:
            self.options["reduction"] = effective_reduction(self.options)

    # --- evidence, cheapest first ------------------------------------------------------------------------
    def has(self, name: str) -> bool:
        return self._tensors.get(name) is not None

    def tensor(self, name: str):
        """The tensor itself, for metadata and for the few audits that need a special bounded read."""
        return self._tensors.get(name)

    def shape(self, name: str) -> tuple[int, ...] | None:
        t = self._tensors.get(name)
        return tuple(int(s) for s in t.shape) if t is not None else None

    def dtype(self, name: str) -> str | None:
        t = self._tensors.get(name)
        return str(t.dtype).removeprefix("torch.") if t is not None else None

    def is_float(self, name: str) -> bool:
        t = self._tensors.get(name)
        return t is not None and t.is_floating_point()

    def origin(self, name: str) -> Origin:
        if name not in self._origins:
            t = self._tensors.get(name)
            self._origins[name] = origin(t) if t is not None else NO_ORIGIN
        return self._origins[name]

    def facts(self, name: str, class_dim: int | None = None) -> TensorFacts | None:
        """``probe.describe`` of a tensor (bounded reads), cached; metadata only when values are off."""
        key = (name, class_dim)
        if key not in self._facts:
            t = self._tensors.get(name)
            if t is None:
                return None
            from .. import probe

            if self.read_values:
                self._facts[key] = probe.describe(t, class_dim=class_dim)
            else:
                try:
                    self._facts[key] = TensorFacts(**probe._metadata(t), why_no_values=self.why_no_values)
                except Exception:
                    self._facts[key] = TensorFacts(shape=(), dtype="?", device="?", why_no_values="unreadable")
        return self._facts[key]

    def values(self, name: str, class_dim: int | None = None) -> TensorFacts | None:
        """Facts with values read, or None (values off, meta tensor, traced tensor...)."""
        facts = self.facts(name, class_dim)
        return facts if facts is not None and facts.values and facts.min is not None else None

    # --- naming ------------------------------------------------------------------------------------------
    @property
    def call(self) -> UserCall | None:
        """The user's call, parsed on first use (only audits that fire need it)."""
        if self.user is None and self.site_call is not None:
            self.user, self.site_call = self.site_call(), None
        return self.user

    @property
    def loss_label(self) -> str:
        if self.module:
            return self.module
        return f"F.{self.loss}"

    @property
    def module_label(self) -> str:
        return MODULE_LABELS.get(self.loss, self.loss)

    def name(self, param: str, default: str | None = None) -> str:
        if self.call and param in self.call.args:
            return " ".join(self.call.args[param].split())
        return default or param

    def code(self, param: str, default: str | None = None) -> str:
        return f"`{self.name(param, default)}`"

    def is_simple(self, param: str) -> bool:
        return self.call.simple.get(param, True) if self.call else True

    def with_method(self, param: str, suffix: str) -> str:
        expr = self.name(param)
        return f"{expr}{suffix}" if self.is_simple(param) else f"({expr}){suffix}"

    def fix(self, replacements: dict[str, str] | None = None, callee: str | None = None,
            add: dict[str, str] | None = None) -> str | None:
        """The user's statement with arguments replaced / keywords added; None when not possible."""
        if self.call is None:
            return None
        if replacements and not all(k in self.call.args for k in replacements):
            return None
        try:
            return self.call.rewrite(replacements, callee, add)
        except Exception:
            return None

    @property
    def functional(self) -> bool:
        """Called as ``F.loss(...)`` (or a name bound to it) rather than through an ``nn.*Loss`` module."""
        return self.module is None

    def set_option(self, option: str, value: str) -> str | None:
        """The user's line with ``option=value`` set, for functional calls; None for module calls."""
        if not self.functional or self.call is None:
            return None
        if option in self.call.args:
            return self.fix({option: value})
        return self.fix(add={option: value})

    def user_frame(self):
        """The user's frame that called the loss, found on the live stack (only while the audits run; an
        audit reads names from it, metadata only, and keeps nothing)."""
        return self.frame_finder() if self.frame_finder is not None else None

    def close(self) -> None:
        self._tensors = {}
        self.frame_finder = None


def unwrap(expr: str, *names: str) -> tuple[str, str | None] | None:
    """``F.softmax(out, dim=1)`` -> ``("out", "dim=1")`` when ``expr`` is a call of one of ``names``.

    Understands ``F.softmax(x, 1)``, ``torch.softmax(x, dim=1)``, ``x.softmax(1)``,
    ``nn.Softmax(dim=1)(x)`` and ``torch.log(F.softmax(x, 1))`` (as ``log(softmax)``). The second item is
    the dim argument's text when given.
    """
    try:
        node = ast.parse(expr.strip(), mode="eval").body
    except SyntaxError:
        return None
    text = expr.strip()
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    fname = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
    if fname is None and isinstance(func, ast.Call):  # nn.Softmax(dim=1)(x)
        inner = func.func
        cls = inner.attr if isinstance(inner, ast.Attribute) else getattr(inner, "id", None)
        if cls and cls.lower() in names and node.args:
            return ast.get_source_segment(text, node.args[0]), _dim_text(text, func, 0)
        return None
    if fname not in names:
        return None
    modules = ("F", "torch", "functional", "nn", "special")
    is_method = isinstance(func, ast.Attribute) and not (
        (isinstance(func.value, ast.Name) and func.value.id in modules)
        or (isinstance(func.value, ast.Attribute) and func.value.attr in modules))
    if is_method:
        return ast.get_source_segment(text, func.value), _dim_text(text, node, 0)
    if not node.args:
        return None
    return ast.get_source_segment(text, node.args[0]), _dim_text(text, node, 1)


def _dim_text(text: str, call: ast.Call, position: int) -> str | None:
    for kw in call.keywords:
        if kw.arg == "dim":
            return ast.get_source_segment(text, kw.value)
    if len(call.args) > position:
        return ast.get_source_segment(text, call.args[position])
    return None


def method_on(expr: str, suffix: str) -> str:
    """``expr`` with ``suffix`` (``.log_softmax(dim=1)``) appended, parenthesised when needed."""
    from ..source import _SIMPLE, method

    try:
        simple = isinstance(ast.parse(expr.strip(), mode="eval").body, _SIMPLE)
    except SyntaxError:
        simple = False
    return method(expr, simple, suffix)
