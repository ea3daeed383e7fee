"""Rules for ``target-dtype``, ``input-dtype`` and the dtype side of ``weight-size`` (plus the
``wrong-loss`` cases a dtype error reveals).

The messages name dtypes but not which tensor is at fault ("expected scalar type Float but found
Double" may be the target, the class weight or the input), so every rule decides from the dtypes
of the tensors in the loss call: an integer input (predicted classes after ``argmax``), float labels
where class indices are needed, integer labels where BCE wants floats, a float64 class weight.
"""

from __future__ import annotations

import ast
import re
import textwrap

from ..context import CLASS_INDEX_LOSSES, ELEMENTWISE_LOSSES
from ..contracts import UNIT, losses_where
from ..probe import _num, describe
from .base import Example, Hint, rule
from .shapes import CAST, CLASS_LOSSES, is_binary, shape_text, swap_loss, values_text

BINARY_LOSSES = tuple(sorted(losses_where(lambda c: c.targets[:1] == (UNIT,))))  # BCELoss, BCEWithLogitsLoss
MARGIN_LOSSES = ("multi_margin_loss", "multilabel_margin_loss")
INT_CASTS = ("long", "int", "short", "byte", "char", "to", "type", "bool")


# --- reading the user's code: where did an integer input come from? ---------------------------------------

def _call_attr(node) -> str | None:
    return node.func.attr if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) else None


def _is_torch(node) -> bool:
    return isinstance(node, ast.Name) and node.id == "torch"


def _subject(call: ast.Call):
    """``x`` in ``x.argmax(1)`` and in ``torch.argmax(x, 1)``."""
    if _is_torch(call.func.value):
        return call.args[0] if call.args else None
    return call.func.value


def _scores_node(node):
    """The float tensor that an integer expression was computed from, or None.

    ``out.argmax(dim=1)``, ``torch.argmax(out, 1)``, ``out.max(1)[1]``, ``torch.max(out, 1).indices``,
    ``out.round()``, ``(probs > 0.5).long()``: each gives ``out``/``probs``. Integer casts are peeled first.
    """
    for _ in range(8):
        if _call_attr(node) in INT_CASTS and not _is_torch(node.func.value):
            node = node.func.value
        else:
            break
    attr = _call_attr(node)
    if attr in ("argmax", "round"):
        return _subject(node)
    if isinstance(node, ast.Subscript) and _call_attr(node.value) == "max":
        index = node.slice
        if isinstance(index, ast.Constant) and index.value == 1:
            return _subject(node.value)
    if isinstance(node, ast.Attribute) and node.attr == "indices" and _call_attr(node.value) == "max":
        return _subject(node.value)
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        return node.left
    return None


def scores_before(ctx, param: str = "input") -> tuple[str, str] | None:
    """``(scores expression, how the integer tensor was made)`` for the user's ``param`` expression.

    Looks at the expression itself (``outputs.argmax(1)``), then, for a plain name, at the last assignment
    to it above the call in the same cell or function (``_, preds = torch.max(outputs, 1)``). Parsing only.
    """
    expr = ctx.name(param)
    try:
        tree = ast.parse(expr.strip(), mode="eval").body
    except SyntaxError:
        return None
    found = _scores_node(tree)
    if found is not None:
        text = ast.get_source_segment(expr.strip(), found)
        return (text, f"`{expr.strip()}`") if text and _plausible_scores(ctx, text) else None
    if not isinstance(tree, ast.Name) or ctx.call is None:
        return None
    source = ctx.user_source()
    if not source:
        return None
    text, start = source
    text = textwrap.dedent(text)
    try:
        module = ast.parse(text)
    except SyntaxError:
        return None
    best = None
    for node in ast.walk(module):
        if not isinstance(node, ast.Assign) or len(node.targets) != 1:
            continue
        if node.lineno + start - 1 >= ctx.call.lineno:
            continue
        target, value = node.targets[0], node.value
        scores = None
        if isinstance(target, ast.Name) and target.id == tree.id:
            scores = _scores_node(value)
        elif (isinstance(target, ast.Tuple) and len(target.elts) == 2 and isinstance(target.elts[1], ast.Name)
              and target.elts[1].id == tree.id and _call_attr(value) == "max"):
            scores = _subject(value)
        elif isinstance(target, ast.Tuple) and any(isinstance(e, ast.Name) and e.id == tree.id for e in target.elts):
            scores = None  # assigned from something else: that assignment counts as the latest
        else:
            continue
        if best is None or node.lineno > best[0]:
            best = (node.lineno, scores and ast.get_source_segment(text, scores), ast.get_source_segment(text, node))
    if best is None or not best[1] or not _plausible_scores(ctx, best[1]):
        return None
    return best[1], f"`{best[2].strip()}`"


def _plausible_scores(ctx, expr: str) -> bool:
    """A plain name must be bound, where the loss was called, to a float tensor with the input's rank or more."""
    if not re.fullmatch(r"[A-Za-z_]\w*", expr):
        return True  # an expression such as model(x): nothing to check without running it
    facts = _peek(ctx, expr)
    inp = ctx.t("input")
    return facts is not None and facts.is_float and (inp is None or facts.ndim >= inp.ndim)


def _peek(ctx, expr: str):
    """Metadata (no values) of the tensor a plain name is bound to in the user's frame, or None."""
    if not re.fullmatch(r"[A-Za-z_]\w*", expr or ""):
        return None
    import torch

    value = ctx.lookup(expr) if hasattr(ctx, "lookup") else None
    return describe(value, read_values=False) if isinstance(value, torch.Tensor) else None


def _needs(ctx) -> str:
    return "float log-probabilities" if ctx.loss == "nll_loss" else "a float score (logit)"


def _cast_for(dtype: str) -> str:
    return CAST.get(dtype, f".to(torch.{dtype})")


# --- input-dtype --------------------------------------------------------------------------------------------

INPUT_FAMILIES = ("not-implemented-dtype", "prob-target-dtype", "multi-target", "unbatched-target-size",
                  "target-size", "spatial-target-dim", "scalar-type", "target-dtype", "found-dtype")


@rule("NLH262", "input-dtype", "input and target swapped: class indices passed as input, scores as target",
      families=INPUT_FAMILIES,
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "criterion = nn.CrossEntropyLoss()\n"
          "logits = torch.randn(5, 4, requires_grad=True)\n"
          "labels = torch.tensor([0, 3, 1, 1, 2])\n"
          "loss = criterion(labels, logits)",
          expect=("loss = criterion(logits, labels)", "swapped")),))
def swapped_arguments(ctx) -> Hint | None:
    """``criterion(labels, outputs)``: the loss takes (input, target) in that order."""
    inp, tgt = ctx.t("input"), ctx.t("target")
    if ctx.loss not in CLASS_LOSSES or inp is None or tgt is None or not inp.is_int or not tgt.is_float:
        return None
    if tgt.ndim != inp.ndim + 1 or tgt.shape[:1] != inp.shape[:1] or tgt.shape[2:] != inp.shape[1:]:
        return None
    if ctx.call is None or "input" not in ctx.call.args or "target" not in ctx.call.args:
        return None
    return Hint(
        title=f"input and target look swapped: {ctx.code('input')} holds labels, {ctx.code('target')} holds scores",
        message=(f"{ctx.loss_label} takes (input, target): the float scores first, then the class indices. "
                 f"Here the first argument {ctx.code('input')} is {inp.dtype}{list(inp.shape)} "
                 f"({values_text(inp)}) and the second, {ctx.code('target')}, is {tgt.dtype}{list(tgt.shape)}: "
                 f"the arguments look swapped."),
        fix=ctx.fix({"input": ctx.name("target"), "target": ctx.name("input")}),
    )


@rule("NLH260", "input-dtype", "predicted classes (after argmax) passed as input instead of the scores",
      families=INPUT_FAMILIES,
      examples=(
          Example(
              "import torch, torch.nn as nn\n"
              "model = nn.Linear(12, 4)\n"
              "criterion = nn.CrossEntropyLoss()\n"
              "x = torch.randn(8, 12)\n"
              "labels = torch.randint(0, 4, (8,))\n"
              "outputs = model(x)\n"
              "loss = criterion(outputs.argmax(dim=1), labels)",
              expect=("loss = criterion(outputs, labels)", "argmax")),
          Example(
              "import torch, torch.nn as nn\n"
              "model = nn.Linear(12, 4)\n"
              "x = torch.randn(8, 12)\n"
              "labels = torch.randint(0, 4, (8,))\n"
              "outputs = model(x)\n"
              "_, preds = torch.max(outputs, 1)\n"
              "loss = nn.NLLLoss()(preds, labels)",
              expect=("loss = nn.NLLLoss()(outputs, labels)", "_, preds = torch.max(outputs, 1)")),
      ))
def argmax_input(ctx) -> Hint | None:
    """Integer predictions (argmax/max indices) into CE/NLL: the loss needs the float scores per class."""
    inp, tgt = ctx.t("input"), ctx.t("target")
    if ctx.loss not in CLASS_LOSSES or inp is None or not inp.is_int:
        return None
    found = scores_before(ctx)
    shaped_like_labels = tgt is not None and tgt.shape == inp.shape
    if not found and not (shaped_like_labels and inp.kind == "class indices"):
        return None
    if found and not shaped_like_labels and tgt is not None and tgt.ndim != inp.ndim:
        return None
    name = ctx.code("input")
    if found:
        scores, how = found
        fix = ctx.fix({"input": scores})
        origin = f"it comes from {how}, which keeps only the winning class"
        pass_ = f"Pass `{scores}` itself"
    else:
        fix = None
        origin = "it looks like predicted classes (e.g. after argmax), the same shape as the labels"
        pass_ = "Pass the model's raw output (before argmax)"
    return Hint(
        title=f"{name} holds predicted classes ({inp.dtype}), but {ctx.loss_label} needs the scores for every class",
        message=(f"{name} is {inp.dtype}{list(inp.shape)} ({values_text(inp)}): {origin}. {ctx.loss_label} "
                 f"needs {_needs(ctx)} for every class, shaped (N, C, ...), and a gradient to train with "
                 f"(argmax has none). {pass_}; keep argmax for accuracy."),
        fix=fix or f"# {ctx.call.statement if ctx.call else 'loss = criterion(outputs, labels)'}\n"
                   f"# use the model's float output (N, C) in place of {ctx.name('input')}",
    )


@rule("NLH261", "input-dtype", "an integer input with a class dimension into NLLLoss/CrossEntropyLoss",
      families=INPUT_FAMILIES,
      examples=(Example(
          "import torch, torch.nn.functional as F\n"
          "scores = torch.randn(6, 3, requires_grad=True)\n"
          "y = torch.tensor([0, 2, 1, 1, 0, 2])\n"
          "loss = F.cross_entropy(scores.long(), y)",
          expect=("loss = F.cross_entropy(scores, y)",)),))
def integer_scores(ctx) -> Hint | None:
    """``(N, C)`` integer scores: usually a stray ``.long()``; the loss computes log-softmax in floating point."""
    inp, tgt = ctx.t("input"), ctx.t("target")
    if ctx.loss not in CLASS_LOSSES or inp is None or not inp.is_int or inp.ndim < 1:
        return None
    if tgt is not None and tgt.ndim != inp.ndim - 1 and tgt.shape != inp.shape:
        return None
    expr = ctx.name("input").strip()
    stripped = None
    try:
        node = ast.parse(expr, mode="eval").body
        while _call_attr(node) in INT_CASTS and not _is_torch(node.func.value):
            node = node.func.value
            stripped = ast.get_source_segment(expr, node)
    except SyntaxError:
        pass
    name = ctx.code("input")
    if stripped:
        fix = ctx.fix({"input": stripped})
        why = f"The cast in {name} makes them integers: drop it."
    else:
        fix = ctx.fix({"input": ctx.with_method("input", ".float()")})
        why = ("If these come from a model, pass its float output directly: an integer tensor carries no "
               "gradient, so .float() makes the loss run but not train.")
    return Hint(
        title=f"{name} is {inp.dtype}: {ctx.loss_label} needs floating-point scores",
        message=(f"{ctx.loss_label} needs {_needs(ctx)} for every class, a floating-point tensor; "
                 f"{name} is {inp.dtype}{list(inp.shape)} ({values_text(inp)}). {why}"),
        fix=fix,
    )


@rule("NLH264", "input-dtype", "an integer input into an elementwise loss (MSE, L1, BCE, ...)",
      families=("not-implemented-dtype", "found-dtype", "integral-input", "scalar-type", "result-cast"),
      examples=(
          Example(
              "import torch, torch.nn as nn\n"
              "criterion = nn.MSELoss()\n"
              "counts_pred = torch.tensor([3, 1, 4, 1])\n"
              "counts = torch.tensor([2, 1, 5, 0])\n"
              "loss = criterion(counts_pred, counts)",
              expect=("loss = criterion(counts_pred.float(), counts.float())",)),
          Example(
              "import torch, torch.nn as nn\n"
              "probs = torch.sigmoid(torch.randn(6, requires_grad=True))\n"
              "y = torch.tensor([0., 1., 1., 0., 1., 0.])\n"
              "loss = nn.BCELoss()(probs.round().long(), y)",
              expect=("loss = nn.BCELoss()(probs, y)",)),
      ))
def integer_input_elementwise(ctx) -> Hint | None:
    """Integer predictions into MSE/L1/BCE/...: these losses compute in floating point."""
    inp, tgt = ctx.t("input"), ctx.t("target")
    if ctx.loss not in ELEMENTWISE_LOSSES | {"kl_div"} or inp is None or not inp.is_int:
        return None
    name = ctx.code("input")
    found = scores_before(ctx)
    indices = (ctx.loss in BINARY_LOSSES and tgt is not None and tgt.values and tgt.min is not None
               and tgt.min >= 0 and tgt.max > 1 and (tgt.is_int or tgt.whole))
    if indices:  # predicted positions/classes against class labels: a classification over C classes
        scores = found[0] if found else None
        fix = (swap_loss(ctx, "CrossEntropyLoss", "cross_entropy", {"input": scores}) if scores else
               f"# the float scores before argmax, shaped (N, C), with class-index labels:\n"
               f"loss = F.cross_entropy(scores, {ctx.name('target')})   # one loss per predicted position")
        return Hint(
            title=f"{name} holds predicted classes ({inp.dtype}), and {ctx.code('target')} class indices up to "
                  f"{_num(tgt.max)}: a classification, not a binary loss",
            message=(f"{name} is {inp.dtype}{list(inp.shape)} ({values_text(inp)}), which looks like argmax "
                     f"results, and {ctx.code('target')} holds labels up to {_num(tgt.max)}. {ctx.loss_label} "
                     f"compares 0/1 targets with float scores; choosing one of C classes (or positions) is "
                     f"CrossEntropyLoss on the float scores from before argmax, which keep the gradient."),
            fix=fix,
        )
    if found:
        scores, how = found
        fix = ctx.fix({"input": scores})
        why = (f"It comes from {how}, which rounds the predictions away (and with them the gradient): pass "
               f"`{scores}` itself.")
    else:
        replacements = {"input": ctx.with_method("input", ".float()")}
        if tgt is not None and tgt.is_int and ctx.loss not in ("kl_div",):
            replacements["target"] = ctx.with_method("target", ".float()")
        fix = ctx.fix(replacements)
        why = ("Convert to float; if these are a model's predictions, pass its float output instead, since an "
               "integer tensor carries no gradient.")
    return Hint(
        title=f"{name} is {inp.dtype}, but {ctx.loss_label} computes in floating point",
        message=(f"{name} is {inp.dtype}{list(inp.shape)} ({values_text(inp)}) and {ctx.loss_label} has no "
                 f"integer version. {why}"),
        fix=fix or f"{ctx.name('input')} = {ctx.with_method('input', '.float()')}",
    )


# --- weight-size (dtype) ----------------------------------------------------------------------------------

def _replace(text: str, node, new: str) -> str:
    lines = text.splitlines(keepends=True)

    def offset(lineno, col):
        head = lines[lineno - 1].encode()[:col].decode("utf-8", "replace")
        return sum(len(x) for x in lines[: lineno - 1]) + len(head)

    start, end = offset(node.lineno, node.col_offset), offset(node.end_lineno, node.end_col_offset)
    return text[:start] + new + text[end:]


def _weight_arg(call: ast.Call):
    for kw in call.keywords:
        if kw.arg == "weight":
            return kw.value
    return call.args[0] if call.args else None


def _with_cast(text: str, node, suffix: str) -> str:
    seg = ast.get_source_segment(text, node) or ""
    simple = isinstance(node, (ast.Name, ast.Attribute, ast.Call, ast.Subscript))
    return _replace(text, node, f"{seg}{suffix}" if simple else f"({seg}){suffix}")


def _module_weight_fix(ctx, suffix: str) -> str | None:
    """Rewrite ``criterion = nn.CrossEntropyLoss(weight=w)`` (this cell/function, or inline) with ``w`` cast."""
    callee = ctx.call.callee if ctx.call else None
    if not callee:
        return None
    try:
        tree = ast.parse(callee, mode="eval").body
    except SyntaxError:
        return None
    if isinstance(tree, ast.Call):  # nn.CrossEntropyLoss(weight=w)(out, y)
        arg = _weight_arg(tree)
        return ctx.fix(callee=_with_cast(callee, arg, suffix)) if arg is not None else None
    if not isinstance(tree, ast.Name):
        return f"{callee}.weight = {callee}.weight{suffix}" if re.fullmatch(r"[\w.]+", callee) else None
    parsed = ctx.user_tree()
    if parsed:
        text, module, _ = parsed
        for node in ast.walk(module):
            if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                    and node.targets[0].id == callee and isinstance(node.value, ast.Call)
                    and ctx.module and ast.unparse(node.value.func).endswith(ctx.module)):
                arg = _weight_arg(node.value)
                if arg is not None:
                    stmt = ast.get_source_segment(text, node)
                    sub = ast.parse(stmt).body[0].value
                    return _with_cast(stmt, _weight_arg(sub), suffix)
    return f"{callee}.weight = {callee}.weight{suffix}"


@rule("NLH270", "weight-size", "the class weight has another dtype than the input (float64 from NumPy)",
      families=("scalar-type", "found-dtype"),
      examples=(
          Example(
              "import numpy as np, torch, torch.nn as nn\n"
              "counts = np.array([500, 120, 30])\n"
              "class_weights = torch.from_numpy(counts.sum() / counts)\n"
              "criterion = nn.CrossEntropyLoss(weight=class_weights)\n"
              "logits = torch.randn(4, 3, requires_grad=True)\n"
              "loss = criterion(logits, torch.tensor([0, 1, 2, 1]))",
              expect=("criterion = nn.CrossEntropyLoss(weight=class_weights.float())", "float64")),
          Example(
              "import torch, torch.nn.functional as F\n"
              "w = torch.tensor([1, 5, 10])\n"
              "loss = F.nll_loss(torch.randn(3, 3).log_softmax(1), torch.tensor([0, 1, 2]), weight=w)",
              expect=("weight=w.float()",)),
      ))
def weight_dtype(ctx) -> Hint | None:
    """A class ``weight`` tensor of another dtype than the input: usually float64 from NumPy, or integers."""
    inp, weight = ctx.t("input"), ctx.t("weight")
    if inp is None or weight is None or not inp.is_float or weight.dtype == inp.dtype:
        return None
    if ctx.loss not in CLASS_INDEX_LOSSES:
        return None
    suffix = _cast_for(inp.dtype)
    if ctx.call is not None and "weight" in ctx.call.args:
        fix = ctx.fix({"weight": ctx.with_method("weight", suffix)})
        wname = ctx.code("weight")
    else:
        fix = _module_weight_fix(ctx, suffix)
        wname = "the class weight"
    origin = (" float64 is what NumPy arrays (and torch.from_numpy / torch.tensor of them) hold."
              if weight.dtype == "float64" else "")
    return Hint(
        title=f"{wname} is {weight.dtype}, but {ctx.code('input')} is {inp.dtype}",
        message=(f"{ctx.loss_label} multiplies the loss of each sample by its class weight, and the weight must "
                 f"have the input's dtype: {ctx.code('input')} is {inp.dtype}, {wname} is "
                 f"{weight.dtype}{list(weight.shape)}.{origin} Convert the weight with {suffix}."),
        fix=fix or f"weight = weight{suffix}",
    )


# --- target-dtype for class-index losses -------------------------------------------------------------------

TARGET_FAMILIES = ("target-dtype", "scalar-type", "not-implemented-dtype")


def _class_target(ctx):
    """(input, target) for NLL/CE with a float input and a class-index-shaped (not same-shape) target."""
    inp, tgt = ctx.t("input"), ctx.t("target")
    if ctx.loss not in CLASS_LOSSES or inp is None or tgt is None or not inp.is_float:
        return None
    if tgt.shape == inp.shape or tgt.ndim != max(inp.ndim - 1, 0):
        return None
    return inp, tgt


@rule("NLH253", "wrong-loss", "a single-output model with 0/1 float labels into CrossEntropyLoss",
      families=TARGET_FAMILIES,
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "model = nn.Linear(5, 1)\n"
          "x = torch.randn(8, 5)\n"
          "is_spam = torch.tensor([0., 1., 1., 0., 0., 1., 0., 1.])\n"
          "loss = nn.CrossEntropyLoss()(model(x), is_spam)",
          expect=("nn.BCEWithLogitsLoss()(model(x).squeeze(1), is_spam)",)),))
def single_output_binary_float(ctx) -> Hint | None:
    """One output per sample and float 0/1 labels: the binary setup, which needs BCEWithLogitsLoss."""
    found = _class_target(ctx)
    if not found:
        return None
    inp, tgt = found
    if inp.ndim != 2 or inp.shape[1] != 1 or not tgt.is_float or not is_binary(tgt):
        return None
    return Hint(
        title=f"{ctx.code('input')} has one output per sample and {ctx.code('target')} is 0/1: use BCEWithLogitsLoss",
        message=(f"{ctx.code('input')} is {shape_text(inp.shape)} (one score per sample) and {ctx.code('target')} "
                 f"holds float 0/1 labels: a binary classifier. {ctx.loss_label} needs one column per class and "
                 f"integer labels; with a single output the binary loss is BCEWithLogitsLoss, which takes these "
                 f"float labels as they are."),
        fix=swap_loss(ctx, "BCEWithLogitsLoss", "binary_cross_entropy_with_logits",
                      {"input": ctx.with_method("input", ".squeeze(1)")}),
    )


@rule("NLH250", "target-dtype", "float class labels (whole numbers) where int64 indices are needed",
      families=TARGET_FAMILIES,
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "criterion = nn.CrossEntropyLoss()\n"
          "outputs = torch.randn(6, 3, requires_grad=True)\n"
          "targets = torch.Tensor([0, 2, 1, 1, 0, 2])\n"
          "loss = criterion(outputs, targets)",
          expect=("loss = criterion(outputs, targets.long())", "float32")),))
def float_labels(ctx) -> Hint | None:
    """Whole-number labels stored as floats (``torch.Tensor(...)``, a float NumPy/pandas column): ``.long()``."""
    found = _class_target(ctx)
    if not found:
        return None
    inp, tgt = found
    if not tgt.is_float or not tgt.values or not tgt.whole:
        return None
    name = ctx.code("target")
    return Hint(
        title=f"{name} holds class labels as {tgt.dtype}; {ctx.loss_label} needs int64 (long) class indices",
        message=(f"{name} is {tgt.dtype}{list(tgt.shape)} with whole-number {values_text(tgt)}: class labels "
                 f"stored as floats, as torch.Tensor(...) or a float NumPy/pandas column makes them. "
                 f"{ctx.loss_label} reads class-index targets as int64; convert with .long()."),
        fix=ctx.fix_arg("target", ctx.with_method("target", ".long()")),
    )


@rule("NLH251", "target-dtype", "int32 (or other non-int64) class labels, e.g. from NumPy",
      families=TARGET_FAMILIES,
      examples=(Example(
          "import numpy as np, torch, torch.nn as nn\n"
          "y_np = np.array([0, 2, 1, 1], dtype=np.int32)\n"
          "y = torch.from_numpy(y_np)\n"
          "logits = torch.randn(4, 3, requires_grad=True)\n"
          "loss = nn.CrossEntropyLoss()(logits, y)",
          expect=("loss = nn.CrossEntropyLoss()(logits, y.long())", "int32")),))
def narrow_int_labels(ctx) -> Hint | None:
    """Labels of dtype int32/int16/int8/bool: NLL/CE index with int64 (or uint8) only."""
    found = _class_target(ctx)
    if not found:
        return None
    inp, tgt = found
    if not tgt.is_int or tgt.dtype in ("int64", "uint8"):
        return None
    name = ctx.code("target")
    origin = (" NumPy arrays are int32 on Windows (and whenever dtype=np.int32); torch.from_numpy keeps that."
              if tgt.dtype == "int32" else "")
    return Hint(
        title=f"{name} is {tgt.dtype}; {ctx.loss_label} needs int64 (long) class indices",
        message=(f"{name} holds class indices ({values_text(tgt)}) but as {tgt.dtype}; {ctx.loss_label} accepts "
                 f"int64 targets (uint8 too).{origin} Convert with .long()."),
        fix=ctx.fix_arg("target", ctx.with_method("target", ".long()")),
    )


@rule("NLH254", "target-dtype", "class labels scaled to [0, 1] by ToTensor (k/255) where class indices are needed",
      families=TARGET_FAMILIES,
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "net = nn.Conv2d(3, 3, 1)\n"
          "image = torch.randn(2, 3, 16, 16)\n"
          "mask = torch.randint(0, 3, (2, 1, 16, 16)).float() / 255.0   # ToTensor() on a PNG mask\n"
          "loss = nn.CrossEntropyLoss()(net(image), mask.squeeze(1))",
          expect=("loss = nn.CrossEntropyLoss()(net(image), (mask.squeeze(1) * 255).round().long())", "1/255")),))
def labels_scaled_by_255(ctx) -> Hint | None:
    """torchvision's ToTensor() divides an 8-bit image by 255, class-id masks included: labels 0, 1, 2
    arrive as 0, 1/255, 2/255. They are fractions only because of that scaling; multiplying back gives
    the class indices (a regression loss would be the wrong reading)."""
    found = _class_target(ctx)
    if not found:
        return None
    inp, tgt = found
    if not tgt.is_float or not tgt.values or tgt.whole or tgt.min is None or tgt.min < 0 or tgt.max > 1:
        return None
    if not tgt.distinct or any(abs(v * 255 - round(v * 255)) > 1e-3 for v in tgt.distinct):
        return None
    classes = inp.shape[1] if inp.ndim >= 2 else None
    ids = sorted(int(round(v * 255)) for v in tgt.distinct)
    if classes is None or ids[-1] >= classes:
        return None
    name = ctx.code("target")
    fixed = f"({ctx.name('target')} * 255).round().long()"
    return Hint(
        title=f"{name} holds class labels divided by 255 ({values_text(tgt)}); {ctx.loss_label} needs class indices",
        message=(f"Every value of {name} is a whole multiple of 1/255: class ids {', '.join(map(str, ids))} "
                 f"scaled like image pixels, as torchvision's ToTensor() does to a PNG mask. Multiply back and "
                 f"convert to int64 (or load masks with torch.as_tensor(np.array(mask)) / PILToTensor, which "
                 f"keep the ids)."),
        fix=ctx.fix_arg("target", fixed),
    )


@rule("NLH252", "wrong-loss", "real-valued (fractional) targets into a classification loss",
      families=TARGET_FAMILIES,
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "model = nn.Linear(4, 1)\n"
          "x = torch.randn(5, 4)\n"
          "price = torch.tensor([1.25, 0.5, 3.75, 2.1, 0.9])\n"
          "loss = nn.CrossEntropyLoss()(model(x), price)",
          expect=("nn.MSELoss()(model(x).squeeze(1), price)", "regression")),))
def regression_targets(ctx) -> Hint | None:
    """Fractional float targets of the class-index shape: a regression task given a classification loss."""
    found = _class_target(ctx)
    if not found:
        return None
    inp, tgt = found
    if not tgt.is_float or not tgt.values or tgt.whole or tgt.min is None:
        return None
    name = ctx.code("target")
    single = inp.ndim == 2 and inp.shape[1] == 1
    fix = swap_loss(ctx, "MSELoss", "mse_loss", {"input": ctx.with_method("input", ".squeeze(1)")})
    if not single:
        fix = (f"# regression: give the model one output per sample (nn.Linear(..., 1)), then\n{fix}")
    return Hint(
        title=f"{name} holds real values ({values_text(tgt)}); {ctx.loss_label} needs class indices",
        message=(f"{name} is {tgt.dtype}{list(tgt.shape)} with fractional values, so these are not class numbers. "
                 f"If this is a regression task, use a regression loss such as MSELoss on one output per sample"
                 + (f" ({ctx.code('input')} already has one)" if single else
                    f" ({ctx.code('input')} has {inp.shape[1] if inp.ndim >= 2 else 1} class scores now)")
                 + ". If they are class labels that were scaled or normalised, undo that and use .long()."),
        fix=fix,
    )


# --- target-dtype for BCE and margin losses ---------------------------------------------------------------

@rule("NLH255", "target-dtype", "integer 0/1 labels into BCELoss/BCEWithLogitsLoss, which need floats",
      families=("found-dtype", "result-cast", "bool-sub", "scalar-type"),
      examples=(
          Example(
              "import torch, torch.nn as nn\n"
              "criterion = nn.BCEWithLogitsLoss()\n"
              "logits = torch.randn(8, requires_grad=True)\n"
              "labels = torch.randint(0, 2, (8,))\n"
              "loss = criterion(logits, labels)",
              expect=("loss = criterion(logits, labels.float())",)),
          Example(
              "import torch, torch.nn as nn\n"
              "probs = torch.sigmoid(torch.randn(4, 3))\n"
              "mask = torch.rand(4, 3) > 0.5\n"
              "loss = nn.BCELoss()(probs, mask)",
              expect=("loss = nn.BCELoss()(probs, mask.float())",)),
      ))
def bce_integer_labels(ctx) -> Hint | None:
    """0/1 labels as int64/bool: the binary losses compute in floating point and need float targets."""
    inp, tgt = ctx.t("input"), ctx.t("target")
    if ctx.loss not in BINARY_LOSSES or inp is None or tgt is None or not inp.is_float or not tgt.is_int:
        return None
    if tgt.values and not is_binary(tgt):
        return None
    suffix = _cast_for(inp.dtype)
    name = ctx.code("target")
    return Hint(
        title=f"{name} is {tgt.dtype}; {ctx.loss_label} needs float targets",
        message=(f"{name} holds 0/1 labels as {tgt.dtype}. Binary cross-entropy takes targets as probabilities "
                 f"in [0, 1], of the input's float dtype ({inp.dtype}), unlike CrossEntropyLoss's integer class "
                 f"indices. Convert with {suffix}."),
        fix=ctx.fix_arg("target", ctx.with_method("target", suffix)),
    )


@rule("NLH256", "wrong-loss", "class indices 0..C-1 (C > 2) into a binary loss",
      families=("found-dtype", "result-cast", "scalar-type"),
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "criterion = nn.BCEWithLogitsLoss()\n"
          "out = torch.randn(6, requires_grad=True)\n"
          "species = torch.tensor([0, 2, 1, 2, 0, 1])\n"
          "loss = criterion(out, species)",
          expect=("CrossEntropyLoss", "3 outputs")),))
def bce_class_indices(ctx) -> Hint | None:
    """Integer labels beyond 1 into BCE: that is multi-class data, which needs CrossEntropyLoss and C outputs."""
    inp, tgt = ctx.t("input"), ctx.t("target")
    if ctx.loss not in BINARY_LOSSES or inp is None or tgt is None or not inp.is_float or not tgt.is_int:
        return None
    if not tgt.values or tgt.min is None or tgt.min < 0 or tgt.max <= 1 or tgt.max > 1000:
        return None
    classes = int(tgt.max) + 1
    name = ctx.code("target")
    return Hint(
        title=f"{name} holds class indices 0..{int(tgt.max)}, but {ctx.loss_label} is a binary (0/1) loss",
        message=(f"{name} is {tgt.dtype} with {values_text(tgt)}: labels for {classes} classes, one class per "
                 f"sample. Binary cross-entropy takes 0/1 targets; for one-of-{classes} labels, give the model "
                 f"{classes} outputs and use CrossEntropyLoss, which takes these integer labels as they are."),
        fix=(f"# last layer: nn.Linear(in_features, {classes}), so the output is (N, {classes}); then\n"
             + swap_loss(ctx, "CrossEntropyLoss", "cross_entropy")),
    )


@rule("NLH257", "target-dtype", "float labels into MultiMarginLoss/MultiLabelMarginLoss, which need int64",
      families=("scalar-type", "target-dtype"),
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "criterion = nn.MultiMarginLoss()\n"
          "scores = torch.randn(4, 3, requires_grad=True)\n"
          "y = torch.tensor([0., 2., 1., 0.])\n"
          "loss = criterion(scores, y)",
          expect=("loss = criterion(scores, y.long())",)),))
def margin_float_labels(ctx) -> Hint | None:
    """Margin losses index with int64 class labels: float ones (whole numbers) need ``.long()``."""
    inp, tgt = ctx.t("input"), ctx.t("target")
    if ctx.loss not in MARGIN_LOSSES or inp is None or tgt is None or not inp.is_float or not tgt.is_float:
        return None
    if not tgt.values or not tgt.whole:
        return None
    if ctx.loss == "multilabel_margin_loss" and is_binary(tgt) and tgt.shape == inp.shape:
        return None  # 0/1 rows: the multi-hot format, another loss (NLH258)
    name = ctx.code("target")
    return Hint(
        title=f"{name} is {tgt.dtype}; {ctx.loss_label} needs int64 (long) class indices",
        message=(f"{name} holds whole numbers ({values_text(tgt)}) stored as {tgt.dtype}; {ctx.loss_label} "
                 f"uses them as class indices, which must be int64. Convert with .long()."),
        fix=ctx.fix_arg("target", ctx.with_method("target", ".long()")),
    )


@rule("NLH258", "wrong-loss", "0/1 multi-hot rows into MultiLabelMarginLoss, which takes -1-padded indices",
      families=("scalar-type", "target-dtype"),
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "scores = torch.randn(3, 4, requires_grad=True)\n"
          "tags = torch.tensor([[1., 0., 1., 0.], [0., 1., 1., 1.], [1., 0., 0., 0.]])\n"
          "loss = nn.MultiLabelMarginLoss()(scores, tags)",
          expect=("nn.MultiLabelSoftMarginLoss()(scores, tags)",)),))
def multilabel_margin_multi_hot(ctx) -> Hint | None:
    """MultiLabelMarginLoss wants class indices padded with -1; 0/1 rows belong to MultiLabelSoftMarginLoss."""
    inp, tgt = ctx.t("input"), ctx.t("target")
    if ctx.loss != "multilabel_margin_loss" or inp is None or tgt is None or not tgt.is_float:
        return None
    if not is_binary(tgt) or tgt.shape != inp.shape:
        return None
    return Hint(
        title=f"{ctx.code('target')} is 0/1 (multi-hot); MultiLabelMarginLoss expects class indices padded with -1",
        message=(f"{ctx.code('target')} {shape_text(tgt.shape)} marks each sample's classes with 1s. "
                 f"MultiLabelMarginLoss reads each row as a list of class indices ended by -1 (so .long() would "
                 f"run but mean something else); for 0/1 rows use MultiLabelSoftMarginLoss or BCEWithLogitsLoss."),
        fix=swap_loss(ctx, "MultiLabelSoftMarginLoss", "multilabel_soft_margin_loss"),
    )


# --- float64 vs float32 -------------------------------------------------------------------------------------

@rule("NLH263", "input-dtype", "float64 and float32 mixed in BCELoss",
      families=("found-dtype", "scalar-type"),
      examples=(Example(
          "import numpy as np, torch, torch.nn as nn\n"
          "probs = torch.sigmoid(torch.randn(5, requires_grad=True))\n"
          "y = torch.from_numpy(np.array([0., 1., 1., 0., 1.]))\n"
          "loss = nn.BCELoss()(probs, y)",
          expect=("loss = nn.BCELoss()(probs, y.float())", "float64")),))
def float_width_mix(ctx) -> Hint | None:
    """BCE needs input and target of one float dtype; float64 usually comes from NumPy."""
    inp, tgt = ctx.t("input"), ctx.t("target")
    if ctx.loss not in BINARY_LOSSES or inp is None or tgt is None or not inp.is_float or not tgt.is_float:
        return None
    if inp.dtype == tgt.dtype:
        return None
    if inp.dtype == "float64" and tgt.dtype == "float32":
        param, other, suffix = "input", "target", ".float()"
    else:
        param, other, suffix = "target", "input", _cast_for(inp.dtype)
    odd = ctx.t(param)
    return Hint(
        title=f"{ctx.code(param)} is {odd.dtype} but {ctx.code(other)} is {ctx.t(other).dtype}",
        message=(f"{ctx.loss_label} needs input and target of the same float dtype. {ctx.code(param)} is "
                 f"{odd.dtype}" + (", what NumPy arrays hold by default" if odd.dtype == "float64" else "")
                 + f"; convert it with {suffix}."),
        fix=ctx.fix_arg(param, ctx.with_method(param, suffix)),
    )


_NOT_LONG_CASTS = ("int", "short", "byte", "char", "bool", "float", "double", "half", "to", "type")


@rule("NLH259", "target-dtype", "F.one_hot on a tensor that is not int64 (float labels, int32, bool)",
      families=("one-hot-dtype",),
      examples=(Example(
          "import torch, torch.nn.functional as F\n"
          "seg = (torch.rand(1, 8, 8) * 3).round()       # a label map as float\n"
          "seg_onehot = F.one_hot(seg, num_classes=4)",
          expect=("seg_onehot = F.one_hot(seg.long(), num_classes=4)", "float32")),))
def one_hot_not_long(ctx) -> Hint | None:
    """``F.one_hot`` takes int64 class indices only. Label maps often arrive as float (after a resize, a
    ``ToTensor`` or arithmetic) or int32 (NumPy): cast them, rounding first when a resize left fractions."""
    if ctx.call is None or "tensor" not in ctx.call.args:
        return None
    expr = ctx.name("tensor")
    try:
        node = ast.parse(expr.strip(), mode="eval").body
    except SyntaxError:
        return None
    facts = ctx.t("tensor")
    recast = (_call_attr(node) in _NOT_LONG_CASTS and not _is_torch(node.func.value)
              and (_call_attr(node) not in ("to", "type")  # .to(device) keeps the dtype: not a cast
                   or re.search(r"int|float|bool|half|double|short|byte|Tensor", ast.unparse(node)[len(
                       ast.unparse(node.func.value)):]) is not None))
    if recast:  # seg.int(): the facts describe seg, not the argument; replace the cast
        inner = ast.get_source_segment(expr.strip(), node.func.value)
        fixed_expr = f"{inner}.long()"
        what, facts = f"{ctx.code('tensor')} is not int64", None
    else:
        fixed_expr = ctx.with_method("tensor", ".long()")
        what = (f"{ctx.code('tensor')} is {facts.dtype}" if facts is not None and facts.dtype != "?"
                else f"{ctx.code('tensor')} is not int64")
    fractions = facts is not None and facts.is_float and facts.values and facts.min is not None and not facts.whole
    if fractions:
        fixed_expr = ctx.with_method("tensor", ".round().long()")
        why = (f" Its values are not all whole numbers ({values_text(facts)}): a label map resized with "
               "bilinear interpolation mixes neighbouring labels; resize masks with mode='nearest', or round.")
    elif facts is not None and facts.is_float and facts.values and facts.min is not None:
        why = f" Its values are whole numbers ({values_text(facts)}), so the cast keeps them."
    else:
        why = ""
    return Hint(
        title=f"F.one_hot needs int64 class indices, but {what}",
        message=f"F.one_hot only encodes int64 (LongTensor) indices; {what}. Cast it with .long().{why}",
        fix=ctx.fix({"tensor": fixed_expr}),
        evidence=() if recast else None,
    )


RULES = [swapped_arguments, argmax_input, integer_scores, integer_input_elementwise, weight_dtype,
         single_output_binary_float, float_labels, narrow_int_labels, labels_scaled_by_255, regression_targets,
         bce_integer_labels, bce_class_indices, margin_float_labels, multilabel_margin_multi_hot,
         float_width_mix, one_hot_not_long]
