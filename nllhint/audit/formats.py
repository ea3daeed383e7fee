"""Audits for what the loss's *input* is: probabilities, log-probabilities or raw scores (logits).

Each loss wants one of them: CrossEntropyLoss and BCEWithLogitsLoss raw scores, NLLLoss and KLDivLoss
log-probabilities, BCELoss probabilities. Handing over the wrong one does not raise; it trains badly.
Provenance (the grad_fn of the input) decides when it is there; a value sample otherwise.
"""

from __future__ import annotations

import ast
import math
import re

from ..contracts import UNIT, losses_where
from ..probe import _num
from .base import Example, Hint, LossCall, audit, method_on, unwrap
from .producers import locate, unpacked_logits, unpacked_scores
from .provenance import normalisation, upstream

CLASS_LOSSES = tuple(sorted(losses_where(lambda c: c.log_softmax_classes)))  # cross_entropy, nll_loss
BINARY_LOSSES = tuple(sorted(losses_where(lambda c: c.targets[:1] == (UNIT,))))  # BCELoss, BCEWithLogitsLoss
LINEAR = ("linear", "conv")
SQUASHED = ("softmax", "sigmoid")
LOG_PROBS = ("log_softmax", "logsigmoid", "log(softmax)", "log(sigmoid)")

_HEAD = "import torch, torch.nn as nn, torch.nn.functional as F\n"
_DATA = ("torch.manual_seed(0)\n"
         "model = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 5))\n"
         "x = torch.randn(64, 20)\n"
         "y = torch.randint(0, 5, (64,))\n")


def classes(call: LossCall, name: str = "input") -> int | None:
    shape = call.shape(name)
    if not shape:
        return None
    return shape[1] if len(shape) >= 2 else shape[0]


def probability_rows(call: LossCall, name: str = "input", class_dim: int | None = None):
    """Value evidence that ``name`` holds probability rows, or None. Needs enough numbers to mean it."""
    facts = call.values(name, class_dim)
    shape = call.shape(name) or ()
    if facts is None or len(shape) < 1 or facts.has_nan or facts.has_inf:
        return None
    width = shape[class_dim if class_dim is not None else (1 if len(shape) >= 2 else 0)]
    rows = max(1, math.prod(shape) // max(width, 1))
    if width < 2 or rows * (width - 1) < 4:  # a single short row can sum to 1 by chance
        return None
    if facts.rows_simplex and facts.min >= 0 and facts.max <= 1 and not facts.whole:
        return facts
    return None


_SQUASHERS = frozenset({"SoftmaxBackward0", "SigmoidBackward0"})


def squashed_upstream(call: LossCall, name: str = "input") -> str | None:
    """For a traced tensor whose direct producer is unknown (a mean over tokens, a mask, an attention
    block's output), the softmax/sigmoid found below it in the graph, in words; None when there is none."""
    found = upstream(call.tensor(name), _SQUASHERS)
    if found is None:
        return None
    node, depth = found
    what = "softmax" if node == "SoftmaxBackward0" else "sigmoid"
    return f"its grad_fn shows a {what} {depth} op{'s' if depth != 1 else ''} below `{call.name(name)}`"


def softmax_dim(call: LossCall, name: str = "input") -> str:
    o = call.origin(name)
    return str(o.dim) if o.dim is not None else "1"


_RANDOM = re.compile(r"\b(rand\w*|normal|poisson|bernoulli|multinomial|dropout\w*|randperm)\b")


def _pure(expr: str) -> bool:
    """Whether ``expr`` gives the same values when written again in the loss line (``logits``,
    ``student(x)``), unlike ``torch.randn(...)`` or an assignment expression."""
    try:
        node = ast.parse(expr.strip(), mode="eval").body
    except SyntaxError:
        return False
    if any(isinstance(n, (ast.Lambda, ast.NamedExpr, ast.Await, ast.Yield)) for n in ast.walk(node)):
        return False
    return not _RANDOM.search(expr)


def _assigned_activation(call: LossCall, name: str, activation: str) -> tuple[str, str | None] | None:
    """(argument, dim text) of ``name = F.softmax(arg, dim=d)`` above the call, when ``arg`` is a plain
    name not reassigned before the call."""
    expr = call.name(name)
    if call.call is None or not expr.isidentifier():
        return None
    from .handwritten import _assignments

    lines = _assignments(call.call.filename)
    here = call.call.lineno
    above = [(line, value) for line, target, value in lines if target == expr and line <= here]
    if not above:
        return None
    line, value = above[-1]
    found = unwrap(value, activation)
    if not found or not _pure(found[0]):
        return None
    roots = {n.id for n in ast.walk(ast.parse(found[0].strip(), mode="eval")) if isinstance(n, ast.Name)}
    if any(target in roots and line < at <= here for at, target, _ in lines):
        return None  # the logits were reassigned between the softmax and the loss
    return found


def log_probabilities_of(call: LossCall, name: str, activation: str = "softmax") -> str:
    """An expression of log-probabilities for ``name``, which holds probabilities: log_softmax (or
    logsigmoid) on the scores when the softmax is written in the call, or assigned just above it and
    grad_fn confirms it; otherwise a clamped log of the probabilities themselves. Never log_softmax of
    probabilities (that is not their log), never a dim the tensor does not have."""
    return log_probabilities_in_line(call, name, activation) or call.with_method(name, ".clamp_min(1e-8).log()")


def log_probabilities_in_line(call: LossCall, name: str, activation: str = "softmax") -> str | None:
    """log_softmax (or logsigmoid) on the scores when the softmax is written in the call, or assigned just
    above it and grad_fn confirms it; None otherwise."""
    shape = call.shape(name) or ()
    o = call.origin(name)
    default = str(o.dim) if o.producer == activation and o.dim is not None else ("1" if len(shape) >= 2 else "0")
    found = unwrap(call.name(name), activation)
    if found is None and o.producer == activation and not (o.reshaped or o.reordered):
        assigned = _assigned_activation(call, name, activation)
        if assigned is not None:
            inner, dim = assigned
            if activation == "sigmoid":
                return f"F.logsigmoid({inner})"
            return f"F.log_softmax({inner}, dim={dim or default})"
    if found is not None and activation in ("softmax", "sigmoid"):
        inner, dim = found
        if activation == "sigmoid":
            return f"F.logsigmoid({inner})"
        return method_on(inner, f".log_softmax(dim={dim or default})")
    return None


def squash_in_model(call: LossCall, activation: str) -> str | None:
    """The fix in the user's model for a loss input that ends with ``activation`` there: the sibling the
    model returned beside it (``logits, probs = model(x)``), else the model's line without it."""
    return unpacked_logits(call, activation) or (
        (place := locate(call, activation)) and place.without())


def drop_activation(call: LossCall, name: str, *activations: str) -> str | None:
    """The user's line with ``F.softmax(E, ...)`` replaced by ``E``, when the argument is written so."""
    found = unwrap(call.name(name), *activations)
    return call.fix({name: found[0]}) if found else None


# --- NLLLoss input -----------------------------------------------------------------------------------

@audit("NLH801", "input-not-logprob", "NLLLoss given raw scores (logits) instead of log-probabilities",
       losses=("nll_loss",),
       examples=(Example(_HEAD + _DATA + "criterion = nn.NLLLoss()\n"
                         "loss = criterion(model(x), y)",
                         expect=("NLH801", "loss = criterion(model(x).log_softmax(dim=1), y)")),))
def nll_on_logits(call: LossCall) -> Hint | None:
    """NLLLoss only picks ``-input[i, y[i]]``: it does not normalise. On raw scores the loss is
    unbounded below (it can go negative and keep falling) and the model learns nothing useful."""
    if not call.is_float("input"):
        return None
    o = call.origin("input")
    expr = call.code("input")
    if o.producer in LINEAR:
        why = f"{o.evidence(call.name('input'))}, with no log_softmax after it: these are raw scores"
        sure = "certain"
    elif o.traced:  # a graph whose producer we do not know: stay quiet
        return None
    else:
        facts = call.values("input")
        if facts is None or facts.max <= 1e-3 or probability_rows(call) is not None:
            return None
        why = (f"{expr} has values above 0 (up to {_num(facts.max)}), which log-probabilities never have")
        sure = "certain"
    return Hint(
        title=f"{call.loss_label} got raw scores: {expr} is not log-probabilities",
        message=(f"{why[0].upper() + why[1:]} ({sure}). {call.loss_label} expects log-probabilities "
                 f"(log_softmax output): it only picks the score of the true class, so on raw scores the "
                 f"loss can go below 0 and falls without the model learning. Add log_softmax, or use "
                 f"CrossEntropyLoss on the raw scores."),
        fix=call.fix({"input": call.with_method("input", ".log_softmax(dim=1)")}),
    )


@audit("NLH802", "input-not-logprob", "NLLLoss given probabilities (softmax output), not log-probabilities",
       losses=("nll_loss",),
       examples=(Example(_HEAD + _DATA + "criterion = nn.NLLLoss()\n"
                         "loss = criterion(F.softmax(model(x), dim=1), y)",
                         expect=("NLH802", "loss = criterion(model(x).log_softmax(dim=1), y)")),))
def nll_on_probabilities(call: LossCall) -> Hint | None:
    """NLLLoss on probabilities: the loss is ``-p[y]``, between -1 and 0, with tiny gradients."""
    if not call.is_float("input"):
        return None
    o = call.origin("input")
    expr = call.code("input")
    if o.producer in SQUASHED:
        why = f"{o.evidence(call.name('input'))} (certain)"
        activation = o.producer
    else:
        below = squashed_upstream(call) if o.traced else None
        if (o.traced and below is None) or probability_rows(call) is None:
            return None  # a graph whose producer we do not know, with no softmax below: stay quiet
        why = (f"every row of {expr} is >= 0 and sums to 1 along dim 1, so it looks like softmax output "
               f"(certain that it is not log-probabilities: those are never above 0)")
        if below:
            why += f"; {below}"
        activation = "softmax"
    in_line = log_probabilities_in_line(call, "input", activation)
    if in_line is None and activation == "softmax" and (scores := unpacked_scores(call, activation)):
        in_line = method_on(scores, f".log_softmax(dim={softmax_dim(call)})")
    place = locate(call, activation) if in_line is None and activation == "softmax" else None
    if in_line is None and not o.traced and not (place and place.logged):
        in_line = log_probabilities_of(call, "input", activation)  # no graph: data, nothing to edit upstream
    fix = (in_line and call.fix({"input": in_line})) or (place and place.with_log()) or (
        f"make the model return log_softmax(...) instead of {activation}(...), or pass the logits to "
        f"CrossEntropyLoss")
    return Hint(
        title=f"{call.loss_label} got probabilities: {expr} is {activation} output, not log-probabilities",
        message=(f"{why[0].upper() + why[1:]}. {call.loss_label} expects log-probabilities, so the loss "
                 f"becomes -p(true class), stuck between -1 and 0 with weak gradients. Use log_softmax "
                 f"where the {activation} is."),
        fix=fix,
    )


# --- CrossEntropyLoss input --------------------------------------------------------------------------

def _probability_scores(call: LossCall) -> str | None:
    """Why a CrossEntropyLoss input without a graph (data, a numpy pipeline, no_grad) holds probability
    rows, one-hot rows included: every row in [0, 1] and summing to 1, over at least 3 classes and 2
    rows. Scores never do that; "likely" when every sum is 1 within 1e-4 over enough numbers."""
    shape = call.shape("input") or ()
    facts = call.values("input")
    if len(shape) < 2 or shape[1] < 3 or math.prod(shape) // shape[1] < 2 or facts is None:
        return None
    if facts.has_nan or facts.has_inf or not facts.rows_simplex or facts.min < 0 or facts.max > 1:
        return None
    expr = call.code("input")
    what = "one-hot rows" if facts.whole else "probability rows"
    why = f"every row of {expr} is in [0, 1] and sums to 1 along dim 1: {what}, which raw scores never are"
    sure = facts.rows_max_sum is not None and abs(facts.rows_max_sum - 1) <= 1e-4 and math.prod(shape) >= 8
    return why + (" (likely: read from the values)" if sure else ", so it looks like softmax output")


@audit("NLH804", "double-softmax", "CrossEntropyLoss given softmax (or sigmoid) outputs: it applies softmax itself",
       losses=("cross_entropy",),
       examples=(Example(_HEAD + _DATA + "criterion = nn.CrossEntropyLoss()\n"
                         "loss = criterion(F.softmax(model(x), dim=1), y)",
                         expect=("NLH804", "loss = criterion(model(x), y)", "softmax produced")),
                 Example(_HEAD + _DATA + "model.append(nn.Softmax(dim=1))\n"
                         "criterion = nn.CrossEntropyLoss()\n"
                         "for step in range(5):\n"
                         "    loss = criterion(model(x), y)\n",
                         expect=("NLH804", "5 calls", "remove model[3], the final nn.Softmax")),))
def softmax_into_cross_entropy(call: LossCall) -> Hint | None:
    """CrossEntropyLoss = log_softmax + NLLLoss. Softmax outputs squashed into [0, 1] give near-uniform
    log_softmax: the loss stays near log(C) and the gradients are small, so training stalls."""
    if not call.is_float("input"):
        return None
    o = call.origin("input")
    expr = call.code("input")
    produced = True
    if o.producer in SQUASHED:
        activation = o.producer
        why = f"{o.evidence(call.name('input'))} (certain)"
    else:
        below = squashed_upstream(call) if o.traced else None
        if o.traced and below is None:
            return None  # a graph whose producer we do not know, with no softmax below: stay quiet
        activation = "softmax"
        if probability_rows(call) is not None:
            why = f"every row of {expr} is >= 0 and sums to 1 along dim 1, so it looks like softmax output"
        elif not o.traced and (sure := _probability_scores(call)):
            why, produced = sure, False  # one-hot rows: written by hand, no softmax to remove
        else:
            return None
        if below:
            why += f"; {below}"
    c = classes(call)
    floor = f" near log({c}) = {math.log(c):.2f}" if c and c > 1 else ""
    fix = drop_activation(call, "input", activation) or (produced and squash_in_model(call, activation)) or (
        f"remove the {activation} that makes {expr} (at the end of the model's forward or before the "
        f"loss); {call.loss_label} wants the raw scores. Keep {activation} for predictions only."
        if produced else f"pass the model's raw scores (logits) instead of {expr}; {call.loss_label} "
        f"applies log_softmax itself")
    return Hint(
        title=(f"{call.loss_label} got {activation} outputs: {expr} is squashed twice" if produced else
               f"{call.loss_label} got probability rows: {expr} is not raw scores"),
        message=(f"{why[0].upper() + why[1:]}. {call.loss_label} applies log_softmax itself, so the "
                 f"scores are squashed twice: the loss stays{floor} and gradients are small, so "
                 f"training stalls. Pass the raw scores (logits)."),
        fix=fix,
    )


@audit("NLH805", "double-softmax", "CrossEntropyLoss given log_softmax outputs (redundant, same loss)",
       losses=("cross_entropy",), severity="info",
       examples=(Example(_HEAD + _DATA + "criterion = nn.CrossEntropyLoss()\n"
                         "loss = criterion(F.log_softmax(model(x), dim=1), y)",
                         expect=("NLH805", "loss = criterion(model(x), y)")),))
def log_softmax_into_cross_entropy(call: LossCall) -> Hint | None:
    """log_softmax is idempotent, so this is the same loss as on the logits: not wrong, only redundant."""
    o = call.origin("input")
    if o.producer not in ("log_softmax", "log(softmax)"):
        return None
    shape = call.shape("input") or ()
    if o.producer == "log_softmax" and o.dim is not None and o.dim != (1 if len(shape) >= 2 else 0):
        return None  # over another dim it is not the same loss: NLH837
    expr = call.code("input")
    return Hint(
        title=f"{call.loss_label} got log_softmax outputs: redundant, the loss is the same",
        message=(f"{o.evidence(call.name('input'))[0].upper() + o.evidence(call.name('input'))[1:]} "
                 f"(certain). {call.loss_label} applies log_softmax itself; applying it twice changes "
                 f"nothing, so this is only extra work. Or use NLLLoss on {expr}."),
        fix=drop_activation(call, "input", "log_softmax"),
    )


# --- log of probabilities ------------------------------------------------------------------------------

@audit("NLH806", "unstable-log", "log(softmax(x)) or log(sigmoid(x)) instead of log_softmax / logsigmoid",
       losses=("nll_loss", "kl_div"),
       examples=(Example(_HEAD + _DATA + "criterion = nn.NLLLoss()\n"
                         "loss = criterion(torch.log(F.softmax(model(x), dim=1)), y)",
                         expect=("NLH806", "loss = criterion(model(x).log_softmax(dim=1), y)")),))
def log_of_softmax(call: LossCall) -> Hint | None:
    """A probability that underflows to 0 gives log(0) = -inf, then an inf or NaN loss; log_softmax
    computes the same values stably."""
    o = call.origin("input")
    if o.producer not in ("log(softmax)", "log(sigmoid)") or o.eps:
        return None
    inner_fn = "softmax" if o.producer == "log(softmax)" else "sigmoid"
    better = "log_softmax" if inner_fn == "softmax" else "F.logsigmoid"
    fix = None
    outer = unwrap(call.name("input"), "log")
    if outer:
        inner = unwrap(outer[0], inner_fn)
        if inner:
            arg, dim = inner
            if inner_fn == "softmax":
                shape = call.shape("input") or ()
                norm = normalisation(call.tensor("input"), 1 if len(shape) >= 2 else 0)
                if norm is not None and norm.wrong:  # over the wrong dim too (NLH820): fix both at once
                    dim = str(norm.expected)
                new = method_on(arg, f".log_softmax(dim={dim or 1})")
            else:
                new = f"F.logsigmoid({arg})"
            fix = call.fix({"input": new})
    expr = call.code("input")
    return Hint(
        title=f"{expr} is log({inner_fn}(...)): use {better}, which cannot give -inf",
        message=(f"{o.evidence(call.name('input'))[0].upper() + o.evidence(call.name('input'))[1:]} "
                 f"(certain). A {inner_fn} output that underflows to 0 turns into log(0) = -inf, and the "
                 f"loss into inf or NaN; {better} computes the same values without that risk."),
        fix=fix or f"replace log({inner_fn}(...)) by {better}(...) where {expr} is computed",
    )


# --- BCE family ------------------------------------------------------------------------------------------

@audit("NLH807", "double-sigmoid", "BCEWithLogitsLoss given sigmoid outputs: it applies sigmoid itself",
       losses=("binary_cross_entropy_with_logits",),
       examples=(Example(_HEAD + "torch.manual_seed(0)\n"
                         "model = nn.Linear(10, 1)\n"
                         "x = torch.randn(32, 10)\n"
                         "y = torch.randint(0, 2, (32, 1)).float()\n"
                         "criterion = nn.BCEWithLogitsLoss()\n"
                         "loss = criterion(torch.sigmoid(model(x)), y)",
                         expect=("NLH807", "loss = criterion(model(x), y)")),))
def sigmoid_into_bce_with_logits(call: LossCall) -> Hint | None:
    """sigmoid(sigmoid(z)) lies in [0.5, 0.73]: the loss has a floor and the gradients are weak."""
    if not call.is_float("input"):
        return None
    o = call.origin("input")
    expr = call.code("input")
    if o.producer in SQUASHED:
        activation = o.producer
        why = f"{o.evidence(call.name('input'))} (certain)"
    else:
        below = squashed_upstream(call) if o.traced else None
        if o.traced and (below is None or "sigmoid" not in below):
            return None  # a graph whose producer we do not know, with no sigmoid below: stay quiet
        facts = call.values("input")
        if (facts is None or facts.numel < 64 or facts.has_nan or facts.whole
                or not (0 < facts.min and facts.max < 1)):
            return None
        if facts.max - facts.min < 0.5:  # small raw scores (an untrained or timid model) look the same
            return None
        activation = "sigmoid"
        why = (f"all {facts.numel} values of {expr} lie strictly between 0 and 1 ({_num(facts.min)} to "
               f"{_num(facts.max)}), which looks like sigmoid output (likely, not certain)")
        if below:
            why += f"; {below}"
    fix = drop_activation(call, "input", activation) or squash_in_model(call, activation) or (
        f"remove the final {activation} from the model ({call.loss_label} applies sigmoid itself); use "
        f"torch.sigmoid only for predictions")
    return Hint(
        title=f"{call.loss_label} got {activation} outputs: {expr} is squashed twice",
        message=(f"{why[0].upper() + why[1:]}. {call.loss_label} applies sigmoid itself, so the scores "
                 f"are squashed twice into [0.5, 0.73]: the loss cannot go below a floor and gradients are "
                 f"weak. Pass the raw scores (logits)."),
        fix=fix,
    )


@audit("NLH808", "bce-range", "BCELoss given raw scores that happen to lie in [0, 1]",
       losses=("binary_cross_entropy",),
       examples=(Example(_HEAD + "torch.manual_seed(0)\n"
                         "model = nn.Linear(10, 1)\n"
                         "with torch.no_grad():\n"
                         "    model.weight.mul_(0.01); model.bias.fill_(0.5)\n"
                         "x = torch.randn(32, 10)\n"
                         "y = torch.randint(0, 2, (32, 1)).float()\n"
                         "loss = F.binary_cross_entropy(model(x), y)",
                         expect=("NLH808", "loss = F.binary_cross_entropy_with_logits(model(x), y)")),))
def bce_on_logits(call: LossCall) -> Hint | None:
    """BCELoss wants probabilities. Raw Linear outputs inside [0, 1] pass its range check today; the
    next batch raises "all elements of input should be between 0 and 1", or the model learns to stay
    inside by accident."""
    o = call.origin("input")
    if o.producer not in LINEAR:
        return None
    expr = call.code("input")
    if call.functional:
        fix = call.fix(callee=_with_logits(call.call.callee if call.call else ""))
    else:
        callee = call.call.callee if call.call else "criterion"
        fix = (f"{callee} = nn.BCEWithLogitsLoss()   # same call: {callee}({call.name('input')}, "
               f"{call.name('target')})") if callee.isidentifier() else None
    return Hint(
        title=f"{call.loss_label} got raw scores: {expr} comes straight from a Linear layer",
        message=(f"{o.evidence(call.name('input'))[0].upper() + o.evidence(call.name('input'))[1:]}, with "
                 f"no sigmoid after it (certain). {call.loss_label} expects probabilities; these scores "
                 f"only happen to lie in [0, 1] now, and the next batch may raise or the model learns to "
                 f"stay inside. Use the with-logits loss on the raw scores."),
        fix=fix or "use nn.BCEWithLogitsLoss() (or F.binary_cross_entropy_with_logits) on the raw scores",
    )


@audit("NLH847", "wrong-loss", "softmax probabilities into BCELoss with multi-hot targets: the labels compete",
       losses=("binary_cross_entropy",),
       examples=(Example(_HEAD + "torch.manual_seed(0)\n"
                         "head = nn.Linear(16, 6)\n"
                         "x = torch.randn(8, 16)\n"
                         "tags = torch.tensor([[1, 0, 1, 0, 0, 1]] * 4 + [[0, 1, 0, 0, 1, 0]] * 4).float()\n"
                         "probs = F.softmax(head(x), dim=1)\n"
                         "loss = nn.BCELoss()(probs, tags)",
                         expect=("NLH847", "loss = nn.BCEWithLogitsLoss()(head(x), tags)")),))
def softmax_into_multilabel_bce(call: LossCall) -> Hint | None:
    """Multi-label targets (several 1s per row) need one independent probability per label. A softmax over
    the labels makes them sum to 1: two labels that are both present cannot both reach 1, and BCE keeps
    pushing against that. Sigmoid per label, or better BCEWithLogitsLoss on the scores."""
    shape = call.shape("input")
    o = call.origin("input")
    if not shape or len(shape) < 2 or o.producer != "softmax" or o.dim != 1 or call.shape("target") != shape:
        return None
    facts = call.values("target", class_dim=1)
    if (facts is None or facts.has_nan or not facts.binary or (facts.rows_max_sum or 0) < 2
            or (len(shape) >= 3 and facts.rows_uniform)):
        return None
    logits = unwrap(call.name("input"), "softmax")
    if logits is None and not (o.reshaped or o.reordered):
        logits = _assigned_activation(call, "input", "softmax")
    callee = call.call.callee if call.call else ""
    fix = None
    if logits is not None:
        if call.functional:
            new = _with_logits(callee)
            fix = call.fix({"input": logits[0]}, callee=new) if new else None
        elif "BCELoss(" in callee:  # nn.BCELoss()(probs, tags): the module built in the line
            fix = call.fix({"input": logits[0]}, callee=callee.replace("BCELoss(", "BCEWithLogitsLoss(", 1))
        elif callee.isidentifier():
            fix = f"{callee} = nn.BCEWithLogitsLoss()\n{call.fix({'input': logits[0]})}"
    expr = call.code("input")
    return Hint(
        title=f"{call.loss_label} got softmax probabilities for multi-label targets: the labels compete",
        message=(f"{_cap_first(o.evidence(call.name('input')))} over dim 1, the labels (certain), and rows of "
                 f"{call.code('target')} hold up to {_num(facts.rows_max_sum)} ones (read from the values): "
                 f"several labels per sample. A softmax makes each row of {expr} sum to 1, so labels that "
                 f"are present together cannot all get a high probability. For multi-label use a sigmoid per "
                 f"label, better BCEWithLogitsLoss on the scores before the softmax."),
        fix=fix or "use nn.BCEWithLogitsLoss() on the scores before the softmax (one sigmoid per label)",
    )


def _cap_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def _with_logits(callee: str) -> str | None:
    if callee.endswith("binary_cross_entropy"):
        return callee + "_with_logits"
    return None


# --- class dimension -------------------------------------------------------------------------------------

@audit("NLH809", "class-dim", "(N, T, C) scores where CrossEntropyLoss wants (N, C, T), and T == C hides it",
       losses=CLASS_LOSSES,
       examples=(Example(_HEAD + "torch.manual_seed(0)\n"
                         "emb = nn.Embedding(100, 16)\n"
                         "head = nn.Linear(16, 12)\n"
                         "tokens = torch.randint(0, 100, (4, 12))\n"
                         "tags = torch.randint(0, 12, (4, 12))\n"
                         "logits = head(emb(tokens))\n"
                         "loss = F.cross_entropy(logits, tags)",
                         expect=("NLH809", "loss = F.cross_entropy(logits.transpose(1, 2), tags)")),))
def classes_last(call: LossCall) -> Hint | None:
    """For a (N, T, C) input the loss reads dim 1 as the classes. When T == C no size check fails: the
    loss silently treats time steps as classes."""
    shape = call.shape("input")
    target = call.shape("target")
    if not shape or len(shape) != 3 or shape[1] != shape[2] or target != (shape[0], shape[1]):
        return None
    if call.is_float("target"):
        return None
    o = call.origin("input")
    expr = call.code("input")
    n, t, _ = shape
    if o.producer == "linear" and not o.reordered:  # (a convolution writes channels to dim 1: fine)
        why = (f"{o.evidence(call.name('input'))}, and a Linear layer writes its outputs along the last "
               f"dim, so the last dim holds the {t} class scores (no transpose after it)")
    elif o.producer in ("log_softmax", "softmax") and o.dim == 2:
        why = f"{o.evidence(call.name('input'))} with dim=-1, so the classes are along the last dim"
    else:
        return None
    return Hint(
        title=f"{expr} is (N, T, C) = {tuple(shape)}: {call.loss_label} reads dim 1 as the classes",
        message=(f"{why[0].upper() + why[1:]} (certain). {call.loss_label} wants (N, C, T); because T == C "
                 f"= {t} here no size check fails, and the loss silently mixes time steps and classes. "
                 f"Move the classes to dim 1."),
        fix=call.fix({"input": call.with_method("input", ".transpose(1, 2)")}),
    )


RULES = [nll_on_logits, nll_on_probabilities, softmax_into_cross_entropy, log_softmax_into_cross_entropy,
         log_of_softmax, sigmoid_into_bce_with_logits, bce_on_logits, softmax_into_multilabel_bce, classes_last]
