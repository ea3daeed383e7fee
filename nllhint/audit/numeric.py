"""Audits for numbers that go wrong without an error: broadcasting in elementwise losses, and the first
NaN or Inf loss."""

from __future__ import annotations

import itertools
import math
import re

from ..contracts import NON_NEGATIVE, POSITIVE, PROBS, UNIT, contract, effective_reduction, losses_where
from .base import Example, Hint, LossCall, audit
from .formats import CLASS_LOSSES
from .views import model_reshape

_HEAD = "import torch, torch.nn as nn, torch.nn.functional as F\n"
BROADCASTING_LOSSES = tuple(sorted(losses_where(lambda c: c.broadcasts)))  # unequal shapes broadcast silently
_EXPANDED = ("unsqueeze", "None", "expand", "[:, None", "[None")


def _broadcast(a: tuple, b: tuple) -> tuple | None:
    """The broadcast of two shapes, None if they do not broadcast (``torch.broadcast_shapes`` imports
    ``torch.fx.experimental.symbolic_shapes`` and sympy on first use: a second the user did not ask for)."""
    out = []
    for x, y in itertools.zip_longest(reversed(a), reversed(b), fillvalue=1):
        if x != y and 1 not in (x, y):
            return None
        out.append(y if x == 1 else x)
    return tuple(reversed(out))


def _shape(shape) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


@audit("NLH901", "shape-mismatch", "(N, 1) predictions against (N,) targets broadcast to (N, N)",
       losses=BROADCASTING_LOSSES, severity="error",
       examples=(Example(_HEAD + "torch.manual_seed(0)\n"
                         "model = nn.Linear(8, 1)\n"
                         "x, y = torch.randn(32, 8), torch.randn(32)\n"
                         "pred = model(x)\n"
                         "loss = F.mse_loss(pred, y)",
                         expect=("NLH901", "loss = F.mse_loss(pred.squeeze(1), y)", "(32, 32)")),))
def broadcast_mismatch(call: LossCall) -> Hint | None:
    """MSE/L1/SmoothL1/Huber only warn when input and target shapes differ, then broadcast: (N, 1)
    against (N,) becomes (N, N), comparing every prediction with every target. The loss is wrong and
    the model learns to predict the mean."""
    a, b = call.shape("input"), call.shape("target")
    if a is None or b is None or a == b or not b:
        return None  # a 0-dim target is a constant: broadcasting it is the point
    both = _broadcast(a, b)
    if both is None:
        return None  # torch raises for these shapes itself
    if both == a or both == b:
        if len(a) != len(b) or effective_reduction(call.options) == "none":
            return None  # a constant row (C,) against a batch, or a table weighted afterwards: can be intended
        if both == a and not (math.prod(b) == 1 and a[0] > 1):
            return None  # a target row or one target per sample repeated over outputs (centres, ensemble heads)
        if both == a and _computed(call.tensor("target")):
            return None  # a target computed from tensors (x.mean(0, keepdim=True)): broadcast on purpose
    elif _deliberate_pairs(call, a, b):
        return None  # a pairwise table on purpose (quantile Huber, MMD): both sides expanded
    if len(a) == len(b) + 1 and a[-1] == 1 and a[:-1] == b:
        side, other = "input", "target"
    elif len(b) == len(a) + 1 and b[-1] == 1 and b[:-1] == a:
        side, other = "target", "input"
    else:
        side = other = None
    if side is not None:
        shape = call.shape(side)
        squeeze = ".squeeze(1)" if len(shape) == 2 else ".squeeze(-1)"
        fix = call.fix({side: call.with_method(side, squeeze)})
    elif math.prod(a) == math.prod(b):
        fix = call.fix({"input": call.with_method("input", f".view_as({call.name('target')})")})
    else:
        fix = _extra_outputs(call, a, b)
    reshape = model_reshape(call) if fix is None and a[1:] == b[1:] else None
    if reshape is not None:  # the rows differ because of a view(-1, k) in the model: NLH301's answer
        fix = reshape.fix
    elif fix is None and both == b and len(a) == len(b) and a[1:] == b[1:]:
        fix = (f"{call.code('input')} has {a[0]} row for the {b[0]} samples of {call.code('target')}: keep the "
               f"batch dim where the model reshapes (x.view(x.size(0), -1) or x.flatten(1), not view(-1, k)), "
               f"or check that both come from the same batch")
    elif fix is None and both == b and len(a) == len(b):
        fix = (f"make the model output {_shape(b)} like {call.code('target')} (e.g. the last Linear layer's "
               f"out_features), or pick the target column that {call.code('input')} predicts")
    elif fix is None and both == a and len(a) == len(b):
        fix = (f"build {call.code('target')} with one row per sample, {_shape(a)} like "
               f"{call.code('input')}, not {_shape(b)}")
    if both != a and both != b:
        what = "every prediction is compared with every target"
    elif both == b:
        what = f"each prediction is repeated against {math.prod(b) // max(math.prod(a), 1)} targets"
    else:
        what = f"the same target is repeated for {math.prod(a) // max(math.prod(b), 1)} predictions"
    return Hint(
        title=(f"{call.code('input')} {_shape(a)} and {call.code('target')} {_shape(b)} broadcast to "
               f"{_shape(both)}: {what}"),
        message=(f"The shapes differ, so {call.loss_label} broadcasts them to {_shape(both)} (certain: "
                 f"from the shapes) and " + (f"{what}. {reshape.message} " if reshape is not None else
                     f"averages {math.prod(both)} differences instead of {max(math.prod(a), math.prod(b))}. "
                     if both != a and both != b else f"{what}. ") +
                 f"The loss is wrong without an error, and the model drifts towards predicting the mean."),
        fix=fix or f"make {call.code('input')} and {call.code('target')} the same shape",
    )


def _extra_outputs(call: LossCall, a: tuple, b: tuple) -> str | None:
    """``score`` (66, 3, 1) against ``y`` (66,): without its one size-1 dim the input is (66, 3), so the
    model gives 3 values per sample where the target has 1. Which side is right the shapes cannot say:
    the fix names the dim that disagrees and both ways out, not a line."""
    for side, other, longer, shorter in (("input", "target", a, b), ("target", "input", b, a)):
        singles = [i for i in range(1, len(longer)) if longer[i] == 1]
        if len(singles) != 1 or len(shorter) != 1 or len(longer) != 3 or longer[0] != shorter[0]:
            continue
        i = singles[0]
        squeezed = longer[:i] + longer[i + 1:]
        k = squeezed[1]
        if k == 1:
            continue
        expr = call.with_method(side, f".squeeze({-1 if i == len(longer) - 1 else i})")
        if side == "input":
            return (f"`{expr}` is {_shape(squeezed)}: {k} predictions per sample where "
                    f"{call.code(other)} has 1; make the model output one value per sample "
                    f"{_shape(shorter)}, or give {call.code(other)} {k} values per sample {_shape(squeezed)}")
        return (f"`{expr}` is {_shape(squeezed)}: {k} target values per sample where {call.code(other)} "
                f"predicts 1; make the model output {k} values per sample {_shape(squeezed)}, or keep one "
                f"target value per sample {_shape(shorter)}")
    return None


def _computed(t) -> bool:
    return t is not None and (t.requires_grad or t.grad_fn is not None)


def _deliberate_pairs(call: LossCall, a: tuple, b: tuple) -> bool:
    """Both sides expanded on purpose for a pairwise table: ``pred.unsqueeze(-1)`` against
    ``target.unsqueeze(-2)`` (written so in the call), or same-rank shapes with complementary size-1 dims
    under ``reduction='none'`` (the table is weighted or masked afterwards)."""
    if len(a) == len(b) and effective_reduction(call.options) == "none":
        return True
    if call.call is None:
        return False
    texts = (call.name("input"), call.name("target"))
    return all(any(mark in t for mark in _EXPANDED) for t in texts)


@audit("NLH903", "empty-input", "a tensor with zero elements reached the loss: the mean over nothing is NaN",
       losses=(), severity="error",
       examples=(Example(_HEAD + "torch.manual_seed(0)\n"
                         "logits = torch.randn(2, 16, 32, requires_grad=True)\n"
                         "target = torch.randint(0, 32, (2, 16))\n"
                         "mask = torch.rand(2, 16) < 0.0   # the random mask came out empty\n"
                         "loss = F.cross_entropy(logits[mask], target[mask])\n",
                         expect=("NLH903", "`logits[mask]` is empty (0, 32)", "if logits[mask].numel():")),))
def empty_batch(call: LossCall) -> Hint | None:
    """A mean over zero elements is 0 / 0 = NaN, which then poisons every parameter. Told apart from
    NLH902's "the loss itself overflowed" by the shapes alone (certain, no value read)."""
    if call.options.get("reduction", "mean") not in ("mean", "batchmean") or call.result_finite is True:
        return None
    for name in ("input", "log_probs", "input1", "anchor", "target", "targets"):
        shape = call.shape(name)
        if shape is None or 0 not in shape:
            continue
        expr = call.code(name)
        return Hint(
            title=f"{expr} is empty {_shape(shape)}: the loss is a mean over zero elements, NaN",
            message=(f"{expr} has shape {_shape(shape)} (certain: from the shape), so {call.loss_label} averages "
                     f"over nothing: 0 / 0 = NaN. An empty batch usually comes from a mask or filter that kept "
                     f"nothing, or a last batch of size 0: skip it before the loss."),
            fix=f"if {call.name(name)}.numel():   # only then compute and backpropagate the loss",
        )
    return None


@audit("NLH902", "nan-inf", "the loss became NaN or Inf: the first call where it happened, and which tensor",
       losses=(), severity="error",
       examples=(Example(_HEAD + "torch.manual_seed(0)\n"
                         "model = nn.Linear(4, 3)\n"
                         "criterion = nn.CrossEntropyLoss()\n"
                         "for step in range(6):\n"
                         "    x = torch.randn(8, 4)\n"
                         "    if step == 4:\n"
                         "        x[0, 0] = float('nan')\n"
                         "    loss = criterion(model(x), torch.randint(0, 3, (8,)))\n",
                         expect=("NLH902", "call 5", "model(x)")),))
def nonfinite_loss(call: LossCall) -> Hint | None:
    """A NaN or Inf loss poisons every parameter at the next optimizer step. Say at which call it first
    happened and whether it came in with a tensor or arose in the loss itself."""
    unreduced = call.options.get("reduction") == "none"
    if call.result_finite is not False and not unreduced:
        return None
    bad = []
    for name in ("input", "log_probs", "target", "targets", "weight", "pos_weight"):
        facts = call.facts(name, class_dim=-1 if name == "log_probs" else None)  # all-NaN has no min
        if facts is not None and facts.values and (facts.has_nan or facts.has_inf):
            bad.append((name, "NaN" if facts.has_nan else "Inf"))
    if call.result_finite is not False and not bad:
        return None
    if call.loss == "ctc_loss" and not bad:
        return None  # NLH815 explains an inf CTC loss
    what = "NaN or Inf" if call.result_finite is None else _result_word(call)
    where = f"first at call {call.step} of this line"
    if bad:
        name, kind = bad[0]
        expr = call.code(name)
        came = f"{expr} already held {kind} when it reached the loss (certain)"
        if name in ("target", "targets"):
            advice = "The data has missing values: filter or fill them before the loss."
            fix = f"keep = torch.isfinite({call.name(name)})   # then use only those samples"
        elif call.origin(name).producer == "log":
            advice = ("Its grad_fn says a log made it: the log of a value <= 0 (a probability that reached 0, "
                      "a negative prediction) is -inf or NaN. Clamp what goes into the log, or work in "
                      "log space (log_softmax, logsigmoid) from the scores.")
            fix = None
        elif call.step == 1:
            # before any optimizer step the weights are as initialised: the NaN came in with the data
            fed = re.fullmatch(r"[\w.]+\(\s*([A-Za-z_][\w.]*)\s*\)", call.name(name).strip())
            data = f"`{fed[1]}`" if fed else "the batch"
            advice = (f"It was NaN at the first call of this line. If the model has not been trained yet, its "
                      f"weights are as initialised and the NaN came in with the data ({data}: a missing value "
                      f"in a CSV column, a division by a zero std when normalising) or from log/sqrt/division "
                      f"of 0 in the model; if it was trained in an earlier cell, a learning rate that is too "
                      f"high may have made the weights NaN. torch.autograd.set_detect_anomaly(True) names the op.")
            fix = (f"torch.isnan({fed[1]}).any(dim=-1).nonzero()   # which samples hold NaN: fill or drop "
                   f"them" if fed else None)
        else:
            advice = ("It was made upstream: often a learning rate that is too high, or log/sqrt/division "
                      "of 0 in the model. torch.autograd.set_detect_anomaly(True) names the op.")
            fix = None
        return Hint(
            title=f"the loss became {what} ({where}): {expr} held {kind}",
            message=f"{came[0].upper() + came[1:]}. {advice}",
            fix=fix,
        )
    if call.found:
        return None  # an earlier finding on this call (e.g. a KLDivLoss convention) explains it
    ignore = call.options.get("ignore_index")
    target = call.values("target")
    if (call.loss in CLASS_LOSSES and target is not None and target.distinct is not None
            and set(target.distinct) == {float(ignore)} and call.options.get("reduction") == "mean"):
        return Hint(
            title=f"the loss became NaN ({where}): every target equals ignore_index={ignore}",
            message=(f"Every value of {call.code('target')} is {ignore} (certain), so the mean is over zero "
                     f"samples: 0 / 0 = NaN. Skip batches with no labelled position, or use reduction='sum' "
                     f"divided by the number of labelled positions."),
            fix=f"if ({call.name('target')} != {ignore}).any():   # only then compute and backpropagate the loss",
        )
    broken = _domain_broken(call)
    if broken is not None:
        expr, low, needs, producer, fix = broken
        return Hint(
            title=f"the loss became {what} ({where}): {expr} has values below 0, but {call.loss_label} {needs}",
            message=(f"{expr} has values below 0 (down to {low:.4g}){producer} (certain: read from the values), "
                     f"but {call.loss_label} {needs}: the loss takes the log of a negative number, which is "
                     f"NaN. The inputs were finite; the contract on their values is what broke."),
            fix=fix,
        )
    return Hint(
        title=f"the loss became {what} ({where}), from finite inputs",
        message=(f"The tensors going in were finite (read from a bounded sample), so the loss itself "
                 f"overflowed: typically log(0) of a probability that reached exactly 0, or huge scores. "
                 f"Work with logits and log_softmax / the with-logits losses, and check the learning rate."),
    )


_NEEDS = {  # domain -> (what the argument must hold, in words; the lowest allowed value)
    NON_NEGATIVE: ("values >= 0", 0.0),
    POSITIVE: ("values > 0", 0.0),
    PROBS: ("probabilities in [0, 1]", 0.0),
    UNIT: ("probabilities in [0, 1]", 0.0),
}


def _domain_broken(call: LossCall):
    """(expr, min, what the contract needs, producer words, fix) for the first argument whose values fall
    below its contract's domain (PoissonNLLLoss(log_input=False) given a Linear layer's raw outputs as
    rates, a KLDivLoss target with negative entries); None when every argument is in its domain."""
    found = contract(call.loss)
    if found is None:
        return None
    options = call.options
    domains = [(found.input_param, found.input_domain(options))]
    if found.target_param and found.target_domains(options):
        domains.append((found.target_param, found.target_domains(options)[0]))
    for name, domain in domains:
        if domain not in _NEEDS:
            continue
        facts = call.values(name)
        if facts is None or facts.has_nan or facts.has_inf or facts.min is None or facts.min >= _NEEDS[domain][1]:
            continue
        role = "input" if name == found.input_param else "target"
        o = call.origin(name)
        if call.call is not None and name not in call.call.args and found.module == call.module:
            name = dict(zip(found.tensors, found.forward)).get(name, name)  # PoissonNLLLoss.forward(log_input, ...)
        expr = call.code(name)
        needs = f"reads its {role} as {_NEEDS[domain][0]}"
        fix = None
        if call.loss == "poisson_nll_loss" and role == "input":
            needs = "with log_input=False reads its input as rates, which must be >= 0"
            fix = call.fix({name: f"F.softplus({call.name(name)})"})
            if fix:
                fix += "   # or log_input=True and the raw output as the log-rate"
            else:
                fix = "make the rate positive (F.softplus / exp of the output), or use log_input=True"
        producer = f", made by {o.words}" if o.producer else ""
        return expr, facts.min, needs, producer, fix
    return None


def _result_word(call: LossCall) -> str:
    import math

    if call.result_value is not None and not math.isfinite(call.result_value):
        return "NaN" if math.isnan(call.result_value) else "Inf"
    facts = call.result_facts
    if facts is not None and facts.has_nan:
        return "NaN"
    if facts is not None and facts.has_inf:
        return "Inf"
    return "NaN or Inf"


def queued_nonfinite(label: str, expression: str) -> Hint:
    """For accelerator tensors, where the per-call check is queued on the device and read once at the end."""
    return Hint(
        title=f"the loss became NaN or Inf at this line during the cell",
        message=(f"A device-side flag for {label} at `{expression}` was found set when the watch ended "
                 f"(read once at the end, so the exact call is unknown). Re-run with fewer steps, or check "
                 f"the inputs with torch.isfinite, to find where it starts."),
    )


RULES = [broadcast_mismatch, empty_batch, nonfinite_loss]
