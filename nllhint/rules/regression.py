"""Rules for GaussianNLLLoss's ``var`` and KLDivLoss's target: the extra argument that the element-wise
losses do not have.

For an (N, D) input GaussianNLLLoss accepts a var of (N, D) (one variance per prediction), (N, 1) or (N,)
(one per sample) and, in newer PyTorch, a float (one for all). The shape the user passed says which of these
was meant: the same number of values in another layout, one per sample, one in all, or one per output.
"""

from __future__ import annotations

import math

from ..probe import _num
from .base import Example, Hint, rule
from .roles import pick_fix, shape_text


def _accepted(shape) -> str:
    n = shape[0] if shape else 1
    forms = [shape_text(shape)]
    if len(shape) >= 2:
        forms.append(shape_text(shape[:-1] + (1,)))
        forms.append(shape_text(shape[:-1]))
    elif len(shape) == 1:
        forms.append(f"({n},)")
    forms = list(dict.fromkeys(forms))
    return ", ".join(forms[:-1]) + f", {forms[-1]} or a float" if len(forms) > 1 else f"{forms[0]} or a float"


@rule("NLH550", "shape-mismatch", "GaussianNLLLoss var of a shape that fits none of its forms",
      families=("var-size",),
      examples=(
          Example(
              "import torch, torch.nn as nn\n"
              "class Net(nn.Module):\n"
              "    def __init__(self):\n"
              "        super().__init__()\n"
              "        self.mean = nn.Linear(8, 3)\n"
              "        self.log_var = nn.Linear(8, 3)\n"
              "    def forward(self, x):\n"
              "        return self.mean(x), self.log_var(x).exp()\n"
              "net, criterion = Net(), nn.GaussianNLLLoss()\n"
              "x, y = torch.randn(16, 8), torch.randn(16, 3)\n"
              "mu, var = net(x)\n"
              "loss = criterion(mu, y, var.t())",
              expect=("var.t().reshape(mu.shape)", "(3, 16)", "one variance per prediction")),
          Example(
              "import torch, torch.nn as nn\n"
              "mu, y = torch.randn(32), torch.randn(32)\n"
              "var = torch.rand(32, 1) + 0.1\n"
              "loss = nn.GaussianNLLLoss()(mu, y, var)",
              expect=("var.reshape(mu.shape)",)),
          Example(
              "import torch, torch.nn as nn\n"
              "noise = torch.full((4,), 0.5)          # one variance per output dimension\n"
              "pred, target = torch.randn(64, 4), torch.randn(64, 4)\n"
              "loss = nn.GaussianNLLLoss()(pred, target, noise)",
              expect=("noise.unsqueeze(0)", "per output")),
          Example(
              "import torch, torch.nn as nn\n"
              "mu, target = torch.randn(4, 3, 8), torch.randn(4, 3, 8)\n"
              "var = torch.rand(4, 8) + 0.1\n"
              "l = nn.GaussianNLLLoss()(mu, target, var)",
              expect=("var.unsqueeze(1).expand_as(mu)", "real values")),
      ))
def gaussian_var_shape(ctx) -> Hint | None:
    """Tells apart the var the user meant: per prediction in another layout (reshape), one per sample (a
    column), one for everything (a single value), or one per output dimension shared by the batch."""
    if ctx.loss != "gaussian_nll_loss":
        return None
    inp, var = ctx.t("input"), ctx.t("var")
    if inp is None or var is None or not inp.ndim:
        return None
    shape, v = inp.shape, var.shape
    name, iname = ctx.code("var"), ctx.name("input")
    n = shape[0]
    base = (f"GaussianNLLLoss takes a var for {ctx.code('input')} {shape_text(shape)} of {_accepted(shape)}; "
            f"{name} is {shape_text(v) if v else 'a 0-d tensor'}.")
    if len(v) == len(shape) and all(b in (a, 1) for a, b in zip(shape, v)):
        ones = [d for d, (a, b) in enumerate(zip(shape, v)) if a != b]
        return Hint(
            title=f"{name} {shape_text(v)} broadcasts to {ctx.code('input')} {shape_text(shape)}, but GaussianNLLLoss "
                  f"accepts only one size-1 axis",
            message=(base + f" {name} is size 1 at dims {', '.join(map(str, ones))}: one variance shared over "
                     "those axes, which is a valid model, but PyTorch's check only allows a single such axis "
                     "(older releases only the last one). Expand it to the input's shape; the loss is the same."),
            fix=pick_fix(ctx, {"var": ctx.with_method("var", f".expand_as({iname})")}),
        )
    if var.numel == inp.numel and var.numel > 1:
        return Hint(
            title=f"{name} {shape_text(v)} holds one variance per prediction, but not shaped like "
                  f"{ctx.code('input')} {shape_text(shape)}",
            message=(base + f" It has exactly one value per prediction ({inp.numel}), so one variance per prediction "
                     "(heteroscedastic) is meant: give it the input's shape."
                     + (" It looks transposed: check the two match element for element." if len(v) == len(shape) and
                        tuple(reversed(v)) == tuple(shape) else "")),
            fix=pick_fix(ctx, {"var": ctx.with_method("var", f".reshape({iname}.shape)")}),
        )
    if var.numel == 1:
        return Hint(
            title=f"{name} is a single variance {shape_text(v)} for {ctx.code('input')} {shape_text(shape)}",
            message=(base + " One variance for all predictions (homoscedastic) is meant: expand it to the input's "
                     "shape (newer PyTorch also takes a plain float)."),
            fix=pick_fix(ctx, {"var": ctx.with_method("var", f".expand_as({iname})")}),
        )
    if var.numel == n and len(shape) >= 2:
        column = f".view({n}" + ", 1" * (len(shape) - 1) + ")"
        return Hint(
            title=f"{name} {shape_text(v)} has one variance per sample; for {shape_text(shape)} it must be "
                  f"{shape_text((n,) + (1,) * (len(shape) - 1))}",
            message=base + " One variance per sample, shared by its outputs, is meant: give it size-1 axes.",
            fix=pick_fix(ctx, {"var": ctx.with_method("var", column)}),
        )
    if len(shape) >= 2 and var.numel == shape[-1] and len(v) <= len(shape):
        row = ".view(" + ", ".join(["1"] * (len(shape) - 1)) + f", {shape[-1]})"
        return Hint(
            title=f"{name} {shape_text(v)} has one variance per output dimension; PyTorch wants it as "
                  f"{shape_text((1,) * (len(shape) - 1) + (shape[-1],))}",
            message=(base + f" {shape[-1]} values, one per output dimension shared over the batch, is meant: "
                     "GaussianNLLLoss broadcasts a var whose other sizes are 1."),
            fix=pick_fix(ctx, {"var": ctx.with_method("var", ".unsqueeze(0)" if len(v) == 1 and len(shape) == 2
                                                       else row)}),
        )
    missing = [d for d in range(1, len(shape)) if tuple(shape[:d] + shape[d + 1:]) == tuple(v)]
    if len(missing) == 1 and len(shape) >= 3:  # (N, D) for (N, K, D): one variance per sample and feature
        d = missing[0]
        return Hint(
            title=f"{name} {shape_text(v)} lacks dim {d} ({shape[d]}) of {ctx.code('input')} {shape_text(shape)}",
            message=(base + f" It is the input's shape without dim {d}: one variance shared over those {shape[d]} "
                     f"entries, which PyTorch's check does not broadcast. Insert the axis and expand it to the "
                     "input's shape (or predict a var for each of them)."),
            fix=pick_fix(ctx, {"var": ctx.with_method("var", f".unsqueeze({d}).expand_as({iname})")}),
        )
    return Hint(title=f"{name} {shape_text(v)} does not fit {ctx.code('input')} {shape_text(shape)}",
                message=(base + " Its number of values matches none of them (one per prediction, per sample, or "
                         "one in all); check that var comes from the same batch and head as the mean."),
                fix=None)


@rule("NLH551", "bad-option", "GaussianNLLLoss var given as an int (or a float on an old PyTorch)",
      families=("var-type",),
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "pred, target = torch.randn(10, 2), torch.randn(10, 2)\n"
          "loss = nn.GaussianNLLLoss()(pred, target, 1)",
          expect=("loss = nn.GaussianNLLLoss()(pred, target, 1.0)",)),))
def gaussian_var_number(ctx) -> Hint | None:
    """An int variance is not a float to PyTorch's check; older releases needed a tensor for any var."""
    if ctx.loss != "gaussian_nll_loss":
        return None
    value = ctx.options.get("var")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    written = ctx.name("var", _num(value))
    if isinstance(value, int):
        new = f"{value}.0" if written == str(value) else f"float({written})"
        return Hint(title=f"var={written} is an int; GaussianNLLLoss takes a float or a tensor",
                    message=("A single variance for all predictions must be a Python float (or a tensor shaped "
                             "like the input); the int fails PyTorch's type check."),
                    fix=pick_fix(ctx, {"var": new}), evidence=())
    inp = ctx.name("input")
    return Hint(title=f"var={written} is a float, which this PyTorch's GaussianNLLLoss does not accept",
                message=("The installed PyTorch needs var as a tensor (newer releases also take a float); give one "
                         "variance per prediction, shaped like the input."),
                fix=pick_fix(ctx, {"var": f"torch.full_like({inp}, {written})"}), evidence=())


@rule("NLH552", "kl-format", "class labels given to KLDivLoss, which compares two distributions",
      families=("integral-input", "broadcast"),
      examples=(Example(
          "import torch, torch.nn as nn, torch.nn.functional as F\n"
          "logits, labels = torch.randn(8, 5), torch.randint(0, 5, (8,))\n"
          "loss = nn.KLDivLoss(reduction='batchmean')(F.log_softmax(logits, dim=1), labels)",
          expect=("F.one_hot(labels,", "NLLLoss")),))
def kl_integer_target(ctx) -> Hint | None:
    """KLDivLoss's target is a probability distribution per row, shaped like the input; class indices are
    NLLLoss's (or CrossEntropyLoss's) target."""
    if ctx.loss != "kl_div":
        return None
    inp, tgt = ctx.t("input"), ctx.t("target")
    if inp is None or tgt is None or not inp.is_float or inp.ndim != 2:
        return None
    if tgt.is_float and not (tgt.values and tgt.whole and tgt.distinct and len(tgt.distinct) > 1):
        return None  # float targets: class indices only when whole numbers, not a constant
    n, c = inp.shape
    name = ctx.code("target")
    labels = ctx.name("target") if not tgt.is_float else ctx.with_method("target", ".long()")
    if tgt.shape == (n,) and tgt.values and tgt.min is not None and tgt.min >= 0 and tgt.max < c:
        return Hint(
            title=f"{name} holds class indices ({n},); KLDivLoss compares two distributions of shape ({n}, {c})",
            message=(f"KLDivLoss takes log-probabilities and a target distribution of the same shape. With one "
                     f"class per sample, KL against a one-hot target equals NLLLoss on the log-probabilities; "
                     f"or turn the labels into one-hot floats."),
            fix=pick_fix(ctx, {"target": f"F.one_hot({labels}, num_classes={c}).float()"}),
        )
    if tgt.shape == inp.shape and not tgt.is_float:
        return Hint(title=f"{name} is {tgt.dtype}; KLDivLoss needs a float distribution",
                    message="The target of KLDivLoss holds probabilities (floats summing to 1 per row).",
                    fix=pick_fix(ctx, {"target": ctx.with_method("target", ".float()")}))
    return None


@rule("NLH553", "bad-option", "a negative number as GaussianNLLLoss's var",
      families=("hyperparameter",),
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "pred, target = torch.randn(10, 2), torch.randn(10, 2)\n"
          "log_noise = -2.0\n"
          "loss = nn.GaussianNLLLoss()(pred, target, log_noise)",
          expect=("math.exp(log_noise)",)),))
def gaussian_negative_number(ctx) -> Hint | None:
    """A float var below 0: often a log-variance; the variance is its exp."""
    m = ctx.family("hyperparameter")
    value = ctx.options.get("var")
    if ctx.loss != "gaussian_nll_loss" or m is None or m.groups.get("what") != "var":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value >= 0:
        return None
    written = ctx.name("var", _num(value))
    log = "log" in written.lower()
    new = f"math.exp({written})" if log else _num(-value)
    return Hint(title=f"var={written} is negative ({_num(value)}); a variance is >= 0",
                message=("GaussianNLLLoss takes the variance itself. "
                         + (f"`{written}` looks like a log-variance: its exp is the variance." if log else
                            f"{_num(value)} looks like {_num(-value)} with the wrong sign (or a log-variance: then "
                            f"use its exp).")),
                fix=pick_fix(ctx, {"var": new}), evidence=())


@rule("NLH554", "weight-size", "MSELoss/L1Loss/HuberLoss weight= that is not shaped like the input",
      families=("elementwise-weight",),
      examples=(Example(
          "import torch, torch.nn.functional as F\n"
          "pred, target = torch.randn(32, 3), torch.randn(32, 3)\n"
          "sample_w = torch.rand(32)              # one weight per sample\n"
          "loss = F.mse_loss(pred, target, weight=sample_w)",
          expect=("sample_w.unsqueeze(1).expand_as(pred)",)),))
def elementwise_weight_shape(ctx) -> Hint | None:
    """The regression losses' ``weight`` multiplies each element and must have the input's exact shape (it is
    not broadcast): per-sample weights need a column expanded over the outputs, per-output weights a row."""
    inp, w = ctx.t("input"), ctx.t("weight")
    if inp is None or w is None or not inp.ndim:
        return None
    shape, name = inp.shape, ctx.code("weight")
    i = ctx.name("input")
    base = (f"{ctx.loss_label}'s weight multiplies the loss element by element and must have exactly the input's "
            f"shape {shape_text(shape)} (no broadcasting); {name} is {shape_text(w.shape) if w.ndim else '0-d'}.")
    if w.numel == inp.numel:
        return Hint(title=f"{name} has one weight per element but the shape {shape_text(w.shape)}",
                    message=base + " Give it the input's shape.",
                    fix=pick_fix(ctx, {"weight": ctx.with_method("weight", f".reshape({i}.shape)")}))
    if len(shape) >= 2 and w.ndim == 1 and w.shape[0] == shape[0]:
        column = ".view(-1" + ", 1" * (len(shape) - 1) + f").expand_as({i})"
        if len(shape) == 2:
            column = f".unsqueeze(1).expand_as({i})"
        return Hint(title=f"{name} has one weight per sample ({shape[0]},); {ctx.loss_label} wants {shape_text(shape)}",
                    message=base + " Repeat each sample's weight over its outputs.",
                    fix=pick_fix(ctx, {"weight": ctx.with_method("weight", column)}))
    if len(shape) >= 2 and w.ndim == 1 and w.shape[0] == shape[-1]:
        return Hint(title=f"{name} has one weight per output ({shape[-1]},); {ctx.loss_label} wants {shape_text(shape)}",
                    message=base + " Repeat the row for every sample.",
                    fix=pick_fix(ctx, {"weight": ctx.with_method("weight", f".expand_as({i})")}))
    return Hint(title=f"{name} {shape_text(w.shape)} does not have the input's shape {shape_text(shape)}",
                message=base, fix=None)


RULES = [gaussian_var_shape, gaussian_var_number, gaussian_negative_number, kl_integer_target,
         elementwise_weight_shape]
