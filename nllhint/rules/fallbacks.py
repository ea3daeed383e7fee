"""Last-resort rules: when no variant rule recognised the mistake, say what the loss's contract wants for
each argument and what the user passed, from ``nllhint.contracts`` and the tensors of the call.

They come last in the registry, so a specific diagnosis (one-hot rows, a class axis left last) always wins;
they give a fix only when the shapes leave no doubt.
"""

from __future__ import annotations

from .api import class_not_instance
from .base import Example, Hint, rule
from .options import option_fix, option_text
from .roles import pick_fix, shape_text
from .shapes import CLASS_LOSSES, one_hot_rows


@rule("NLH580", "target-shape", "an integer target shaped like the scores: CrossEntropyLoss reads it as class probabilities",
      families=("prob-target-dtype",),
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "criterion = nn.CrossEntropyLoss()\n"
          "logits = torch.randn(4, 3)\n"
          "votes = torch.tensor([[2, 0, 1], [0, 3, 0], [1, 1, 1], [0, 0, 3]])   # annotator counts per class\n"
          "loss = criterion(logits, votes)",
          expect=("(4,)", "(4, 3)", "float",
                  "loss = criterion(logits, votes.float() / votes.sum(dim=1, keepdim=True))")),))
def integer_probability_target(ctx) -> Hint | None:
    """CrossEntropyLoss accepts two targets: class indices (N,) int64, or class probabilities shaped like the
    input, floating point. An integer tensor of the input's shape is neither."""
    if ctx.loss not in ("cross_entropy", "linear_cross_entropy"):
        return None
    inp, tgt = ctx.t("input"), ctx.t("target")
    if inp is None or tgt is None or tgt.is_float or tgt.ndim < 1 or inp.ndim < 2:
        return None  # a 1-D input is one sample's scores: NLH586
    n = tgt.shape[0]
    name = ctx.code("target")
    per_row, fix = "", None
    if tgt.values and tgt.min is not None and tgt.min >= 0 and tgt.rows_max_sum and tgt.rows_max_sum > 1:
        per_row = (f" Its rows hold counts up to a sum of {tgt.rows_max_sum:g}: if these are votes or counts per "
                   f"class, normalise them into probabilities, {ctx.with_method('target', '.float()')} divided "
                   "by its row sums.")
        fix = pick_fix(ctx, {"target": f"{ctx.with_method('target', '.float()')} / "
                                       f"{ctx.with_method('target', '.sum(dim=1, keepdim=True)')}"})
    return Hint(
        title=f"{name} is an integer tensor of shape {shape_text(tgt.shape)}: {ctx.loss_label} takes either ({n},) "
              "class indices or float class probabilities",
        message=(f"{ctx.loss_label} reads a target of the input's shape as class probabilities, which must be "
                 f"floating point; class indices are one int64 per sample, ({n},). {name} is {tgt.dtype} "
                 f"{shape_text(tgt.shape)}: pick the form you mean." + per_row),
        fix=fix,
    )


@rule("NLH581", "target-shape", "one-hot float targets with ignore_index: pass class indices to keep ignore_index",
      families=("prob-target-ignore",),
      examples=(Example(
          "import torch, torch.nn as nn, torch.nn.functional as F\n"
          "criterion = nn.CrossEntropyLoss(ignore_index=0)\n"
          "labels = torch.tensor([1, 2, 0, 3])\n"
          "loss = criterion(torch.randn(4, 4), F.one_hot(labels, 4).float())",
          expect=("argmax(dim=1)",)),))
def ignore_index_one_hot(ctx) -> Hint | None:
    """ignore_index works on class indices only; one-hot float rows are read as probabilities."""
    if ctx.loss not in ("cross_entropy", "linear_cross_entropy"):
        return None
    tgt = ctx.t("target")
    if tgt is None or not one_hot_rows(tgt):
        return None
    return Hint(
        title=f"{ctx.code('target')} is one-hot floats, read as class probabilities, which have no ignore_index",
        message=(f"ignore_index={ctx.options.get('ignore_index')} skips samples whose class index equals it; a "
                 f"float target of the input's shape is a probability distribution per sample instead. "
                 f"{ctx.code('target')} is one-hot: pass its class indices and ignore_index works."),
        fix=pick_fix(ctx, {"target": ctx.with_method("target", ".argmax(dim=1)")}),
    )


@rule("NLH582", "bad-option", "ignore_index with soft (probability) targets",
      families=("prob-target-ignore",),
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "criterion = nn.CrossEntropyLoss(ignore_index=0)   # 0 is the padding class\n"
          "soft = torch.softmax(torch.randn(4, 5), dim=1)\n"
          "loss = criterion(torch.randn(4, 5), soft)",
          expect=("reduction='none'", "mask")),))
def ignore_index_soft(ctx) -> Hint | None:
    """Soft labels cannot be ignored by value: leave ignore_index out and mask the unreduced loss."""
    if ctx.loss not in ("cross_entropy", "linear_cross_entropy"):
        return None
    tgt = ctx.t("target")
    if tgt is None or not tgt.is_float:
        return None
    written = option_text(ctx, "ignore_index", str(ctx.options.get("ignore_index")))
    return Hint(
        title=f"ignore_index={written} cannot be used with probability targets like {ctx.code('target')}",
        message=(f"{ctx.code('target')} is a float target of the input's shape, so {ctx.loss_label} reads it as "
                 "class probabilities; ignore_index only applies to class-index targets. Leave it out, and to "
                 "skip samples compute the unreduced loss and average it over a mask."),
        fix=(f"loss = F.cross_entropy({ctx.name('input')}, {ctx.name('target')}, reduction='none')   # no ignore_index\n"
             "loss = (loss * keep).sum() / keep.sum()   # keep: 1.0 for the samples to count"),
        evidence=(),
    )


@rule("NLH583", "bad-option", "a loss option of the wrong type (a tensor or complex number for delta)",
      families=("option-type",),
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "delta = torch.tensor(0.5)\n"
          "criterion = nn.HuberLoss(delta=delta)",
          expect=("nn.HuberLoss(delta=delta.item())",)),))
def option_type(ctx) -> Hint | None:
    m = ctx.family("option-type")
    option = m.groups.get("what") if m else None
    if option is None:
        return None
    written = option_text(ctx, option, option)
    got = m.groups.get("type", "")
    tensor = "Tensor" in got
    return Hint(
        title=f"{option}={written} is a {'tensor' if tensor else got.strip('<>').replace('class ', '')}; "
              f"{ctx.loss_label} needs a plain {m.groups.get('expected', 'number')}",
        message=(f"{option} is a hyper-parameter fixed when the loss is built: a Python number such as 1.0"
                 + (" (take .item() of a 0-d tensor)." if tensor else ".")),
        fix=option_fix(ctx, option, f"{written}.item()" if tensor else "1.0"),
        evidence=(),
    )


@rule("NLH584", "shape-mismatch", "a 0-d (scalar) input to NLLLoss/CrossEntropyLoss",
      families=("input-0d",),
      examples=(Example(
          "import torch, torch.nn.functional as F\n"
          "scores = torch.randn(5)\n"
          "best = scores.max()\n"
          "loss = F.nll_loss(best, torch.tensor(2))",
          expect=("(C,)", "`best`", "loss = F.nll_loss(scores, torch.tensor(2))")),))
def scalar_input(ctx) -> Hint | None:
    inp = ctx.t("input")
    if inp is None or inp.ndim != 0 or ctx.loss not in ("nll_loss", "cross_entropy"):
        return None
    from ..source import strip_call

    expr = ctx.name("input")
    made = ctx.assigned_call(expr) if expr.isidentifier() else None  # best = scores.max()
    whole = next((base for text in (expr, made or "") for how in ("max", "sum", "mean", "amax")
                  if (base := strip_call(text, how))), None)
    return Hint(
        title=f"{ctx.code('input')} is a single number; {ctx.loss_label} needs one score per class",
        message=(f"{ctx.loss_label} takes scores with a class dimension: (N, C) for a batch or (C,) for one "
                 f"sample. {ctx.code('input')} is 0-d, e.g. the result of max(), sum() or a loss: pass the "
                 "whole score vector instead." + (f" It was reduced from `{whole}`." if whole else "")),
        fix=ctx.fix({"input": whole}) if whole else None,
    )


@rule("NLH585", "shape-mismatch", "a K-dimensional class-index target whose sizes do not follow the input's (N, C, d1, ...)",
      families=("target-size", "spatial-size"),
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "criterion = nn.CrossEntropyLoss()\n"
          "logits = torch.randn(2, 3, 5)          # (N, C, T)\n"
          "tags = torch.randint(0, 3, (2, 4))     # 4 tags for 5 positions\n"
          "loss = criterion(logits, tags)",
          expect=("(2, 5)", "(2, 4)")),))
def k_dim_target(ctx) -> Hint | None:
    """For (N, C, d1, ...) scores the target is (N, d1, ...): the input's shape without dim 1."""
    if ctx.loss not in CLASS_LOSSES:
        return None
    inp, tgt = ctx.t("input"), ctx.t("target")
    if inp is None or tgt is None or inp.ndim < 3 or not inp.is_float:
        return None
    want = inp.shape[:1] + inp.shape[2:]
    if tgt.shape == want or tgt.ndim != len(want):
        return None
    diff = [d for d in range(len(want)) if want[d] != tgt.shape[d]]
    where = ", ".join(f"dim {d} ({tgt.shape[d]} vs {want[d]})" for d in diff)
    return Hint(
        title=f"{ctx.code('target')} is {shape_text(tgt.shape)} but for {ctx.code('input')} {shape_text(inp.shape)} "
              f"it must be {shape_text(want)}",
        message=(f"{ctx.loss_label} reads {shape_text(inp.shape)} as (N, C, d1, ...) with C = {inp.shape[1]} classes "
                 f"in dim 1, and wants one class index per position: {shape_text(want)}. The sizes differ at "
                 f"{where}: the predictions and the labels cover different lengths (crop or pad one of them), "
                 "or the classes are not in dim 1."),
        fix=_resized(ctx, inp, tgt) if diff and diff[0] >= 1 else None,
    )


_MODES = {4: "bilinear", 5: "trilinear"}  # (N, C, H, W) and (N, C, D, H, W) score maps


def _resized(ctx, inp, tgt) -> str | None:
    """Segmentation scores and labels at different resolutions: scores (logits) are upsampled to the labels'
    size; log-probabilities are not interpolated, the labels are resized (nearest) to theirs instead."""
    mode = _MODES.get(inp.ndim)
    if mode is None or not tgt.is_int:
        return None
    spatial = inp.ndim - 2
    functional = "F" if getattr(ctx.lookup("F"), "__name__", "") == "torch.nn.functional" else "torch.nn.functional"
    if ctx.loss == "cross_entropy":
        new = {"input": f"{functional}.interpolate({ctx.name('input')}, size={ctx.name('target')}.shape[-{spatial}:], "
                        f"mode='{mode}', align_corners=False)"}
    else:
        labels = ctx.with_method("target", ".unsqueeze(1).float()")
        new = {"target": f"{functional}.interpolate({labels}, size={ctx.name('input')}.shape[-{spatial}:], "
                         f"mode='nearest').squeeze(1).long()"}
    return ctx.fix(new)


@rule("NLH586", "wrong-loss", "1-D scores (one per sample) with 0/1 labels into CrossEntropyLoss",
      families=("unbatched-target-size", "prob-target-dtype"),
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "model = nn.Linear(12, 1)\n"
          "x, y = torch.randn(16, 12), torch.randint(0, 2, (16,))\n"
          "loss = nn.CrossEntropyLoss()(model(x).squeeze(1), y)",
          expect=("BCEWithLogitsLoss", "y.float()")),))
def one_score_per_sample(ctx) -> Hint | None:
    """A (N,) input is read as ONE sample's class scores; with (N,) binary labels it is a binary task."""
    inp, tgt = ctx.t("input"), ctx.t("target")
    if ctx.loss not in CLASS_LOSSES or inp is None or tgt is None:
        return None
    if inp.ndim != 1 or tgt.ndim != 1 or tgt.shape != inp.shape or not inp.is_float:
        return None
    from .shapes import float_target, is_binary, swap_loss

    if is_binary(tgt) and inp.shape[0] > 1:
        return Hint(
            title=f"{ctx.code('input')} has one score per sample ({inp.shape[0]},): binary 0/1 labels need "
                  "BCEWithLogitsLoss",
            message=(f"{ctx.loss_label} reads a 1-D input as the class scores of ONE sample, so {inp.shape[0]} "
                     f"labels do not fit. With one score per sample and 0/1 labels the task is binary: "
                     "BCEWithLogitsLoss takes these scores with float labels."),
            fix=swap_loss(ctx, "BCEWithLogitsLoss", "binary_cross_entropy_with_logits",
                          {"target": float_target(ctx, inp, tgt)}),
        )
    return None


@rule("NLH589", "shape-mismatch", "a 1-D input (one sample's class scores) with several labels",
      families=("unbatched-target-size",),
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "net = nn.Linear(20, 5)\n"
          "x, y = torch.randn(1, 20), torch.tensor([3, 1])\n"
          "loss = nn.CrossEntropyLoss()(net(x).squeeze(), y)",
          expect=("(5,)", "2 labels")),))
def unbatched_input(ctx) -> Hint | None:
    inp, tgt = ctx.t("input"), ctx.t("target")
    if ctx.loss not in CLASS_LOSSES or inp is None or tgt is None or inp.ndim != 1:
        return None
    if tgt.ndim != 1 or tgt.shape == inp.shape:
        return None
    return Hint(
        title=f"{ctx.code('input')} is 1-D ({inp.shape[0]},), the class scores of one sample, but "
              f"{ctx.code('target')} has {tgt.shape[0]} labels",
        message=(f"{ctx.loss_label} takes (N, C) scores with (N,) labels, or one sample's (C,) scores with a single "
                 f"label. {ctx.code('input')} has lost its batch dimension (a squeeze() on a batch of one, or an "
                 "index [0]), or the labels belong to another batch."),
        fix=None,
    )


@rule("NLH587", "target-shape", "a 2-D class-index target for NLLLoss/CrossEntropyLoss (one label per sample expected)",
      families=("multi-target",),
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "scores = torch.randn(10, 3)\n"
          "pairs = torch.randint(0, 3, (10, 2))      # two labels per sample\n"
          "loss = nn.CrossEntropyLoss()(scores, pairs)",
          expect=("(10,)", "(10, 2)")),))
def two_d_index_target(ctx) -> Hint | None:
    """Class-index targets have one dimension less than the input; more than one label per sample needs
    a multi-label loss or one loss per label column."""
    inp, tgt = ctx.t("input"), ctx.t("target")
    if ctx.loss not in CLASS_LOSSES or inp is None or tgt is None or not inp.is_float:
        return None
    if inp.ndim != 2 or tgt.ndim != 2 or tgt.shape[0] != inp.shape[0]:
        return None
    n, k = tgt.shape
    return Hint(
        title=f"{ctx.code('target')} is ({n}, {k}); {ctx.loss_label} takes one class index per sample, ({n},)",
        message=(f"For {ctx.code('input')} ({n}, {inp.shape[1]}) the target is ({n},) int64. {ctx.code('target')} "
                 f"has {k} values per sample: if each column is a separate task, compute one loss per column; "
                 "if a sample can have several classes, use BCEWithLogitsLoss on multi-hot (N, C) rows."),
        fix=None,
    )


@rule("NLH588", "input-dtype", "complex tensors into KLDivLoss",
      families=("integral-input",),
      examples=(Example(
          "import torch, torch.nn.functional as F\n"
          "pred_wave, true_wave = torch.randn(4, 64), torch.randn(4, 64)\n"
          "pred_spec, true_spec = torch.fft.rfft(pred_wave), torch.fft.rfft(true_wave)\n"
          "loss = F.kl_div(pred_spec, true_spec, reduction='batchmean')",
          expect=("complex64",)),))
def complex_kl(ctx) -> Hint | None:
    m = ctx.family("integral-input")
    if m is None or m.groups.get("what") != "Complex":
        return None
    names = [k for k, f in ctx.tensors.items() if f.dtype.startswith("complex")]
    if not names:
        return None
    shown = ", ".join(f"{ctx.code(k)} ({ctx.t(k).dtype})" for k in names)
    return Hint(title=f"{shown}: {ctx.loss_label} works on real log-probabilities",
                message=("KL divergence compares real probability distributions. Take what your distributions are "
                         "over first, e.g. the magnitude (.abs()) of a spectrum, then normalise it."),
                fix=None)


@rule("NLH590", "bad-option", "the tensors passed to the loss's constructor instead of to the built loss",
      families=("tensor-bool", "reduction", "hyperparameter", "option-type"),
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "outputs, labels = torch.randn(8, 5), torch.randint(0, 5, (8,))\n"
          "loss = nn.CrossEntropyLoss(outputs, labels)",
          expect=("loss = nn.CrossEntropyLoss()(outputs, labels)",)),
          Example(
              "import torch, torch.nn as nn\n"
              "model = nn.Linear(10, 3)\n"
              "criterion = nn.CrossEntropyLoss\n"
              "x, y = torch.randn(4, 10), torch.randint(0, 3, (4,))\n"
              "loss = criterion(model(x), y)",
              expect=("criterion = nn.CrossEntropyLoss()", "(line 3)")),
      ))
def tensors_to_constructor(ctx) -> Hint | None:
    """``nn.CrossEntropyLoss(outputs, labels)`` builds a loss with outputs as its class weight and labels as
    ``size_average``: the module must be built first, then called on the tensors."""
    if ctx.via != "init" or not ctx.module or ctx.call is None:
        return None
    from ..contracts import by_module

    found = by_module(ctx.module)
    takes_tensors = {"weight", "pos_weight"}
    misplaced = [k for k in ctx.tensors if k not in takes_tensors]
    given = [ctx.call.args[k] for k in ctx.call.args if k in ctx.tensors]
    if not misplaced or len(given) < 2:
        return None
    names = ", ".join(f"`{g}`" for g in given)
    options = ", ".join(found.options[:3]) + ", ..." if found and found.options else "reduction, ..."
    fix = ctx.fix(callee=f"{ctx.call.callee}()") if ctx.call.callee.endswith(ctx.module) else None
    fix, bound = class_not_instance(ctx) or (fix, "")  # criterion = nn.CrossEntropyLoss, without ()
    args = ", ".join(found.forward) if found else "input, target"
    return Hint(
        title=f"{names} went to {ctx.module}'s constructor: build the loss first, then call it on them",
        message=(f"nn.{ctx.module}(...) creates the loss and takes its options ({options}); the "
                 f"tensors go to the call of the created loss, ({args}). Here {ctx.code(misplaced[0])} was taken "
                 f"as the option {misplaced[0]}." + (f" {bound}" if bound else "")),
        fix=fix,
        evidence=(),
    )


NOT_TENSORS = ("int", "float", "bool", "list", "tuple", "ndarray", "numpy.ndarray")


@rule("NLH591", "target-dtype", "a Python number, list or NumPy array passed as the target tensor",
      families=("not-tensor",),
      examples=(
          Example(
              "import torch, torch.nn as nn\n"
              "criterion = nn.CosineEmbeddingLoss(margin=0.2)\n"
              "emb_a, emb_b = torch.randn(16, 64), torch.randn(16, 64)\n"
              "loss = criterion(emb_a, emb_b, 1)",
              expect=("loss = criterion(emb_a, emb_b, torch.ones(emb_a.size(0)))",)),
          Example(
              "import torch, torch.nn as nn\n"
              "model = nn.Linear(4, 3)\n"
              "sample, label = torch.randn(4), 2            # one item of a Dataset, no DataLoader\n"
              "loss = nn.CrossEntropyLoss()(model(sample).unsqueeze(0), label)",
              expect=("torch.tensor([label])",)),
      ))
def target_not_a_tensor(ctx) -> Hint | None:
    """Losses take tensors: a label from ``Dataset.__getitem__`` (an int), a list of labels, a NumPy array or
    a constant such as ``1`` for "similar" must become a tensor of the shape the loss expects."""
    m = ctx.family("not-tensor")
    if m is None or ctx.via != "loss":
        return None
    arg = m.groups.get("arg") or ("target" if "target" in ctx.options else None)
    kind = m.groups.get("type", "")
    if arg not in ("target", "targets") or arg in ctx.tensors or kind not in NOT_TENSORS:
        return None  # None and other objects: where they came from is the user's own code
    from ..contracts import SIGNS, contract

    terms = contract(ctx.loss) or contract(ctx.module)
    value = ctx.options.get(arg)
    expr = ctx.name(arg)
    first = next((k for k in (terms.tensors if terms else ()) if k in ctx.tensors), None)
    facts = ctx.t(first) if first else None
    device = f", device={ctx.name(first)}.device" if facts is not None and facts.device != "cpu" else ""
    label = ctx.loss_label
    new = None
    number = repr(float(value)) if isinstance(value, (int, float)) and not isinstance(value, bool) \
        and expr.lstrip("-").replace(".", "", 1).isdigit() else f"float({expr})"
    if kind in ("list", "tuple", "ndarray", "numpy.ndarray"):
        if terms is not None and terms.class_loss:
            new = f"torch.as_tensor({expr}{device}).long()"
        else:
            new = f"torch.as_tensor({expr}, dtype=torch.float32{device})"
        what = "a Python list" if kind in ("list", "tuple") else "a NumPy array"
    else:
        what = f"a Python {kind}"
        if terms is not None and terms.class_loss and facts is not None and facts.ndim in (1, 2):
            if facts.ndim == 1 or facts.shape[0] == 1:
                new = f"torch.tensor({'[' + expr + ']' if facts.ndim == 2 else expr}{device})"
        elif terms is not None and SIGNS in terms.targets and facts is not None and facts.ndim:
            count = f"{ctx.name(first)}.size(0)"
            sign = "" if value == 1 else "-"
            if value in (1, -1) and facts.ndim == 2:
                new = f"{sign}torch.ones({count}{device})"
            elif value in (1, -1):
                new = f"{sign}torch.ones_like({ctx.name(first)})"
            elif facts.ndim == 2:
                new = f"torch.full(({count},), {number}{device})"
            else:
                new = f"torch.full_like({ctx.name(first)}, {number})"
        elif terms is not None and terms.elementwise and facts is not None:
            new = f"torch.full_like({ctx.name(first)}, {number})"
    shape = f" {facts.shape}" if facts is not None else ""
    return Hint(
        title=f"{ctx.code(arg)} is {what}, not a tensor: {label} takes the target as a tensor",
        message=(f"{label} takes its target as a torch tensor shaped for {ctx.code(first) if first else 'the input'}"
                 f"{shape}. A label straight from a Dataset item, a list of labels, a NumPy array or a constant "
                 "must be turned into one (a DataLoader does that for you when it batches)."),
        fix=pick_fix(ctx, {arg: new}) if new else None,
    )


@rule("NLH592", "bad-option", "options or weights passed to the loss's call instead of its constructor",
      families=("forward-args",),
      examples=(
          Example(
              "import torch, torch.nn as nn\n"
              "criterion = nn.CrossEntropyLoss()\n"
              "logits, labels = torch.randn(8, 4), torch.randint(0, 4, (8,))\n"
              "per_sample = criterion(logits, labels, reduction='none')",
              expect=("criterion = nn.CrossEntropyLoss(reduction='none')", "per_sample = criterion(logits, labels)")),
          Example(
              "import torch, torch.nn as nn\n"
              "criterion = nn.MSELoss()\n"
              "pred, target = torch.randn(8, 2), torch.randn(8, 2)\n"
              "sample_weights = torch.rand(8)\n"
              "loss = criterion(pred, target, sample_weights)",
              expect=("reduction='none'", "* sample_weights.view(-1, 1)).mean()")),
      ))
def call_arguments(ctx) -> Hint | None:
    """A loss module is called with its tensors only, ``criterion(input, target)``; options (reduction, weight,
    ignore_index, ...) are given when it is built, and per-sample weights are applied to the unreduced loss."""
    m = ctx.family("forward-args")
    if m is None or ctx.via != "call" or ctx.call is None or not ctx.module:
        return None
    from ..contracts import by_module

    terms = by_module(ctx.module)
    forward = list(terms.forward) if terms else []
    callee = ctx.call.callee
    at = ctx.call.statement.find(callee + "(")
    lhs = ctx.call.statement[:at] if at > 0 else "loss = "
    name = callee if callee.replace(".", "").replace("_", "").isalnum() and not callee.startswith("nn.") else "criterion"
    args = ", ".join(ctx.call.args[p] for p in forward if p in ctx.call.args)
    built = f"nn.{ctx.module}"
    keyword = m.groups.get("keyword")
    extra = ctx.options.get("extra_args") or ()
    if keyword == "weight" and ctx.call.args.get("weight"):  # class weight or per-sample weights: its shape says
        extra, keyword = (ctx.call.args["weight"],), None
    if keyword:
        value = ctx.call.args.get(keyword)
        if value is None:
            return None
        where = "  # where the loss is built" if name != callee or "." in name else ""
        return Hint(
            title=f"{keyword}= belongs to {ctx.module}(...), not to the call",
            message=(f"A loss module is called with its tensors only, ({', '.join(forward) or 'input, target'}); "
                     f"{keyword} is set when the loss is built (the functional form F.{terms.name if terms else '...'} "
                     "takes it per call instead)."),
            fix=f"{name} = {built}({keyword}={value}){where}\n{lhs}{name}({args})",
            evidence=(),
        )
    if (m.groups.get("given") or not m.groups.get("names")) and len(extra) == 1:
        w = extra[0]
        value = ctx.lookup(w) if w.isidentifier() else None
        import torch

        inp = ctx.lookup(ctx.call.args.get(forward[0], "")) if forward else None
        shape = tuple(value.shape) if isinstance(value, torch.Tensor) else None
        classes = inp.shape[1] if isinstance(inp, torch.Tensor) and inp.ndim >= 2 else None
        rows = inp.shape[0] if isinstance(inp, torch.Tensor) and inp.ndim >= 1 else None
        if terms is not None and terms.weight == "class" and shape == (classes,) and classes != rows:
            return Hint(
                title=f"`{w}` looks like a class weight ({classes} entries): it goes to {ctx.module}(weight=...)",
                message=(f"{ctx.module} is called with ({', '.join(forward)}) only; a class weight is part of the "
                         "loss, given when it is built."),
                fix=f"{name} = {built}(weight={w})\n{lhs}{name}({args})",
                evidence=(),
            )
        unreduced = None
        if isinstance(inp, torch.Tensor) and terms is not None:
            if terms.elementwise or terms.same_shape:
                unreduced = tuple(inp.shape)
            elif terms.class_loss and inp.ndim >= 2:
                unreduced = (inp.shape[0], *inp.shape[2:])
        weight = None
        if shape is not None and unreduced is not None:
            if shape == unreduced:
                weight = w
            elif shape == (rows,) and len(unreduced) > 1 and unreduced[0] == rows:
                weight = f"{w}.view(-1{', 1' * (len(unreduced) - 1)})"
        return Hint(
            title=f"{ctx.module} takes ({', '.join(forward)}), not a third argument `{w}`",
            message=(f"Per-sample weights are not an argument of the loss: compute the unreduced loss "
                     f"(reduction='none') and weight it yourself"
                     + (f"; the unreduced loss is {unreduced} and `{w}` is {shape}." if shape and unreduced
                        else ".")),
            fix=(f"{name} = {built}(reduction='none')\n{lhs}({name}({args}) * {weight}).mean()" if weight else None),
            evidence=(),
        )
    missing = m.groups.get("names")
    if missing:
        return Hint(
            title=f"{ctx.module} was called without {missing}",
            message=(f"A loss compares the model's output with the truth: call it with ({', '.join(forward)}), "
                     f"e.g. {callee}({args or 'output'}, target)."),
            fix=None,
            evidence=(),
        )
    return None


@rule("NLH593", "bad-option", "an option of the wrong type (ignore_index=None, ignore_index=255.0)",
      families=("option-arg-type",),
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "config = {'pad_id': None}\n"
          "criterion = nn.CrossEntropyLoss(ignore_index=config['pad_id'])\n"
          "loss = criterion(torch.randn(6, 4), torch.randint(0, 4, (6,)))",
          expect=("ignore_index=-100",)),))
def option_arg_type(ctx) -> Hint | None:
    m = ctx.family("option-arg-type")
    arg, got, expected = m.groups.get("arg"), m.groups.get("type"), m.groups.get("expected")
    if arg not in ctx.options and arg not in ("ignore_index", "reduction"):
        return None
    written = option_text(ctx, arg, repr(ctx.options.get(arg)))
    value = ctx.options.get(arg)
    if arg == "ignore_index" and got == "NoneType":
        return Hint(
            title=f"ignore_index={written} is None; {ctx.loss_label} needs an int",
            message=("ignore_index is the label value to skip. To skip nothing leave it out: the default -100 "
                     "matches no class index. If some label marks padding, give that value."),
            fix=option_fix(ctx, arg, "-100"),
            evidence=(),
        )
    if expected == "int" and isinstance(value, float) and value == int(value):
        return Hint(title=f"{arg}={written} is a float; {ctx.loss_label} needs an int",
                    message=f"{arg} is compared with the integer class labels: write it as an int.",
                    fix=option_fix(ctx, arg, str(int(value))), evidence=())
    return Hint(title=f"{arg}={written} is a {got}; {ctx.loss_label} needs a {expected}",
                message=f"{arg} must be a Python {expected}.", fix=None, evidence=())


@rule("NLH594", "weight-size", "a class weight (or pos_weight) given as a list or NumPy array, not a tensor",
      families=("not-tensor",),
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "criterion = nn.CrossEntropyLoss(weight=[1.0, 3.0, 0.5])\n"
          "loss = criterion(torch.randn(6, 3), torch.randint(0, 3, (6,)))",
          expect=("nn.CrossEntropyLoss(weight=torch.tensor([1.0, 3.0, 0.5]))",)),))
def weight_not_a_tensor(ctx) -> Hint | None:
    m = ctx.family("not-tensor")
    arg, got = m.groups.get("arg"), m.groups.get("type", "")
    if arg not in ("weight", "pos_weight") or got not in NOT_TENSORS:
        return None
    written = option_text(ctx, arg, arg)
    inp = ctx.input
    device = ", device=...  # the input's device" if inp is not None and inp.device != "cpu" else ""
    new = f"torch.tensor({written}, dtype=torch.float32)" if got in ("list", "tuple") else \
        f"torch.as_tensor({written}, dtype=torch.float32)"
    if device:
        new = new[:-1] + f", device={ctx.name('input')}.device)"
    return Hint(
        title=f"{arg}={written} is a {got}; {ctx.loss_label} takes {arg} as a float tensor",
        message=(f"{arg} holds one float per class; it must be a tensor on the input's device (float32 for a "
                 "float32 input)."),
        fix=option_fix(ctx, arg, new.replace(", dtype=torch.float32", "") if got in ("list", "tuple") else new),
        evidence=(),
    )


RULES = [tensors_to_constructor, target_not_a_tensor, weight_not_a_tensor, call_arguments, option_arg_type,
         one_score_per_sample, integer_probability_target, ignore_index_one_hot, ignore_index_soft,
         option_type, scalar_input, k_dim_target, unbatched_input, two_d_index_target, complex_kl]
