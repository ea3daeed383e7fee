"""Rules for the multi-class margin losses: MultiMarginLoss (one class index per sample, like
CrossEntropyLoss) and MultiLabelMarginLoss (per sample a list of class indices ended by -1, shaped like the
input; not multi-hot rows, which is MultiLabelSoftMarginLoss's format).
"""

from __future__ import annotations

from ..probe import _num
from .base import Example, Hint, rule
from .options import option_fix, option_text
from .roles import pick_fix, shape_text
from .samebatch import same_batch_fix
from .shapes import is_binary, long_suffix, one_hot_rows


def _facts(ctx, loss: str):
    if ctx.loss != loss:
        return None
    inp, tgt = ctx.t("input"), ctx.t("target")
    return (inp, tgt) if inp is not None and tgt is not None else None


@rule("NLH330", "target-shape", "MultiMarginLoss target that is not one class index per sample",
      families=("margin-target-size",),
      examples=(
          Example(
              "import torch, torch.nn as nn, torch.nn.functional as F\n"
              "svm_head = nn.Linear(20, 4)\n"
              "x, y = torch.randn(10, 20), torch.randint(0, 4, (10,))\n"
              "y_onehot = F.one_hot(y, num_classes=4)\n"
              "loss = nn.MultiMarginLoss()(svm_head(x), y_onehot)",
              expect=("loss = nn.MultiMarginLoss()(svm_head(x), y_onehot.argmax(dim=1))",)),
          Example(
              "import torch, torch.nn as nn\n"
              "scores, labels = torch.randn(10, 4), torch.randint(0, 4, (10, 1))\n"
              "loss = nn.MultiMarginLoss(margin=0.5)(scores, labels)",
              expect=("labels.squeeze(1)",)),
      ))
def multi_margin_target(ctx) -> Hint | None:
    """MultiMarginLoss takes, like CrossEntropyLoss, one class index per sample: (N,) for (N, C) scores."""
    found = _facts(ctx, "multi_margin_loss")
    if not found:
        return None
    inp, tgt = found
    if inp.ndim not in (1, 2):
        return None
    n = inp.shape[0] if inp.ndim == 2 else 1
    name = ctx.code("target")
    base = (f"MultiMarginLoss takes one class index per sample, like CrossEntropyLoss: ({n},) int64 for "
            f"{ctx.code('input')} {shape_text(inp.shape)}; {name} is {shape_text(tgt.shape)}.")
    if tgt.ndim == 2 and tgt.shape == (n, 1):
        return Hint(title=f"{name} is a ({n}, 1) column; MultiMarginLoss expects ({n},)", message=base,
                    fix=pick_fix(ctx, {"target": ctx.with_method("target", ".squeeze(1)" + long_suffix(tgt))}))
    if tgt.ndim == 2 and tgt.shape == inp.shape and one_hot_rows(tgt):
        return Hint(title=f"{name} is one-hot {shape_text(tgt.shape)}; MultiMarginLoss expects class indices ({n},)",
                    message=base + " Its rows are one-hot: argmax along dim 1 gives the indices.",
                    fix=pick_fix(ctx, {"target": ctx.with_method("target", ".argmax(dim=1)")}))
    if tgt.ndim == 2 and tgt.shape == inp.shape and is_binary(tgt):
        return Hint(title=f"{name} has several 1s per row: multi-label targets, but MultiMarginLoss is single-label",
                    message=(base + " For several classes per sample use MultiLabelSoftMarginLoss (0/1 rows as "
                             "they are, as floats) or MultiLabelMarginLoss (index lists ended by -1)."),
                    fix=None)
    if tgt.ndim == 1 and tgt.shape[0] != n:
        return None  # NLH335
    return Hint(title=f"{name} is {shape_text(tgt.shape)}; MultiMarginLoss expects ({n},) class indices",
                message=base, fix=None)


@rule("NLH331", "weight-size", "MultiMarginLoss weight that is not a 1-D tensor of one weight per class",
      families=("weight-ndim",),
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "class_weights = torch.tensor([[1.0, 2.0, 1.0, 0.5]])\n"
          "criterion = nn.MultiMarginLoss(weight=class_weights)",
          expect=("nn.MultiMarginLoss(weight=class_weights.flatten())",)),))
def multi_margin_weight(ctx) -> Hint | None:
    """``weight`` holds one weight per class, shape (C,); a (1, C) row or a scalar tensor is refused."""
    weight = ctx.t("weight")
    if weight is None or (ctx.loss != "multi_margin_loss" and ctx.module != "MultiMarginLoss"):
        return None
    inp = ctx.t("input")
    classes = inp.shape[-1] if inp is not None and inp.ndim else None
    w = option_text(ctx, "weight", "weight")
    base = (f"MultiMarginLoss's weight rescales each class, so it is 1-D with one entry per class"
            + (f" ({classes} here)" if classes else "")
            + f"; `{w}` is {shape_text(weight.shape) if weight.ndim else 'a 0-d tensor'}.")
    if weight.ndim >= 2 and max(weight.shape) == weight.numel and (classes is None or weight.numel == classes):
        return Hint(title=f"`{w}` is {shape_text(weight.shape)}: the class weight must be 1-D",
                    message=base + " It holds the right values with extra size-1 axes: flatten it.",
                    fix=option_fix(ctx, "weight", f"{w}.flatten()" if w.isidentifier() else f"({w}).flatten()"),
                    evidence=())
    if weight.ndim == 0 and classes:
        return Hint(title=f"`{w}` is a single number; the class weight needs {classes} entries",
                    message=base + " To weight every class the same, leave weight out.",
                    fix=None, evidence=())
    return Hint(title=f"`{w}` is {shape_text(weight.shape)}: MultiMarginLoss's weight must be 1-D, one per class",
                message=base + (" A (N, C) weight is per sample and class: compute the unreduced loss "
                                "(reduction='none') and weight it yourself." if weight.ndim == 2 else ""),
                fix=None, evidence=())


@rule("NLH332", "target-shape", "MultiLabelMarginLoss target that is not a -1-padded index list per sample",
      families=("multilabel-target-size",),
      examples=(
          Example(
              "import torch, torch.nn as nn\n"
              "logits = torch.randn(6, 5, requires_grad=True)\n"
              "labels = torch.tensor([0, 3, 1, 4, 2, 2])\n"
              "loss = nn.MultiLabelMarginLoss()(logits, labels)",
              expect=("F.pad(labels.unsqueeze(1), (0, 4), value=-1)", "MultiMarginLoss")),
          Example(
              "import torch, torch.nn as nn\n"
              "logits = torch.randn(2, 6)\n"
              "tags = torch.tensor([[0, 3, -1], [1, 2, 5]])   # up to 3 labels per sample\n"
              "loss = nn.MultiLabelMarginLoss()(logits, tags)",
              expect=("F.pad(tags, (0, 3), value=-1)",)),
      ))
def multilabel_margin_target(ctx) -> Hint | None:
    """MultiLabelMarginLoss wants a target shaped like the input: per row the sample's class indices, the list
    ended by -1 ([3, 0, -1, 1] means classes 3 and 0). Single labels (N,) and shorter lists (N, K) are padded."""
    found = _facts(ctx, "multilabel_margin_loss")
    if not found:
        return None
    inp, tgt = found
    if inp.ndim != 2 or tgt.ndim > 2:
        return None
    n, c = inp.shape
    name = ctx.code("target")
    base = (f"MultiLabelMarginLoss takes a target shaped like {ctx.code('input')} ({n}, {c}): in each row the "
            f"sample's class indices, ended by -1 (the rest is ignored).")
    if tgt.ndim == 1 and tgt.shape[0] == n and (not tgt.values or tgt.whole):
        padded = f"F.pad({ctx.with_method('target', '.unsqueeze(1)' + long_suffix(tgt))}, (0, {c - 1}), value=-1)"
        return Hint(title=f"{name} has one label per sample ({n},); MultiLabelMarginLoss expects ({n}, {c}) index lists",
                    message=(base + f" With one class per sample, MultiMarginLoss (or CrossEntropyLoss) takes "
                             f"{name} as it is; to keep MultiLabelMarginLoss, pad each label into a list."),
                    fix=pick_fix(ctx, {"target": padded}))
    if tgt.ndim == 2 and tgt.shape[0] == n and tgt.shape[1] < c and (not tgt.values or tgt.whole):
        padded = f"F.pad({ctx.with_method('target', long_suffix(tgt))}, (0, {c - tgt.shape[1]}), value=-1)"
        return Hint(title=f"{name} holds up to {tgt.shape[1]} labels per sample; MultiLabelMarginLoss needs "
                          f"({n}, {c}) rows",
                    message=base + f" Pad the lists to {c} columns with -1.",
                    fix=pick_fix(ctx, {"target": padded}))
    return Hint(title=f"{name} is {shape_text(tgt.shape)}; MultiLabelMarginLoss expects ({n}, {c})",
                message=base, fix=None)


@rule("NLH333", "target-range", "MultiLabelMarginLoss labels outside 0..C-1 (1-based lists, or padding other than -1)",
      families=("target-out-of-bounds",),
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "scores = torch.randn(2, 4)\n"
          "tags = torch.tensor([[1, 4, 0, 0], [2, 0, 0, 0]])   # 1-based, 0-padded\n"
          "loss = nn.MultiLabelMarginLoss()(scores, tags)",
          expect=("tags - 1", "-1")),))
def multilabel_margin_range(ctx) -> Hint | None:
    """Labels run 0..C-1 and a row's list ends at the first -1: 1-based labels padded with 0 are off by one."""
    found = _facts(ctx, "multilabel_margin_loss")
    if not found:
        return None
    inp, tgt = found
    if inp.ndim < 1 or not tgt.values or tgt.min is None:
        return None
    c = inp.shape[-1]
    name = ctx.code("target")
    if tgt.min >= 0 and tgt.max == c:
        return Hint(
            title=f"{name} goes up to {_num(tgt.max)}: labels look 1-based, MultiLabelMarginLoss counts 0..{c - 1}",
            message=(f"{ctx.code('input')} has {c} classes, so labels run 0..{c - 1} and each row's list ends at "
                     f"the first -1. {name} holds values up to {c}: 1-based labels, with 0 as padding. Subtracting "
                     "1 fixes both: labels become 0-based and the 0 padding becomes -1."),
            fix=pick_fix(ctx, {"target": f"{ctx.name('target')} - 1"}),
        )
    if tgt.max > c:
        return Hint(title=f"{name} holds labels up to {_num(tgt.max)}, but {ctx.code('input')} has {c} classes "
                          f"(0..{c - 1})",
                    message=(f"Each row of {name} lists class indices of {ctx.code('input')}'s {c} columns, ended by "
                             "-1. A label that large means the input has too few columns (the model's last "
                             "layer) or the labels come from another numbering."),
                    fix=None)
    if tgt.min < -1:
        return Hint(title=f"{name} contains {_num(tgt.min)}: only -1 ends a label list",
                    message=(f"MultiLabelMarginLoss reads each row up to the first -1; other negative values "
                             f"(padding such as -100) are out of range. Pad with -1."),
                    fix=pick_fix(ctx, {"target": f"{ctx.name('target')}.clamp(min=-1)"}))
    return None


@rule("NLH334", "wrong-loss", "fractional float targets into MultiMarginLoss/MultiLabelMarginLoss (class-index losses)",
      families=("scalar-type", "target-dtype"),
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "scores = torch.randn(6, 3)\n"
          "ratings = torch.tensor([0.5, 2.7, 1.2, 0.1, 1.9, 2.2])\n"
          "loss = nn.MultiMarginLoss()(scores, ratings)",
          expect=("fractional", "MSELoss")),))
def margin_fractional_target(ctx) -> Hint | None:
    """Float targets with fractions are not class indices: a regression target, or scores passed as labels."""
    if ctx.loss not in ("multi_margin_loss", "multilabel_margin_loss"):
        return None
    inp, tgt = ctx.t("input"), ctx.t("target")
    if inp is None or tgt is None or not tgt.is_float or not tgt.values or tgt.whole or tgt.min is None:
        return None
    name = ctx.code("target")
    return Hint(
        title=f"{name} holds fractional values ({_num(tgt.min)}..{_num(tgt.max)}); {ctx.loss_label} needs int64 "
              "class indices",
        message=(f"{ctx.loss_label} picks each sample's class by index, so the target must be whole numbers "
                 f"0..C-1 as int64. {name} has fractions: if it is a real-valued quantity, this is a regression "
                 "task (MSELoss, L1Loss); if it holds scores or probabilities, take the class with argmax first."),
        fix=None,
    )


@rule("NLH335", "batch-mismatch", "MultiMarginLoss scores and labels from batches of different sizes",
      families=("margin-target-size",),
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "scores, labels = torch.randn(5, 10), torch.randint(0, 10, (3,))\n"
          "loss = nn.MultiMarginLoss()(scores, labels)",
          expect=("3 labels", "5 samples")),))
def multi_margin_batch(ctx) -> Hint | None:
    found = _facts(ctx, "multi_margin_loss")
    if not found:
        return None
    inp, tgt = found
    n = inp.shape[0] if inp.ndim == 2 else 1
    if tgt.ndim != 1 or tgt.shape[0] == n:
        return None
    from .partners import batch_partner

    partner = batch_partner(ctx, "input", "target", n)  # for x, y in loader: y goes with model(x)
    return Hint(title=f"{ctx.code('target')} has {tgt.shape[0]} labels for {n} samples",
                message=(f"MultiMarginLoss takes one class index per row of {ctx.code('input')} "
                         f"{shape_text(inp.shape)}: ({n},). The scores and the labels come from different batches "
                         "(or one of them was reshaped)."),
                fix=ctx.fix({"target": partner}) if partner else same_batch_fix(ctx, n, tgt.shape[0]))


RULES = [multi_margin_target, multi_margin_batch, margin_fractional_target, multi_margin_weight,
         multilabel_margin_target, multilabel_margin_range]
