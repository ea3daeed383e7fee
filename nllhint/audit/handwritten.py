"""Hand-written losses: a bounded walk of the graph under a scalar at ``backward()``.

A loss written by hand (``-(torch.log(F.softmax(x, 1)) * onehot).sum(1).mean()``, a BCE from
``torch.log(p)`` and ``torch.log(1 - p)``) calls no ``torch.nn.functional`` loss, so the watch sees it only
when ``backward()`` runs. The walk looks at ``LogBackward0`` nodes (at most ``MAX_NODES`` nodes, never
inside a watched loss's own node: those calls have their own audits) and asks what the log was taken of:

* ``log(softmax(...))`` -> ``log_softmax`` (NLH830);
* ``log(sigmoid(...))`` (NLH831) / ``log(1 - sigmoid(...))`` (NLH833) -> ``logsigmoid`` /
  ``binary_cross_entropy_with_logits``;
* ``log`` of values that can reach 0 (relu, exp, a product with a mask) with no clamp or eps between,
  and that did reach 0 in this call (read from the log's saved input, bounded) (NLH832).

A loss that never reaches ``backward()`` (``loss = bce_loss(head(x), t)``, then nothing) is walked at
the end of a ``%%losscheck`` cell instead: each one-element floating tensor with a grad_fn that the cell
assigned (names read from the cell's AST, values from the namespace; nothing is run) gets the same walk.

Reads no value except the log's saved input for NLH832; keeps nothing. The user's expression for the log
is found by parsing the source of the ``backward()`` caller's file (a notebook cell) for ``log`` calls,
and, at the end of a cell, the file of the user's own loss function or nn.Module the assignment called.
"""

from __future__ import annotations

import ast
import functools
import linecache
import re
from dataclasses import dataclass

from ..finding import Hint
from .base import Example, audit, unwrap

MAX_NODES = 400
_LOSS_NODE_MARKS = ("Loss", "Entropy", "KlDiv", "Nll")
_THROUGH = frozenset({  # ops that select or move probabilities without making them safe from 0
    "ViewBackward0", "UnsafeViewBackward0", "ReshapeAliasBackward0", "SqueezeBackward0", "SqueezeBackward1",
    "SqueezeBackward2", "UnsqueezeBackward0", "SelectBackward0", "SliceBackward0", "IndexBackward0",
    "GatherBackward0", "TransposeBackward0", "PermuteBackward0", "CloneBackward0", "ToCopyBackward0",
    "ExpandBackward0", "SumBackward1", "SumBackward0", "MulBackward0", "TBackward0", "ContiguousBackward0",
})
_SAFE = ("AddBackward", "ClampBackward", "ClampMinBackward", "MaximumBackward", "ClampMin", "WhereBackward")
_ZERO_MAKERS = frozenset({"ReluBackward0", "ExpBackward0", "MulBackward0", "DivBackward0", "SoftplusBackward0"})


@dataclass(frozen=True)
class LogFound:
    kind: str  # "softmax", "sigmoid", "1-sigmoid", "zero"
    code: str


def walk(tensor, seen_logs: list | None = None) -> list[LogFound]:
    """The unsafe logs under ``tensor`` (one entry per kind), bounded; [] when there is no graph.
    ``seen_logs`` (a list) gets True appended when the graph has any log at all: a graph without one
    need not be walked again at the same line."""
    try:
        start = tensor.grad_fn
    except Exception:
        return []
    if start is None:
        return []
    found: dict[str, LogFound] = {}
    seen = {id(start)}
    frontier = [start]
    count = 0
    while frontier and count < MAX_NODES:
        node = frontier.pop()
        count += 1
        name = type(node).__name__
        if any(mark in name for mark in _LOSS_NODE_MARKS):
            continue  # a watched loss: its call has its own audits
        if name == "LogBackward0":
            if seen_logs is not None and not seen_logs:
                seen_logs.append(True)
            kind = _log_of(node)
            if kind and kind not in found:
                code = {"softmax": "NLH830", "sigmoid": "NLH831", "1-sigmoid": "NLH833"}.get(kind, "NLH832")
                found[kind] = LogFound(kind, code)
        for parent, _ in getattr(node, "next_functions", ()):
            if parent is not None and id(parent) not in seen:
                seen.add(id(parent))
                frontier.append(parent)
    return list(found.values())


def _parents(node):
    return [f for f, _ in node.next_functions if f is not None and type(f).__name__ != "AccumulateGrad"]


def _log_of(log_node) -> str | None:
    """What the log was taken of: softmax, sigmoid, 1-sigmoid, zero (reached 0 unprotected), or None."""
    node = log_node
    for _ in range(6):
        parents = _parents(node)
        if not parents:
            return None
        node = parents[0] if len(parents) == 1 else _squasher(parents)
        if node is None:
            return None
        name = type(node).__name__
        if name == "SoftmaxBackward0":
            return "softmax"
        if name == "SigmoidBackward0":
            return "sigmoid"
        if name in ("RsubBackward1", "RsubBackward0"):
            inner = _parents(node)
            if inner and type(inner[0]).__name__ == "SigmoidBackward0":
                return "1-sigmoid"
            return _reached_zero(log_node)
        if name.startswith(_SAFE):
            return None  # log(p + eps), log(p.clamp(min=...)): protected
        if name in _THROUGH:
            continue
        if name in _ZERO_MAKERS:
            return _reached_zero(log_node)
        return None
    return None


def _squasher(parents):
    """Of two operands (``softmax * onehot``), the one that is a softmax/sigmoid (or moves one)."""
    for p in parents:
        if type(p).__name__ in ("SoftmaxBackward0", "SigmoidBackward0") or type(p).__name__ in _THROUGH:
            return p
    return None


def _reached_zero(log_node) -> str | None:
    """'zero' when the log's saved input holds an exact 0 in a bounded read (log(0) = -inf happened)."""
    try:
        from ..probe import describe

        saved = log_node._saved_self
        facts = describe(saved)
        if facts.values and facts.min is not None and facts.min <= 0:
            return "zero"
    except Exception:
        return None
    return None


# --- naming the user's log call -------------------------------------------------------------------------

_LOG_NAMES = ("log",)


@functools.lru_cache(maxsize=8)
def _tree(text: str):
    """The parsed module of a file's or cell's text, or None when it does not parse. Cached: one finding
    reads the same file several times (its logs, its assignments, the function around them). The trees
    are shared: callers only walk them."""
    try:
        return ast.parse(text)
    except SyntaxError:
        return None


def log_calls(filename: str) -> list[tuple[int, str, str]]:
    """(line, call text, argument text) of every ``torch.log(...)`` / ``x.log()`` in a file or cell."""
    lines = linecache.getlines(filename)
    if not lines or len(lines) > 20_000:
        return []
    text = "".join(lines)
    tree = _tree(text)
    if tree is None:
        return []
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "log":
            modules = isinstance(func.value, ast.Name) and func.value.id in ("torch", "np", "numpy", "math")
            if modules and node.args:
                arg = ast.get_source_segment(text, node.args[0])
            elif not modules and not node.args:
                arg = ast.get_source_segment(text, func.value)
            else:
                continue
            call = ast.get_source_segment(text, node)
            if arg and call:
                out.append((node.lineno, " ".join(call.split()), " ".join(arg.split())))
    return sorted(out)


def _assignments(filename: str) -> list[tuple[int, str, str]]:
    """(line, name, assigned expression text) for ``probs = F.softmax(x, 1)`` lines of the same file."""
    text = "".join(linecache.getlines(filename))
    tree = _tree(text)
    if tree is None:
        return []
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            value = ast.get_source_segment(text, node.value)
            if value:
                out.append((node.lineno, node.targets[0].id, " ".join(value.split())))
    return sorted(out)


def _before(assigned: list, line: int) -> dict[str, str]:
    """The names' latest assignments at or before ``line``; a name assigned only later (a function's
    parameter, bound by the call further down) takes its first later assignment."""
    out = {}
    for lineno, name, value in assigned:
        if lineno <= line or name not in out:
            out[name] = value
    return out


def _matches(kind: str, arg: str, assigned: dict[str, str]) -> str | None:
    """The softmax/sigmoid expression behind ``arg`` (itself or a name assigned from one)."""
    want = {"softmax": ("softmax",), "sigmoid": ("sigmoid",), "1-sigmoid": ("sigmoid",)}.get(kind, ())
    candidates = [arg]
    stripped = arg.replace(" ", "")
    if kind == "1-sigmoid":
        if not stripped.startswith(("1-", "1.-", "1.0-")):
            return None
        candidates = [arg.split("-", 1)[1].strip().strip("()")]
    elif stripped.startswith(("1-", "1.-", "1.0-")):
        return None
    out = []
    for c in candidates:
        out.append(c)
        if c.isidentifier() and c in assigned:
            out.append(assigned[c])
    for c in out:
        if any(w in c for w in want):
            return c
    head = re.match(r"[A-Za-z_]\w*", candidates[0])  # probs[range(n), y], probs.gather(1, y): the name
    if head and head.group(0) in assigned and any(w in assigned[head.group(0)] for w in want):
        return assigned[head.group(0)]
    return None


def hints(found: list[LogFound], filename: str, location_of, line: int | None = None, *,
          under: str = "the tensor passed to backward()", more: tuple = (),
          call: "LossAt | None" = None, own=None, scores: dict | None = None) -> list[tuple[LogFound, Hint]]:
    """One hint per unsafe log kind, naming the user's line and expression when the source shows it.
    Logs after the backward() ``line`` cannot be in its graph; the nearest one before it is preferred.
    ``more``: files of the user's own loss function (an earlier cell), searched after ``filename``;
    ``own``: that function itself: its lines are searched first, and only they in its file;
    ``call``: the user's call of that function, so a fix can be written with the caller's arguments;
    ``scores``: the caller's argument -> (its raw scores' expression, where its sigmoid is), as far as known."""
    places = [(filename, line, None)] + [(f, None, None) for f in more if f != filename]
    span = _span(own)
    if span is not None:
        places = [(span[0], None, span[1:])] + [p for p in places if p[0] != span[0]]
    located = [(item, _locate(item, places)) for item in found]
    target = None
    if {"sigmoid", "1-sigmoid"} <= {item.kind for item in found}:  # a whole BCE: what multiplies log(p)
        target = next((_bce_target(file, where) for item, (where, file) in located
                       if item.kind == "sigmoid" and where), None)
    whole = _gan_fix(own, span, call, scores or {}) if span is not None and call is not None else None
    if whole and not whole[3] <= {item.kind for item in found}:  # each term's sigmoid proven by the graph
        whole = None
    sigmoid = _sigmoid_note(whole[1] if whole else list((call.args if call else {}).values()), scores or {})
    out = []
    for item, (where, file) in located:
        hint = _hint(item, where, file, location_of, under=under, target=target,
                     call=call if item.kind == "sigmoid" else None)
        if item.kind in ("sigmoid", "1-sigmoid") and (whole or sigmoid):
            message = hint.message.split(" Use F.logsigmoid")[0] + " " + _whole(own, whole) if whole else hint.message
            message += f" {sigmoid}" if sigmoid else ""
            hint = Hint(title=hint.title, message=message, fix=whole[0] if whole else hint.fix)
        out.append((item, hint))
    kinds = [item.kind for item, _ in out]
    if whole and "sigmoid" in kinds and "1-sigmoid" in kinds:  # one BCE, one finding naming both logs
        return [_merged(out, located, own, location_of, under, whole, sigmoid)]
    return out


def _whole(own, whole) -> str:
    return (f"`{own.__name__}` is a binary cross-entropy written by hand ({whole[2]}), which "
            "F.binary_cross_entropy_with_logits (or F.logsigmoid) computes from raw scores, stably.")


def _merged(out: list, located: list, own, location_of, under: str, whole: tuple, sigmoid: str | None) -> tuple:
    """The log(sigmoid) and log(1 - sigmoid) halves of one hand-written BCE as one finding (code NLH831)."""
    places = {item.kind: (where, file) for item, (where, file) in located}
    names, lines = [], []
    for kind in ("sigmoid", "1-sigmoid"):
        where, file = places[kind]
        if where:
            names.append(f"`{where[1]}`")
            lines.append(location_of(file, where[0]))
    logs = " and ".join(names) + (f" ({', '.join(dict.fromkeys(lines))})" if lines else "")
    item = next(item for item, _ in out if item.kind == "sigmoid")
    return item, Hint(
        title=f"hand-written BCE in `{own.__name__}` takes log(sigmoid(...)) and log(1 - sigmoid(...))"
              + (f": {logs}" if logs else ""),
        message=(f"The graph under {under} has log(sigmoid(...)) and log(1 - sigmoid(...)) (certain: from "
                 "grad_fn). For large scores the sigmoid rounds to exactly 0 or 1 and the log gives -inf, then "
                 f"NaN. {_whole(own, whole)}" + (f" {sigmoid}" if sigmoid else "")),
        fix=whole[0])


def _sigmoid_note(args: list[str], scores: dict) -> str | None:
    """The sentence saying where the sigmoid before the log is (the end of the user's model)."""
    places = list(dict.fromkeys(scores[a][1] for a in args if a in scores and scores[a][1]))
    if len(places) != 1:
        return None
    return (f"The sigmoid is {places[0]}: remove it so the model returns raw scores (logits), and give "
            "those to the with-logits loss (every loss on that output then takes logits).")


def _locate(item: LogFound, places: list) -> tuple:
    """(line, call, argument, softmax/sigmoid expression) of the user's log for ``item``, and its file.
    A log whose argument shows the softmax/sigmoid wins in any place; else the one unprotected log of the
    right form in the first place that has exactly one."""
    searched = []
    for filename, line, span in places:
        calls = log_calls(filename)
        if line is not None:
            calls = sorted((c for c in calls if c[0] <= line), key=lambda c: -c[0])
        if span is not None:
            calls = [c for c in calls if span[0] <= c[0] <= span[1]]
        assigned = _assignments(filename) if calls else []
        for lineno, call, arg in calls:
            inner = _matches(item.kind, arg, _before(assigned, lineno))
            if inner is not None or (item.kind == "zero" and "eps" not in arg and "clamp" not in arg):
                return (lineno, call, arg, inner), filename
        searched.append((filename, calls))
    for filename, calls in searched:
        # the graph proves it; name the one unprotected log of the right form, if one
        plain = [(lineno, call, arg, None) for lineno, call, arg in calls
                 if not any(m in arg for m in ("eps", "clamp", "+", "1e-"))
                 and (arg.replace(" ", "").startswith(("1-", "(1-")) == (item.kind == "1-sigmoid"))]
        if len(plain) == 1:
            return plain[0], filename
    return None, places[0][0]


_SIMPLE = re.compile(r"[A-Za-z_][\w.]*(?:\[[^\[\]()]+\])?")


def _gan_fix(own, span, call: "LossAt", scores: dict) -> tuple[str, list[str], str, set] | None:
    """A function returning ``-(mean(log(a)) + mean(log(1 - b)))`` (a GAN's discriminator or generator loss)
    is binary cross-entropies against 1s and 0s: (the caller's assignment rewritten on raw scores, the
    caller's arguments that must become raw scores, what each term is, the log kinds it needs), or None. An argument assigned ``torch.sigmoid(z)``
    becomes ``z``; one out of a model ending in a sigmoid needs that sigmoid removed (a comment says so).
    Plain names give one F.binary_cross_entropy_with_logits per term; other expressions, which that form
    would evaluate twice, give the same value as -F.logsigmoid(...).mean()."""
    node = _def_node(span[0], own.__code__.co_firstlineno)
    returns = [n for n in ast.walk(node) if isinstance(n, ast.Return) and n.value is not None] if node else []
    if len(returns) != 1:
        return None
    value = returns[0].value
    if isinstance(value, ast.Name):  # loss = ...; return loss
        assigned = [n.value for n in ast.walk(node) if isinstance(n, ast.Assign) and len(n.targets) == 1
                    and isinstance(n.targets[0], ast.Name) and n.targets[0].id == value.id]
        if len(assigned) != 1:
            return None
        value = assigned[0]
    params = {a.arg for a in node.args.args + node.args.kwonlyargs}
    parts, terms = [], []
    for sign, term in _signed_terms(value, 1):
        found = _mean_log(term)
        if sign != -1 or found is None or found[0] not in params or found[0] not in call.args:
            return None
        arg = call.args[found[0]]
        parts.append((arg, scores.get(arg, (None, None))[0] or arg, found[1]))
        terms.append(f"-mean(log({'1 - ' if found[1] == 'zeros' else ''}{found[0]})) is BCE against "
                     f"{'0s' if found[1] == 'zeros' else '1s'}")
    if not parts:
        return None
    if all(_SIMPLE.fullmatch(raw) for _, raw, _ in parts):
        line = " + ".join(f"F.binary_cross_entropy_with_logits({z}, torch.{t}_like({z}))" for _, z, t in parts)
    elif len({a for a, _, _ in parts}) == len(parts):  # each argument once: nothing evaluated twice
        line = "-" + " - ".join(f"F.logsigmoid({'-' if t == 'zeros' else ''}{_paren(z)}).mean()" for _, z, t in parts)
    else:
        return None
    line = f"{call.name} = {line}"
    rest = list(dict.fromkeys(a for a, raw, _ in parts if raw == a))
    if rest:
        wheres = list(dict.fromkeys(scores[a][1] for a in rest if a in scores and scores[a][1]))
        after = f"after removing {wheres[0]}" if len(wheres) == 1 else "with the sigmoid before them removed"
        line += f"   # {after}: {', '.join(rest)} {'are' if len(rest) > 1 else 'is'} then raw scores"
    return line, rest, "; ".join(terms), {"1-sigmoid" if t == "zeros" else "sigmoid" for _, _, t in parts}


def _paren(expr: str) -> str:
    try:
        node = ast.parse(expr, mode="eval").body
    except SyntaxError:
        return f"({expr})"
    return expr if isinstance(node, (ast.Name, ast.Attribute, ast.Subscript, ast.Call)) else f"({expr})"


def _signed_terms(node, sign: int) -> list:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return _signed_terms(node.operand, -sign)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
        return _signed_terms(node.left, sign) + _signed_terms(node.right, sign if isinstance(node.op, ast.Add) else -sign)
    return [(sign, node)]


def _mean_log(node) -> tuple[str, str] | None:
    """``torch.mean(torch.log(p))`` / ``torch.log(p).mean()`` -> (p, "ones"); of ``1 - p`` -> (p, "zeros")."""
    if not isinstance(node, ast.Call) or node.keywords or not isinstance(node.func, ast.Attribute):
        return None
    if node.func.attr != "mean":
        return None
    if _is_module(node.func.value, "torch") and len(node.args) == 1:
        inner = node.args[0]
    elif not node.args:
        inner = node.func.value
    else:
        return None
    if not (isinstance(inner, ast.Call) and isinstance(inner.func, ast.Attribute) and inner.func.attr == "log"
            and not inner.keywords):
        return None
    if _is_module(inner.func.value, "torch") and len(inner.args) == 1:
        arg = inner.args[0]
    elif not inner.args and not _is_module(inner.func.value, "torch"):
        arg = inner.func.value
    else:
        return None
    if isinstance(arg, ast.Name):
        return arg.id, "ones"
    if (isinstance(arg, ast.BinOp) and isinstance(arg.op, ast.Sub) and isinstance(arg.left, ast.Constant)
            and arg.left.value == 1 and isinstance(arg.right, ast.Name)):
        return arg.right.id, "zeros"
    return None


def _is_module(node, name: str) -> bool:
    return isinstance(node, ast.Name) and node.id == name


def _span(func) -> tuple[str, int, int] | None:
    """(file, first line, last line) of the user's function's def, read from its file's source."""
    code = getattr(func, "__code__", None)
    if code is None:
        return None
    node = _def_node(code.co_filename, code.co_firstlineno)
    return (code.co_filename, node.lineno, node.end_lineno) if node is not None else None


def _def_node(filename: str, firstlineno: int):
    tree = _parse(filename)
    if tree is None:
        return None
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            if first == firstlineno:
                return node
    return None


def _bce_target(filename: str, where) -> str | None:
    """In ``y * torch.log(p) + (1 - y) * torch.log(1 - p)``, the ``y`` multiplying the log of ``where``."""
    text = "".join(linecache.getlines(filename))
    tree = _tree(text)
    if tree is None:
        return None
    for node in ast.walk(tree):
        if not (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult)):
            continue
        for log, other in ((node.left, node.right), (node.right, node.left)):
            if (isinstance(log, ast.Call) and log.lineno == where[0]
                    and " ".join((ast.get_source_segment(text, log) or "").split()) == where[1]):
                found = ast.get_source_segment(text, other)
                return " ".join(found.split()) if found and isinstance(other, _OPERANDS) else None
    return None


_OPERANDS = (ast.Name, ast.Attribute, ast.Subscript, ast.Call)


def _hint(item: LogFound, where, filename: str, location_of, *, under: str = "the tensor passed to backward()",
          target: str | None = None, call: "LossAt | None" = None) -> Hint:
    line = f" ({location_of(filename, where[0])})" if where else ""
    expr = f"`{where[1]}`" if where else "a torch.log"
    inner = where[3] if where else None
    if item.kind == "softmax":
        better = None
        if inner:
            found = unwrap(inner, "softmax")
            if found:
                better = f"F.log_softmax({found[0]}, dim={found[1] or 1})"
        return Hint(
            title=f"hand-written loss takes log of softmax: {expr}{line}",
            message=(f"The graph under {under} has log directly over a softmax "
                     f"(certain: from grad_fn). A probability that underflows to 0 gives log(0) = -inf and "
                     f"an inf/NaN loss; log_softmax computes the same values stably (or use "
                     f"F.cross_entropy on the logits, which does both)."),
            fix=(f"replace {expr} with `{better}`" if better else
                 f"make log-probabilities where the softmax is (F.softmax -> F.log_softmax, nn.Softmax -> "
                 f"nn.LogSoftmax) and drop the torch.log: use `{where[2]}` of those" if where else
                 "replace torch.log(F.softmax(x, dim)) with F.log_softmax(x, dim)"),
        )
    if item.kind in ("sigmoid", "1-sigmoid"):
        what = "log(1 - sigmoid(...))" if item.kind == "1-sigmoid" else "log(sigmoid(...))"
        z = None
        if inner:
            found = unwrap(inner, "sigmoid")
            z = found[0] if found else None
        better = (f"F.logsigmoid(-{z})" if item.kind == "1-sigmoid" else f"F.logsigmoid({z})") if z else None
        return Hint(
            title=f"hand-written loss takes {what}: {expr}{line}",
            message=(f"The graph under {under} has {what} (certain: from "
                     f"grad_fn). For large scores the sigmoid rounds to exactly 0 or 1 and the log gives "
                     f"-inf, then NaN. Use F.logsigmoid, or let F.binary_cross_entropy_with_logits compute "
                     f"the whole binary cross-entropy from the raw scores."),
            fix=(_bce_fix(z, target, call) if item.kind == "sigmoid" else None) or (
                f"replace {expr} with `{better}` (or use F.binary_cross_entropy_with_logits({z}, {target or 'target'}))"
                if better else "use F.binary_cross_entropy_with_logits(logits, target) on the raw scores"),
        )
    return Hint(
        title=f"hand-written loss takes log of a value that reached 0: {expr}{line}",
        message=(f"The graph under {under} has a log whose input held an exact 0 "
                 "in this call (certain: read from the log's saved input), with no clamp or eps before "
                 "it: log(0) = -inf makes the loss inf and the gradients NaN."),
        fix=(f"clamp before the log: `torch.log({where[2]}.clamp_min(1e-8))`" if where else
             "clamp the log's input (x.clamp_min(1e-8)), or compute it in log space"),
    )


def _bce_fix(z: str | None, target: str | None, call: "LossAt | None") -> str | None:
    """The whole hand-written BCE as one call on the raw scores, in the caller's names when the scores
    and the target are parameters of the user's loss function."""
    if not (z and target):
        return None
    if call is not None and z in call.args and target in call.args:
        return f"{call.name} = F.binary_cross_entropy_with_logits({call.args[z]}, {call.args[target]})"
    return f"F.binary_cross_entropy_with_logits({z}, {target})   # in place of the hand-written BCE"


# --- at the end of a cell: hand-written losses that never reached backward() ----------------------------

MAX_NAMES = 16  # tensors the cell assigned that are walked, at most


@dataclass(frozen=True)
class LossAt:
    """The user's call of their own loss function, as text: ``loss = bce_loss(head(x), t)``."""

    name: str  # the name the cell assigned
    args: dict  # the function's parameter name -> the caller's argument text


def cell_assignments(tree: ast.AST) -> list[tuple[str, int, ast.expr]]:
    """(name, line, value) of the last assignment of each name at the cell's top level (loops, ifs and
    withs included; the bodies of functions and classes are not the cell's)."""
    out: dict[str, tuple[str, int, ast.expr]] = {}
    todo = list(getattr(tree, "body", []))
    while todo:
        node = todo.pop(0)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        if isinstance(node, ast.Assign):
            for target in node.targets:
                for name in (target.elts if isinstance(target, ast.Tuple) else [target]):
                    if isinstance(name, ast.Name):
                        out[name.id] = (name.id, node.lineno, node.value)
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)) and isinstance(node.target, ast.Name) and node.value:
            out[node.target.id] = (node.target.id, node.lineno, node.value)
        todo.extend(child for child in ast.iter_child_nodes(node) if isinstance(child, ast.stmt))
    return list(out.values())


def own_function(value: ast.expr, namespace: dict):
    """The user's function that ``value`` calls: ``bce_loss(...)``, ``BCELossManual()(...)``,
    ``criterion(...)`` with ``criterion`` an instance of the user's nn.Module (its forward), or the same
    through one attribute (``self.loss_fn(...)``, ``losses.d_loss(...)``); else None. Names and attributes
    are read statically from the namespace: nothing is called, no property or __getattr__ runs."""
    import inspect
    import types

    if not isinstance(value, ast.Call):
        return None
    func, is_class_call = value.func, False
    if isinstance(func, ast.Call):
        func, is_class_call = func.func, True
    if isinstance(func, ast.Name):
        obj = namespace.get(func.id)
    elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        obj = _static_attr(namespace.get(func.value.id), func.attr)
    else:
        return None
    if is_class_call:
        obj = inspect.getattr_static(obj, "forward", None) if issubclass(type(obj), type) else None
    elif type(obj) is types.MethodType:
        obj = obj.__func__
    elif type(obj) is not types.FunctionType:
        obj = None if issubclass(type(obj), type) else inspect.getattr_static(type(obj), "forward", None)
    if type(obj) is not types.FunctionType:
        return None
    if str(obj.__module__).startswith(("torch", "nllhint")):
        return None
    return obj


def _static_attr(base, name: str):
    """``base.name`` without running the user's code: the instance or class dictionaries, or an
    nn.Module's registered submodule."""
    import inspect

    if base is None:
        return None
    found = inspect.getattr_static(base, name, None)
    if found is None:
        modules = inspect.getattr_static(base, "_modules", None)
        found = modules.get(name) if isinstance(modules, dict) else None
    return found


def _caller(name: str, value: ast.Call, func, text: str) -> LossAt | None:
    """The caller's argument texts by the function's parameter names."""
    import inspect

    try:
        params = [p.name for p in inspect.signature(func).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        return None
    if params[:1] == ["self"]:
        params = params[1:]
    args = {}
    for param, arg in zip(params, value.args):
        if isinstance(arg, ast.Starred):
            break
        args[param] = ast.get_source_segment(text, arg)
    for kw in value.keywords:
        if kw.arg:
            args[kw.arg] = ast.get_source_segment(text, kw.value)
    return LossAt(name, {k: " ".join(v.split()) for k, v in args.items() if v})


def at_cell_end(tree: ast.AST, filename: str, namespace: dict, location_of, skip=frozenset()) -> list[tuple]:
    """The hand-written losses a cell computed without calling backward(): for each name the cell assigned
    that holds a one-element floating tensor with a grad_fn, the same bounded walk as at backward().
    Returns (line, the assigned expression, LogFound, Hint) per finding; codes in ``skip`` (found by a
    backward() walk already) are left out. Reads no value but the walk's; keeps no tensor."""
    import sys

    torch = sys.modules.get("torch")
    if torch is None:
        return []
    text = "".join(linecache.getlines(filename))
    out, walked, codes = [], set(), set(skip)
    if "NLH831" in codes:  # at backward(), one finding may stand for both halves of a BCE
        codes.add("NLH833")
    # a tensor subclass's __torch_function__ is user code: it must not run for grad_fn/numel/dtype reads
    with torch.no_grad(), torch._C.DisableTorchFunctionSubclass():
        for name, line, value in cell_assignments(tree)[-MAX_NAMES:]:
            tensor = namespace.get(name)
            if not isinstance(tensor, torch.Tensor) or tensor.grad_fn is None or tensor.numel() != 1:
                continue
            if not tensor.is_floating_point() or id(tensor.grad_fn) in walked:
                continue
            walked.add(id(tensor.grad_fn))
            found = [f for f in walk(tensor) if f.code not in codes]
            del tensor
            if not found:
                continue
            func = own_function(value, namespace)
            more = (func.__code__.co_filename,) if func is not None else ()
            call = _caller(name, value, func, text) if func is not None else None
            scores = _scores(tree, call, line, namespace, text, location_of)
            for item, hint in hints(found, filename, location_of, line, under=f"`{name}` (no backward() ran)",
                                    more=more, call=call, own=func, scores=scores):
                codes.add(item.code)
                out.append((line, " ".join((ast.get_source_segment(text, value) or name).split()), item, hint))
    return out


# --- at backward(): the user's function that made the tensor ----------------------------------------------

def at_backward(found: list[LogFound], frame, location_of) -> list[tuple[LogFound, Hint]]:
    """``hints`` for a walk at ``backward()``: the receiver's assignment before that line (``D_loss =
    d_loss_fn(D_real, D_fake)``, read from the code, nothing run) gives the user's loss function, searched
    first for the log, and the caller's arguments for the fix; their own assignments say where the
    sigmoid is (``D_real = D(X)`` with D ending in nn.Sigmoid)."""
    filename, line = frame.f_code.co_filename, frame.f_lineno
    own = call = None
    scores: dict = {}
    try:
        own, call, scores = _origin(frame, filename, line, location_of)
    except Exception:
        own, call, scores = None, None, {}
    more = (own.__code__.co_filename,) if own is not None else ()
    return hints(found, filename, location_of, line, more=more, call=call, own=own, scores=scores)


def _origin(frame, filename: str, line: int, location_of) -> tuple:
    """(own function, LossAt, {argument: (raw scores expression, where the sigmoid is)}) or Nones."""
    from collections import ChainMap

    text = "".join(linecache.getlines(filename))
    if not text or text.count("\n") > 20_000:
        return None, None, {}
    scope = _tree(text)
    if scope is None:
        return None, None, {}
    if frame.f_code.co_name != "<module>":
        scope = _def_node(filename, frame.f_code.co_firstlineno)
        if scope is None:
            return None, None, {}
    receiver = _backward_receiver(scope, line)
    if receiver is None:
        return None, None, {}
    namespace = ChainMap(frame.f_locals, frame.f_globals)
    name, value = None, receiver
    if isinstance(receiver, ast.Name):
        name, value = receiver.id, _assigned(scope, receiver.id, line)
        if value is None and frame.f_code.co_name == "<module>":  # D_loss = d_loss_fn(...) in an earlier cell
            for cell in _earlier_cells(filename):
                tree = _parse(cell)
                value = _assigned(tree, receiver.id, 10 ** 9) if tree is not None else None
                if value is not None:
                    scope, line, text = tree, 10 ** 9, "".join(linecache.getlines(cell))
                    break
    own = own_function(value, namespace) if value is not None else None
    if own is None:
        return None, None, {}
    call = _caller(name, value, own, text) if name else None
    return own, call, _scores(scope, call, line, namespace, text, location_of)


MAX_CELLS = 20  # earlier notebook cells searched for the assignment of the tensor passed to backward()


def _earlier_cells(filename: str) -> list[str]:
    """The file names of the notebook cells run before ``filename``, newest first (at most MAX_CELLS)."""
    import sys

    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    mapping = getattr(getattr(shell, "compile", None), "_filename_map", None)
    numbered = {}
    for name in list(linecache.cache):
        m = re.match(r"<ipython-input-(\d+)-", name)
        number = int(m.group(1)) if m else (mapping.get(name) if isinstance(mapping, dict) else None)
        if isinstance(number, int):
            numbered[name] = number
    current = numbered.get(filename)
    if current is None:
        return []
    return [name for name, n in sorted(numbered.items(), key=lambda kv: -kv[1]) if n < current][:MAX_CELLS]


def _parse(filename: str):
    lines = linecache.getlines(filename)
    if not lines or len(lines) > 20_000:
        return None
    return _tree("".join(lines))


def _scores(scope, call: "LossAt | None", line: int, namespace, text: str, location_of) -> dict:
    """For each argument of the user's call: (raw scores expression, where its sigmoid is), read from the
    argument itself (``D(x)``) or from its assignment before ``line`` (``D_real = D(X)``)."""
    out = {}
    for arg in (call.args.values() if call else ()):
        try:
            made = _assigned(scope, arg, line) if arg.isidentifier() else ast.parse(arg, mode="eval").body
        except SyntaxError:
            continue
        if made is not None:
            out[arg] = _scores_of(made, namespace, arg if not arg.isidentifier() else text, location_of)
    return out


def _backward_receiver(scope, line: int):
    """The tensor expression of ``X.backward()`` / ``torch.autograd.backward(X)`` on ``line``."""
    for node in ast.walk(scope):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "backward" and node.lineno <= line <= (node.end_lineno or node.lineno)):
            continue
        owner = node.func.value
        if isinstance(owner, ast.Attribute) and owner.attr == "autograd" or _is_module(owner, "autograd"):
            return node.args[0] if node.args else None
        return owner
    return None


def _assigned(scope, name: str, line: int):
    """The value of the latest ``name = ...`` at or before ``line`` in ``scope`` (not in nested defs)."""
    best = None
    todo = list(getattr(scope, "body", []))
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and node.lineno <= line:
            made = _value_of(node.targets[0], node.value, name)
            if made is not None and (best is None or node.lineno > best[0]):
                best = (node.lineno, made)
        todo.extend(child for child in ast.iter_child_nodes(node) if isinstance(child, ast.stmt))
    return best[1] if best is not None else None


def _value_of(target, value, name: str):
    """The value ``name`` gets in ``target = value``: ``x = v`` and ``a, x = u, v`` (element-wise)."""
    if isinstance(target, ast.Name):
        return value if target.id == name else None
    if isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple) and len(target.elts) == len(value.elts):
        for t, v in zip(target.elts, value.elts):
            if isinstance(t, ast.Name) and t.id == name:
                return v
    return None


_SIGMOIDS = ("sigmoid",)


def _scores_of(value, namespace, text: str, location_of) -> tuple:
    """(raw scores expression, where the sigmoid is) for an argument assigned ``value``: ``torch.sigmoid(z)``
    gives ``z``; ``D(x)`` with D an nn.Module ending in a sigmoid names that layer. Read statically."""
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and value.func.attr in _SIGMOIDS:
        inner = value.args[0] if value.args else value.func.value
        raw = " ".join((ast.get_source_segment(text, inner) or "").split())
        return (raw if raw and _SIMPLE.fullmatch(raw) else None), None
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name):
        return None, _final_sigmoid(value.func.id, namespace.get(value.func.id), location_of)
    if (isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute)
            and isinstance(value.func.value, ast.Name)):  # self.discriminator(x)
        model = _static_attr(namespace.get(value.func.value.id), value.func.attr)
        return None, _final_sigmoid(f"{value.func.value.id}.{value.func.attr}", model, location_of)
    return None, None


def _final_sigmoid(label: str, module, location_of, depth: int = 0) -> str | None:
    """Where an nn.Module's output goes through a sigmoid last: ``nn.Sigmoid()``, the last entry of a
    Sequential (``D[3]``), or a ``torch.sigmoid(...)`` in the return of its forward. Instance and class
    dictionaries are read directly: no property or __getattr__ of the user's runs."""
    import sys

    torch = sys.modules.get("torch")
    if torch is None or module is None or depth > 2 or not issubclass(type(module), torch.nn.Module):
        return None
    import inspect

    children = inspect.getattr_static(module, "_modules", None)
    children = children if isinstance(children, dict) else {}
    if issubclass(type(module), torch.nn.Sequential):
        if not children:
            return None
        key, last = list(children.items())[-1]
        where = f"{label}[{key}]" if str(key).isdigit() else f"{label}.{key}"
        if issubclass(type(last), torch.nn.Sigmoid):
            return f"`{where}` (nn.Sigmoid(), the last layer of {label})"
        return _final_sigmoid(where, last, location_of, depth + 1)
    forward = inspect.getattr_static(type(module), "forward", None)
    code = forward.__code__ if type(forward) is type(_final_sigmoid) else None
    node = _def_node(code.co_filename, code.co_firstlineno) if code is not None else None
    returns = [n for n in ast.walk(node) if isinstance(n, ast.Return) and n.value is not None] if node else []
    if len(returns) != 1:
        return None
    ret = returns[0].value
    src = "".join(linecache.getlines(code.co_filename))
    if isinstance(ret, ast.Call) and isinstance(ret.func, ast.Attribute):
        if ret.func.attr in _SIGMOIDS:
            expr = " ".join((ast.get_source_segment(src, ret) or "").split())
            return (f"`{expr}` in {type(module).__name__}.forward ({location_of(code.co_filename, ret.lineno)})"
                    if expr else None)
        if _is_module(ret.func.value, "self") and ret.func.attr in children:
            child = children[ret.func.attr]
            if issubclass(type(child), torch.nn.Sigmoid):
                return f"`{label}.{ret.func.attr}` (nn.Sigmoid(), applied last in {type(module).__name__}.forward)"
            return _final_sigmoid(f"{label}.{ret.func.attr}", child, location_of, depth + 1)
    return None


# --- the registry entries (docs, examples): these run at backward(), never on a loss call ----------------

_HEAD = "import torch, torch.nn as nn, torch.nn.functional as F\n"
AT_BACKWARD = ("backward",)  # no loss call has this name: the audit loop never runs these checks


@audit("NLH830", "unstable-log", "hand-written loss takes torch.log of a softmax: use log_softmax",
       losses=AT_BACKWARD,
       examples=(Example(_HEAD + "torch.manual_seed(0)\n"
                         "model = nn.Linear(10, 4)\n"
                         "x, y = torch.randn(16, 10), torch.randint(0, 4, (16,))\n"
                         "onehot = F.one_hot(y, 4).float()\n"
                         "loss = -(torch.log(F.softmax(model(x), dim=1)) * onehot).sum(1).mean()\n"
                         "loss.backward()",
                         expect=("NLH830", "F.log_softmax(model(x), dim=1)")),))
def log_of_softmax_at_backward(call) -> None:
    """Found by walking the graph under the tensor passed to backward() (bounded, first calls at each
    backward() line): a LogBackward node directly over a softmax, maybe through gather/indexing/a product
    with a one-hot mask. A softmax that underflows to 0 makes the loss inf."""
    return None


@audit("NLH831", "unstable-log", "hand-written loss takes torch.log of a sigmoid: use logsigmoid or BCE-with-logits",
       losses=AT_BACKWARD,
       examples=(Example(_HEAD + "torch.manual_seed(0)\n"
                         "head = nn.Linear(10, 1)\n"
                         "x, y = torch.randn(16, 10), torch.randint(0, 2, (16, 1)).float()\n"
                         "p = torch.sigmoid(head(x))\n"
                         "loss = -(y * torch.log(p)).mean()\n"
                         "loss.backward()",
                         expect=("NLH831", "F.logsigmoid(head(x))")),
                 Example(_HEAD + "torch.manual_seed(0)\n"
                         "class BCELossManual(nn.Module):\n"
                         "    def forward(self, logits, target):\n"
                         "        p = torch.sigmoid(logits)\n"
                         "        return -(target * torch.log(p) + (1 - target) * torch.log(1 - p)).mean()\n"
                         "head = nn.Linear(4, 1)\n"
                         "x, y = torch.randn(8, 4) * 30, torch.randint(0, 2, (8, 1)).float()\n"
                         "loss = BCELossManual()(head(x), y)   # nan, and no backward() in the cell",
                         expect=("NLH831", "loss = F.binary_cross_entropy_with_logits(head(x), y)")),
                 Example(_HEAD + "torch.manual_seed(0)\n"
                         "def d_loss_fn(D_real, D_fake):   # a GAN's discriminator loss, by hand\n"
                         "    return -(torch.mean(torch.log(D_real)) + torch.mean(torch.log(1 - D_fake)))\n"
                         "D = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 1), nn.Sigmoid())\n"
                         "D_real, D_fake = D(torch.rand(16, 20)), D(torch.rand(16, 20))\n"
                         "D_loss = d_loss_fn(D_real, D_fake)\n"
                         "D_loss.backward()",
                         expect=("hand-written BCE in `d_loss_fn`", "`D[3]`",
                                 "D_loss = F.binary_cross_entropy_with_logits(D_real, torch.ones_like(D_real))"))))
def log_of_sigmoid_at_backward(call) -> None:
    """log(sigmoid(z)) rounds to log(0) = -inf for very negative z; F.logsigmoid(z) is exact."""
    return None


@audit("NLH833", "unstable-log", "hand-written loss takes torch.log(1 - sigmoid(z)): use logsigmoid(-z)",
       losses=AT_BACKWARD,
       examples=(Example(_HEAD + "torch.manual_seed(0)\n"
                         "head = nn.Linear(10, 1)\n"
                         "x, y = torch.randn(16, 10), torch.randint(0, 2, (16, 1)).float()\n"
                         "p = torch.sigmoid(head(x))\n"
                         "loss = -((1 - y) * torch.log(1 - p)).mean()\n"
                         "loss.backward()",
                         expect=("NLH833", "F.logsigmoid(-head(x))")),))
def log_of_one_minus_sigmoid_at_backward(call) -> None:
    """1 - sigmoid(z) is exactly 0 in float32 once z > ~17, so the log is -inf; logsigmoid(-z) is the same
    value computed stably (binary_cross_entropy_with_logits does both halves of a BCE)."""
    return None


@audit("NLH832", "unstable-log", "hand-written loss takes torch.log of values that reached 0 (no clamp or eps)",
       losses=AT_BACKWARD,
       examples=(Example(_HEAD + "torch.manual_seed(0)\n"
                         "w = torch.randn(16, 4, requires_grad=True)\n"
                         "scores = torch.relu(w)\n"
                         "probs = scores / scores.sum(1, keepdim=True).clamp_min(1e-6)\n"
                         "loss = -torch.log(probs[:, 0]).mean()\n"
                         "loss.backward()",
                         expect=("NLH832", "clamp")),))
def log_of_zero_at_backward(call) -> None:
    """The log's own saved input held an exact 0 in this call (a relu, an exp that underflowed, a product
    with a mask): log(0) = -inf, and its gradient 1/0 poisons the parameters."""
    return None


RULES = [log_of_softmax_at_backward, log_of_sigmoid_at_backward, log_of_one_minus_sigmoid_at_backward,
         log_of_zero_at_backward]
BY_CODE = {a.code: a for a in RULES}
