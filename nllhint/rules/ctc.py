"""Rules for ``ctc-format`` (CTCLoss conventions) and ``empty-input`` (a tensor with a zero-size dimension).

CTCLoss wants ``log_probs`` as ``(T, N, C)``, targets as ``(N, S)`` padded rows (or all labels
concatenated), and one input length and one target length per sequence. Its errors name the broken
check; the shapes and the lengths' values tell why: a batch-first or channels-first model output, lengths
counted before the model shortened time, targets transposed, lengths of float dtype.
"""

from __future__ import annotations

import re

from .base import Example, Hint, rule

CTC_FAMILIES = ("ctc-lengths",)
EMPTY_FAMILIES = ("empty", "batch-size", "broadcast", "bce-size", "ctc-lengths", "target-size", "spatial-size")
LENGTHS = ("input_lengths", "target_lengths")


def _shape(shape) -> str:
    return "(" + ", ".join(map(str, shape)) + (",)" if len(shape) == 1 else ")")


def _ctc(ctx):
    """(log_probs facts, targets facts, input_lengths facts, target_lengths facts) of a CTC call."""
    if ctx.loss != "ctc_loss" or ctx.t("log_probs") is None:
        return None
    return ctx.t("log_probs"), ctx.t("targets"), ctx.t("input_lengths"), ctx.t("target_lengths")


def _layout(shape, n: int, t_max: int | None, classes_last: bool, label_max: int | None) -> str | None:
    """Which of ``(T, N, C)``, ``(N, T, C)`` or ``(N, C, T)`` a 3-D output is, from the batch size and lengths."""
    a, b, c = shape
    if b == n and a != n:
        return "TNC"
    if a != n or t_max is None:
        return None
    fits = {"NTC": b >= t_max, "NCT": c >= t_max}
    exact = [k for k, dim in (("NTC", b), ("NCT", c)) if dim == t_max and fits[k]]
    if len(exact) == 1:
        found = exact[0]
    elif fits["NTC"] != fits["NCT"]:
        found = "NTC" if fits["NTC"] else "NCT"
    elif fits["NTC"] and classes_last:
        found = "NTC"
    else:
        return None
    classes = c if found == "NTC" else b
    if label_max is not None and label_max >= classes:
        return None
    return found


def _label_max(targets) -> int | None:
    return int(targets.max) if targets is not None and targets.values and targets.max is not None else None


def _t_max(lengths) -> int | None:
    return int(lengths.max) if lengths is not None and lengths.values and lengths.max is not None else None


_REORDER = {"NTC": ".transpose(0, 1)", "NCT": ".permute(2, 0, 1)"}
_NAMES = {"NTC": "(N, T, C), batch first", "NCT": "(N, C, T), classes before time"}


@rule("NLH350", "ctc-format", "log_probs given batch-first (N, T, C) or (N, C, T) instead of (T, N, C)",
      families=CTC_FAMILIES,
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "rnn, head = nn.GRU(13, 32, batch_first=True), nn.Linear(32, 20)\n"
          "feats = torch.randn(4, 50, 13)\n"
          "out, _ = rnn(feats)\n"
          "log_probs = head(out).log_softmax(2)\n"
          "targets = torch.randint(1, 20, (4, 10))\n"
          "input_lengths = torch.full((4,), 50)\n"
          "target_lengths = torch.full((4,), 10)\n"
          "loss = nn.CTCLoss()(log_probs, targets, input_lengths, target_lengths)",
          expect=("log_probs.transpose(0, 1)", "(4, 50, 20)")),))
def batch_first_log_probs(ctx) -> Hint | None:
    """A batch-first model output passed as is: CTCLoss reads dim 1 as the batch."""
    found = _ctc(ctx)
    if not found:
        return None
    lp, targets, in_len, _ = found
    if lp.ndim != 3 or in_len is None or in_len.ndim != 1:
        return None
    n = in_len.shape[0]
    layout = _layout(lp.shape, n, _t_max(in_len), lp.rows_log_simplex, _label_max(targets))
    if layout not in _REORDER:
        return None
    if targets is not None and targets.ndim == 2 and targets.shape[0] != n:
        return None
    name = ctx.code("log_probs")
    t = lp.shape[1] if layout == "NTC" else lp.shape[2]
    return Hint(
        title=f"{name} is {_NAMES[layout]}, but CTCLoss expects (T, N, C)",
        message=(f"{name} is {_shape(lp.shape)} and {ctx.code('input_lengths')} has {n} entries up to "
                 f"{_t_max(in_len)}: so the batch ({n}) is dim 0 and time ({t} steps) is dim "
                 f"{1 if layout == 'NTC' else 2}. CTCLoss reads dim 0 as time and dim 1 as the batch, "
                 "whatever the model's batch_first says. Reorder the dimensions (the log_softmax must "
                 "still be over the class dimension)."),
        fix=ctx.fix({"log_probs": ctx.with_method("log_probs", _REORDER[layout])}),
    )


@rule("NLH351", "ctc-format", "input_lengths or target_lengths do not have one entry per sequence",
      families=CTC_FAMILIES,
      examples=(Example(
          "import torch, torch.nn.functional as F\n"
          "log_probs = torch.randn(50, 4, 20).log_softmax(2)\n"
          "targets = torch.randint(1, 20, (4, 10))\n"
          "loss = F.ctc_loss(log_probs, targets, torch.tensor([50]), torch.full((4,), 10))",
          expect=("torch.full((log_probs.size(1),), 50, dtype=torch.long)",)),))
def lengths_size(ctx) -> Hint | None:
    """``input_lengths``/``target_lengths`` with a length other than the batch size ``N``."""
    found = _ctc(ctx)
    m = ctx.family(*CTC_FAMILIES)
    if not found or m is None or m.groups.get("which") not in LENGTHS or "must be of size" not in ctx.message:
        return None
    lp = found[0]
    which = m.groups["which"]
    lengths = ctx.t(which)
    if lp.ndim != 3 or lengths is None:
        return None
    n = lp.shape[1]
    size = lengths.numel
    if size == n and lengths.ndim > 1:
        fix = ctx.fix({which: ctx.with_method(which, ".view(-1)")})
        detail = f"It holds {n} values, but as {_shape(lengths.shape)}: make it 1-D."
    elif lengths.values and lengths.distinct is not None and len(lengths.distinct) == 1:
        value = int(lengths.distinct[0])
        fix = ctx.fix({which: f"torch.full(({ctx.name('log_probs')}.size(1),), {value}, dtype=torch.long)"})
        detail = (f"All its values are {value}; if every sequence has that length, repeat it once per "
                  "sequence.")
    else:
        fix = None
        detail = ("It looks like the lengths of another batch (or of the whole data set); compute them "
                  "for the sequences of this batch.")
    return Hint(
        title=f"{ctx.code(which)} has {size} entries, but the batch has {n} sequences",
        message=(f"CTCLoss reads the batch size from dim 1 of {ctx.code('log_probs')} (T, N, C) = "
                 f"{_shape(lp.shape)}, so it needs {n} {which.split('_')[0]} lengths, one per sequence; "
                 f"{ctx.code(which)} has {size}. {detail}"),
        fix=fix,
    )


@rule("NLH352", "ctc-format", "input_lengths longer than the T time steps of log_probs",
      families=CTC_FAMILIES,
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "conv = nn.Conv1d(13, 20, kernel_size=3, stride=2, padding=1)\n"
          "feats = torch.randn(4, 13, 100)\n"
          "log_probs = conv(feats).permute(2, 0, 1).log_softmax(2)\n"
          "targets = torch.randint(1, 20, (4, 12))\n"
          "frame_lengths = torch.tensor([100, 96, 90, 80])\n"
          "loss = nn.CTCLoss()(log_probs, targets, frame_lengths, torch.full((4,), 12))",
          expect=("frame_lengths", "50", "2x")),))
def lengths_beyond_time(ctx) -> Hint | None:
    """Input lengths counted in input frames while the model's output has fewer (strided) time steps."""
    found = _ctc(ctx)
    m = ctx.family(*CTC_FAMILIES)
    if not found or m is None or m.groups.get("which") != "input_lengths" or "limit" not in m.groups:
        return None
    lp, _, in_len, _ = found
    if lp.ndim != 3:
        return None
    steps, value = lp.shape[0], int(m.groups["value"])
    name = ctx.code("input_lengths")
    ratio = value / steps
    factor = round(ratio)
    if factor >= 2 and abs(ratio - factor) <= 0.1 * factor:
        why = (f"{value} is about {factor}x {steps}: the lengths look counted in input frames, before the "
               f"model shortened time by {factor}x (a strided convolution or pooling). Convert them the "
               "same way the model does.")
        fix = ctx.fix({"input_lengths": f"torch.div({ctx.name('input_lengths')}, {factor}, rounding_mode='ceil')"})
        fix = fix and f"{fix}   # if the model shortens time by {factor}x, rounding up (check its formula)"
    else:
        why = ("Each length must count the output frames of its sequence, at most T (with padding, the "
               "longest sequence usually has exactly T).")
        fix = None
    if in_len is not None and in_len.distinct is not None and len(in_len.distinct) == 1:
        fix = ctx.fix({"input_lengths": f"torch.full(({ctx.name('log_probs')}.size(1),), "
                                        f"{ctx.name('log_probs')}.size(0), dtype=torch.long)"})
    return Hint(
        title=f"{name} goes up to {value}, but {ctx.code('log_probs')} has only T={steps} time steps",
        message=(f"{ctx.code('log_probs')} is (T, N, C) = {_shape(lp.shape)}, so no sequence can be longer "
                 f"than {steps} frames; {name} says {value}. {why}"),
        fix=fix,
    )


@rule("NLH353", "ctc-format", "targets given time-first (S, N) instead of (N, S)",
      families=CTC_FAMILIES,
      examples=(Example(
          "import torch, torch.nn.functional as F\n"
          "log_probs = torch.randn(60, 4, 20).log_softmax(2)\n"
          "labels = torch.randint(1, 20, (4, 12)).t()\n"
          "loss = F.ctc_loss(log_probs, labels, torch.full((4,), 60), torch.full((4,), 12))",
          expect=("labels.t()", "(12, 4)")),))
def targets_transposed(ctx) -> Hint | None:
    """Padded targets laid out like ``log_probs``, time first: CTC wants one row per sequence."""
    found = _ctc(ctx)
    if not found or ctx.family(*CTC_FAMILIES) is None or "'targets'" not in ctx.message:
        return None
    lp, targets, _, tgt_len = found
    if lp.ndim != 3 or targets is None or targets.ndim != 2:
        return None
    n = lp.shape[1]
    rows, cols = targets.shape
    longest = _t_max(tgt_len)
    if cols != n or rows == n or (longest is not None and longest > rows):
        return None
    name = ctx.code("targets")
    return Hint(
        title=f"{name} is {_shape(targets.shape)}: one column per sequence, but CTCLoss wants one row each",
        message=(f"The batch has {n} sequences (dim 1 of {ctx.code('log_probs')}), and padded targets must "
                 f"be (N, S) = ({n}, max target length); {name} has its {n} sequences along dim 1, "
                 "time first like log_probs. Transpose it."),
        fix=ctx.fix({"targets": ctx.with_method("targets", ".t()")}),
    )


@rule("NLH354", "ctc-format", "targets hold fewer labels than target_lengths says",
      families=CTC_FAMILIES,
      examples=(Example(
          "import torch, torch.nn.functional as F\n"
          "log_probs = torch.randn(60, 3, 20).log_softmax(2)\n"
          "padded = torch.randint(1, 20, (3, 12))\n"
          "target_lengths = torch.tensor([12, 9, 7])\n"
          "loss = F.ctc_loss(log_probs, padded.flatten(), torch.full((3,), 60), target_lengths)",
          expect=("36", "28", "padded.flatten()")),))
def targets_shorter_than_lengths(ctx) -> Hint | None:
    """Padded targets narrower than the longest target length, or 1-D targets that are not the concatenation."""
    found = _ctc(ctx)
    m = ctx.family(*CTC_FAMILIES)
    if not found or m is None or "needed" not in m.groups or "'targets'" not in ctx.message:
        return None
    lp, targets, _, tgt_len = found
    needed, got = int(m.groups["needed"]), int(m.groups["got"])
    if targets is None or lp.ndim != 3:
        return None
    name, lengths = ctx.code("targets"), ctx.code("target_lengths")
    n = lp.shape[1]
    if targets.ndim == 1:
        if got > needed and n and got % n == 0:  # n = 0: an empty batch
            why = (f"{got} = {n} x {got // n}: it looks like padded rows flattened, padding included. "
                   "Pass the padded (N, S) tensor itself, or concatenate only each row's first "
                   "target_length labels.")
            flat = re.fullmatch(r"(.+)\.(?:flatten\(\)|view\(-1\)|reshape\(-1\))", ctx.name("targets").strip(), re.S)
            fix = ctx.fix({"targets": flat.group(1) if flat else ctx.with_method("targets", f".view({n}, -1)")})
        else:
            why = (f"1-D targets must be all sequences' labels concatenated, exactly sum({lengths.strip('`')}) "
                   "long; the lengths or the concatenation are off.")
            fix = None
        return Hint(
            title=f"{name} has {got} labels, but {lengths} adds up to {needed}",
            message=f"{name} is 1-D, so CTCLoss reads it as every target concatenated. {why}",
            fix=fix,
        )
    if targets.ndim == 2 and targets.shape[0] == n and m.groups.get("needed") and "dimension 1" in ctx.message:
        return Hint(
            title=f"{lengths} goes up to {needed}, but {name} rows hold only {got} labels",
            message=(f"{name} is {_shape(targets.shape)}, padded rows of at most {got} labels, while "
                     f"{lengths} says a sequence has {needed}. The lengths must count the labels of each "
                     "row (without padding, an end token, or characters dropped by the encoding)."),
            fix=None,
        )
    return None


@rule("NLH355", "ctc-format", "input_lengths or target_lengths are floats (counts as float, or relative lengths in (0, 1])",
      families=CTC_FAMILIES,
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "log_probs = torch.randn(50, 2, 20).log_softmax(2)\n"
          "targets = torch.randint(1, 20, (2, 10))\n"
          "input_lengths = torch.ones(2) * 50\n"
          "loss = nn.CTCLoss()(log_probs, targets, input_lengths, torch.tensor([10, 8]))",
          expect=("input_lengths.long()",)),
          Example(
          "import torch, torch.nn.functional as F\n"
          "log_probs = torch.randn(50, 4, 20).log_softmax(2)\n"
          "targets = torch.randint(1, 20, (4, 10))\n"
          "wav_lens = torch.tensor([1.0, 0.9, 0.8, 0.7])      # relative, as SpeechBrain stores them\n"
          "target_lens = torch.tensor([1.0, 0.8, 0.6, 0.5])\n"
          "loss = F.ctc_loss(log_probs, targets, wav_lens, target_lens)",
          expect=("(wav_lens * log_probs.size(0)).round().long()",
                  "(target_lens * targets.size(1)).round().long()"))))
def lengths_not_integral(ctx) -> Hint | None:
    """Lengths built with float arithmetic (``torch.ones(N) * T``), or relative lengths (fractions of the
    padded length, max 1.0, as SpeechBrain keeps them): CTC wants integer counts. ``.ceil()`` of a fraction
    would make every length 1, so relative lengths are scaled by the padded size first."""
    found = _ctc(ctx)
    m = ctx.family(*CTC_FAMILIES)
    if not found or m is None or "integral" not in ctx.message or m.groups.get("which") not in LENGTHS:
        return None
    which = m.groups["which"]
    lengths = ctx.t(which)
    if lengths is None or not lengths.is_float:
        return None
    kinds = {p: _float_kind(ctx.t(p)) for p in LENGTHS if ctx.t(p) is not None and ctx.t(p).is_float}
    if "relative" in kinds.values():  # one relative tensor makes a sibling of 1.0s relative too
        kinds = {p: "relative" if k == "ones" else k for p, k in kinds.items()}
    if kinds.get("input_lengths") == "ones" and found[0].ndim == 3 and found[0].shape[0] > 1:
        kinds["input_lengths"] = "relative"  # every sequence 1 frame long out of T > 1: full length meant
    kinds = {p: "whole" if k == "ones" else k for p, k in kinds.items()}
    padded = {"input_lengths": _padded(ctx, "log_probs", 0, found[0]),
              "target_lengths": _padded(ctx, "targets", 1, found[1])}
    fixes = {}
    for p, k in kinds.items():
        if k == "whole":
            fixes[p] = ctx.with_method(p, ".long()")
        elif k == "relative" and padded[p]:
            simple = ctx.call.simple.get(p, True) if ctx.call else True
            expr = ctx.name(p) if simple else f"({ctx.name(p)})"
            fixes[p] = f"({expr} * {padded[p][0]}).round().long()"
    name = ctx.code(which)
    if kinds[which] == "relative":
        rel = [p for p, k in kinds.items() if k == "relative"]
        sizes = " and ".join(f"{ctx.code(p)} by {padded[p][0]} = {padded[p][1]}" for p in rel if padded[p])
        title = f"{name} holds relative lengths (in (0, 1], up to 1.0), but CTCLoss needs integer counts"
        detail = (f"{' and '.join(ctx.code(p) for p in rel)} {'lie' if len(rel) > 1 else 'lies'} in (0, 1] "
                  "with a maximum of 1.0: each "
                  "sequence's share of the padded length (as SpeechBrain stores wav_lens). CTCLoss counts time "
                  "steps and labels, so multiply " + (sizes if sizes else "by the padded length")
                  + " and round; .long() or .ceil() alone would make every length 0 or 1.")
    else:
        title = f"{name} is {lengths.dtype}, but CTCLoss needs integer lengths"
        detail = (f"Lengths count time steps or labels, so CTCLoss wants them as integers (int64 or int32); "
                  f"{name} is {lengths.dtype}, e.g. from multiplying by a float or torch.ones."
                  + (" It holds fractions: round them the way the model computes its output length."
                     if kinds[which] == "fractions" else ""))
    complete = all(p in fixes for p in kinds)  # a fix that leaves a float length would raise again
    return Hint(title=title, message=detail, fix=ctx.fix(fixes) if complete else None)


def _float_kind(facts) -> str:
    """'whole' (50.0), 'relative' (fractions in (0, 1] up to 1.0), 'ones' (all 1.0), 'fractions' (24.5),
    or 'whole' when the values were not read (the dtype is certain)."""
    if not facts.values or facts.min is None or facts.max is None:
        return "whole"
    if facts.min > 0 and facts.max == 1.0:
        return "ones" if facts.whole else "relative"
    return "whole" if facts.whole else "fractions"


def _padded(ctx, param: str, dim: int, facts) -> tuple[str, int] | None:
    """(code for the padded size, its value): ``log_probs.size(0)`` (T) or ``targets.size(1)`` (S of padded
    (N, S) targets); the number itself when the argument is an expression."""
    if facts is None or facts.ndim != (3 if dim == 0 else 2) or facts.shape[dim] < 2:
        return None
    expr = ctx.name(param)
    size = facts.shape[dim]
    return (f"{expr}.size({dim})" if re.fullmatch(r"[A-Za-z_][\w.]*(?:\[[^\[\]()]+\])?", expr) else str(size)), size


@rule("NLH356", "ctc-format", "log_probs with an extra dimension (e.g. a CRNN's height of 1)",
      families=CTC_FAMILIES,
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "features = torch.randn(4, 20, 1, 32)\n"
          "log_probs = features.log_softmax(1)\n"
          "targets = torch.randint(1, 20, (4, 8))\n"
          "loss = nn.CTCLoss()(log_probs, targets, torch.full((4,), 32), torch.full((4,), 8))",
          expect=("log_probs.squeeze(2).permute(2, 0, 1)",)),))
def extra_dimension(ctx) -> Hint | None:
    """A 4-D output such as ``(N, C, 1, W)`` from a CNN: squeeze the height, then put time first."""
    found = _ctc(ctx)
    if not found or "3-dimensional" not in ctx.message:
        return None
    lp, targets, in_len, _ = found
    ones = [d for d, s in enumerate(lp.shape) if s == 1]
    if lp.ndim != 4 or len(ones) != 1 or in_len is None or in_len.ndim != 1:
        return None
    d = ones[0]
    squeezed = lp.shape[:d] + lp.shape[d + 1:]
    layout = _layout(squeezed, in_len.shape[0], _t_max(in_len), False, _label_max(targets))
    if layout is None:
        return None
    name = ctx.code("log_probs")
    suffix = f".squeeze({d})" + _REORDER.get(layout, "")
    return Hint(
        title=f"{name} is 4-D {_shape(lp.shape)}; CTCLoss needs (T, N, C)",
        message=(f"{name} has a dimension of size 1 at dim {d} (like the height left by a CNN); without it "
                 f"it is {_shape(squeezed)}, which is "
                 + ("(T, N, C) already." if layout == "TNC" else f"{_NAMES[layout]}, so also reorder it.")),
        fix=ctx.fix({"log_probs": ctx.with_method("log_probs", suffix)}),
    )


@rule("NLH357", "ctc-format", "negative input or target lengths",
      families=CTC_FAMILIES,
      examples=(Example(
          "import torch, torch.nn.functional as F\n"
          "log_probs = torch.randn(30, 3, 10).log_softmax(2)\n"
          "targets = torch.randint(1, 10, (3, 5))\n"
          "lengths = torch.tensor([30, 28, -1])\n"
          "loss = F.ctc_loss(log_probs, targets, lengths, torch.full((3,), 5))",
          expect=("lengths", "-1")),))
def negative_lengths(ctx) -> Hint | None:
    """A ``-1`` (padding) or a length formula that went below zero for a short input."""
    found = _ctc(ctx)
    m = ctx.family(*CTC_FAMILIES)
    if not found or m is None or "at least 0" not in ctx.message or m.groups.get("which") not in LENGTHS:
        return None
    which = m.groups["which"]
    name = ctx.code(which)
    return Hint(
        title=f"{name} contains {m.groups.get('value', 'a negative value')}: lengths must be >= 0",
        message=(f"Every entry of {name} is the length of one sequence. A negative one is usually padding "
                 "(-1) in a list of lengths, or an output-length formula such as (L - kernel) // stride "
                 "that went below zero for a very short input."),
        fix=None,
    )


# --- empty-input -------------------------------------------------------------------------------------

EMPTY_PARAMS = ("input", "log_probs", "target", "targets", "input1", "input2")


@rule("NLH370", "empty-input", "an input or target with zero elements (an empty batch or a filter that kept nothing)",
      families=EMPTY_FAMILIES,
      examples=(Example(
          "import torch, torch.nn.functional as F\n"
          "logits = torch.randn(6, 4)\n"
          "labels = torch.tensor([0, 1, 3, 2, 1, 0])\n"
          "confident = logits.max(dim=1).values > 5\n"
          "loss = F.cross_entropy(logits, labels[confident])",
          expect=("labels[confident]", "0 samples")),
          Example(
          "import torch, torch.nn as nn\n"
          "frames = torch.randn(0, 2, 12).log_softmax(2)\n"
          "loss = nn.CTCLoss()(frames, torch.randint(1, 12, (2, 3)), torch.tensor([0, 0]), torch.tensor([3, 3]))",
          expect=("0 time steps",))))
def empty_input(ctx) -> Hint | None:
    """A zero-size dimension in the loss's input or target: an empty batch, zero time steps, zero classes."""
    if ctx.via != "loss":
        return None
    empty = [(p, ctx.tensors[p]) for p in EMPTY_PARAMS if p in ctx.tensors and 0 in ctx.tensors[p].shape]
    if not empty:
        return None
    param, facts = empty[0]
    name = ctx.code(param)
    dim = facts.shape.index(0)
    full = [p for p in EMPTY_PARAMS if p in ctx.tensors and ctx.tensors[p].ndim and 0 not in ctx.tensors[p].shape]
    if param == "log_probs" and facts.ndim == 3 and dim == 0:
        what = (f"{name} has 0 time steps: the sequences are shorter than what the model removes in time "
                "(kernel sizes, strides, pooling), or were cut to nothing.")
    elif dim == 0 and full:
        other = full[0]
        what = (f"{name} has 0 samples while {ctx.code(other)} has {ctx.tensors[other].shape[0]}: whatever "
                f"selected the rows of {name} kept none (and {ctx.code(other)} was not filtered the same way).")
    elif dim == 0:
        what = f"{name} has 0 samples: the batch is empty."
    else:
        what = f"{name} has size 0 along dim {dim}."
    expr = ctx.name(param)
    source = (f" {name} indexes with a mask or slice that selected no element." if "[" in expr
              else " Typical causes: a boolean mask or filter that selected nothing, an empty split or "
                   "data file, or a slice past the end.")
    statement = ctx.call.statement if ctx.call else None
    plain = [ctx.name(p) for p, _ in empty if "(" not in ctx.name(p)]
    guard = (f"if {plain[0]}.numel() > 0:   # skip empty batches\n    {statement}"
             if plain and statement and "\n" not in statement and not full else None)
    return Hint(
        title=f"{name} is empty: shape {_shape(facts.shape)}",
        message=f"{what}{source} A loss over zero elements is undefined.",
        fix=guard,
    )


RULES = [batch_first_log_probs, lengths_size, lengths_beyond_time, targets_transposed, targets_shorter_than_lengths,
         lengths_not_integral, extra_dimension, negative_lengths, empty_input]
