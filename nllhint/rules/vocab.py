"""Rules for the losses that own the output projection: AdaptiveLogSoftmaxWithLoss (the features and a
class index per row, with ``cutoffs`` splitting the classes into clusters) and ``F.linear_cross_entropy`` /
``nn.LinearCrossEntropyLoss`` (the features, the projection's weight, then the target).

Both take hidden features, not scores: ``(N, in_features)`` rows with one target each. Language models give
``(B, T, H)`` features and ``(B, T)`` token ids, so most errors here are a missing flatten; the others are a
``cutoffs`` list that includes ``n_classes`` (it is added by the module itself), and arguments passed in
cross_entropy's order (target second).
"""

from __future__ import annotations

from ..probe import _num
from .base import Example, Hint, rule
from .roles import pick_fix, shape_text

ALSWL = "AdaptiveLogSoftmaxWithLoss"


# --- AdaptiveLogSoftmaxWithLoss --------------------------------------------------------------------------

@rule("NLH560", "bad-option", "AdaptiveLogSoftmaxWithLoss cutoffs that are not increasing values in 1..n_classes-1",
      families=("cutoffs",),
      examples=(
          Example(
              "import torch.nn as nn\n"
              "vocab_size = 10000\n"
              "asm = nn.AdaptiveLogSoftmaxWithLoss(512, vocab_size, cutoffs=[2000, 6000, 10000])",
              expect=("cutoffs=[2000, 6000]", "n_classes")),
          Example(
              "import torch.nn as nn\n"
              "asm = nn.AdaptiveLogSoftmaxWithLoss(256, 5000, [4000, 1000])",
              expect=("[1000, 4000]",)),
      ))
def adaptive_cutoffs(ctx) -> Hint | None:
    """``cutoffs`` are the boundaries between clusters, strictly inside 1..n_classes-1: n_classes itself
    is appended by the module, so a list ending with it fails; so do unsorted, repeated or zero values."""
    if ctx.module != ALSWL or ctx.via != "init":
        return None
    cutoffs, n = ctx.options.get("cutoffs"), ctx.options.get("n_classes")
    if cutoffs is None or not isinstance(n, int):
        return None
    written = ctx.name("cutoffs", str(list(cutoffs)))
    if not cutoffs:
        return Hint(title="cutoffs is empty: AdaptiveLogSoftmaxWithLoss needs at least one cluster boundary",
                    message=(f"cutoffs split the {n} classes (sorted by frequency, most frequent first) into a head "
                             f"and tail clusters, e.g. [{max(1, n // 10)}, {max(2, n // 2)}]; with no cutoff, use "
                             "nn.Linear and CrossEntropyLoss instead."),
                    fix=None, evidence=())
    valid = sorted({int(c) for c in cutoffs if 0 < c < n and int(c) == c})
    problems = []
    if any(c >= n for c in cutoffs):
        big = [c for c in cutoffs if c >= n]
        if big == [n] and cutoffs[-1] == n:
            problems.append(f"it ends with n_classes={n}, which the module appends itself")
        else:
            problems.append(f"{', '.join(_num(c) for c in big)} {'is' if len(big) == 1 else 'are'} not below "
                            f"n_classes={n}" + (" (is n_classes the size of your vocabulary?)"
                                                if max(big) > n else ""))
    if any(c <= 0 for c in cutoffs):
        problems.append("values must be positive")
    if list(cutoffs) != sorted(cutoffs):
        problems.append("the values must be increasing")
    if len(set(cutoffs)) != len(cutoffs):
        problems.append("values repeat")
    if any(int(c) != c for c in cutoffs):
        problems.append("values must be whole numbers")
    fix = None
    only_n = all(c == n or 0 < c < n for c in cutoffs) and max(cutoffs) <= n
    if valid and (only_n or not any(c > n for c in cutoffs)):
        new = "[" + ", ".join(map(str, valid)) + "]"
        fix = ctx.fix({"cutoffs": new}) if ctx.call and "cutoffs" in ctx.call.args else None
        fix = fix or f"cutoffs={new}"
    return Hint(
        title=f"cutoffs={written} is not valid for n_classes={n}: " + "; ".join(problems[:1]),
        message=(f"AdaptiveLogSoftmaxWithLoss splits the classes 0..{n - 1} at the cutoffs: increasing, unique "
                 f"values between 1 and {n - 1}; the last cluster ends at n_classes by itself. Here "
                 + "; ".join(problems) + "."),
        fix=fix, evidence=(),
    )


def _adaptive(ctx):
    if ctx.module != ALSWL or ctx.via != "loss":
        return None
    inp, tgt = ctx.t("input_"), ctx.t("target_")
    return (inp, tgt) if inp is not None and tgt is not None else None


def _names(ctx):
    return ctx.name("input_", "input"), ctx.name("target_", "target")


@rule("NLH561", "shape-mismatch", "sequence features (B, T, H) and token ids (B, T) not flattened for the adaptive softmax",
      families=("multi-target", "batch-size", "pair-ndim"),
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "lstm = nn.LSTM(32, 64, batch_first=True)\n"
          "asm = nn.AdaptiveLogSoftmaxWithLoss(64, 1000, cutoffs=[100, 500])\n"
          "tokens = torch.randint(0, 1000, (4, 12))\n"
          "hidden, _ = lstm(torch.randn(4, 12, 32))\n"
          "out = asm(hidden, tokens)",
          expect=("out = asm(hidden.reshape(-1, 64), tokens.reshape(-1))", "(4, 12, 64)")),))
def adaptive_flatten(ctx) -> Hint | None:
    """AdaptiveLogSoftmaxWithLoss takes (N, in_features) rows and (N,) targets: flatten batch and time."""
    found = _adaptive(ctx)
    if not found:
        return None
    inp, tgt = found
    i, t = _names(ctx)
    if inp.ndim == 2 and tgt.ndim >= 2 and tgt.numel == inp.shape[0]:
        return Hint(
            title=f"`{t}` is {shape_text(tgt.shape)} but `{i}` is already flat {shape_text(inp.shape)}",
            message=(f"AdaptiveLogSoftmaxWithLoss takes one class index per row of features, (N,); `{i}` has "
                     f"{inp.shape[0]} rows, so flatten `{t}` the same way (row-major, like the features)."),
            fix=pick_fix(ctx, {"target_": ctx.with_method("target_", ".reshape(-1)")}),
        )
    if inp.ndim < 3 or tgt.numel * inp.shape[-1] != inp.numel:
        return None
    h = inp.shape[-1]
    new = {"input_": ctx.with_method("input_", f".reshape(-1, {h})")}
    if tgt.ndim != 1:
        new["target_"] = ctx.with_method("target_", ".reshape(-1)")
    return Hint(
        title=f"`{i}` is {shape_text(inp.shape)}: AdaptiveLogSoftmaxWithLoss wants one row of features per target",
        message=(f"AdaptiveLogSoftmaxWithLoss takes features (N, in_features={h}) and one class index per row, "
                 f"(N,); `{i}` is {shape_text(inp.shape)} and `{t}` {shape_text(tgt.shape)}. Flatten batch and "
                 f"time into N = {tgt.numel} rows on both sides (the loss of each position stays the same)."),
        fix=pick_fix(ctx, new),
    )


@rule("NLH562", "batch-mismatch", "AdaptiveLogSoftmaxWithLoss features and targets with different row counts",
      families=("batch-size",),
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "asm = nn.AdaptiveLogSoftmaxWithLoss(16, 50, cutoffs=[10, 30])\n"
          "features, targets = torch.randn(8, 16), torch.randint(0, 50, (10,))\n"
          "out = asm(features, targets)",
          expect=("8", "10")),))
def adaptive_rows(ctx) -> Hint | None:
    found = _adaptive(ctx)
    if not found:
        return None
    inp, tgt = found
    if tgt.ndim != 1 or not inp.ndim or inp.shape[0] == tgt.shape[0]:
        return None
    i, t = _names(ctx)
    from .partners import batch_partner

    partner = batch_partner(ctx, "input", "target", inp.shape[0])  # for h, y in loader: y goes with h
    return Hint(title=f"`{i}` has {inp.shape[0]} rows but `{t}` has {tgt.shape[0]} targets",
                message=("AdaptiveLogSoftmaxWithLoss scores row i of the features against target i, so both need "
                         "the same number of rows; take them from the same batch (and flatten both the same way)."),
                fix=ctx.fix({"target": partner}) if partner else None)


@rule("NLH563", "target-shape", "a single (0-d) target, or a 2-D one, for AdaptiveLogSoftmaxWithLoss features",
      families=("pair-ndim", "multi-target"),
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "asm = nn.AdaptiveLogSoftmaxWithLoss(16, 50, cutoffs=[10, 30])\n"
          "h = torch.randn(1, 16)\n"
          "next_token = torch.tensor(7)\n"
          "out = asm(h, next_token)",
          expect=("next_token.view(1)",)),))
def adaptive_target_dims(ctx) -> Hint | None:
    found = _adaptive(ctx)
    if not found:
        return None
    inp, tgt = found
    i, t = _names(ctx)
    if tgt.ndim == 0 and inp.ndim == 2 and inp.shape[0] == 1:
        return Hint(title=f"`{t}` is a single class index but `{i}` is a batch of one {shape_text(inp.shape)}",
                    message=("AdaptiveLogSoftmaxWithLoss takes (N, in_features) with (N,) targets, or one (in_features,) "
                             "row with a 0-d target. Give the target its batch axis."),
                    fix=pick_fix(ctx, {"target_": ctx.with_method("target_", ".view(1)")}))
    if tgt.ndim == 0 and inp.ndim == 2:
        return Hint(title=f"`{t}` is a single class index but `{i}` holds {inp.shape[0]} rows",
                    message=("AdaptiveLogSoftmaxWithLoss takes (N, in_features) with one class index per row, (N,), "
                             f"or one (in_features,) row with a 0-d target; `{t}` is 0-d."),
                    fix=None)
    if tgt.ndim == 1 and inp.ndim != 2:
        return Hint(title=f"`{i}` is {shape_text(inp.shape)}; with a 1-D target AdaptiveLogSoftmaxWithLoss wants "
                          "(N, in_features)",
                    message=(f"One row of features per target: `{t}` is {shape_text(tgt.shape)}, so `{i}` should be "
                             f"({tgt.shape[0]}, in_features). Flatten or select the positions the targets belong to."),
                    fix=None)
    if tgt.ndim == 2 and inp.ndim == 2 and tgt.shape == (inp.shape[0], 1):
        return Hint(title=f"`{t}` is a ({tgt.shape[0]}, 1) column; AdaptiveLogSoftmaxWithLoss expects ({tgt.shape[0]},)",
                    message="One class index per row of features: squeeze the extra axis.",
                    fix=pick_fix(ctx, {"target_": ctx.with_method("target_", ".squeeze(1)")}))
    return None


@rule("NLH564", "target-range", "AdaptiveLogSoftmaxWithLoss targets outside 0..n_classes-1",
      families=("target-out-of-bounds",),
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "asm = nn.AdaptiveLogSoftmaxWithLoss(16, 100, cutoffs=[20, 60])\n"
          "word_ids = torch.tensor([5, 99, 100, 42])\n"
          "out = asm(torch.randn(4, 16), word_ids)",
          expect=("n_classes=100", "101")),))
def adaptive_range(ctx) -> Hint | None:
    """Targets must be class indices below n_classes; there is no ignore_index, so padding must be removed."""
    found = _adaptive(ctx)
    if not found:
        return None
    inp, tgt = found
    n = ctx.options.get("n_classes")
    m = ctx.family("target-out-of-bounds")
    low = tgt.min if tgt.values else (float(m.groups["min"]) if m and "min" in m.groups else None)
    high = tgt.max if tgt.values else (float(m.groups["max"]) if m and "max" in m.groups else None)
    if not isinstance(n, int) or low is None or high is None:
        return None
    t = _names(ctx)[1]
    if low < 0:
        return Hint(title=f"`{t}` contains {_num(low)}: AdaptiveLogSoftmaxWithLoss has no ignore_index",
                    message=(f"Targets must be class indices 0..{n - 1}. Negative values are padding (e.g. -100); "
                             "AdaptiveLogSoftmaxWithLoss cannot skip them, so drop those rows from features and "
                             "targets first."),
                    fix=(f"keep = {t} >= 0\n" + (ctx.fix({"input_": f"{_names(ctx)[0]}[keep]", "target_": f"{t}[keep]"})
                                                 or f"# then call with {_names(ctx)[0]}[keep], {t}[keep]")))
    if high >= n:
        return Hint(title=f"`{t}` goes up to {_num(high)}, but n_classes={n} (valid 0..{n - 1})",
                    message=(f"The module was built for {n} classes. "
                             + (f"With labels 1..{n} shift them down by 1; " if low >= 1 and high == n else "")
                             + f"if your vocabulary really has {int(high) + 1} or more entries, build "
                             f"AdaptiveLogSoftmaxWithLoss with n_classes={int(high) + 1} (or the vocabulary size)."),
                    fix=None)
    return None


@rule("NLH565", "shape-mismatch", "features whose width is not the in_features the adaptive softmax was built with",
      families=("linear-shapes",),
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "encoder = nn.Linear(32, 128)\n"
          "asm = nn.AdaptiveLogSoftmaxWithLoss(256, 1000, cutoffs=[100, 400])\n"
          "out = asm(encoder(torch.randn(8, 32)), torch.randint(0, 1000, (8,)))",
          expect=("in_features=128", "256")),))
def adaptive_in_features(ctx) -> Hint | None:
    found = _adaptive(ctx)
    if not found:
        return None
    inp, _ = found
    want = ctx.options.get("in_features")
    if not isinstance(want, int) or not inp.ndim or inp.shape[-1] == want:
        return None
    i = _names(ctx)[0]
    return Hint(title=f"`{i}` has {inp.shape[-1]} features but AdaptiveLogSoftmaxWithLoss was built with "
                      f"in_features={want}",
                message=(f"The module's head is a Linear({want}, ...): its input rows must have {want} features. Build "
                         f"it with in_features={inp.shape[-1]} (the width of your features), or project them to "
                         f"{want} first."),
                fix=None)


# --- F.linear_cross_entropy / nn.LinearCrossEntropyLoss ---------------------------------------------------

def _linear(ctx):
    if ctx.loss != "linear_cross_entropy":
        return None
    x, w, y = ctx.t("input"), ctx.t("linear_weight"), ctx.t("target")
    return (x, w, y) if x is not None and w is not None and y is not None else None


@rule("NLH566", "shape-mismatch", "F.linear_cross_entropy called in cross_entropy's order (target before the weight)",
      families=("linear-shapes",),
      examples=(Example(
          "import torch, torch.nn as nn, torch.nn.functional as F\n"
          "lm_head = nn.Linear(64, 500, bias=False)\n"
          "hidden, labels = torch.randn(32, 64), torch.randint(0, 500, (32,))\n"
          "loss = F.linear_cross_entropy(hidden, labels, lm_head.weight)",
          expect=("loss = F.linear_cross_entropy(hidden, lm_head.weight, labels)",)),))
def linear_ce_order(ctx) -> Hint | None:
    """The signature is ``(input, linear_weight, target)``: the projection's weight comes second."""
    found = _linear(ctx)
    if not found:
        return None
    x, w, y = found
    if not (w.ndim <= 1 and not w.is_float and y.is_float and y.ndim == 2 and y.shape[-1] == x.shape[-1]):
        return None
    return Hint(
        title=f"{ctx.code('linear_weight')} and {ctx.code('target')} are swapped: linear_cross_entropy takes "
              "(input, linear_weight, target)",
        message=(f"F.linear_cross_entropy computes cross_entropy(input @ linear_weight.T, target) without "
                 f"materialising the logits; its second argument is the projection's weight (num_classes, "
                 f"in_features) = {shape_text(y.shape)}, the labels come third."),
        fix=pick_fix(ctx, {"linear_weight": ctx.name("target"), "target": ctx.name("linear_weight")}),
    )


@rule("NLH567", "shape-mismatch", "linear_cross_entropy input and linear_weight that do not fit (in_features, layout)",
      families=("linear-shapes",),
      examples=(
          Example(
              "import torch, torch.nn.functional as F\n"
              "W = torch.randn(64, 500, requires_grad=True)   # (in_features, num_classes)\n"
              "hidden, labels = torch.randn(32, 64), torch.randint(0, 500, (32,))\n"
              "loss = F.linear_cross_entropy(hidden, W, labels)",
              expect=("loss = F.linear_cross_entropy(hidden, W.T, labels)",)),
          Example(
              "import torch, torch.nn as nn, torch.nn.functional as F\n"
              "lm_head = nn.Linear(64, 500, bias=False)\n"
              "hidden, labels = torch.randn(4, 16, 64), torch.randint(0, 500, (4, 16))\n"
              "loss = F.linear_cross_entropy(hidden, lm_head.weight, labels)",
              expect=("hidden.flatten(0, 1)", "labels.flatten()")),
      ))
def linear_ce_shapes(ctx) -> Hint | None:
    """input is (N, in_features) (or one (in_features,) row), linear_weight (num_classes, in_features) like
    nn.Linear's weight, target (N,) class indices or (N, num_classes) probabilities."""
    found = _linear(ctx)
    if not found:
        return None
    x, w, y = found
    label = ctx.loss_label
    if x.ndim >= 3 and w.ndim == 2 and x.shape[-1] == w.shape[1] and y.numel * x.shape[-1] == x.numel:
        new = {"input": ctx.with_method("input", ".flatten(0, %d)" % (x.ndim - 2))}
        if y.ndim > 1:
            new["target"] = ctx.with_method("target", ".flatten()")
        return Hint(title=f"{ctx.code('input')} is {shape_text(x.shape)}: {label} takes (N, in_features) rows",
                    message=(f"{label} takes 1-D or 2-D features: flatten the batch and sequence axes into rows "
                             f"(N = {y.numel}) and the targets the same way."),
                    fix=pick_fix(ctx, new))
    if w.ndim == 2 and x.ndim >= 1 and x.shape[-1] != w.shape[1] and x.shape[-1] == w.shape[0]:
        return Hint(title=f"{ctx.code('linear_weight')} is {shape_text(w.shape)} = (in_features, num_classes); "
                          f"{label} wants (num_classes, in_features)",
                    message=(f"linear_weight has nn.Linear's layout (out_features, in_features): {ctx.code('input')} "
                             f"has {x.shape[-1]} features, which is dim 0 of {ctx.code('linear_weight')}. Transpose it."),
                    fix=pick_fix(ctx, {"linear_weight": ctx.with_method("linear_weight", ".T")}))
    if w.ndim == 2 and x.ndim >= 1 and x.shape[-1] != w.shape[1]:
        return Hint(title=f"{ctx.code('input')} has {x.shape[-1]} features but {ctx.code('linear_weight')} expects "
                          f"{w.shape[1]}",
                    message=(f"{label} multiplies input (N, in_features) by linear_weight.T: linear_weight "
                             f"{shape_text(w.shape)} is (num_classes={w.shape[0]}, in_features={w.shape[1]}), so "
                             f"the input's last dimension must be {w.shape[1]}."),
                    fix=None)
    if w.ndim < 2:
        return Hint(title=f"{ctx.code('linear_weight')} is {shape_text(w.shape) if w.ndim else '0-d'}: {label} "
                          "needs the (num_classes, in_features) weight",
                    message=(f"{label}'s second argument is the output projection's weight, shaped like "
                             "nn.Linear(in_features, num_classes).weight; the target comes third."),
                    fix=None)
    bias = ctx.t("linear_bias")
    m = ctx.family("linear-shapes")
    if bias is not None and m and m.groups.get("what") == "linear_bias":
        return Hint(title=f"{ctx.code('linear_bias')} is {shape_text(bias.shape)}; it must be ({w.shape[0]},), "
                          "one bias per class",
                    message=f"linear_weight has {w.shape[0]} classes (its dim 0), so the bias needs {w.shape[0]} entries.",
                    fix=None)
    if x.ndim == 1 and w.ndim >= 3:
        return Hint(title=f"{ctx.code('input')} is one row {shape_text(x.shape)} but linear_weight "
                          f"{shape_text(w.shape)} defines a K-dimensional loss",
                    message=("With a linear_weight of more than 2 dims (num_classes, d1, ..., in_features) the input "
                             "must be batched (N, in_features). Add the batch axis."),
                    fix=pick_fix(ctx, {"input": ctx.with_method("input", ".unsqueeze(0)")}))
    return None


@rule("NLH568", "weight-size", "LinearCrossEntropyLoss class weight that is not one entry per class",
      families=("weight-classes",),
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "class_w = torch.tensor([1.0, 2.0, 0.5, 1.0])\n"
          "criterion = nn.LinearCrossEntropyLoss(16, 3, weight=class_w)\n"
          "loss = criterion(torch.randn(8, 16), torch.randint(0, 3, (8,)))",
          expect=("num_classes=3", "`class_w`")),))
def linear_ce_weight(ctx) -> Hint | None:
    if ctx.loss != "linear_cross_entropy" and ctx.module != "LinearCrossEntropyLoss":
        return None
    weight, lw = ctx.t("weight"), ctx.t("linear_weight")
    m = ctx.family("weight-classes")
    if weight is None or m is None:
        return None
    classes = lw.shape[0] if lw is not None and lw.ndim else ctx.options.get("num_classes")
    if not isinstance(classes, int) or weight.shape == (classes,):
        return None
    from .options import option_text

    w = option_text(ctx, "weight", "weight")
    x = ctx.t("input")
    features = x.shape[-1] if x is not None and x.ndim else ctx.options.get("in_features")
    note = (f" {weight.numel} is the number of input features (in_features), not classes."
            if weight.ndim == 1 and weight.numel == features != classes else "")
    return Hint(title=f"`{w}` has {weight.numel} entries, but the loss has num_classes={classes}",
                message=f"The class weight holds one entry per class: ({classes},).{note}", fix=None)


RULES = [adaptive_cutoffs, adaptive_flatten, adaptive_rows, adaptive_target_dims, adaptive_range,
         adaptive_in_features, linear_ce_order, linear_ce_shapes, linear_ce_weight]
