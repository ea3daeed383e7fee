"""Rules for ``target-shape``, ``class-dim`` and the shape-revealed ``wrong-loss`` cases.

NLLLoss and CrossEntropyLoss take class indices shaped like the input without its class dimension:
``(N,)`` for ``(N, C)``, ``(N, H, W)`` for ``(N, C, H, W)``. The messages only say "multi-target" or
"spatial targets" or, for an integer one-hot target into CrossEntropyLoss (same shape as the input, so
read as class probabilities), "Expected floating point type for target with class probabilities". The
variants differ in what the target holds, so its shape and values decide: one-hot rows, a ``(N, 1)``
column, a mask that kept its channel axis, several 1s per row (multi-label: a different loss), or soft
probabilities given to NLLLoss. ``class-dim``: the class axis sits last, ``(N, T, C)`` or NHWC.

An integer *input* (``outputs.argmax(1)``) raises some of the same messages; those belong to
``dtype.py`` (``input-dtype``), so every rule here first checks that the input is floating point.
"""

from __future__ import annotations

import re

from ..contracts import losses_where
from ..probe import _num
from .base import Example, Hint, rule

CLASS_LOSSES = tuple(sorted(losses_where(lambda c: c.log_softmax_classes)))  # cross_entropy, nll_loss
CAST = {"float32": ".float()", "float64": ".double()", "float16": ".half()", "bfloat16": ".bfloat16()"}


# --- helpers shared with dtype.py ---------------------------------------------------------------------

def shape_text(shape) -> str:
    return f"({shape[0]},)" if len(shape) == 1 else "(" + ", ".join(map(str, shape)) + ")"


def values_text(facts) -> str:
    """``values {0, 1}`` or ``values in [0.1, 2.7]``, from the probe's facts."""
    if facts.distinct is not None and len(facts.distinct) <= 6:
        return "values {" + ", ".join(_num(v) for v in facts.distinct) + "}"
    if facts.min is not None:
        return f"values in [{_num(facts.min)}, {_num(facts.max)}]"
    return "values unknown"


def class_inputs(ctx):
    """(input, target) facts for NLL/CE with a floating-point input, else None."""
    inp, tgt = ctx.t("input"), ctx.t("target")
    if ctx.loss not in CLASS_LOSSES or inp is None or tgt is None or not inp.is_float:
        return None
    return inp, tgt


def is_binary(facts) -> bool:
    return facts.values and facts.distinct is not None and set(facts.distinct) <= {0.0, 1.0}


def one_hot_rows(facts) -> bool:
    """0/1 (or bool) slices along dim 1 with exactly one 1 each, as far as the probe's rows show."""
    return facts.ndim >= 2 and is_binary(facts) and facts.rows_simplex


def multi_hot_rows(facts) -> bool:
    """Several 1s per row; not a mask whose channels are all equal (a grey mask saved as RGB)."""
    return (facts.ndim >= 2 and is_binary(facts) and (facts.rows_max_sum or 0) > 1
            and not (facts.ndim >= 3 and facts.rows_uniform))


def long_suffix(facts) -> str:
    """``.long()`` when a class-index target is not int64 yet (``""`` when it is fine as it is)."""
    return "" if facts.dtype in ("int64", "uint8") else ".long()"


def swap_loss(ctx, module: str, functional: str, replacements: dict[str, str] | None = None) -> str:
    """The user's statement calling another loss: ``criterion = nn.X()`` then the call, or the callee replaced."""
    call = ctx.call
    replacements = replacements or {}
    inp = replacements.get("input", ctx.name("input"))
    tgt = replacements.get("target", ctx.name("target"))
    if call is None:
        return f"loss = nn.{module}()({inp}, {tgt})" if ctx.module else f"loss = F.{functional}({inp}, {tgt})"
    extra = set(call.args) - {"input", "target", "reduction"}
    callee = call.callee
    if ctx.module and re.fullmatch(r"[A-Za-z_][\w.]*", callee) and not callee.startswith(("nn.", "torch.")):
        line = ctx.fix(replacements) or f"loss = {callee}({inp}, {tgt})"
        return f"{callee} = nn.{module}()\n{line}"
    new = f"nn.{module}()" if ctx.module else (
        f"{callee.rsplit('.', 1)[0]}.{functional}" if "." in callee else f"F.{functional}")
    if extra:  # options of the old loss (ignore_index, weight) do not carry over
        at = call.statement.find(callee + "(")
        lhs = call.statement[:at] if at >= 0 else "loss = "
        return f"{lhs}{new}({inp}, {tgt})"
    return ctx.fix(replacements, callee=new) or f"loss = {new}({inp}, {tgt})"


def before_log_softmax(expr: str) -> str | None:
    """``logits`` from ``F.log_softmax(logits, dim=1)``, ``torch.log_softmax(logits, 1)``, ``logits.log_softmax(1)``."""
    import ast

    try:
        node = ast.parse(expr.strip(), mode="eval").body
    except SyntaxError:
        return None
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    if name != "log_softmax":
        return None
    owner = ast.unparse(func.value) if isinstance(func, ast.Attribute) else None
    if owner is not None and owner not in ("F", "torch", "functional") and not owner.endswith(".functional"):
        return ast.get_source_segment(expr.strip(), func.value)  # logits.log_softmax(dim=1)
    if node.args:  # F.log_softmax(logits, dim=1), or log_softmax(logits, 1) imported by name
        return ast.get_source_segment(expr.strip(), node.args[0])
    return None


def float_target(ctx, inp, tgt) -> str:
    """The target expression as the input's float dtype (unchanged when it already is)."""
    return ctx.name("target") if tgt.dtype == inp.dtype else ctx.with_method("target", CAST.get(inp.dtype, ".float()"))


def permute_for_class_dim(ndim: int) -> str:
    """``.permute(0, 2, 1)`` for (N, T, C), ``.permute(0, 3, 1, 2)`` for NHWC: the last dim moved to dim 1."""
    order = (0, ndim - 1, *range(1, ndim - 1))
    return ".permute(" + ", ".join(map(str, order)) + ")"


# --- one-hot, column, channel axis --------------------------------------------------------------------

TARGET_FAMILIES = ("multi-target", "spatial-target-dim", "prob-target-dtype", "target-size")


@rule("NLH201", "target-shape", "one-hot target rows where NLLLoss/CrossEntropyLoss expect class indices",
      families=TARGET_FAMILIES,
      examples=(
          Example(
              "import torch, torch.nn as nn, torch.nn.functional as F\n"
              "criterion = nn.CrossEntropyLoss()\n"
              "outputs = torch.randn(8, 4, requires_grad=True)\n"
              "labels = F.one_hot(torch.tensor([0, 3, 1, 2, 2, 0, 1, 3]), num_classes=4)\n"
              "loss = criterion(outputs, labels)",
              expect=("loss = criterion(outputs, labels.argmax(dim=1))", "labels.float()", "one-hot")),
          Example(
              "import torch, torch.nn as nn, torch.nn.functional as F\n"
              "log_probs = F.log_softmax(torch.randn(6, 3), dim=1)\n"
              "y_onehot = torch.eye(3)[torch.tensor([0, 1, 2, 2, 1, 0])]\n"
              "loss = F.nll_loss(log_probs, y_onehot)",
              expect=("loss = F.nll_loss(log_probs, y_onehot.argmax(dim=1))",)),
      ))
def one_hot_target(ctx) -> Hint | None:
    """Targets one-hot encoded (``(N, C)``, or ``(N, C, H, W)`` masks) where class indices are expected.

    ``argmax(dim=1)`` turns one-hot rows back into indices; CrossEntropyLoss also accepts the rows as
    float class probabilities, so for it ``.float()`` is an alternative.
    """
    found = class_inputs(ctx)
    if not found:
        return None
    inp, tgt = found
    if not one_hot_rows(tgt) or tgt.ndim != inp.ndim or inp.ndim < 2:
        return None
    classes = inp.shape[1]
    if tgt.shape[0] != inp.shape[0] or tgt.shape[2:] != inp.shape[2:] or not 1 < tgt.shape[1] <= classes:
        return None
    name = ctx.code("target")
    argmax = (".long()" if tgt.dtype == "bool" else "") + ".argmax(dim=1)"  # argmax has no bool kernel
    fix = ctx.fix({"target": ctx.with_method("target", argmax)})
    fix = fix or f"{ctx.name('target')} = {ctx.with_method('target', argmax)}"
    where = "each row" if tgt.ndim == 2 else "each position along dim 1"
    alternative = ""
    if ctx.loss == "cross_entropy":
        alternative = (f" CrossEntropyLoss also accepts the rows as class probabilities if they are "
                       f"floats: {ctx.with_method('target', '.float()')}.")
    return Hint(
        title=f"{name} is one-hot encoded {shape_text(tgt.shape)}, but {ctx.loss_label} expects class indices",
        message=(f"{name} has a single 1 in {where} ({tgt.dtype}, {values_text(tgt)}): a one-hot encoding. "
                 f"{ctx.loss_label} wants the class number of each sample, shaped "
                 f"{shape_text(inp.shape[:1] + inp.shape[2:])}; argmax along dim 1 recovers it."
                 + alternative),
        fix=fix,
    )


@rule("NLH202", "target-shape", "a (N, 1) column of labels where a 1-D (N,) target is expected",
      families=TARGET_FAMILIES,
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "model = nn.Linear(10, 3)\n"
          "x = torch.randn(16, 10)\n"
          "y = torch.randint(0, 3, (16, 1))\n"
          "loss = nn.CrossEntropyLoss()(model(x), y)",
          expect=("loss = nn.CrossEntropyLoss()(model(x), y.squeeze(1))", "(16, 1)")),))
def column_target(ctx) -> Hint | None:
    """Labels kept as a column (from ``df[['label']]``, ``unsqueeze(1)``, a CSV column): squeeze it."""
    found = class_inputs(ctx)
    if not found:
        return None
    inp, tgt = found
    if not (inp.ndim == 2 and tgt.ndim == 2 and tgt.shape == (inp.shape[0], 1) and inp.shape[1] > 1):
        return None
    if tgt.values and not tgt.whole:
        return None
    suffix = ".squeeze(1)" + long_suffix(tgt)
    name = ctx.code("target")
    return Hint(
        title=f"{name} is a {shape_text(tgt.shape)} column; {ctx.loss_label} expects shape ({tgt.shape[0]},)",
        message=(f"Class-index targets have one dimension less than the input: {ctx.code('input')} is "
                 f"{shape_text(inp.shape)}, so the labels must be ({inp.shape[0]},). {name} has an extra "
                 f"axis of size 1, typical of labels read as a column (df[['label']], unsqueeze(1))."
                 + (" It is also float, and class indices must be int64." if suffix.endswith("long()") else "")),
        fix=ctx.fix_arg("target", ctx.with_method("target", suffix)),
    )


@rule("NLH203", "target-shape", "a segmentation mask that kept its channel axis: (N, 1, H, W) or (N, H, W, 1)",
      families=TARGET_FAMILIES,
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "criterion = nn.CrossEntropyLoss()\n"
          "logits = torch.randn(2, 5, 16, 16, requires_grad=True)\n"
          "masks = torch.randint(0, 5, (2, 1, 16, 16))\n"
          "loss = criterion(logits, masks)",
          expect=("loss = criterion(logits, masks.squeeze(1))", "(2, 1, 16, 16)")),))
def mask_channel_axis(ctx) -> Hint | None:
    """A label mask with a channel axis of size 1 (as loaded from a grayscale image): squeeze it."""
    found = class_inputs(ctx)
    if not found:
        return None
    inp, tgt = found
    if inp.ndim < 3 or tgt.ndim != inp.ndim or inp.shape[1] < 2 or (tgt.values and not tgt.whole):
        return None
    batch, spatial = inp.shape[0], inp.shape[2:]
    if tgt.shape == (batch, 1, *spatial):
        dim = "1"
    elif tgt.shape == (batch, *spatial, 1):
        dim = "-1"
    else:
        return None
    suffix = f".squeeze({dim})" + long_suffix(tgt)
    name = ctx.code("target")
    wanted = shape_text((batch, *spatial))
    return Hint(
        title=f"{name} has a channel axis {shape_text(tgt.shape)}; {ctx.loss_label} expects {wanted}",
        message=(f"For {ctx.code('input')} of shape {shape_text(inp.shape)} the target holds one class index "
                 f"per position, shaped {wanted}. {name} keeps a size-1 channel axis (at dim {dim}), as "
                 f"masks loaded like single-channel images do; squeeze it away."
                 + (" It is also float, and class indices must be int64." if suffix.endswith("long()") else "")),
        fix=ctx.fix_arg("target", ctx.with_method("target", suffix)),
    )


@rule("NLH204", "wrong-loss", "multi-hot targets (several 1s per row) given to a single-label loss",
      families=TARGET_FAMILIES,
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "criterion = nn.CrossEntropyLoss()\n"
          "scores = torch.randn(4, 5, requires_grad=True)\n"
          "tags = torch.tensor([[1, 0, 1, 0, 0], [0, 1, 1, 1, 0], [1, 0, 0, 0, 0], [0, 0, 0, 1, 1]])\n"
          "loss = criterion(scores, tags)",
          expect=("criterion = nn.BCEWithLogitsLoss()", "loss = criterion(scores, tags.float())", "multi-label")),))
def multi_hot_target(ctx) -> Hint | None:
    """Multi-label targets (rows with several 1s) into CrossEntropyLoss/NLLLoss: use BCEWithLogitsLoss."""
    found = class_inputs(ctx)
    if not found:
        return None
    inp, tgt = found
    if not multi_hot_rows(tgt) or tgt.shape != inp.shape:
        return None
    name = ctx.code("target")
    replacements = {"target": float_target(ctx, inp, tgt)}
    logprobs = inp.producer in ("log_softmax", "log(softmax)") or inp.rows_log_simplex
    raw = before_log_softmax(ctx.name("input")) if logprobs else None
    note = ""
    if raw:
        replacements["input"] = raw
        note = f" BCEWithLogitsLoss takes raw scores: pass `{raw}`, not its log_softmax."
    elif logprobs:
        note = (f" {ctx.code('input')} looks like log-probabilities; BCEWithLogitsLoss takes the raw scores "
                f"from before log_softmax.")
    return Hint(
        title=f"{name} has several 1s per row: multi-label targets need BCEWithLogitsLoss, not {ctx.loss_label}",
        message=(f"{name} {shape_text(tgt.shape)} holds 0/1 rows with up to {_num(tgt.rows_max_sum)} ones, "
                 f"so a sample can belong to several classes (multi-label). {ctx.loss_label} picks exactly one "
                 f"class per sample; BCEWithLogitsLoss scores each class as its own yes/no question and "
                 f"takes float 0/1 targets of the input's shape.{note}"),
        fix=swap_loss(ctx, "BCEWithLogitsLoss", "binary_cross_entropy_with_logits", replacements),
    )


@rule("NLH205", "wrong-loss", "CrossEntropyLoss on a model with a single output (binary 0/1 labels)",
      families=TARGET_FAMILIES,
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1))\n"
          "x = torch.randn(10, 8)\n"
          "y = torch.randint(0, 2, (10, 1))\n"
          "loss = nn.CrossEntropyLoss()(model(x), y)",
          expect=("BCEWithLogitsLoss", "y.float()")),))
def single_output_binary(ctx) -> Hint | None:
    """One output column and 0/1 labels of the same shape: softmax over one class is always 1, use BCE."""
    found = class_inputs(ctx)
    if not found:
        return None
    inp, tgt = found
    if inp.ndim < 2 or inp.shape[1] != 1 or tgt.shape != inp.shape or not is_binary(tgt):
        return None
    return Hint(
        title=f"{ctx.code('input')} has a single output column: binary 0/1 labels need BCEWithLogitsLoss",
        message=(f"{ctx.code('input')} is {shape_text(inp.shape)}: one score per sample, and "
                 f"{ctx.code('target')} holds 0/1 labels. {ctx.loss_label} needs one column per class (a "
                 f"softmax over a single column is always 1, so it could not learn); with one output, "
                 f"BCEWithLogitsLoss with float targets is the binary loss."),
        fix=swap_loss(ctx, "BCEWithLogitsLoss", "binary_cross_entropy_with_logits",
                      {"target": float_target(ctx, inp, tgt)}),
    )


@rule("NLH206", "target-shape", "soft (probability) targets given to NLLLoss, which takes class indices only",
      families=("multi-target", "spatial-target-dim", "target-size"),
      examples=(Example(
          "import torch, torch.nn as nn, torch.nn.functional as F\n"
          "log_probs = F.log_softmax(torch.randn(4, 3, requires_grad=True), dim=1)\n"
          "soft = torch.tensor([[0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6], [0.5, 0.5, 0.0]])\n"
          "loss = nn.NLLLoss()(log_probs, soft)",
          expect=("nn.CrossEntropyLoss()", "probabilities")),))
def soft_targets_nll(ctx) -> Hint | None:
    """Probability targets (label smoothing, mixup, distillation) into NLLLoss; CrossEntropyLoss takes them."""
    found = class_inputs(ctx)
    if not found or ctx.loss != "nll_loss":
        return None
    inp, tgt = found
    if tgt.shape != inp.shape or not tgt.is_float or not tgt.rows_simplex or one_hot_rows(tgt):
        return None
    logprobs = inp.producer in ("log_softmax", "log(softmax)") or inp.rows_log_simplex
    why = (f" CrossEntropyLoss applies log_softmax itself, and on {ctx.code('input')}, which are already "
           f"log-probabilities, that changes nothing." if logprobs else
           " CrossEntropyLoss applies log_softmax itself, so give it the raw scores.")
    return Hint(
        title=f"{ctx.code('target')} holds class probabilities, but {ctx.loss_label} only takes class indices",
        message=(f"Each row of {ctx.code('target')} {shape_text(tgt.shape)} sums to 1: soft labels. NLLLoss "
                 f"needs one class index per sample; CrossEntropyLoss accepts probability targets of the "
                 f"input's shape.{why}"),
        fix=swap_loss(ctx, "CrossEntropyLoss", "cross_entropy"),
    )


FLATTEN = re.compile(r"(?P<base>[A-Za-z_][\w.]*)\s*\.\s*(?:view|reshape)\(\s*-1\s*\)|"
                     r"(?P<base2>[A-Za-z_][\w.]*)\s*\.\s*flatten\(\s*\)")


@rule("NLH207", "target-shape", "one-hot rows flattened into a 1-D target of N*C values",
      families=("batch-size",),
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "loss_fct = nn.CrossEntropyLoss()\n"
          "logits = torch.randn(8, 4, requires_grad=True)\n"
          "label_ids = torch.eye(4, dtype=torch.long)[torch.tensor([1, 2, 1, 3, 0, 1, 0, 1])]\n"
          "loss = loss_fct(logits, label_ids.view(-1))",
          expect=("loss = loss_fct(logits, label_ids.argmax(dim=1))", "one-hot")),))
def flattened_one_hot(ctx) -> Hint | None:
    """``labels.view(-1)`` on one-hot rows gives N*C zeros and ones instead of N class indices."""
    found = class_inputs(ctx)
    if not found or ctx.call is None:
        return None
    inp, tgt = found
    if inp.ndim != 2 or tgt.ndim != 1 or tgt.shape[0] != inp.shape[0] * inp.shape[1] or not is_binary(tgt):
        return None
    m = FLATTEN.fullmatch(ctx.name("target").strip())
    base = m and (m.group("base") or m.group("base2"))
    if not base or "." in base:
        return None
    import torch

    from ..probe import describe

    value = ctx.lookup(base) if hasattr(ctx, "lookup") else None
    if not isinstance(value, torch.Tensor) or tuple(value.shape) != inp.shape:
        return None
    rows = describe(value)
    del value
    if not one_hot_rows(rows):
        return None
    return Hint(
        title=f"{ctx.code('target')} flattens one-hot rows: {tgt.shape[0]} zeros and ones for {inp.shape[0]} samples",
        message=(f"`{base}` is {shape_text(rows.shape)} one-hot rows; flattening it gives {tgt.shape[0]} values "
                 f"(0 or 1), not the {inp.shape[0]} class indices {ctx.loss_label} needs, hence the batch size "
                 f"mismatch. argmax along dim 1 turns each row into its class index."),
        fix=ctx.fix({"target": f"{base}.argmax(dim=1)"}),
    )


@rule("NLH208", "target-shape", "a batch of one whose target lost its batch axis (squeeze())",
      families=("batch-size", "spatial-target-dim", "target-size"),
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "net = nn.Conv2d(1, 5, 3, padding=1)\n"
          "image = torch.rand(1, 1, 32, 32)\n"
          "mask = torch.randint(0, 5, (1, 1, 32, 32)).squeeze()\n"
          "loss = nn.CrossEntropyLoss()(net(image), mask)",
          expect=("loss = nn.CrossEntropyLoss()(net(image), mask.unsqueeze(0))",)),))
def lost_batch_axis(ctx) -> Hint | None:
    """With N = 1, ``squeeze()`` drops the batch axis of the mask too: put it back with ``unsqueeze(0)``."""
    found = class_inputs(ctx)
    if not found:
        return None
    inp, tgt = found
    if inp.ndim < 3 or inp.shape[0] != 1 or tgt.shape != inp.shape[2:] or (tgt.values and not tgt.whole):
        return None
    suffix = ".unsqueeze(0)" + long_suffix(tgt)
    return Hint(
        title=(f"{ctx.code('target')} {shape_text(tgt.shape)} has no batch axis, but {ctx.code('input')} "
               f"is a batch of one"),
        message=(f"{ctx.code('input')} is {shape_text(inp.shape)}, so {ctx.loss_label} expects a target of "
                 f"{shape_text((1, *inp.shape[2:]))}. {ctx.code('target')} is missing the leading batch axis, "
                 f"which is what squeeze() without a dim does to a batch of one. Add it back (or squeeze only "
                 f"the channel axis, squeeze(1))."),
        fix=ctx.fix_arg("target", ctx.with_method("target", suffix)),
    )


@rule("NLH209", "target-shape", "a colour-coded (RGB) label image where one class index per pixel is expected",
      families=("spatial-target-dim", "prob-target-dtype", "target-size"),
      examples=(Example(
          "import torch, torch.nn as nn, torch.nn.functional as F\n"
          "outputs = torch.randn(2, 7, 16, 16)\n"
          "palette = torch.tensor([[0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255]])\n"
          "labels = palette[torch.randint(0, 4, (2, 16, 16))]\n"
          "loss = nn.NLLLoss()(F.log_softmax(outputs, dim=1), labels)",
          expect=("RGB", "return_inverse=True")),
          Example(
          "import torch, torch.nn as nn\n"
          "criterion = nn.CrossEntropyLoss()\n"
          "preds = torch.randn(2, 5, 16, 16, requires_grad=True)\n"
          "masks = torch.randint(0, 5, (2, 16, 16, 1)).expand(-1, -1, -1, 3)   # grey mask read as RGB\n"
          "loss = criterion(preds, masks)",
          expect=("colour channels", "loss = criterion(preds, masks[..., 0])", "equal")),
      ))
def colour_mask(ctx) -> Hint | None:
    """Segmentation labels saved as colour images (N, H, W, 3): each colour must be mapped to a class index.

    Values up to 255 are colours. Small values (all below the number of classes) in an (N, H, W, 3|4)
    mask are class ids that kept the image's colour channels (a grey mask read as RGB, cv2.imread's
    default): a bounded read of the mask says whether its channels are equal, and only then is keeping
    one channel the fix; otherwise the colours still have to be mapped to class ids.
    """
    found = class_inputs(ctx)
    if not found:
        return None
    inp, tgt = found
    if inp.ndim != 4 or tgt.ndim != 4 or not tgt.values or tgt.min is None or (tgt.is_float and not tgt.whole):
        return None
    batch, spatial = inp.shape[0], inp.shape[2:]
    if tgt.shape[:3] == (batch, *spatial) and tgt.shape[3] in (3, 4):
        channels, last = tgt.shape[3], True
    elif tgt.shape[0] == batch and tgt.shape[2:] == spatial and tgt.shape[1] in (3, 4):
        channels, last = tgt.shape[1], False
    else:
        return None
    if tgt.min < 0 or tgt.max > 255 or (tgt.max < inp.shape[1] and not last):
        return None
    name = ctx.name("target")
    first = ""
    if not re.fullmatch(r"[A-Za-z_]\w*", name.strip()):  # (masks.long() + 0): named once, then used
        first, name = f"mask = {name}\n", "mask"
    pixels = name if last else f"{name}.permute(0, 2, 3, 1)"
    flat = f"{pixels}.reshape(-1, {channels})"
    mapped = (first + f"colours, idx = torch.unique({flat}, dim=0, return_inverse=True)\n"
              + (f"{name}_idx = idx.view({name}.shape[:3])" if last else
                 f"{name}_idx = idx.view({name}.shape[0], *{name}.shape[2:])")
              + "\n" + (ctx.fix({"target": f"{name}_idx"}) or f"# then use {name}_idx"))
    wanted = shape_text((batch, *spatial))
    if tgt.max < inp.shape[1]:
        return _class_ids_with_channels(ctx, inp, tgt, channels, wanted, mapped)
    return Hint(
        title=f"{ctx.code('target')} looks like a colour (RGB) label image {shape_text(tgt.shape)}, not class indices",
        message=(f"{ctx.code('target')} has {channels} channels with values up to {_num(tgt.max)}: a colour-coded "
                 f"mask, as segmentation datasets store them. {ctx.loss_label} needs one class index per pixel, "
                 f"shaped {wanted}; map each colour to its class (in the order of the "
                 f"dataset's palette) before the loss."),
        fix="# one index per colour (in your dataset's palette order, if it has one)\n" + mapped,
    )


def _class_ids_with_channels(ctx, inp, tgt, channels: int, wanted: str, mapped: str) -> Hint:
    """(N, H, W, 3|4) with values that fit the classes: a mask that kept the image's colour channels."""
    name = ctx.name("target")
    colours = "RGB" if channels == 3 else "RGBA"
    checked = _channels_checked(ctx, tgt)
    keep = ctx.fix_arg("target", ctx.with_method("target", "[..., 0]" + long_suffix(tgt)))
    opening = (f"{ctx.code('target')} {shape_text(tgt.shape)} still has its {channels} colour channels "
               f"({colours}) as its last dim: a mask image read in colour (cv2.imread and PIL's "
               f"convert('RGB') give 3 channels). {ctx.loss_label} takes one class index per position, "
               f"shaped {wanted}. ")
    if checked and checked[1]:
        message = (opening + f"In the {checked[0]} pixels checked its channels are equal (a grey mask saved "
                   f"as {colours}), so keep one channel, or read the mask as greyscale.")
        fix = keep
    elif checked and checked[2] > inp.shape[1]:
        message = (opening + f"Its channels differ, and a few pixels already show more colours than the "
                   f"{inp.shape[1]} classes, so they are not a palette of class colours either: find which "
                   f"channel holds the class index (or how the mask was written) and pass that one, shaped "
                   f"{wanted}.")
        fix = None
    elif checked:
        message = (opening + f"Its channels differ in the pixels checked, so the colours encode the classes: "
                   f"map each colour to its class id (in your dataset's palette order).")
        fix = "# one index per colour (in your dataset's palette order, if it has one)\n" + mapped
    else:
        message = (opening + "If its channels are all equal (a grey mask saved in colour), keep one; "
                   "otherwise map each colour to its class id.")
        fix = (f"# if the {channels} channels are equal (a grey mask saved as {colours}):\n{keep}\n"
               f"# otherwise one index per colour (in your dataset's palette order):\n{mapped}")
    return Hint(title=f"{ctx.code('target')} still has its colour channels {shape_text(tgt.shape)}; "
                      f"{ctx.loss_label} expects {wanted}",
                message=message, fix=fix)


def _channels_checked(ctx, tgt) -> tuple[int, bool, int] | None:
    """(pixels read, all channels equal in them, distinct colours among the first mask's first 8x8
    pixels) for a target that is a plain name of the user's; bounded reads (the probe's row check: at most
    64 pixels; the colours only when the channels differ: a lower bound on the palette, enough to rule a
    palette of C class colours out), None when the tensor is not at hand."""
    import torch

    from ..probe import MAX_ROWS, describe

    name = ctx.name("target").strip()
    if not ctx.values_readable or not re.fullmatch(r"[A-Za-z_]\w*", name):
        return None
    value = ctx.lookup(name)
    if not isinstance(value, torch.Tensor) or tuple(value.shape) != tgt.shape:
        return None
    facts = describe(value, class_dim=value.dim() - 1)
    if not facts.values:
        return None
    colours = 0
    if not facts.rows_uniform and value.dim() == 4:
        colours = int(torch.unique(value[0, :8, :8].reshape(-1, value.shape[-1]).cpu(), dim=0).shape[0])
    del value
    return min(MAX_ROWS, facts.numel // tgt.shape[-1]), facts.rows_uniform, colours


# --- class-dim ------------------------------------------------------------------------------------------

@rule("NLH210", "class-dim", "the class dimension is last, (N, T, C) or NHWC, but the loss reads dim 1",
      families=("target-size", "spatial-size"),
      examples=(
          Example(
              "import torch, torch.nn as nn\n"
              "lstm = nn.LSTM(8, 16, batch_first=True)\n"
              "head = nn.Linear(16, 6)\n"
              "x = torch.randn(4, 12, 8)\n"
              "tags = torch.randint(0, 6, (4, 12))\n"
              "out, _ = lstm(x)\n"
              "loss = nn.CrossEntropyLoss()(head(out), tags)",
              expect=("loss = nn.CrossEntropyLoss()(head(out).permute(0, 2, 1), tags)", "(4, 12, 6)")),
          Example(
              "import torch, torch.nn.functional as F\n"
              "pred = torch.randn(2, 32, 32, 4, requires_grad=True)   # NHWC\n"
              "mask = torch.randint(0, 4, (2, 32, 32))\n"
              "loss = F.cross_entropy(pred, mask)",
              expect=("loss = F.cross_entropy(pred.permute(0, 3, 1, 2), mask)",)),
      ))
def class_dim_last(ctx) -> Hint | None:
    """Sequence or image outputs with the classes last: the loss wants them in dim 1, so move them there."""
    found = class_inputs(ctx)
    if not found:
        return None
    inp, tgt = found
    if inp.ndim < 3 or tgt.ndim != inp.ndim - 1 or inp.shape[1] == inp.shape[-1]:
        return None
    if tgt.is_float and tgt.values and not tgt.whole:
        return None
    classes = inp.shape[-1]
    lengths = None
    if tgt.shape != inp.shape[:-1]:
        # (N, T, V) scores with (N, T') labels: only the labels' values can say the classes are last
        labels_fit_last = tgt.values and tgt.min is not None and tgt.min >= 0 and inp.shape[1] <= tgt.max < classes
        if not (inp.ndim == 3 and tgt.shape[0] == inp.shape[0] and labels_fit_last):
            return None
        lengths = (inp.shape[1], tgt.shape[1])
    permute = permute_for_class_dim(inp.ndim)
    replacements = {"input": ctx.with_method("input", permute)}
    if tgt.is_float or tgt.dtype not in ("int64", "uint8"):
        replacements["target"] = ctx.with_method("target", ".long()")
    layout = "(N, T, C)" if inp.ndim == 3 else ("(N, H, W, C) (channels last)" if inp.ndim == 4 else "channels last")
    alt = " (or .transpose(1, 2))" if inp.ndim == 3 else ""
    if lengths:
        evidence = (f"its labels go up to {_num(tgt.max)}, too large for dim 1 (size {inp.shape[1]}) but valid "
                    f"for the last dim (size {classes})")
        extra = (f" The lengths differ too: {ctx.code('input')} has {lengths[0]} steps, {ctx.code('target')} "
                 f"{lengths[1]}; cut or pad one so they match (e.g. the targets to the decoded length).")
    else:
        evidence = "the target matches every dim of the input but the last"
        extra = ""
    fix = ctx.fix(replacements) or f"{ctx.name('input')} = {ctx.with_method('input', permute)}"
    if lengths:
        fix += f"   # lengths differ: {lengths[0]} vs {lengths[1]} steps"
    return Hint(
        title=f"the classes of {ctx.code('input')} are in its last dim, but {ctx.loss_label} reads them from dim 1",
        message=(f"{ctx.code('input')} is {shape_text(inp.shape)} and {ctx.code('target')} is "
                 f"{shape_text(tgt.shape)}: {evidence}, so the {classes} classes look like they sit last, "
                 f"{layout}. {ctx.loss_label} expects (N, C, ...) with the classes in dim 1; move them there "
                 f"with {permute}{alt}.{extra}"),
        fix=fix,
    )


@rule("NLH211", "class-dim", "sequence-first (T, N, C) outputs with batch-first (N, T) targets",
      families=("batch-size", "target-size"),
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "rnn = nn.GRU(10, 20)                 # sequence-first: (T, N, features)\n"
          "fc = nn.Linear(20, 5)\n"
          "x = torch.randn(7, 3, 10)\n"
          "y = torch.randint(0, 5, (3, 7))      # (N, T)\n"
          "h, _ = rnn(x)\n"
          "loss = nn.CrossEntropyLoss()(fc(h), y)",
          expect=("fc(h).permute(1, 2, 0)", "(7, 3, 5)")),))
def sequence_first(ctx) -> Hint | None:
    """RNN/Transformer outputs are (T, N, C) by default; with (N, T) targets they need .permute(1, 2, 0)."""
    found = class_inputs(ctx)
    if not found:
        return None
    inp, tgt = found
    if inp.ndim != 3 or tgt.ndim != 2 or inp.shape[0] == inp.shape[1]:
        return None
    if tgt.shape != (inp.shape[1], inp.shape[0]) or (tgt.is_float and tgt.values and not tgt.whole):
        return None
    replacements = {"input": ctx.with_method("input", ".permute(1, 2, 0)")}
    if tgt.dtype not in ("int64", "uint8"):
        replacements["target"] = ctx.with_method("target", ".long()")
    t, n, c = inp.shape
    return Hint(
        title=(f"{ctx.code('input')} is sequence-first {shape_text(inp.shape)}, {ctx.code('target')} is "
               f"batch-first {shape_text(tgt.shape)}"),
        message=(f"{ctx.code('input')} looks like (T={t}, N={n}, C={c}), the default layout of nn.RNN/LSTM/GRU "
                 f"and nn.Transformer without batch_first=True, while {ctx.code('target')} is (N={n}, T={t}). "
                 f"{ctx.loss_label} wants (N, C, T) with (N, T) targets: permute(1, 2, 0) gives that."),
        fix=ctx.fix(replacements) or f"{ctx.name('input')} = {ctx.with_method('input', '.permute(1, 2, 0)')}",
    )


RULES = [one_hot_target, column_target, mask_channel_axis, multi_hot_target, single_output_binary,
         soft_targets_nll, flattened_one_hot, lost_batch_axis, colour_mask, class_dim_last, sequence_first]
