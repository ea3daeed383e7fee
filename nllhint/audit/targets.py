"""Audits for targets that do not fit the loss but raise nothing: the wrong loss for the task, and
target values that are silently used as classes."""

from __future__ import annotations

import re

from ..probe import _num
from .base import Example, Hint, LossCall, audit
from .formats import CLASS_LOSSES

_HEAD = "import torch, torch.nn as nn, torch.nn.functional as F\n"

PAD_MIN_CLASSES = 100  # padding detection only for vocabulary-sized outputs (LMs), where runs mean padding
PAD_MIN_RUN = 3
PAD_ROWS = 64
PAD_WINDOW = 512  # columns read from the end of each row


@audit("NLH816", "wrong-loss", "CrossEntropyLoss given multi-hot target rows: a multi-label task wants BCEWithLogitsLoss",
       losses=("cross_entropy",), severity="error",
       examples=(Example(_HEAD + "torch.manual_seed(0)\n"
                         "model = nn.Linear(20, 6)\n"
                         "x = torch.randn(8, 20)\n"
                         "tags = torch.tensor([[1, 0, 1, 0, 0, 0], [0, 1, 0, 0, 1, 1]] * 4).float()\n"
                         "loss = F.cross_entropy(model(x), tags)",
                         expect=("NLH816", "loss = F.binary_cross_entropy_with_logits(model(x), tags)")),))
def multi_hot_into_cross_entropy(call: LossCall) -> Hint | None:
    """CrossEntropyLoss with float targets reads each row as one probability distribution over classes.
    Rows with several 1s are not distributions: each label is one of several independent yes/no
    questions, which is BCEWithLogitsLoss."""
    if not call.is_float("target") or call.shape("target") != call.shape("input") or len(call.shape("input")) < 2:
        return None  # (a 1-D input is one unbatched sample: NLH825)
    facts = call.values("target")
    if facts is None or not facts.binary or (facts.rows_max_sum or 0) < 1.5:
        return None
    expr = call.code("target")
    if call.functional and call.call is not None:
        callee = call.call.callee
        fix = call.fix(callee=callee[: -len("cross_entropy")] + "binary_cross_entropy_with_logits"
                       if callee.endswith("cross_entropy") else None)
    else:
        callee = call.call.callee if call.call else ""
        fix = f"{callee} = nn.BCEWithLogitsLoss()" if callee.isidentifier() else "use nn.BCEWithLogitsLoss()"
    return Hint(
        title=f"{expr} has several 1s per row: a multi-label target, not classes for {call.loss_label}",
        message=(f"{expr} holds only 0s and 1s and some row has {_num(facts.rows_max_sum)} ones (certain). "
                 f"{call.loss_label} reads each row as one probability distribution, so with several "
                 f"labels it pushes them to share one unit of probability. For several labels per sample "
                 f"use BCEWithLogitsLoss."),
        fix=fix,
    )


@audit("NLH817", "wrong-loss", "BCE given class indices (0..C-1) as targets: a multi-class task wants CrossEntropyLoss",
       losses=("binary_cross_entropy_with_logits", "binary_cross_entropy"), severity="error",
       examples=(Example(_HEAD + "torch.manual_seed(0)\n"
                         "model = nn.Linear(20, 1)\n"
                         "x = torch.randn(32, 20)\n"
                         "labels = torch.randint(0, 4, (32, 1)).float()\n"
                         "loss = nn.BCEWithLogitsLoss()(model(x), labels)",
                         expect=("NLH817", "CrossEntropyLoss")),))
def class_indices_into_bce(call: LossCall) -> Hint | None:
    """Binary cross-entropy treats the target as a probability in [0, 1]; class numbers 2, 3, ... make
    the loss reward pushing the score to infinity."""
    facts = call.values("target")
    if facts is None or not facts.whole or facts.min < 0 or facts.max < 2 or facts.has_nan:
        return None
    if _scaled_mask(facts) is not None:
        return None  # a 0/255 mask: NLH818
    expr = call.code("target")
    values = (("{" + ", ".join(_num(v) for v in facts.distinct) + "}") if facts.distinct
              else f"0..{_num(facts.max)}")
    top = int(facts.max)
    return Hint(
        title=f"{expr} holds class numbers {values}: {call.loss_label} wants 0/1 targets",
        message=(f"{expr} has whole numbers up to {top} (certain). Binary cross-entropy reads targets as "
                 f"probabilities in [0, 1], so a target of {top} has no meaning and the loss has no "
                 f"minimum. For one class out of {top + 1}, give the model {top + 1} outputs and use "
                 f"CrossEntropyLoss with integer labels."),
        fix=_cross_entropy_fix(call, top + 1),
    )


def _cross_entropy_fix(call: LossCall, classes: int) -> str:
    shape = call.shape("target") or ()
    labels = call.with_method("target", ".long().view(-1)" if len(shape) == 2 and shape[1] == 1 else ".long()")
    callee = call.call.callee if call.call else ""
    for old, new in (("BCEWithLogitsLoss", "CrossEntropyLoss"), ("BCELoss", "CrossEntropyLoss"),
                     ("binary_cross_entropy_with_logits", "cross_entropy"), ("binary_cross_entropy", "cross_entropy")):
        if old in callee:
            line = call.fix({"target": labels}, callee=callee.replace(old, new))
            if line:
                return f"{line}   # with {classes} outputs in the model's last layer"
    return (f"give the model {classes} outputs and use nn.CrossEntropyLoss() on "
            f"({call.name('input')}, {labels})")


def _scaled_mask(facts) -> float | None:
    """k when the values are exactly {0, k} with k an image-mask scale (255, 65535...): a binary mask
    saved as an image, not class indices."""
    values = set(facts.distinct or ())
    if len(values) == 2 and 0.0 in values:
        k = max(values)
        if k in (255.0, 65535.0, 100.0):
            return k
    return None


@audit("NLH818", "bce-range", "BCEWithLogitsLoss targets outside [0, 1] (e.g. -1/+1 labels)",
       losses=("binary_cross_entropy_with_logits",), severity="error",
       examples=(Example(_HEAD + "torch.manual_seed(0)\n"
                         "model = nn.Linear(20, 1)\n"
                         "x = torch.randn(32, 20)\n"
                         "y = torch.randint(0, 2, (32, 1)).float() * 2 - 1\n"
                         "loss = F.binary_cross_entropy_with_logits(model(x), y)",
                         expect=("NLH818", "loss = F.binary_cross_entropy_with_logits(model(x), (y + 1) / 2)")),))
def bce_target_outside_unit(call: LossCall) -> Hint | None:
    """BCEWithLogitsLoss does not check its target; -1/+1 labels (SVM style) or other values outside
    [0, 1] give a loss without a minimum."""
    facts = call.values("target")
    if facts is None or facts.has_nan or (facts.min >= 0 and facts.max <= 1):
        return None
    scale = _scaled_mask(facts)
    if facts.whole and facts.min >= 0 and scale is None:
        return None  # class indices: NLH817
    expr = call.code("target")
    if scale is not None:
        what = f"a 0/{_num(scale)} mask"
        fix = call.fix({"target": call.with_method("target", f" / {_num(scale)}")})
    elif facts.distinct is not None and set(facts.distinct) == {-1.0, 1.0}:
        what = "-1/+1 labels"
        fix = call.fix({"target": f"({call.name('target')} + 1) / 2"})
    elif not facts.whole and -1.001 <= facts.min <= -0.8 and facts.max <= 1.001:  # Normalize((0.5,), (0.5,))
        images = len(call.shape("target") or ()) >= 3
        what = "images normalised to [-1, 1]" if images else "real values in [-1, 1]"
        fix = call.fix({"target": f"({call.name('target')} + 1) / 2" if call.is_simple("target")
                        else f"(({call.name('target')}) + 1) / 2"})
    else:
        what = f"values in [{_num(facts.min)}, {_num(facts.max)}]"
        fix = None
    return Hint(
        title=f"{expr} holds {what}: {call.loss_label} wants targets in [0, 1]",
        message=(f"{expr} has values outside [0, 1] (certain: min {_num(facts.min)}, max "
                 f"{_num(facts.max)}). {call.loss_label} does not check its target; outside [0, 1] the "
                 f"loss has no minimum and training diverges. "
                 + ("Map them back to [0, 1] (or drop the normalisation)." if "[-1, 1]" in what
                    else "Map the labels to 0 and 1.")),
        fix=fix or "rescale the target into [0, 1] (e.g. 0 for negative, 1 for positive)",
    )


@audit("NLH819", "target-range", "padding inside the class range: padded positions are trained as a real token",
       losses=CLASS_LOSSES,
       examples=(Example(_HEAD + "torch.manual_seed(0)\n"
                         "V, pad = 1000, 0\n"
                         "logits = torch.randn(4, 20, V, requires_grad=True)\n"
                         "labels = torch.randint(5, V, (4, 20))\n"
                         "for i, n in enumerate([20, 14, 9, 17]):\n"
                         "    labels[i, n:] = pad\n"
                         "loss = F.cross_entropy(logits.transpose(1, 2), labels)",
                         expect=("NLH819", "labels.masked_fill(labels == 0, -100)")),))
def padding_counted_as_class(call: LossCall) -> Hint | None:
    """Sequences padded with a token id (0, or the tokenizer's pad id) while ignore_index keeps its
    default -100: the padded positions are trained as that token. Looked for only with a vocabulary-sized
    output, where several rows ending in runs of one token of different lengths means padding."""
    shape, target = call.shape("input"), call.shape("target")
    if not shape or not target or len(target) != 2 or call.is_float("target") or len(shape) < 2:
        return None
    c = shape[1]
    if c < PAD_MIN_CLASSES or not call.read_values:
        return None
    if call.options.get("reduction", "mean") == "none":
        return None  # per-token losses: padding is usually masked out afterwards, which we cannot see
    found = _trailing_runs(call.tensor("target"))
    if found is None:
        return None
    value, runs, rows = found
    ignore = call.options.get("ignore_index", -100)
    if value == ignore or not 0 <= value < c:
        return None
    expr = call.code("target")
    mask = call.name("target") if call.is_simple("target") else f"({call.name('target')})"
    new = call.with_method("target", f".masked_fill({mask} == {value}, -100)")
    return Hint(
        title=f"{expr} looks padded with {value}, which {call.loss_label} trains as a real token",
        message=(f"{len(runs)} of {rows} rows of {expr} end in a run of {value}s of different lengths "
                 f"({min(runs)} to {max(runs)}), which looks like padding (likely, not certain). "
                 f"ignore_index is {ignore}, so every padded position is trained to predict token "
                 f"{value}. Mark padding with -100 (or pass ignore_index={value} if {value} is never a "
                 f"real target)."),
        fix=call.fix({"target": new}),
    )


def _trailing_runs(t):
    """(value, run lengths, rows looked at) when several rows end in runs of one value of varying length."""
    import torch

    if t is None or t.device.type == "meta" or t.dim() != 2 or t.shape[1] < 2 * PAD_MIN_RUN:
        return None
    with torch.no_grad():
        rows = t[:PAD_ROWS, -PAD_WINDOW:].detach()
        if rows.device.type != "cpu":
            rows = rows.cpu()
        rows = rows.tolist()
    last = {}
    for row in rows:
        last[row[-1]] = last.get(row[-1], 0) + 1
    value, count = max(last.items(), key=lambda kv: kv[1])
    runs = []
    for row in rows:
        n = 0
        for v in reversed(row):
            if v != value:
                break
            n += 1
        if n >= PAD_MIN_RUN and (n < len(row) or len(row) < t.shape[1]):
            runs.append(n)
    if len(runs) < 2 or len(set(runs)) < 2:
        return None
    return int(value), runs, len(rows)


REGRESSION_LOSSES = ("mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss")
# names that say "class id", not "quantity": cls, class_id, y_class, category, cat_idx, label_ids
_CLASS_NAME = re.compile(r"(?:^|_)(?:cls|class|classes|class_?ids?|class_?idx|class_?index|category|categories|"
                         r"cat_?ids?|cat_?idx|label_?ids?|label_?idx)(?:$|_)", re.I)
_ORDERED_NAME = re.compile(r"(?:^|_|\b)(?:grades?|ratings?|ranks?|levels?|stages?|severity|scores?|ages?|ordinal|"
                           r"stars?|years?)(?:$|_|\b)", re.I)
_WORDS = re.compile(r"[A-Za-z_]\w*|'[^']*'|\"[^\"]*\"")


def _named_as_classes(expr: str) -> str | None:
    """The word of the target's expression that names class ids (``cls`` in ``cls.float()``), if any."""
    for word in _WORDS.findall(expr):
        word = word.strip("'\"")
        if word not in ("float", "double", "view", "squeeze", "unsqueeze", "to") and _CLASS_NAME.search(word):
            return word
    return None


@audit("NLH849", "wrong-loss", "a regression loss on class ids 0..K-1 from a single output (info)",
       losses=REGRESSION_LOSSES, severity="info",
       examples=(Example(_HEAD + "torch.manual_seed(0)\n"
                         "model = nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Linear(32, 1))\n"
                         "x = torch.randn(16, 12)\n"
                         "cls = torch.randint(0, 5, (16, 1)).float()\n"
                         "loss = nn.MSELoss()(model(x), cls)",
                         expect=("NLH849", "nn.CrossEntropyLoss()(model(x), cls.view(-1).long())",
                                 "ordered")),))
def class_ids_regressed(call: LossCall) -> Hint | None:
    """Class ids regressed as numbers: one output per sample, a target named like class ids holding every
    whole number 0..K-1. Values alone cannot tell ids from counts or ratings (both are whole numbers), so
    the target's name must say classes, and the note (info, %%losscheck only) says when regression is
    right: ordered grades."""
    shape, target = call.shape("input"), call.shape("target")
    if not shape or shape != target or len(shape) > 2 or (len(shape) == 2 and shape[1] != 1) or shape[0] < 8:
        return None
    expr = call.name("target")
    word = _named_as_classes(expr)
    if word is None or _ORDERED_NAME.search(expr):
        return None  # grade_class, age_class, severity_level_cls: the name says the ids are ordered
    facts = call.values("target")
    if facts is None or not facts.whole or facts.distinct is None or facts.sampled:
        return None
    k = len(facts.distinct)
    if not 3 <= k <= 20 or facts.distinct != tuple(float(v) for v in range(k)):
        return None  # every id 0..K-1 present: 1..5 ratings and sparse counts stay silent
    flat = call.with_method("target", ".view(-1).long()")
    fix = (call.fix({"target": flat}, callee="nn.CrossEntropyLoss()") if not call.functional else
           call.fix({"target": flat}, callee=call.call.callee.rsplit(".", 1)[0] + ".cross_entropy"
                    if call.call is not None and "." in call.call.callee else "F.cross_entropy"))
    fix = fix or f"loss = nn.CrossEntropyLoss()({call.name('input')}, {flat})"
    return Hint(
        title=f"{call.code('target')} looks like class ids 0..{k - 1}, regressed with {call.loss_label}",
        message=(f"{call.code('target')} holds every whole number 0..{k - 1} (and nothing else) and its name "
                 f"(`{word}`) says class ids, while {call.code('input')} has one output per sample. "
                 f"{call.loss_label} treats the ids as quantities on a line (class {k - 1} is 'closer' to {k - 2} "
                 f"than to 0) and the model learns to predict in-between values. If they are unordered categories, "
                 f"give the model {k} outputs and use CrossEntropyLoss; if they are ordered grades, regression "
                 f"is a fair choice and this note does not apply."),
        fix=f"# with {k} outputs (the last layer's out_features = {k}):\n{fix}",
    )


RULES = [multi_hot_into_cross_entropy, class_indices_into_bce, bce_target_outside_unit, padding_counted_as_class,
         class_ids_regressed]
