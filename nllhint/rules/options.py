"""Rules for ``bad-option`` (an invalid loss option) and ``weight-size`` (a class weight of the wrong length).

Options are often set where the loss module is built, not where it fails, so the fix rewrites whichever
the user wrote: the failing call when the option is in it, else the ``nn.XLoss(...)`` constructor found
in the same cell or function, else a one-line snippet.
"""

from __future__ import annotations

import ast
import difflib
import re

from ..probe import _num
from ..source import _offset
from .base import Example, Hint, rule
from .dtype import BINARY_LOSSES

REDUCTIONS = ("none", "mean", "sum")
KL_LOSSES = ("kl_div", "KLDivLoss")
SYNONYMS = {
    "avg": "mean", "average": "mean", "elementwise_mean": "mean", "sum_over_batch_size": "mean", "auto": "mean",
    "total": "sum", "no": "none", "no_reduction": "none", "null": "none", "batch_mean": "batchmean",
    "batchmean": "mean",
}
DEFAULTS = {"beta": "1.0", "delta": "1.0", "margin": "1.0"}


# --- where an option was written ---------------------------------------------------------------------

def _constructor(ctx, option: str) -> tuple[str, str, str] | None:
    """(statement, value text, statement with the value replaced by ``{}``) of ``nn.<Module>(option=...)``.

    Looked up in the source of the cell or function that called the loss (parsed, never run); the
    last such constructor wins.
    """
    if not ctx.module:
        return None
    parsed = ctx.user_tree()
    if not parsed:
        return None
    text, tree, _ = parsed
    lines = text.splitlines(keepends=True)
    hit = None
    for stmt in ast.walk(tree):
        if not isinstance(stmt, ast.stmt) or hasattr(stmt, "body"):
            continue
        for node in ast.walk(stmt):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            callee = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if callee != ctx.module:
                continue
            for kw in node.keywords:
                if kw.arg == option:
                    hit = (stmt, kw.value)
    if hit is None:
        return None
    stmt, value = hit
    start, end = _offset(lines, stmt.lineno, stmt.col_offset), _offset(lines, stmt.end_lineno, stmt.end_col_offset)
    v_start, v_end = _offset(lines, value.lineno, value.col_offset), _offset(lines, value.end_lineno, value.end_col_offset)
    statement = text[start:end]
    template = text[start:v_start].replace("{", "{{").replace("}", "}}") + "{}" + \
        text[v_end:end].replace("{", "{{").replace("}", "}}")
    return statement, text[v_start:v_end], template


def _method(expr: str, suffix: str) -> str:
    """``expr`` with a method appended, parenthesised unless it is a name, attribute, call or subscript."""
    try:
        node = ast.parse(expr.strip(), mode="eval").body
    except SyntaxError:
        return f"({expr}){suffix}"
    simple = isinstance(node, (ast.Name, ast.Attribute, ast.Call, ast.Subscript))
    return f"{expr}{suffix}" if simple else f"({expr}){suffix}"


def option_text(ctx, option: str, default: str | None = None) -> str | None:
    """How the user wrote an option's value: ``'avg'``, ``class_weights``."""
    if ctx.call and option in ctx.call.args:
        return ctx.call.args[option]
    built = _constructor(ctx, option)
    return built[1] if built else default


def option_fix(ctx, option: str, new: str) -> str:
    """The user's statement with ``option`` set to ``new``: the failing call, else the constructor, else a snippet."""
    if ctx.call and option in ctx.call.args:
        fixed = ctx.fix({option: new})
        if fixed:
            return fixed
    built = _constructor(ctx, option)
    if built:
        return built[2].format(new)
    callee = ctx.call.callee if ctx.call else None
    if ctx.module:
        target = f"{callee} = " if callee and re.fullmatch(r"[\w.]+", callee) else ""
        return f"{target}nn.{ctx.module}({option}={new})"
    return f"{ctx.loss_label}(..., {option}={new})"


# --- bad-option --------------------------------------------------------------------------------------

@rule("NLH380", "bad-option", "reduction is not 'none', 'mean' or 'sum'",
      families=("reduction",),
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "criterion = nn.MSELoss(reduction='avg')\n"
          "loss = criterion(torch.randn(8, 1), torch.randn(8, 1))",
          expect=("criterion = nn.MSELoss(reduction='mean')",)),
          Example(
          "import torch, torch.nn.functional as F\n"
          "student, teacher = torch.randn(4, 10), torch.randn(4, 10)\n"
          "loss = F.kl_div(student.log_softmax(1), teacher.softmax(1), reduction='batch_mean')",
          expect=("reduction='batchmean'",))))
def bad_reduction(ctx) -> Hint | None:
    """A typo or another library's name for a reduction ('avg', 'batch_mean', None, 'Mean')."""
    m = ctx.family("reduction")
    if m is None:
        return None
    value = ctx.options.get("reduction", m.groups.get("value"))
    kl = ctx.loss in KL_LOSSES or ctx.module in KL_LOSSES
    valid = REDUCTIONS + (("batchmean",) if kl else ())
    if isinstance(value, str) and value in valid:
        return None
    text = str(value)
    best = None
    if value is None:
        best = "none"
    elif isinstance(value, str):
        key = value.strip().strip("'\"").lower()
        best = key if key in valid else SYNONYMS.get(key)
        if best not in valid:
            close = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
            best = close[0] if close else None
    listed = ", ".join(f"'{v}'" for v in valid)
    shown = f"reduction={value!r}"
    if value is None:
        why = "None is not the string 'none': pass 'none' to keep one loss per element."
    elif text == "batchmean" and not kl:
        why = ("'batchmean' exists only for KLDivLoss; here 'mean' already averages over all elements "
               "(or use 'sum' and divide by the batch size).")
    elif best:
        why = f"{value!r} looks like {best!r}."
    else:
        why = "'mean' averages over the elements (the default), 'sum' adds them up, 'none' keeps each one."
    return Hint(
        title=f"{shown} is not a valid reduction for {ctx.loss_label}",
        message=f"{ctx.loss_label} accepts reduction = {listed}. {why}",
        fix=option_fix(ctx, "reduction", repr(best)) if best else None,
        evidence=(),
    )


@rule("NLH381", "bad-option", "label_smoothing outside [0, 1]",
      families=("label-smoothing",),
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "criterion = nn.CrossEntropyLoss(label_smoothing=10)\n"
          "loss = criterion(torch.randn(8, 5), torch.randint(0, 5, (8,)))",
          expect=("nn.CrossEntropyLoss(label_smoothing=0.1)", "10%")),))
def bad_label_smoothing(ctx) -> Hint | None:
    """label_smoothing given as a percentage (10 for 10%) or otherwise above 1."""
    m = ctx.family("label-smoothing")
    value = ctx.options.get("label_smoothing", m.groups.get("value") if m else None)
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    if 0.0 <= value <= 1.0:
        return None
    percent = 1 < value <= 50 and value == int(value)
    new = _num(value / 100) if percent else "0.1"
    why = (f"{_num(value)} looks like a percentage: {_num(value)}% is label_smoothing={new}."
           if percent else "Typical values are 0.05 to 0.2.")
    return Hint(
        title=f"label_smoothing={_num(value)} is outside [0, 1]",
        message=(f"label_smoothing is the share of the target probability spread evenly over all classes: "
                 f"0 is none, 1 would be a uniform target. {why}"),
        fix=option_fix(ctx, "label_smoothing", new),
        evidence=(),
    )


@rule("NLH382", "bad-option", "a negative or zero beta, delta or margin",
      families=("hyperparameter",),
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "criterion = nn.SmoothL1Loss(beta=-0.5)\n"
          "pred, target = torch.randn(8, 4), torch.randn(8, 4)\n"
          "loss = criterion(pred, target)",
          expect=("criterion = nn.SmoothL1Loss(beta=0.5)",)),
          Example(
          "import torch, torch.nn as nn\n"
          "criterion = nn.HuberLoss(delta=-1.0)\n"
          "loss = criterion(torch.randn(8), torch.randn(8))",
          expect=("nn.HuberLoss(delta=1.0)",)),
          Example(
          "import torch, torch.nn as nn\n"
          "criterion = nn.TripletMarginLoss(margin=-0.5)",
          expect=("nn.TripletMarginLoss(margin=0.5)",))))
def bad_scale(ctx) -> Hint | None:
    """A distance threshold given a sign it cannot have: SmoothL1's beta, Huber's delta, a triplet margin."""
    m = ctx.family("hyperparameter")
    what = m.groups.get("what") if m else None
    option = {"smooth_l1_loss": "beta", "huber_loss": "delta", "margin": "margin"}.get(what)
    if option is None:
        return None
    value = ctx.options.get(option, m.groups.get("value"))
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    strict = option != "beta"
    if value > 0 or (value == 0 and not strict):
        return None
    new = repr(-value) if value < 0 else DEFAULTS[option]
    written = option_text(ctx, option) or _num(value)
    meaning = {
        "beta": "beta is where SmoothL1Loss switches from squared to absolute error; it must be >= 0 "
                "(default 1.0, and 0 gives plain L1).",
        "delta": "delta is where HuberLoss switches from squared to absolute error; it must be > 0 (default 1.0).",
        "margin": f"{ctx.loss_label}'s margin is how much farther the negative must be than the positive; "
                  "it must be > 0 (default 1.0).",
    }[option]
    return Hint(
        title=f"{option}={written} is not allowed for {ctx.loss_label}",
        message=meaning + (f" {written} looks like {new} with the wrong sign." if value < 0 else ""),
        fix=option_fix(ctx, option, new),
        evidence=(),
    )


@rule("NLH383", "bad-option", "MultiMarginLoss p other than 1 or 2",
      families=("hyperparameter",),
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "criterion = nn.MultiMarginLoss(p=10)",
          expect=("nn.MultiMarginLoss(p=1)",)),))
def bad_margin_power(ctx) -> Hint | None:
    """``p`` is the power of the hinge (1 or 2), not the number of classes."""
    m = ctx.family("hyperparameter")
    if m is None or m.groups.get("what") != "p":
        return None
    value = ctx.options.get("p")
    return Hint(
        title=f"p={value} is not supported by {ctx.loss_label}: only p=1 or p=2",
        message=("p is the exponent of the hinge, max(0, margin - x[y] + x[i]) ** p: 1 (the default) or 2. "
                 "The number of classes comes from the input's shape, not from an option."),
        fix=option_fix(ctx, "p", "1"),
        evidence=(),
    )


@rule("NLH384", "bad-option", "GaussianNLLLoss var with negative entries",
      families=("hyperparameter",),
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "head = nn.Linear(8, 2)\n"
          "mean, log_var = head(torch.randn(128, 8)).unbind(1)\n"
          "loss = nn.GaussianNLLLoss()(mean, torch.randn(128), log_var)",
          expect=("log_var.exp()",)),))
def negative_variance(ctx) -> Hint | None:
    """A raw network output (or a log-variance) passed where a variance (>= 0) is expected."""
    m = ctx.family("hyperparameter")
    var = ctx.t("var")
    if m is None or m.groups.get("what") != "var" or var is None:
        return None
    name = ctx.name("var")
    log = "log" in name.lower()
    new = ctx.with_method("var", ".exp()") if log else f"F.softplus({name})"
    low = f" (down to {_num(var.min)})" if var.values and var.min is not None else ""
    return Hint(
        title=f"{ctx.code('var')} has negative entries{low}, but it must hold variances",
        message=(f"GaussianNLLLoss takes the variance itself, which cannot be negative. "
                 + (f"{ctx.code('var')} looks like a log-variance: exponentiate it."
                    if log else f"{ctx.code('var')} looks like a raw network output: map it to positive "
                                "values first (softplus, or exp if it is a log-variance).")),
        fix=ctx.fix({"var": new}) or new,
    )


@rule("NLH385", "bad-option", "CTC blank index outside the classes",
      families=("hyperparameter",),
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "log_probs = torch.randn(30, 2, 10).log_softmax(2)\n"
          "targets = torch.randint(0, 10, (2, 6))\n"
          "ctc = nn.CTCLoss(blank=10)\n"
          "loss = ctc(log_probs, targets, torch.full((2,), 30), torch.full((2,), 6))",
          expect=("11", "blank=10")),))
def blank_out_of_range(ctx) -> Hint | None:
    """``blank=C`` for a model with C outputs: the blank needs its own output unit."""
    m = ctx.family("hyperparameter")
    lp = ctx.t("log_probs")
    if m is None or m.groups.get("what") != "blank" or lp is None or not lp.ndim:
        return None
    blank, classes = ctx.options.get("blank"), lp.shape[-1]
    if not isinstance(blank, int) or 0 <= blank < classes:
        return None
    name = ctx.code("log_probs")
    if blank >= classes:
        layers = ctx.output_layers(classes)
        return Hint(
            title=f"blank={blank}, but {name} has only {classes} classes (0..{classes - 1})",
            message=(f"The blank is one of the model's outputs: with blank={blank} the last dimension of "
                     f"{name} needs {blank + 1} entries (the labels and the blank), but it has {classes}. "
                     f"Give the output layer one more unit, or use blank=0 and number the labels from 1."),
            fix=(f"{layers[0]} = nn.Linear({layers[0]}.in_features, {blank + 1})   # keeps blank={blank}"
                 if layers and blank == classes else option_fix(ctx, "blank", "0") + "   # labels 1..C-1"),
        )
    return Hint(
        title=f"blank={blank} is negative; it must be a class index 0..{classes - 1}",
        message=(f"blank is an index into the last dimension of {name}; negative indices are not "
                 f"accepted. For the last class write blank={classes - 1}."),
        fix=option_fix(ctx, "blank", str(classes - 1)),
    )


# --- weight-size -------------------------------------------------------------------------------------

def _weight(ctx):
    """(weight facts, K, C) when the class weight's length is the problem."""
    if ctx.family("weight-classes") is None:
        return None
    weight, classes = ctx.t("weight"), ctx.num_classes
    if weight is None or classes is None or weight.numel == classes and weight.ndim == 1:
        return None
    return weight, weight.numel, classes


def _weight_name(ctx) -> str:
    return option_text(ctx, "weight", "weight")


@rule("NLH401", "weight-size", "per-sample weights passed as the class weight",
      families=("weight-classes",),
      examples=(Example(
          "import torch, torch.nn.functional as F\n"
          "logits = torch.randn(6, 3)\n"
          "labels = torch.tensor([0, 2, 1, 1, 0, 2])\n"
          "sample_w = torch.tensor([1.0, 0.5, 2.0, 1.0, 1.0, 0.5])\n"
          "loss = F.cross_entropy(logits, labels, weight=sample_w)",
          expect=("reduction='none'", "* sample_w).mean()")),))
def per_sample_weight(ctx) -> Hint | None:
    """One weight per sample given as ``weight=``, which holds one weight per class."""
    found = _weight(ctx)
    inp = ctx.input
    if not found or inp is None or inp.ndim < 2:
        return None
    weight, k, classes = found
    n = inp.shape[0]
    if k != n or weight.ndim != 1:
        return None
    w = _weight_name(ctx)
    inputs = f"{ctx.name('input')}, {ctx.name('target')}"
    callee = ctx.call.callee if ctx.call else ""
    if ctx.module:
        name = callee if re.fullmatch(r"[\w.]+", callee) else "criterion"
        fix = (f"{name} = nn.{ctx.module}(reduction='none')\n"
               f"loss = ({name}({inputs}) * {w}).mean()")
    else:
        fix = f"loss = ({ctx.loss_label}({inputs}, reduction='none') * {w}).mean()"
    return Hint(
        title=f"`{w}` has {k} entries, one per sample, but weight= takes one per class ({classes})",
        message=(f"{ctx.loss_label}'s weight rescales each class, so it needs {classes} entries; `{w}` has "
                 f"{k}, the number of samples in the batch, so it looks like per-sample weights. Compute "
                 "the unreduced loss and weight it yourself."),
        fix=fix,
    )


@rule("NLH402", "weight-size", "the class weight has the wrong number of entries",
      families=("weight-classes",),
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "labels = torch.tensor([0, 1, 1, 2, 1, 0, 2, 1])\n"
          "counts = torch.bincount(labels[labels < 2])\n"
          "class_weights = counts.sum() / counts.float()\n"
          "criterion = nn.CrossEntropyLoss(weight=class_weights)\n"
          "loss = criterion(torch.randn(8, 3), labels)",
          expect=("class_weights", "minlength=3", "2 entries")),))
def weight_length(ctx) -> Hint | None:
    """K != C: weights counted from labels that miss a class, or made for another label set."""
    found = _weight(ctx)
    if not found:
        return None
    weight, k, classes = found
    w = _weight_name(ctx)
    if weight.ndim > 1 and k == classes:
        return Hint(
            title=f"`{w}` is {tuple(weight.shape)}: the class weight must be 1-D",
            message=f"`{w}` holds the {classes} class weights but with an extra dimension. Flatten it.",
            fix=option_fix(ctx, "weight", _method(w, ".flatten()")),
        )
    if weight.ndim > 1:
        return None
    if k < classes:
        why = (f"If the weights were counted from the labels (bincount, value_counts), classes that do not "
               f"occur there are dropped: bincount stops at the largest label present. Count with "
               f"minlength={classes}.")
        tgt = ctx.target
        labels = "labels"   # the user's own label tensor when it can be counted as it is (no -100 padding)
        if tgt is not None and ctx.name("target") and tgt.min is not None and tgt.min >= 0:
            labels = ctx.with_method("target", ".flatten()") if tgt.ndim > 1 else ctx.name("target")
        fix = (f"counts = torch.bincount({labels}, minlength={classes})   # then weights from counts "
               "(over the whole training set)")
    else:
        layers = ctx.output_layers(classes)
        why = (f"Either the model predicts too few classes ({classes}"
               + (f", {layers[0]} has out_features={classes}" if layers else "")
               + f") or `{w}` was made for another set of labels.")
        fix, why = _longer_weight_fix(ctx, w, k, classes, layers) or (None, why)
    return Hint(
        title=f"`{w}` has {k} entries, but {ctx.code('input')} has {classes} class{'es' if classes != 1 else ''}",
        message=(f"{ctx.loss_label}'s weight holds one entry per class, so it needs {classes}; `{w}` has "
                 f"{k} entries. {why}"),
        fix=fix,
    )


def _longer_weight_fix(ctx, w: str, k: int, classes: int, layers: list[str]) -> tuple[str, str] | None:
    """(fix, why) for K > C: labels that reach past C say the model is too small (rebuild its last layer
    with K outputs); labels within 0..C-1 say the weight was made for another label set (keep C entries)."""
    tgt = ctx.target
    if tgt is None or not tgt.values or tgt.min is None or not tgt.is_int:
        return None
    ignore = ctx.option("ignore_index", -100)
    hi = max((v for v in (tgt.distinct or (tgt.min, tgt.max)) if v != ignore), default=None)
    if hi is None:
        return None
    labels = f"The labels in {ctx.code('target')} run up to {_num(hi)}"
    if classes <= hi < k:
        return (f"{layers[0]} = nn.Linear({layers[0]}.in_features, {k})",
                f"{labels}: the data has more classes than the model predicts ({classes}"
                + f", {layers[0]} has out_features={classes}). Give the model {k} outputs.") if layers else None
    if hi >= classes:
        return None
    try:
        node = ast.parse(w, mode="eval").body
    except SyntaxError:
        return None
    if (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.List)
            and len(node.args[0].elts) == k):  # torch.tensor([1.0, 2.0, 3.0]): keep C of the user's values
        items = node.args[0]
        kept = w[:items.col_offset + 1] + ", ".join(ast.get_source_segment(w, e) for e in items.elts[:classes])
        kept += w[items.end_col_offset - 1:]
        alternative = (f"\n# or, if the data has {k} classes: {layers[0]} = nn.Linear({layers[0]}.in_features, {k})"
                       if layers else "")
        return (option_fix(ctx, "weight", kept) + f"   # one weight per class of the model's {classes}"
                + alternative,
                f"{labels} in this batch, within the model's {classes} classes: if the data has {classes} "
                f"classes, `{w}` was made for another set of labels; keep one weight per class. If it has "
                f"{k}, the model needs {k} outputs.")
    return None


@rule("NLH403", "weight-size", "BCE pos_weight or weight that does not fit the input's shape",
      families=("broadcast",),
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "logits, tags = torch.randn(16, 5), torch.randint(0, 2, (16, 5)).float()\n"
          "pos_weight = torch.tensor([3.0, 1.0, 2.0])\n"
          "loss = nn.BCEWithLogitsLoss(pos_weight=pos_weight)(logits, tags)",
          expect=("5", "pos_weight")),))
def elementwise_weight(ctx) -> Hint | None:
    """BCE's ``pos_weight`` (one per label column) or ``weight`` (broadcast to the input) of the wrong size."""
    if ctx.via != "loss" or ctx.loss not in BINARY_LOSSES:
        return None
    inp, tgt = ctx.input, ctx.target
    if inp is None or tgt is None or inp.shape != tgt.shape or not inp.ndim:
        return None
    for param in ("pos_weight", "weight"):
        facts = ctx.t(param)
        if facts is None or all(x == y or y == 1 for x, y in zip(reversed(inp.shape), reversed(facts.shape))) \
                and facts.ndim <= inp.ndim:
            continue
        name = option_text(ctx, param, param)
        columns = inp.shape[-1]
        per_sample = facts.ndim == 1 and facts.numel == inp.shape[0] != columns and inp.ndim == 2
        if (facts.ndim == 1 and inp.ndim >= 3 and facts.numel == inp.shape[1]
                and facts.numel not in (inp.shape[0], *inp.shape[2:])):  # no other dim it could be meant for
            # one weight per class for (N, C, H, W) scores: a 1-D tensor broadcasts on the last dim (W)
            classes, spatial = inp.shape[1], inp.ndim - 2
            view = ".view(-1" + ", 1" * spatial + ")"
            last = "W" if inp.ndim == 4 else "the last dim"
            return Hint(
                title=f"`{name}` ({classes},) holds one weight per class, but broadcasts on the last dim "
                      f"of {ctx.code('input')} {tuple(inp.shape)}",
                message=(f"{ctx.code('input')} is {tuple(inp.shape)}, with its {classes} classes in dim 1. "
                         f"Broadcasting lines a 1-D tensor up with the last dim ({last}, size {columns}), "
                         f"so `{name}` is matched against the {columns} positions along {last}, not the classes. "
                         f"Reshape it to ({classes}{', 1' * spatial}) so each class's weight covers all "
                         "its positions."),
                fix=option_fix(ctx, param, _method(name, view)),
            )
        fix = None
        if param == "pos_weight":
            message = (f"pos_weight holds one weight per label column, broadcast over the batch: "
                       f"{columns} entries for {ctx.code('input')} {tuple(inp.shape)}; `{name}` has shape "
                       f"{tuple(facts.shape)}.")
            if per_sample:  # the same length as the batch may be a coincidence: a stale label set of that size
                message += (f" Its {facts.numel} entries match the batch size: if they are per-sample weights, "
                            f"they go to weight= as a column ({_method(name, '.unsqueeze(1)')}); if they are "
                            f"per-label weights, they were made for another set of labels.")
            elif facts.ndim == 1:
                message += f" It was made for another set of labels ({facts.numel}), not these {columns}."
            fix = _pos_weight_fix(ctx, name, columns) if facts.ndim == 1 and inp.ndim == 2 else None
        else:
            message = (f"weight is multiplied element-wise with the loss, so it must broadcast to "
                       f"{tuple(inp.shape)}: per column ({columns},), per sample ({inp.shape[0]}, 1) or the "
                       f"full shape; `{name}` has shape {tuple(facts.shape)}.")
            if per_sample:
                message += " It has one entry per sample: make it a column."
                fix = option_fix(ctx, "weight", _method(name, ".unsqueeze(1)"))
        return Hint(
            title=f"`{name}` {tuple(facts.shape)} does not fit {ctx.code('input')} {tuple(inp.shape)}",
            message=message,
            fix=fix,
        )
    return None


def _pos_weight_fix(ctx, name: str, columns: int) -> str | None:
    """A pos_weight with one entry per label column, counted from the targets (negatives / positives per
    column): the user's constructor or call with it, after the assignment when ``name`` is a variable."""
    counted = (f"(1 - {_method(ctx.name('target'), '')}).sum(0) / {_method(ctx.name('target'), '.sum(0)')}"
               f".clamp(min=1)")
    note = f"   # one per label column ({columns}): negatives / positives over the training labels"
    if not name.isidentifier():  # written inline: replace it there
        return option_fix(ctx, "pos_weight", counted) + note
    built = _constructor(ctx, "pos_weight")
    again = built[0] if built else (ctx.call.statement if ctx.call and "pos_weight" in ctx.call.args else None)
    return f"{name} = {counted}{note}" + (f"\n{again}" if again else "")


RULES = [bad_reduction, bad_label_smoothing, bad_scale, bad_margin_power, negative_variance, blank_out_of_range,
         per_sample_weight, weight_length, elementwise_weight]
