"""Audits that check each loss's contract (``nllhint.contracts``) on the calls the watch examines.

Where the earlier audits recognise producers they know, these check what the loss requires, whatever
produced the tensor: the dim a softmax/log_softmax normalised over (its saved dim, found anywhere below
the loss input through views, permutes and masks), ±1 targets given 0/1 labels, MultiLabelMarginLoss
given multi-hot rows, a 1-D input to a class loss, arguments in the wrong order (autograd says which one
the model made), and a reduced loss value outside the loss's mathematical range. Each is silent unless
its evidence is certain (grad_fn, shapes, exact values); "looks like" is said only where values alone tell.
"""

from __future__ import annotations

import math
import re

from ..contracts import CONTRACTS, SIGNS, effective_reduction, legacy_reduction, losses_where
from ..probe import _num
from ..source import _offset
from .base import Example, Hint, LossCall, audit, method_on, unwrap
from .conventions import _cap
from .formats import BINARY_LOSSES, CLASS_LOSSES
from .numeric import _shape
from .provenance import normalisation

_HEAD = "import torch, torch.nn as nn, torch.nn.functional as F\n"
_AXES = {0: "dim 0", 1: "dim 1", 2: "dim 2", 3: "dim 3"}


def _sibling(callee: str, loss: str) -> str:
    """``F.cross_entropy`` -> ``F.<loss>``: another loss from the same module path the user wrote."""
    head = callee.rsplit(".", 1)
    return (head[0] + "." if len(head) == 2 else "") + loss


def _loss_swap(call: LossCall, functional: tuple[str, ...] | str, loss: str, module: str, comment: str,
               fallback: str, replacements: dict | None = None) -> str | None:
    """The fix that swaps the loss: a functional call (ending in one of ``functional``) renamed to its
    sibling ``loss``; a loss module used as ``criterion(...)``: the user's name bound to ``module``
    instead, or, when the callee is not a plain name, what to use."""
    callee = call.call.callee if call.call else ""
    if call.functional and call.call is not None and callee.endswith(functional):
        return call.fix(callee=_sibling(callee, loss), replacements=replacements)
    return f"{callee} = {module}   # {comment}" if callee.isidentifier() else f"use {module} {fallback}"


def _redim(call: LossCall, name: str, producer: str, dim: int) -> str | None:
    """The user's line with the softmax/log_softmax in ``name``'s expression moved to ``dim``."""
    outer = unwrap(call.name(name), "log") if producer == "softmax" else None
    if outer:  # torch.log(F.softmax(x, dim=0)) -> x.log_softmax(dim=1): the right dim, and stable
        found = unwrap(outer[0], "softmax")
        if found:
            return call.fix({name: method_on(found[0], f".log_softmax(dim={dim})")})
    found = unwrap(call.name(name), producer)
    if found:
        return call.fix({name: method_on(found[0], f".{producer}(dim={dim})")})
    expr = call.name(name)
    if call.call is None or not expr.isidentifier():
        return None
    from .handwritten import _assignments, _before  # ``log_probs = F.log_softmax(out, dim=0)`` above the call

    assigned = _before(_assignments(call.call.filename), call.call.lineno).get(expr)
    found = unwrap(assigned, producer) if assigned else None
    if not found:
        return None
    head = assigned.split("(", 1)[0]
    if head.endswith(producer) and "." in head or head == producer:  # F.log_softmax(x, dim=0) style
        return f"{expr} = {head}({found[0]}, dim={dim})"
    return f"{expr} = {method_on(found[0], f'.{producer}(dim={dim})')}"


# --- normalised over the wrong dim ----------------------------------------------------------------------

@audit("NLH820", "input-not-logprob", "log_softmax taken over the wrong dim (e.g. the batch) before NLLLoss",
       losses=("nll_loss",), severity="error",
       examples=(Example(_HEAD + "torch.manual_seed(0)\n"
                         "model = nn.Linear(20, 5)\n"
                         "x, y = torch.randn(32, 20), torch.randint(0, 5, (32,))\n"
                         "log_probs = F.log_softmax(model(x), dim=0)\n"
                         "loss = F.nll_loss(log_probs, y)",
                         expect=("NLH820", "dim 0", "log_probs = F.log_softmax(model(x), dim=1)")),))
def nll_wrong_dim(call: LossCall) -> Hint | None:
    """NLLLoss reads the classes from dim 1. A log_softmax over another dim (the batch, often ``dim=0``
    written for a 1-D habit) makes every column, not every row, a distribution: the loss trains without
    error and the model learns to rank samples against each other."""
    shape = call.shape("input")
    if not shape or not call.is_float("input"):
        return None
    class_dim = 1 if len(shape) >= 2 else 0
    found = normalisation(call.tensor("input"), class_dim)
    if found is None and call.origin("input").grad_fn is None:
        return _columns_normalised(call, shape)
    if found is None or not found.wrong:
        return None
    if found.producer != "log_softmax" and "LogBackward0" not in found.via:
        return None  # plain probabilities: NLH802 says so
    return _wrong_dim_hint(call, "input", found, class_dim, "NLLLoss reads the classes from dim 1")


def _columns_normalised(call: LossCall, shape) -> Hint | None:
    """Without a graph (no_grad, detached, data): values whose exp sums to 1 down every column (dim 0)
    and not along the rows are log_softmax over the batch. Needs a real batch and a few classes, so a
    column cannot sum to 1 by chance."""
    if len(shape) != 2 or shape[0] < 3 or shape[1] < 2:
        return None
    down, across = call.values("input", 0), call.values("input", 1)
    if down is None or across is None or down.has_nan or down.has_inf:
        return None
    if not down.rows_log_simplex or across.rows_log_simplex or down.max > 1e-3:
        return None
    expr = call.code("input")
    fix = _redim(call, "input", "log_softmax", 1) or (
        f"use log_softmax(dim=1) where {expr} is computed (over the {shape[1]} classes, not the batch)")
    return Hint(
        title=f"{expr} looks like log_softmax over the batch (dim 0), not over the classes",
        message=(f"Every value of {expr} is <= 0 and exp of each column (dim 0, the {shape[0]} samples) sums "
                 f"to 1 while the rows do not (read from the values), so it looks like log_softmax over dim 0. "
                 f"{call.loss_label} reads the classes from dim 1 (size {shape[1]}): the loss is computed on "
                 f"values that are not log-probabilities over the classes and the model learns to compare "
                 f"samples instead of classes."),
        fix=fix,
    )


def _wrong_dim_hint(call: LossCall, name: str, found, class_dim: int, reads: str) -> Hint:
    expr = call.code(name)
    size = found.shape[found.dim]
    axis = "the batch (dim 0)" if found.dim == 0 and len(found.shape) > 1 else f"dim {found.dim}"
    via = " (then moved by " + ", ".join(v.removesuffix("Backward0").lower() for v in found.via) + ")" \
        if found.via else ""
    fix = _redim(call, name, found.producer, found.expected) or (
        f"use {found.producer}(dim={found.expected}) where {expr} is computed (over the "
        f"{found.shape[found.expected]} classes, not over dim {found.dim})")
    return Hint(
        title=f"{expr} is {found.producer} over {axis}, not over the classes",
        message=(f"Its grad_fn says {found.producer} produced {expr} over dim {found.dim} of a "
                 f"{_shape(found.shape)} tensor{via}: each slice along that dim of size {size} sums to one "
                 f"(certain). {_cap(reads)} (size {found.shape[found.expected]} there), so the loss is "
                 f"computed on values that are not log-probabilities over the classes and the model "
                 f"learns to compare samples instead of classes."),
        fix=fix,
    )


@audit("NLH837", "double-softmax", "CrossEntropyLoss given log_softmax over another dim than the classes",
       losses=("cross_entropy",), severity="error",
       examples=(Example(_HEAD + "torch.manual_seed(0)\n"
                         "model = nn.Linear(20, 5)\n"
                         "x, y = torch.randn(32, 20), torch.randint(0, 5, (32,))\n"
                         "criterion = nn.CrossEntropyLoss()\n"
                         "loss = criterion(F.log_softmax(model(x), dim=0), y)",
                         expect=("NLH837", "loss = criterion(model(x), y)")),))
def cross_entropy_wrong_dim(call: LossCall) -> Hint | None:
    """CrossEntropyLoss applies log_softmax over dim 1 itself. A log_softmax (or softmax) taken before it
    over another dim is not idempotent with it: every column is shifted by its own constant, and the loss
    no longer scores the classes."""
    shape = call.shape("input")
    if not shape or not call.is_float("input"):
        return None
    class_dim = 1 if len(shape) >= 2 else 0
    found = normalisation(call.tensor("input"), class_dim)
    if found is None or not found.wrong or found.producer != "log_softmax":
        return None
    expr = call.code("input")
    inner = unwrap(call.name("input"), "log_softmax")
    fix = call.fix({"input": inner[0]}) if inner else None
    axis = "the batch (dim 0)" if found.dim == 0 and len(found.shape) > 1 else f"dim {found.dim}"
    return Hint(
        title=f"{expr} is log_softmax over {axis}: {call.loss_label} normalises over the classes itself",
        message=(f"Its grad_fn says log_softmax produced {expr} over dim {found.dim} of a {_shape(found.shape)} "
                 f"tensor (certain). {call.loss_label} applies log_softmax over the classes (dim "
                 f"{found.expected}) on top, which does not undo a normalisation over another dim: each "
                 f"slice is shifted by its own constant and the loss no longer scores the classes. Pass the "
                 f"raw scores."),
        fix=fix or f"pass the scores before the log_softmax(dim={found.dim}); {call.loss_label} normalises them",
    )


@audit("NLH821", "kl-format", "KLDivLoss input or target normalised over the batch dim",
       losses=("kl_div",), severity="error",
       examples=(Example(_HEAD + "torch.manual_seed(0)\n"
                         "student = torch.randn(16, 10, requires_grad=True)\n"
                         "teacher = torch.randn(16, 10)\n"
                         "loss = F.kl_div(F.log_softmax(student, dim=0), F.softmax(teacher, dim=1), "
                         "reduction='batchmean')",
                         expect=("NLH821", "student.log_softmax(dim=1)")),))
def kl_over_batch(call: LossCall) -> Hint | None:
    """KLDivLoss compares two distributions per sample: both must be normalised over the classes. A
    softmax over dim 0 normalises across the batch."""
    for name in ("input", "target"):
        shape = call.shape(name)
        if not shape or len(shape) < 2 or shape[0] < 2 or not call.is_float(name):
            continue
        found = normalisation(call.tensor(name), 0)
        if found is None or found.expected is None or found.dim != found.expected:
            continue
        classes = len(found.shape) - 1 if len(found.shape) == 2 else 1
        fixed = type(found)(found.producer, found.dim, found.shape, classes, found.steps, found.via)
        return _wrong_dim_hint(call, name, fixed, classes,
                               f"{call.loss_label} compares one distribution per sample, over the classes")
    return None


@audit("NLH822", "ctc-format", "CTCLoss log_probs normalised over time or batch (found through a permute or view)",
       losses=("ctc_loss",), severity="error",
       examples=(Example(_HEAD + "torch.manual_seed(0)\n"
                         "N, T, C = 4, 30, 6\n"
                         "scores = torch.randn(N, T, C, requires_grad=True)\n"
                         "targets = torch.randint(1, C, (N, 8))\n"
                         "log_probs = F.log_softmax(scores, dim=1).permute(1, 0, 2)\n"
                         "loss = F.ctc_loss(log_probs, targets, torch.full((N,), T), torch.full((N,), 8))",
                         expect=("NLH822", "log_softmax(dim=2)")),))
def ctc_wrong_dim(call: LossCall) -> Hint | None:
    """CTC reads log_probs[t, n, c]: the log_softmax must run over the classes, wherever it was taken
    before the (T, N, C) permute."""
    if "NLH814" in call.found:
        return None
    shape = call.shape("log_probs")
    if not shape or len(shape) != 3:
        return None
    found = normalisation(call.tensor("log_probs"), 2)
    if found is None or not found.wrong:
        return None
    return _wrong_dim_hint(call, "log_probs", found, 2, f"{call.loss_label} reads the classes from dim 2 of (T, N, C)")


# --- targets outside the contract's domain --------------------------------------------------------------

SIGN_LOSSES = tuple(sorted(n for n, c in CONTRACTS.items() if SIGNS in c.targets))


@audit("NLH823", "target-range", "a ±1-target loss (HingeEmbedding, SoftMargin, CosineEmbedding, MarginRanking) given 0/1 labels",
       losses=SIGN_LOSSES, severity="error",
       examples=(Example(_HEAD + "torch.manual_seed(0)\n"
                         "a, b = torch.randn(32, 64, requires_grad=True), torch.randn(32, 64)\n"
                         "same = torch.randint(0, 2, (32,)).float()\n"
                         "criterion = nn.CosineEmbeddingLoss(margin=0.2)\n"
                         "loss = criterion(a, b, same)",
                         expect=("NLH823", "loss = criterion(a, b, same * 2 - 1)")),))
def zero_one_for_signs(call: LossCall) -> Hint | None:
    """These losses read target 1 as "similar / first ranks higher" and -1 as the opposite. A 0 is
    neither: those samples add a constant or nothing, so the negatives are never trained."""
    facts = call.values("target")
    if facts is None or facts.has_nan or facts.distinct is None:
        return None
    values = set(facts.distinct)
    if not values <= {0.0, 1.0} or 0.0 not in values:
        return None
    expr = call.code("target")
    zeros = "every value is 0" if values == {0.0} else "its values are 0 and 1"
    return Hint(
        title=f"{expr} holds 0/1 labels: {call.loss_label} wants -1/+1",
        message=(f"{expr}: {zeros} (certain: read from the tensor). {call.loss_label} takes targets of "
                 f"+1 and -1; a 0 is read as neither, so the samples labelled 0 are not trained as "
                 f"negatives (they add a constant or nothing). Map 0 to -1."),
        fix=call.fix({"target": call.with_method("target", " * 2 - 1")}),
    )


@audit("NLH824", "target-shape", "MultiLabelMarginLoss given multi-hot rows: it wants class indices padded with -1",
       losses=("multilabel_margin_loss",), severity="error",
       examples=(Example(_HEAD + "torch.manual_seed(0)\n"
                         "model = nn.Linear(16, 5)\n"
                         "x = torch.randn(8, 16)\n"
                         "tags = (torch.rand(8, 5) > 0.5).long()\n"
                         "criterion = nn.MultiLabelMarginLoss()\n"
                         "loss = criterion(model(x), tags)",
                         expect=("NLH824", "nn.MultiLabelSoftMarginLoss()")),))
def multi_hot_for_index_lists(call: LossCall) -> Hint | None:
    """MultiLabelMarginLoss reads each target row as a list of class indices ended by -1: [3, 0, -1, 1]
    means classes 3 and 0. A multi-hot row [0, 1, 1, 0] is read as classes 0, 1, 1, 0: the wrong labels,
    without an error."""
    shape = call.shape("target")
    facts = call.values("target")
    if not shape or shape[-1] < 3 or facts is None or facts.distinct is None:
        return None
    if not set(facts.distinct) <= {0.0, 1.0}:
        return None  # a -1 (or a class index >= 2) says index lists
    expr = call.code("target")
    fix = _loss_swap(call, "multilabel_margin_loss", "multilabel_soft_margin_loss", "nn.MultiLabelSoftMarginLoss()",
                     "takes multi-hot rows as they are", "on the multi-hot rows")
    return Hint(
        title=f"{expr} holds multi-hot rows: {call.loss_label} wants class indices ended by -1",
        message=(f"Every value of {expr} is 0 or 1 and no row has a -1 (certain: read from the tensor), so "
                 f"these are multi-hot rows. {call.loss_label} reads a row as class indices up to the "
                 f"first -1: [0, 1, 1, 0] means classes 0 and 1, whatever the row marks. Use "
                 f"MultiLabelSoftMarginLoss (or BCEWithLogitsLoss) on multi-hot rows, or convert each row "
                 f"to its indices followed by -1."),
        fix=fix,
    )


@audit("NLH828", "target-shape", "MultiLabelSoftMarginLoss given class indices padded with -1: it wants multi-hot rows",
       losses=("multilabel_soft_margin_loss",), severity="error",
       examples=(Example(_HEAD + "torch.manual_seed(0)\n"
                         "model = nn.Linear(16, 5)\n"
                         "x = torch.randn(4, 16)\n"
                         "labels = torch.tensor([[3, 0, -1, -1, -1], [1, -1, -1, -1, -1]] * 2)\n"
                         "loss = nn.MultiLabelSoftMarginLoss()(model(x), labels)",
                         expect=("NLH828", "multi-hot")),))
def index_lists_for_multi_hot(call: LossCall) -> Hint | None:
    """The reverse of NLH824: MultiLabelSoftMarginLoss reads each target entry as a 0/1 label per class,
    so -1 padding and class numbers give a loss without a minimum (it can go negative)."""
    facts = call.values("target")
    if facts is None or not facts.whole or facts.has_nan or facts.min is None:
        return None
    if facts.min != -1 or facts.max < 0:
        return None  # the -1 padding is what says "index lists"
    expr = call.code("target")
    c = (call.shape("input") or (0,))[-1]
    return Hint(
        title=f"{expr} holds class indices padded with -1: {call.loss_label} wants multi-hot rows",
        message=(f"{expr} has whole numbers from {_num(facts.min)} to {_num(facts.max)} (certain: read from "
                 f"the tensor), the index-list format of MultiLabelMarginLoss. {call.loss_label} reads "
                 f"every entry as a 0/1 label for that column's class, so these values make the loss "
                 f"meaningless (it can go below 0). Build multi-hot rows (one column per class, 1 where "
                 f"the class is present)."),
        fix=(f"multi_hot = F.one_hot({call.with_method('target', '.long()')} + 1, {c} + 1).amax(1)[:, 1:].float()"
             f"   # -1 padding dropped; then pass multi_hot"),
    )


@audit("NLH829", "weight-size", "a per-class weight/pos_weight lines up with the LAST dim (width), not the channels",
       losses=("binary_cross_entropy", "binary_cross_entropy_with_logits", "multilabel_soft_margin_loss"),
       severity="error",
       examples=(Example(_HEAD + "torch.manual_seed(0)\n"
                         "seg = nn.Conv2d(3, 4, 1)\n"
                         "img = torch.randn(2, 3, 8, 4)\n"
                         "masks = (torch.rand(2, 4, 8, 4) > 0.5).float()\n"
                         "class_weight = torch.tensor([1.0, 2.0, 4.0, 1.0])\n"
                         "loss = F.binary_cross_entropy_with_logits(seg(img), masks, pos_weight=class_weight)",
                         expect=("NLH829", "class_weight.view(-1, 1, 1)")),))
def class_weight_on_last_dim(call: LossCall) -> Hint | None:
    """BCE's weight and pos_weight broadcast like any tensor op: a (C,) tensor lines up with the LAST dim
    of the input. For (N, C, H, W) with W == C it weights the image columns, without an error."""
    shape = call.shape("input")
    if not shape or len(shape) < 3:
        return None
    if call.origin("input").producer != "conv":
        return None  # only a convolution says the classes are in dim 1 ((N, T, C) from a Linear: last dim)
    for name in ("pos_weight", "weight"):
        w = call.shape(name)
        if not w or len(w) != 1 or w[0] < 2 or w[0] != shape[-1] or shape[1] != w[0]:
            continue
        expr = call.code(name)
        view = f"{call.with_method(name, '.view(-1' + ', 1' * (len(shape) - 2) + ')')}"
        return Hint(
            title=f"{expr} ({w[0]},) weights the last dim of {call.code('input')} {_shape(shape)}, not the channels",
            message=(f"{expr} has one entry per class ({w[0]}), and {call.code('input')} holds the classes in "
                     f"dim 1 (its grad_fn says a convolution made it); {name} broadcasts from the LAST dim, which has the same size {shape[-1]} here, "
                     f"so it weights the image columns instead of the classes (certain: from the shapes). "
                     f"Give it a shape that lines up with dim 1."),
            fix=call.fix({name: view}) or f"{call.name(name)} = {view}",
        )
    return None


@audit("NLH825", "wrong-loss", "a 1-D (N,) output given to CrossEntropyLoss/NLLLoss: read as ONE sample over N classes",
       losses=CLASS_LOSSES, severity="error",
       examples=(Example(_HEAD + "torch.manual_seed(0)\n"
                         "model = nn.Linear(10, 1)\n"
                         "x = torch.randn(32, 10)\n"
                         "y = torch.randint(0, 2, (32,)).float()\n"
                         "out = model(x).squeeze(1)\n"
                         "loss = F.cross_entropy(out, y)",
                         expect=("NLH825", "F.binary_cross_entropy_with_logits(out, y)")),))
def one_dim_class_input(call: LossCall) -> Hint | None:
    """A 1-D input is one unbatched sample whose entries are the classes. With a float target of the same
    shape, PyTorch reads the labels as ONE probability distribution over N "classes": a binary task with
    one output per sample trains as a softmax across the batch."""
    shape, target = call.shape("input"), call.shape("target")
    if not shape or len(shape) != 1 or shape[0] < 2 or target != shape or not call.is_float("target"):
        return None
    facts = call.values("target")
    if facts is None or facts.has_nan or facts.min is None or facts.min < 0:
        return None
    ones = facts.rows_max_sum
    if facts.rows_simplex and not facts.binary:
        return None  # a genuine single soft-label distribution over the classes
    if facts.binary and ones is not None and abs(ones - 1) < 1e-6:
        return None  # one one-hot sample: legitimate unbatched use
    expr, texpr = call.code("input"), call.code("target")
    fix = _loss_swap(call, CLASS_LOSSES, "binary_cross_entropy_with_logits", "nn.BCEWithLogitsLoss()",
                     "one logit per sample, 0/1 labels", "on one logit per sample")
    return Hint(
        title=f"{expr} is 1-D {_shape(shape)}: {call.loss_label} reads it as one sample with {shape[0]} classes",
        message=(f"{expr} has one dim and {texpr} is a float tensor of the same shape (certain: from the "
                 f"shapes), so {call.loss_label} takes them as ONE unbatched sample: {shape[0]} class "
                 f"scores and one probability distribution over them. With one output per sample and 0/1 "
                 f"labels this is a binary task: use BCEWithLogitsLoss, or give the model 2 outputs and "
                 f"integer labels."),
        fix=fix,
    )


@audit("NLH838", "wrong-loss", "CrossEntropyLoss on a single output: one class, so the loss is always 0",
       losses=("cross_entropy",), severity="error",
       examples=(Example(_HEAD + "torch.manual_seed(0)\n"
                         "model = nn.Linear(10, 1)\n"
                         "x, y = torch.randn(32, 10), torch.randint(0, 2, (32, 1)).float()\n"
                         "criterion = nn.CrossEntropyLoss()\n"
                         "loss = criterion(model(x), y)",
                         expect=("NLH838", "nn.BCEWithLogitsLoss()")),))
def single_class(call: LossCall) -> Hint | None:
    """With one output per sample the softmax over the classes is always 1: CrossEntropyLoss is exactly
    0 whatever the model says. A binary or regression head wants BCEWithLogitsLoss or MSELoss. (NLLLoss on
    one column is left to the log-probability audits: log_softmax over one class is a consistent 0.)"""
    shape = call.shape("input")
    if not shape or len(shape) < 2 or shape[1] != 1 or math.prod(shape) < 2:
        return None
    t = call.tensor("input")
    if t is None or not t.requires_grad:
        return None  # not being trained: a constant loss harms nothing (an evaluation, a test of the API)
    target = call.values("target")
    if target is None or not call.is_float("target") or (target.min == 1 and target.max == 1):
        return None  # class 0 / probability 1 for the one class: consistent, only degenerate
    expr = call.code("input")
    fix = _loss_swap(call, CLASS_LOSSES, "binary_cross_entropy_with_logits", "nn.BCEWithLogitsLoss()",
                     "one logit per sample (MSELoss for a regression target)", "(or nn.MSELoss() for regression)",
                     replacements=None if call.is_float("target") else
                     {"target": call.with_method("target", ".float()")})
    what = "always exactly 0"
    return Hint(
        title=f"{expr} has one class ({_shape(shape)}): {call.loss_label} is {what}",
        message=(f"{expr} has size 1 in the class dim (certain: from its shape), so the softmax over the "
                 f"classes is 1 for every sample and {call.loss_label} is {what}: the model gets no useful "
                 f"gradient. For a yes/no target use BCEWithLogitsLoss on this one logit; for a number, "
                 f"MSELoss; for C classes give the model C outputs."),
        fix=fix,
    )


@audit("NLH839", "ctc-format", "CTCLoss targets contain the blank index: those labels can never be emitted",
       losses=("ctc_loss",), severity="error",
       examples=(Example(_HEAD + "torch.manual_seed(0)\n"
                         "T, N, C = 30, 2, 6\n"
                         "log_probs = torch.randn(T, N, C, requires_grad=True).log_softmax(2)\n"
                         "targets = torch.tensor([[1, 0, 2, 3], [4, 0, 0, 5]])   # 0 is also a letter here\n"
                         "loss = F.ctc_loss(log_probs, targets, torch.tensor([30, 30]), torch.tensor([4, 4]))",
                         expect=("NLH839", "blank")),))
def ctc_blank_in_targets(call: LossCall) -> Hint | None:
    """CTC reserves the blank index (default 0) for "no label here"; a target label equal to it cannot be
    aligned as a label, so the loss trains something else without an error. Labels must be 1..C-1 when
    blank=0 (shift them by one and give the model C+1 outputs)."""
    blank = call.options.get("blank", 0)
    found = _blank_positions(call, blank)
    if not found:
        return None
    count, row = found
    expr = call.code("targets")
    return Hint(
        title=f"{expr} uses the blank index {blank} as a label ({count} time{'s' if count != 1 else ''})",
        message=(f"Within the target lengths {expr} holds {blank}, which is {call.loss_label}'s blank "
                 f"(certain: read from the tensor, first in sample {row}). The blank means 'no label' in an "
                 f"alignment, so these labels are never learned as labels. Use labels 1..C-1 (e.g. label + 1, "
                 f"with one more output for the blank), or pass blank= an index no label uses."),
        fix=(call.fix({"targets": call.with_method("targets", " + 1")})
             if blank == 0 else None) or "shift the labels so that none equals blank",
    )


def _blank_positions(call: LossCall, blank: int):
    """(count, first sample) of target labels equal to blank within the target lengths (bounded read)."""
    import torch

    t, lengths = call.tensor("targets"), call.tensor("target_lengths")
    if not call.read_values or t is None or t.device.type == "meta" or t.is_floating_point():
        return None
    try:
        if isinstance(lengths, torch.Tensor):
            lengths = lengths.reshape(-1)[:1024].tolist()
        lengths = [int(n) for n in lengths][:1024]
        with torch.no_grad():
            if t.dim() == 2:
                rows = t[:1024, :4096].cpu().tolist()
                labels = [(i, v) for i, (row, n) in enumerate(zip(rows, lengths)) for v in row[:n]]
            else:
                flat = t.reshape(-1)[:4096].cpu().tolist()
                labels, start = [], 0
                for i, n in enumerate(lengths):
                    labels += [(i, v) for v in flat[start:start + n]]
                    start += n
    except Exception:
        return None
    hits = [i for i, v in labels if v == blank]
    return (len(hits), hits[0]) if hits else None


# --- arguments in the wrong order --------------------------------------------------------------------

_SWAP_EXAMPLE = Example(_HEAD + "torch.manual_seed(0)\n"
                        "model = nn.Sequential(nn.Linear(10, 1), nn.Sigmoid())\n"
                        "x = torch.randn(32, 10)\n"
                        "labels = torch.randint(0, 2, (32, 1)).float()\n"
                        "criterion = nn.BCELoss()\n"
                        "loss = criterion(labels, model(x))",
                        expect=("NLH826", "loss = criterion(model(x), labels)"))


def swapped_arguments(call: LossCall) -> Hint | None:
    """These losses are not symmetric: the model's output goes first, the data second. Autograd tells
    which is which: the target requires grad and the input does not."""
    a, b = call.tensor("input"), call.tensor("target")
    if a is None or b is None or not b.is_floating_point() or a.requires_grad or not b.requires_grad:
        return None
    if call.shape("input") != call.shape("target"):
        return None
    fix = call.fix({"input": call.name("target"), "target": call.name("input")})
    return Hint(
        title=f"{call.loss_label} arguments look swapped: {call.code('target')} is the model's output",
        message=(f"{call.code('target')} requires grad and {call.code('input')} does not (certain: from "
                 f"autograd), so the model's output was passed as the target. {call.loss_label}(input, "
                 f"target) is not symmetric: the prediction goes first, the labels second."),
        fix=fix or "pass the model's output first and the labels second",
    )


_SWAPPED = [
    audit("NLH826", "bce-range", "BCE arguments swapped: the target is what the model computed, the input the labels",
          losses=BINARY_LOSSES, severity="error",
          examples=(_SWAP_EXAMPLE,))(swapped_arguments),
    audit("NLH827", "wrong-loss", "loss arguments swapped: the target is what the model computed, the input the data",
          losses=("poisson_nll_loss", "multilabel_soft_margin_loss", "cross_entropy"), severity="error",
          examples=(Example(_HEAD + "torch.manual_seed(0)\n"
                            "model = nn.Linear(8, 5)\n"
                            "x = torch.randn(16, 8)\n"
                            "mixed = 0.7 * F.one_hot(torch.randint(0, 5, (16,)), 5) + 0.06\n"
                            "loss = F.cross_entropy(mixed, model(x))",
                            expect=("NLH827", "loss = F.cross_entropy(model(x), mixed)")),))(swapped_arguments),
]


_POSITIVE_MAKERS = frozenset({"SoftplusBackward0", "ExpBackward0", "EluBackward0", "PowBackward0", "AbsBackward0",
                              "SigmoidBackward0", "ClampMinBackward0", "ClampBackward1"})


def _made_by(tensor, names: frozenset):
    """(node name, steps) when ``tensor`` comes from one of ``names`` through value-moving ops only."""
    from .provenance import _PASS

    fn = getattr(tensor, "grad_fn", None)
    for step in range(8):
        if fn is None:
            return None
        name = type(fn).__name__
        if name in names:
            return name, step
        if name not in _PASS:
            return None
        parents = [f for f, _ in fn.next_functions if f is not None]
        fn = parents[0] if len(parents) == 1 else None
    return None


@audit("NLH835", "wrong-loss", "GaussianNLLLoss given (mean, var, target): the variance went in as the target",
       losses=("gaussian_nll_loss",), severity="error",
       examples=(Example(_HEAD + "torch.manual_seed(0)\n"
                         "net = nn.Linear(6, 2)\n"
                         "x, y = torch.randn(64, 6), torch.rand(64, 1) + 1\n"
                         "mean, var = net(x).chunk(2, dim=1)\n"
                         "var = F.softplus(var)\n"
                         "loss = nn.GaussianNLLLoss()(mean, var, y)",
                         expect=("NLH835", "loss = nn.GaussianNLLLoss()(mean, y, var)")),))
def gaussian_var_as_target(call: LossCall) -> Hint | None:
    """GaussianNLLLoss(input, target, var): the data goes second. Autograd tells: the "target" was computed
    by the model (requires grad) and the "var" was not."""
    a, t, v = call.tensor("input"), call.tensor("target"), call.tensor("var")
    if a is None or t is None or v is None or not a.requires_grad or not t.requires_grad or v.requires_grad:
        return None
    from .provenance import upstream

    if upstream(t, _POSITIVE_MAKERS, limit=4) is None:
        return None  # the "target" is not made positive like a variance: maybe a teacher's mean
    return Hint(
        title=f"{call.loss_label} arguments look swapped: {call.code('target')} is a model output, {call.code('var')} is data",
        message=(f"{call.code('target')} requires grad and {call.code('var')} does not (certain: from autograd). "
                 f"{call.loss_label} takes (input, target, var): the mean, then the observed values, then the "
                 f"variance. With the variance in the target's place the loss fits the wrong quantity."),
        fix=call.fix({"target": call.name("var"), "var": call.name("target")}) or
        "call it as loss(mean, target, var)",
    )


@audit("NLH836", "input-not-logprob", "PoissonNLLLoss(log_input=True) given rates (exp/softplus output): exp is applied twice",
       losses=("poisson_nll_loss",), severity="error",
       examples=(Example(_HEAD + "torch.manual_seed(0)\n"
                         "net = nn.Linear(5, 1)\n"
                         "counts = torch.poisson(torch.full((64, 1), 3.0))\n"
                         "rate = torch.exp(net(torch.randn(64, 5)))\n"
                         "loss = nn.PoissonNLLLoss()(rate, counts)",
                         expect=("NLH836", "log_input=False")),))
def poisson_rate_with_log_input(call: LossCall) -> Hint | None:
    """With log_input=True (the default) the loss computes exp(input) - target * input: the input is the
    LOG of the rate. A rate that already went through exp/softplus is exponentiated twice."""
    if call.options.get("log_input", True) is not True:
        return None
    found = _made_by(call.tensor("input"), frozenset({"ExpBackward0", "SoftplusBackward0"}))
    if found is None:
        return None
    what = "exp" if found[0] == "ExpBackward0" else "softplus"
    # PoissonNLLLoss.forward names its input log_input, like the functional's option: the module's argument
    param = "log_input" if not call.functional and call.call and "input" not in call.call.args else "input"
    expr = call.code(param)
    where = (f"Its grad_fn says {what} produced {expr}" if found[1] == 0 else
             f"Its grad_fn shows {what} {found[1]} op{'s' if found[1] != 1 else ''} below {expr}")
    fix = call.set_option("log_input", "False") or (
        f"{call.call.callee} = nn.PoissonNLLLoss(log_input=False)" if call.call and call.call.callee.isidentifier()
        else "create the loss with nn.PoissonNLLLoss(log_input=False), or pass the log-rate")
    return Hint(
        title=f"{expr} is a rate ({what} output) but {call.loss_label} has log_input=True",
        message=(f"{where} (certain), so {expr} is already a rate. With log_input=True, {call.loss_label} reads its input as the "
                 f"LOG of the rate and applies exp again: the model fits log(rate) instead of the rate. Pass "
                 f"log_input=False, or give the raw output before the {what}."),
        fix=fix,
    )


# --- deprecated options ------------------------------------------------------------------------------------

_LEGACY_ARGS = ("size_average", "reduce")
_LEGACY_WORDS = re.compile(r"\b(?:size_average|reduce)\s*=")


@audit("NLH841", "bad-option", "deprecated size_average= / reduce=: say reduction='none' / 'sum' / 'mean'",
       losses=tuple(sorted(losses_where(lambda c: c.legacy))), severity="info",
       examples=(Example(_HEAD + "torch.manual_seed(0)\n"
                         "criterion = nn.TripletMarginLoss(margin=0.3, p=2.0, reduce=False)\n"
                         "feat = torch.randn(2, 8, 3, 4)\n"
                         "per_pos = criterion(feat, feat + 0.1 * torch.randn_like(feat), torch.randn_like(feat))",
                         expect=("NLH841", "criterion = nn.TripletMarginLoss(margin=0.3, p=2.0, reduction='none')")),))
def legacy_reduction_arguments(call: LossCall) -> Hint | None:
    """size_average and reduce are deprecated (torch warns on every construction): their meaning is
    easy to misread (reduce=False ignores size_average) and a later torch may drop them. The modern
    ``reduction=`` says the same thing in one word."""
    if call.functional:
        given = {k: call.options.get(k) for k in _LEGACY_ARGS if call.options.get(k) is not None}
        if not given or call.call is None:
            return None
        modern = legacy_reduction(given.get("size_average"), given.get("reduce"))
        where = call.call.statement
        fix = _drop_legacy(where, modern)
    else:
        found = _constructor(call)
        if found is None:
            return None
        where, given = found
        modern = legacy_reduction(given.get("size_average"), given.get("reduce"))
        fix = _drop_legacy(where, modern)
        if fix and "(" in call.call.callee:  # nn.X(reduce=False)(a, b): the user's line with the new callee
            fix = call.fix(callee=fix) or fix
    written = ", ".join(f"{k}={v}" for k, v in given.items())
    return Hint(
        title=f"{written} is deprecated: it means reduction='{modern}'",
        message=(f"{call.module_label} was given {written} (certain: from the call). These arguments are "
                 f"deprecated (torch warns each time) and easy to misread: reduce=False means no reduction "
                 f"whatever size_average says, size_average=False means a sum. Here they mean "
                 f"reduction='{modern}', which says the same in one argument."),
        fix=fix or f"pass reduction='{modern}' instead of {written}",
    )


def _constructor(call: LossCall):
    """(constructor text, {legacy arg: value}) of the module behind ``criterion(...)``: the callee itself
    (``nn.X(reduce=False)(a, b)``) or its latest assignment above the call, from the source."""
    import ast
    import linecache

    if call.call is None:
        return None
    callee = call.call.callee
    texts = []
    if "(" in callee:
        texts.append(callee)
    else:
        source = "".join(linecache.getlines(call.call.filename))
        if not _LEGACY_WORDS.search(source):  # the usual case: no parse of the whole file on every examination
            return None
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError):
            return None
        here = call.call.lineno
        found = sorted((node.lineno > here, -node.lineno if node.lineno <= here else node.lineno, id(node), node)
                       for node in ast.walk(tree)
                       if isinstance(node, ast.Assign) and len(node.targets) == 1
                       and isinstance(node.value, ast.Call) and ast.unparse(node.targets[0]) == callee)
        if not found:
            return None  # the latest assignment above the call, else the first below (a class's __init__)
        texts.append(ast.unparse(found[0][-1]))
    for text in texts:
        try:
            tree = ast.parse(text)
        except SyntaxError:
            return None
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            given = {}
            for kw in node.keywords:
                if kw.arg in _LEGACY_ARGS and isinstance(kw.value, ast.Constant):
                    given[kw.arg] = kw.value.value
            if given:
                return text, given
    return None


def _drop_legacy(text: str, modern: str) -> str | None:
    """``text`` with the first size_average=/reduce= replaced by reduction='modern' and the others (and a
    reduction= they override) removed; the rest of the text as the user wrote it."""
    import ast

    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None
    lines = text.splitlines(keepends=True)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not any(kw.arg in _LEGACY_ARGS for kw in node.keywords):
            continue
        edits, first = [], True
        for kw in node.keywords:
            if kw.arg not in _LEGACY_ARGS + ("reduction",):
                continue
            a, b = _offset(lines, kw.lineno, kw.col_offset), _offset(lines, kw.end_lineno, kw.end_col_offset)
            if first and kw.arg != "reduction":
                edits.append((a, b, f"reduction='{modern}'"))
                first = False
            else:
                while a > 0 and text[a - 1] in " \t\n":
                    a -= 1
                if a > 0 and text[a - 1] == ",":
                    a -= 1
                edits.append((a, b, ""))
        for a, b, new in sorted(edits, reverse=True):
            text = text[:a] + new + text[b:]
        return text
    return None


# --- the value outside the loss's range ------------------------------------------------------------------

_BROKEN = {  # loss -> what the negative value proves
    "nll_loss": "its input is not log-probabilities: some value of the picked class is above 0",
    "kl_div": ("its input is not log-probabilities or its target not a probability distribution over the "
               "same dim (rows that do not sum to 1)"),
    "ctc_loss": "log_probs is not log_softmax over the classes (dim 2): a path got probability above 1",
    "binary_cross_entropy": "the target has values outside [0, 1]",
    "binary_cross_entropy_with_logits": "the target has values outside [0, 1] (or pos_weight is negative)",
    "cross_entropy": "the class-probability target has values outside [0, 1] or rows above 1",
    "multilabel_soft_margin_loss": "the target has values outside [0, 1]",
}
_FIXES = {
    "nll_loss": ("input", ".log_softmax(dim=1)"),
    "ctc_loss": ("log_probs", ".log_softmax(dim=2)"),
}


def negative_loss(call: LossCall) -> Hint | None:
    """NLL on log-probabilities, KL between distributions, CTC on log_softmax and BCE on [0, 1] targets
    are >= 0 by definition. A negative value proves the input breaks the contract, whatever made it."""
    if call.found:
        return None  # an earlier audit on this call already names the broken contract
    value = call.result_value
    reduction = effective_reduction(call.options)
    if reduction == "none":
        facts = call.result_facts
        if facts is None or facts.min is None or call.loss == "kl_div":  # pointwise KL terms can be < 0
            return None
        value = facts.min
    if value is None or value != value:
        return None
    size = 1
    for name in ("input", "log_probs"):
        shape = call.shape(name)
        if shape:
            size = max(size, math.prod(shape))
    if value >= -max(1e-3, 1e-6 * size):  # rounding in a sum over many terms is not a broken contract
        return None
    expr_name, suffix = _FIXES.get(call.loss, (None, None))
    fix = None
    if expr_name and call.has(expr_name):
        facts = call.values(expr_name)
        if call.loss == "nll_loss" and len(call.shape(expr_name) or ()) == 1:
            suffix = ".log_softmax(dim=0)"
        if facts is not None and facts.min >= 0 and facts.max <= 1:  # probabilities: their log, not log_softmax
            from .formats import log_probabilities_of

            fix = call.fix({expr_name: log_probabilities_of(call, expr_name)})
        else:
            fix = call.fix({expr_name: call.with_method(expr_name, suffix)})
    return Hint(
        title=f"{call.loss_label} came out negative ({_num(value)}): {_BROKEN[call.loss].split(':')[0]}",
        message=(f"The loss value is {_num(value)} (certain: read after the call), and "
                 f"{call.loss_label} cannot be negative when its contract holds. So {_BROKEN[call.loss]}. "
                 f"The optimiser will push the loss further below 0 without learning the task."),
        fix=fix,
    )


_NEGATIVE = (  # code, category, losses: one audit per category whose range can break
    ("NLH904", "input-not-logprob", ("nll_loss",),
     Example(_HEAD + "torch.manual_seed(0)\n"
             "scores = torch.randn(16, 4, requires_grad=True) * 3 + 2\n"
             "labels = torch.randint(0, 4, (16,))\n"
             "loss = F.nll_loss(scores, labels)",
             expect=("NLH904", "negative", "scores.log_softmax(dim=1)"))),
    ("NLH905", "kl-format", ("kl_div",),
     Example(_HEAD + "torch.manual_seed(0)\n"
             "scores = torch.randn(16, 10, requires_grad=True) * 3 + 3\n"
             "teacher = F.softmax(torch.randn(16, 10), dim=1)\n"
             "loss = F.kl_div(scores, teacher, reduction='batchmean')",
             expect=("NLH905", "negative", "not log-probabilities"))),
    ("NLH906", "ctc-format", ("ctc_loss",),
     Example(_HEAD + "torch.manual_seed(0)\n"
             "T, N, C = 30, 4, 6\n"
             "scores = torch.randn(T, N, C, requires_grad=True) * 2 + 3\n"
             "ctc = nn.CTCLoss()\n"
             "loss = ctc(scores, torch.randint(1, C, (N, 8)), torch.full((N,), T), torch.full((N,), 8))",
             expect=("NLH906", "negative", "scores.log_softmax(dim=2)"))),
    ("NLH907", "bce-range", ("binary_cross_entropy", "binary_cross_entropy_with_logits",
                             "multilabel_soft_margin_loss"),
     Example(_HEAD + "torch.manual_seed(0)\n"
             "scores = torch.randn(16, 5, requires_grad=True) + 4\n"
             "counts = torch.full((16, 5), 3.0)\n"
             "loss = F.multilabel_soft_margin_loss(scores, counts)",
             expect=("NLH907", "negative", "outside [0, 1]"))),
    ("NLH908", "target-range", ("cross_entropy",),
     Example(_HEAD + "torch.manual_seed(0)\n"
             "logits = torch.randn(16, 5, requires_grad=True) * 3\n"
             "soft = torch.randn(16, 5)\n"
             "loss = F.cross_entropy(logits, soft)",
             expect=("NLH908", "negative"))),
)
_NEGATIVE_AUDITS = [
    audit(code, category, f"{'/'.join(CONTRACTS[n].module for n in losses)} came out negative: its contract is broken",
          losses=losses, severity="error", examples=(example,) if example else ())(negative_loss)
    for code, category, losses, example in _NEGATIVE
]


RULES = [nll_wrong_dim, cross_entropy_wrong_dim, kl_over_batch, ctc_wrong_dim, zero_one_for_signs,
         multi_hot_for_index_lists, index_lists_for_multi_hot, class_weight_on_last_dim, one_dim_class_input,
         single_class, ctc_blank_in_targets, gaussian_var_as_target, poisson_rate_with_log_input, *_SWAPPED,
         *_NEGATIVE_AUDITS, legacy_reduction_arguments]  # last: a note never hides a finding (call.found)
