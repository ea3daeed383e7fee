"""Rules for ``bce-range``, ``nan-inf`` and BCE given class indices (``wrong-loss``).

``BCELoss`` checks that every input and target value lies in [0, 1]. The messages only say which of
the two failed; the values tell why: raw logits (no sigmoid), tanh outputs, probabilities that drifted a
rounding error outside [0, 1], NaN (which fails every comparison, so the real problem is NaN reaching the
loss), 8-bit masks {0, 255}, {-1, 1} labels, or class indices 0..C-1 that belong to CrossEntropyLoss.
Anomaly mode's "Function 'NllLossBackward0' returned nan values" is read from the loss the user called
``.backward()`` on: its value and its autograd nodes (no values of the graph are read).
"""

from __future__ import annotations

import ast
import re

from ..probe import _num, describe
from .backward import loss_statement
from .base import Example, Hint, rule

TOL = 1e-3  # a value this close outside [0, 1] is a rounding error, not a logit
BCE = ("binary_cross_entropy",)
LOSS_NODES = {  # autograd node -> how users know that loss
    "NllLossBackward0": "NLLLoss / CrossEntropyLoss", "NllLoss2DBackward0": "NLLLoss / CrossEntropyLoss",
    "MseLossBackward0": "MSELoss", "L1LossBackward0": "L1Loss", "BinaryCrossEntropyBackward0": "BCELoss",
    "BinaryCrossEntropyWithLogitsBackward0": "BCEWithLogitsLoss", "SmoothL1LossBackward0": "SmoothL1Loss",
    "HuberLossBackward0": "HuberLoss", "CtcLossBackward0": "CTCLoss", "KlDivBackward0": "KLDivLoss",
}
# The operation right in front of a loss (CrossEntropyLoss's own log_softmax, a sigmoid before BCE).
LOSS_INPUT_NODES = ("LogSoftmaxBackward0", "SoftmaxBackward0", "SigmoidBackward0", "LogSigmoidBackward0",
                    "LogBackward0")


# --- helpers -----------------------------------------------------------------------------------------

def _bce(ctx):
    """(input, target) facts of a failing BCELoss / F.binary_cross_entropy call with readable values."""
    if ctx.loss not in BCE or ctx.via != "loss":
        return None
    inp, tgt = ctx.t("input"), ctx.t("target")
    if inp is None or tgt is None or not inp.values or not tgt.values:
        return None
    return inp, tgt


def _span(facts) -> str:
    if facts.distinct is not None and len(facts.distinct) <= 6:
        return "{" + ", ".join(_num(v) for v in facts.distinct) + "}"
    return f"[{_num(facts.min)}, {_num(facts.max)}]"


def _with_logits(ctx) -> str:
    """The user's call switched to the with-logits loss (constructor line first for a named criterion)."""
    call = ctx.call
    if call is None:
        return ("criterion = nn.BCEWithLogitsLoss()" if ctx.module
                else f"loss = F.binary_cross_entropy_with_logits({ctx.name('input')}, {ctx.name('target')})")
    callee = call.callee
    if not ctx.module:
        return ctx.fix(callee=callee + "_with_logits") or call.statement
    if "BCELoss" in callee:  # nn.BCELoss()(out, y)
        return ctx.fix(callee=callee.replace("BCELoss", "BCEWithLogitsLoss")) or call.statement
    return f"{_constructor(ctx, callee, 'BCELoss', 'BCEWithLogitsLoss')}\n{call.statement}"


def _constructor(ctx, name: str, old: str, new: str) -> str:
    """``criterion = nn.BCEWithLogitsLoss(...)``: the user's own constructor line when it is in view."""
    found = _assignment_of(ctx, name, old)
    if found:
        return re.sub(rf"\b{old}\b", new, found, count=1)
    return f"{name} = nn.{new}()"


def _assignment_of(ctx, name: str, callee_part: str) -> str | None:
    """``name = ...callee_part(...)`` as the user wrote it around the call (parsed only)."""
    value = ctx.assigned_call(name)
    return f"{name} = {value}" if value and callee_part in value else None


def _names_in(expr: str) -> list[str]:
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except SyntaxError:
        return []
    return [n.id for n in ast.walk(tree) if isinstance(n, ast.Name)]


def _nan_origin(ctx, exprs: list[str], skip: set[str] = frozenset()) -> tuple[str, str] | None:
    """Where the NaN/Inf comes from, read from what the user's frame holds (bounded reads only).

    Returns ``(sentence, fix)``: a batch with NaN, a loss module whose class weight is not finite, or a
    model whose weights already are NaN (training diverged). None when nothing visible explains it.
    """
    import torch

    seen, computed = set(), None
    exprs = list(exprs) + _sources_of(ctx, exprs)
    for expr in exprs:  # grows: a computed tensor with NaN adds the expression it was assigned from
        for var in _names_in(expr)[:8]:
            if var in seen or var in skip:
                continue
            seen.add(var)
            value = ctx.lookup(var)
            if isinstance(value, torch.Tensor):
                facts = describe(value, read_values=ctx.values_readable)
                if not (facts.has_nan or facts.has_inf):
                    continue
                what = "NaN" if facts.has_nan else "Inf"
                if facts.grad_fn is not None:  # computed (a model output): look further for the cause
                    computed = computed or (var, what)
                    if len(exprs) < 16:
                        exprs.extend(_sources_of(ctx, [var]))
                    continue
                return (f"`{var}` itself contains {what}, so the problem is in the data, not the model",
                        f"assert torch.isfinite({var}).all(), 'NaN/Inf in the data'\n"
                        f"# or replace them: {var} = torch.nan_to_num({var})")
            elif isinstance(value, torch.nn.Module) and type(value).__name__.endswith("Loss"):
                for buf in ("weight", "pos_weight"):
                    w = value.__dict__.get("_buffers", {}).get(buf)
                    if isinstance(w, torch.Tensor):
                        facts = describe(w, read_values=ctx.values_readable)
                        if facts.has_nan or facts.has_inf:
                            what = "NaN" if facts.has_nan else "Inf"
                            return (f"the class {buf} of `{var}` contains {what} (class weights like "
                                    "1 / count give Inf for a class with no samples)",
                                    f"assert torch.isfinite({var}.{buf}).all()   # e.g. 1 / counts.clamp(min=1)")
            elif isinstance(value, torch.nn.Module):
                for i, (pname, param) in enumerate(value.named_parameters()):
                    if i >= 64:
                        break
                    facts = describe(param, read_values=ctx.values_readable)
                    if facts.has_nan or facts.has_inf:
                        return (f"the weights of `{var}` already contain NaN (`{var}.{pname}`): training "
                                "diverged in an earlier step, typically from a learning rate too high or "
                                "exploding gradients",
                                f"torch.nn.utils.clip_grad_norm_({var}.parameters(), 1.0)   # after backward()\n"
                                "# and/or lower the learning rate, then re-create the model")
    if computed:
        var, what = computed
        return (f"`{var}` already contains {what}, while the data and weights in view are finite: it arises "
                "inside the model's forward pass (a log or division by zero, an overflow)",
                f"assert torch.isfinite({var}).all()   # move this check up through the forward pass")
    return None


def _sources_of(ctx, exprs: list[str]) -> list[str]:
    """For plain names among ``exprs``, the right-hand side of their last assignment in the user's code."""
    from .backward import assignments, user_program

    names = [e.strip() for e in exprs if re.fullmatch(r"[A-Za-z_]\w*", e.strip())]
    if not names:
        return []
    prog = user_program(ctx)
    if prog is None:
        return []
    binds = assignments(prog)
    out = []
    for name in names:
        found = [(st, v) for st, v in binds.get(name, ()) if isinstance(st, ast.Assign)]
        if found:
            out.append(prog.segment(max(found, key=lambda p: p[0].lineno)[1]))
    return out


def _fmt(v: float) -> str:
    return f"{v:.9g}"


# --- bce-range: the input --------------------------------------------------------------------------------

@rule("NLH510", "nan-inf", "NaN or Inf in the input of BCELoss (reported as 'not between 0 and 1')",
      families=("bce-input-range",),
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "model = nn.Sequential(nn.Linear(4, 1), nn.Sigmoid())\n"
          "criterion = nn.BCELoss()\n"
          "x = torch.randn(8, 4)\n"
          "x[3, 2] = float('nan')   # a missing value in the data\n"
          "y = torch.randint(0, 2, (8, 1)).float()\n"
          "loss = criterion(model(x), y)",
          expect=("NaN", "model(x)", "`x` itself contains NaN", "isfinite")),))
def bce_input_nan(ctx) -> Hint | None:
    """NaN fails every comparison, so BCE reports it as a value outside [0, 1]: NaN reached the loss."""
    found = _bce(ctx)
    if not found:
        return None
    inp, tgt = found
    finite_ok = inp.min is None or (inp.min >= -TOL and inp.max <= 1 + TOL)
    if not (inp.has_nan or (inp.has_inf and finite_ok)):
        return None
    what = "NaN" if inp.has_nan else "Inf"
    name = ctx.code("input")
    rest = f" (its other values lie in [{_num(inp.min)}, {_num(inp.max)}])" if inp.min is not None else ""
    expr = ctx.name("input")
    origin = _nan_origin(ctx, [expr], skip={expr})
    if origin:
        cause, fix = f"Here {origin[0]}.", origin[1]
    else:
        cause = ("NaN usually comes from NaN in the data, or from a model that diverged (learning rate too "
                 "high, exploding gradients, a log or division by zero upstream).")
        check = expr if re.fullmatch(r"[\w.]+", expr) else "x"
        fix = (f"assert torch.isfinite({check}).all()   # check each batch (and the data) before the loss\n"
               "torch.autograd.set_detect_anomaly(True)   # names the op whose gradient first turns NaN")
    return Hint(
        title=f"{name} contains {what}: {what} reached {ctx.loss_label}, which reports it as out of [0, 1]",
        message=(f"The values are not logits: {name} contains {what}{rest}, and {what} fails the check "
                 f"'between 0 and 1'. {cause} Find where it first appears before changing the loss."),
        fix=fix,
    )


@rule("NLH503", "bce-range", "BCELoss given tanh outputs in [-1, 1]",
      families=("bce-input-range",),
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "model = nn.Sequential(nn.Linear(6, 1), nn.Tanh())\n"
          "criterion = nn.BCELoss()\n"
          "x, y = torch.randn(128, 6), torch.randint(0, 2, (128, 1)).float()\n"
          "out = model(x)\n"
          "loss = criterion(out, y)",
          expect=("tanh", "nn.Sigmoid()", "(out + 1) / 2")),))
def bce_tanh_input(ctx) -> Hint | None:
    """A tanh output layer: values in [-1, 1], while BCE needs [0, 1] (sigmoid)."""
    found = _bce(ctx)
    if not found:
        return None
    inp, _ = found
    if inp.producer != "tanh" or inp.min is None or inp.min < -1 - TOL or inp.max > 1 + TOL or inp.min >= -TOL:
        return None
    name = ctx.code("input")
    fixed = ctx.fix({"input": f"({ctx.name('input')} + 1) / 2"})
    return Hint(
        title=f"{name} comes from tanh (values in [{_num(inp.min)}, {_num(inp.max)}]), but "
              f"{ctx.loss_label} needs probabilities in [0, 1]",
        message=(f"tanh maps to [-1, 1]; BCE needs [0, 1], which is what a sigmoid gives. End the model "
                 f"with nn.Sigmoid() instead of nn.Tanh() (or drop it and use BCEWithLogitsLoss), or "
                 f"rescale: (tanh(x) + 1) / 2 equals sigmoid(2x)."),
        fix=(f"# last layer: nn.Sigmoid() instead of nn.Tanh(), or rescale:\n{fixed}" if fixed
             else "# last layer: nn.Sigmoid() instead of nn.Tanh()"),
    )


@rule("NLH502", "bce-range", "probabilities a rounding error outside [0, 1]",
      families=("bce-input-range",),
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "p1 = torch.tensor([0.2, 0.99999994, 0.7])\n"
          "p2 = torch.tensor([0.4, 1.0, 0.1])\n"
          "ensemble = p1 + p2 - p1 * p2 + 1e-6   # hand-made probability\n"
          "labels = torch.tensor([0., 1., 1.])\n"
          "loss = nn.functional.binary_cross_entropy(ensemble, labels)",
          expect=("ensemble.clamp(0, 1)", "rounding")),))
def bce_rounding(ctx) -> Hint | None:
    """Hand-computed probabilities a hair outside [0, 1] (1.0000001, -1e-8)."""
    found = _bce(ctx)
    if not found:
        return None
    inp, _ = found
    if inp.has_nan or inp.has_inf or inp.min is None:
        return None
    if not (-TOL <= inp.min and inp.max <= 1 + TOL) or (inp.min >= 0 and inp.max <= 1):
        return None
    worst = inp.max if inp.max > 1 else inp.min
    name = ctx.code("input")
    return Hint(
        title=f"{name} is a probability that drifted just outside [0, 1] ({_fmt(worst)})",
        message=(f"{name} lies in [{_fmt(inp.min)}, {_fmt(inp.max)}]: probabilities, off by a rounding error. "
                 "That happens when they are computed by hand (sums, products, 1 - p, averaging); "
                 "clamp them, or better give the underlying logits to BCEWithLogitsLoss."),
        fix=ctx.fix({"input": ctx.with_method("input", ".clamp(0, 1)")}),
    )


@rule("NLH501", "bce-range", "BCELoss given logits (no sigmoid)",
      families=("bce-input-range",),
      examples=(
          Example(
              "import torch, torch.nn as nn\n"
              "model = nn.Linear(10, 1)\n"
              "optimizer = torch.optim.SGD(model.parameters(), lr=0.1)\n"
              "criterion = nn.BCELoss()\n"
              "x, y = torch.randn(64, 10), torch.randint(0, 2, (64, 1)).float()\n"
              "optimizer.zero_grad()\n"
              "outputs = model(x)\n"
              "loss = criterion(outputs, y)",
              expect=("criterion = nn.BCEWithLogitsLoss()", "loss = criterion(outputs, y)", "logits",
                      "torch.sigmoid(outputs)")),
          Example(
              "import torch, torch.nn.functional as F\n"
              "fc = torch.nn.Linear(8, 3)\n"
              "feats = torch.randn(32, 8)\n"
              "tags = torch.randint(0, 2, (32, 3)).float()\n"
              "loss = F.binary_cross_entropy(fc(feats), tags)",
              expect=("loss = F.binary_cross_entropy_with_logits(fc(feats), tags)",)),
      ))
def bce_logits(ctx) -> Hint | None:
    """Raw scores (logits) given to BCELoss, which expects sigmoid probabilities."""
    found = _bce(ctx)
    if not found:
        return None
    inp, tgt = found
    if inp.has_nan or inp.min is None or not (inp.min < -TOL or inp.max > 1 + TOL):
        return None
    if inp.min >= -TOL and inp.producer not in ("a Linear layer", "a convolution", "relu"):
        # all non-negative and not a layer's raw output: probabilities summed or scaled (an ensemble, p * 1.1),
        # exp(...), counts; a sigmoid on top of them would never go below 0.5, so "use the logits" is wrong
        return None
    name = ctx.code("input")
    source = {"a Linear layer": "comes straight from a Linear layer and ",
              "a convolution": "comes straight from a convolution and ",
              "relu": "comes from a ReLU and "}.get(inp.producer or "", "")
    relu = (" Drop the final ReLU too: logits must be free to go negative." if inp.producer == "relu" else "")
    also = ""
    if tgt.min is not None and (tgt.min < 0 or tgt.max > 1):
        also = f" {ctx.code('target')} is out of [0, 1] as well ({_span(tgt)}): BCE targets must be in [0, 1]."
    sig = ctx.fix({"input": f"torch.sigmoid({ctx.name('input')})"})
    return Hint(
        title=f"{name} holds logits (values in [{_num(inp.min)}, {_num(inp.max)}]), but {ctx.loss_label} "
              "expects probabilities in [0, 1]",
        message=(f"{ctx.loss_label} takes probabilities (after a sigmoid); {name} {source}has values outside "
                 f"[0, 1], which is what raw scores (logits) look like. Use BCEWithLogitsLoss: it applies "
                 f"the sigmoid itself, in a numerically stable way.{relu}{also}"),
        fix=_with_logits(ctx) + (f"\n# or keep {ctx.loss_label}: {sig}" if sig else ""),
    )


# --- bce-range: the target -------------------------------------------------------------------------------

@rule("NLH511", "nan-inf", "NaN in the target of BCELoss (missing labels)",
      families=("bce-target-range",),
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "criterion = nn.BCELoss()\n"
          "probs = torch.rand(6)\n"
          "labels = torch.tensor([1., 0., float('nan'), 1., 0., 1.])   # an unlabeled sample\n"
          "loss = criterion(probs, labels)",
          expect=("labels", "NaN", "keep = ~torch.isnan(labels)", "criterion(probs[keep], labels[keep])")),))
def bce_target_nan(ctx) -> Hint | None:
    """NaN labels (missing annotations) fail the range check."""
    found = _bce(ctx)
    if not found:
        return None
    _, tgt = found
    if not (tgt.has_nan or tgt.has_inf):
        return None
    name = ctx.name("target")
    what = "NaN" if tgt.has_nan else "Inf"
    rest = f" Its other values are {_span(tgt)}." if tgt.min is not None else ""
    keep = f"keep = ~torch.isnan({name})" if tgt.has_nan else f"keep = torch.isfinite({name})"
    fixed = ctx.fix({"input": ctx.with_method("input", "[keep]"), "target": ctx.with_method("target", "[keep]")})
    return Hint(
        title=f"`{name}` contains {what}: {ctx.loss_label} reports it as a target outside [0, 1]",
        message=(f"`{name}` contains {what}, which fails the check 'between 0 and 1'.{rest} NaN labels "
                 "usually mark missing annotations: leave those samples out of the loss (or fill them "
                 "when the dataset is built)."),
        fix=f"{keep}\n{fixed}" if fixed else keep,
    )


@rule("NLH520", "bce-range", "an 8-bit mask (0/255) used as a BCE target",
      families=("bce-target-range",),
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "net = nn.Sequential(nn.Conv2d(3, 1, 3, padding=1), nn.Sigmoid())\n"
          "criterion = nn.BCELoss()\n"
          "images = torch.randn(2, 3, 8, 8)\n"
          "masks = (torch.rand(2, 1, 8, 8) > 0.5).float() * 255   # as read from PNG files\n"
          "loss = criterion(net(images), masks)",
          expect=("masks", "255", "loss = criterion(net(images), masks / 255)", "(masks > 0).float()")),))
def bce_target_255(ctx) -> Hint | None:
    """Masks read from images hold 0/255 (or 0..255 after resizing), not 0/1."""
    found = _bce(ctx)
    if not found:
        return None
    _, tgt = found
    if tgt.has_nan or tgt.min is None or tgt.min < 0 or not (128 <= tgt.max <= 255):
        return None
    two = tgt.distinct is not None and set(tgt.distinct) <= {0.0, 255.0}
    if not two and not tgt.whole:
        return None
    name = ctx.name("target")
    scaled = ctx.fix({"target": f"{ctx.with_method('target', '')} / 255"})
    if two:
        message = (f"`{name}` holds {{0, 255}}: a binary mask stored as an 8-bit image. BCE needs targets "
                   "in [0, 1]; divide by 255 (or threshold) when loading.")
        alt = ctx.fix({"target": f"({name} > 0).float()"})
    else:
        message = (f"`{name}` holds whole numbers in {_span(tgt)}: an 8-bit image mask, probably resized "
                   "with interpolation (hence the values between 0 and 255). BCE needs targets in [0, 1]: "
                   "divide by 255, or threshold for hard labels (and resize masks with nearest-neighbour).")
        alt = ctx.fix({"target": f"({name} > 127).float()"})
    return Hint(
        title=f"`{name}` is a 0..255 image mask, but {ctx.loss_label} needs targets in [0, 1]",
        message=message,
        fix="\n".join(x for x in (scaled, f"# or hard labels: {alt}" if alt else None) if x) or None,
    )


@rule("NLH522", "bce-range", "{-1, 1} labels given to BCE, which needs {0, 1}",
      families=("bce-target-range",),
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "model = nn.Sequential(nn.Linear(5, 1), nn.Sigmoid())\n"
          "criterion = nn.BCELoss()\n"
          "x = torch.randn(6, 5)\n"
          "y = torch.tensor([[1.], [-1.], [1.], [-1.], [-1.], [1.]])   # SVM-style labels\n"
          "loss = criterion(model(x), y)",
          expect=("{-1, 1}", "loss = criterion(model(x), (y + 1) / 2)")),))
def bce_target_pm1(ctx) -> Hint | None:
    """Labels coded -1/+1 (SVM, margin losses) instead of 0/1."""
    found = _bce(ctx)
    if not found:
        return None
    _, tgt = found
    if tgt.has_nan or tgt.distinct is None or not (set(tgt.distinct) <= {-1.0, 1.0}) or -1.0 not in tgt.distinct:
        return None
    name = ctx.name("target")
    return Hint(
        title=f"`{name}` uses -1/1 labels, but {ctx.loss_label} needs 0/1",
        message=(f"`{name}` holds {_span(tgt)}: the -1/+1 coding of SVMs and margin losses. BCE reads targets "
                 "as probabilities of the positive class, so the negative class must be 0. Map -1 to 0 "
                 "(or use nn.SoftMarginLoss, which takes -1/1 labels, on raw scores)."),
        fix=ctx.fix({"target": f"({name} + 1) / 2"}) or f"{name} = ({name} + 1) / 2",
    )


@rule("NLH530", "wrong-loss", "BCE given class indices 0..C-1 (a multi-class task)",
      families=("bce-target-range",),
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "class Net(nn.Module):\n"
          "    def __init__(self):\n"
          "        super().__init__()\n"
          "        self.fc1 = nn.Linear(20, 32)\n"
          "        self.out = nn.Linear(32, 1)\n"
          "    def forward(self, x):\n"
          "        return torch.sigmoid(self.out(torch.relu(self.fc1(x))))\n"
          "model = Net()\n"
          "optimizer = torch.optim.Adam(model.parameters())\n"
          "criterion = nn.BCELoss()\n"
          "x = torch.randn(12, 20)\n"
          "y = (torch.arange(12) % 4).float().unsqueeze(1)   # classes 0, 1, 2, 3\n"
          "pred = model(x)\n"
          "loss = criterion(pred, y)\n"
          "loss.backward()",
          expect=("CrossEntropyLoss", "model.out", "nn.Linear(", "4)", "y.squeeze(1).long()")),))
def bce_class_indices(ctx) -> Hint | None:
    """Whole-number targets 0..C-1, one per sample: a multi-class task, which is CrossEntropyLoss's.

    Only with at least two values besides 0/1 (a lone extra value may mark what to ignore: NLH541)."""
    found = _class_index_targets(ctx)
    if not found:
        return None
    inp, tgt = found
    hi = int(tgt.max)
    classes = hi + 1
    name = ctx.name("target")
    spatial = inp.ndim >= 3
    if _extra_label(tgt) is not False:  # {0, 1, k} (NLH541), or too many values to call them classes
        return None
    squeeze = ".squeeze(1)" if tgt.ndim >= 2 and tgt.shape[1] == 1 else ""
    new_target = ctx.with_method("target", f"{squeeze}.long()")
    layers = ctx.output_layers(1, conv=spatial)
    if spatial:
        layer = (f"# {layers[0]}: {classes} output channels instead of 1, and no sigmoid" if layers
                 else f"# last layer: {classes} output channels instead of 1, and no sigmoid")
    else:
        layer = (f"{layers[0]} = nn.Linear({layers[0]}.in_features, {classes})   # {classes} logits, no sigmoid"
                 if layers else f"# last layer: nn.Linear(in_features, {classes}) and no sigmoid")
    call = ctx.fix({"target": new_target}) if ctx.module and re.fullmatch(r"[\w.]+", ctx.call.callee if ctx.call else "") else None
    if ctx.module and call:
        ctor = f"{ctx.call.callee} = nn.CrossEntropyLoss()"
        lines = [layer, ctor, call]
    else:
        lines = [layer, f"loss = nn.CrossEntropyLoss()({ctx.name('input')}, {new_target})"]
    return Hint(
        title=f"`{name}` holds class indices 0..{hi}: a {classes}-class task, not a job for {ctx.loss_label}",
        message=(f"`{name}` has whole numbers {_span(tgt)}, one per sample, while BCE needs 0/1 targets and "
                 f"{ctx.code('input')} has a single output per sample. For {classes} classes, give the model "
                 f"{classes} outputs and use CrossEntropyLoss with the indices as int64 (it applies softmax "
                 "itself" + (", so drop the final sigmoid)." if inp.producer == "sigmoid" else ").")),
        fix="\n".join(lines),
    )


def _class_index_targets(ctx):
    """(input, target) of a BCE call whose target holds whole numbers 0..k (k >= 2) for one output per sample."""
    found = _bce(ctx)
    if not found:
        return None
    inp, tgt = found
    if tgt.has_nan or tgt.min is None or not tgt.whole or tgt.min < 0 or not (2 <= tgt.max <= 1000):
        return None
    if inp.ndim >= 2 and inp.shape[1] != 1:  # several outputs per sample: not one label per sample
        return None
    return inp, tgt


def _extra_label(tgt):
    """The one value besides 0/1 in the target ({0, 1, k}), None when the values are unknown, else False."""
    if tgt.distinct is None:
        return None
    extra = set(tgt.distinct) - {0.0, 1.0}
    return extra.pop() if len(extra) == 1 else False


@rule("NLH541", "bce-range", "BCE targets {0, 1, k}: k marks what to ignore, or the task has more classes",
      families=("bce-target-range",),
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "net = nn.Sequential(nn.Conv2d(3, 1, 3, padding=1), nn.Sigmoid())   # edge map\n"
          "criterion = nn.BCELoss()\n"
          "images = torch.rand(2, 3, 8, 8)\n"
          "edges = torch.zeros(2, 1, 8, 8)\n"
          "edges[:, :, 3] = 1.0   # edge pixels\n"
          "edges[:, :, 4] = 2.0   # uncertain pixels\n"
          "loss = criterion(net(images), edges)",
          expect=("keep = edges != 2", "loss = criterion(net(images)[keep], edges[keep])", "3 classes",
                  "per pixel")),))
def bce_ignore_or_classes(ctx) -> Hint | None:
    """Targets {0, 1, k} for a single output: k may mark what to ignore (the uncertain band of an edge map),
    or the task has more classes. Both are said; the fix shown (masking k out) keeps the model as it is."""
    found = _class_index_targets(ctx)
    if not found:
        return None
    inp, tgt = found
    k = _extra_label(tgt)
    if k is None or k is False:
        return None
    name, where = ctx.name("target"), ("pixel" if inp.ndim >= 3 else "sample")
    value = _num(k)
    classes = (f"If the task has {int(k) + 1} classes instead, the model needs {int(k) + 1} outputs per "
               if k == 2 else "If these are class labels instead, the model needs one output per class per ")
    keep = f"keep = {_method_free(name)} != {value}   # the {where}s marked {value} are left out"
    fixed = (ctx.fix({"input": ctx.with_method("input", "[keep]"), "target": ctx.with_method("target", "[keep]")})
             if inp.shape == tgt.shape else None)
    return Hint(
        title=f"`{name}` holds {_span(tgt)}, but {ctx.loss_label} needs 0/1 targets",
        message=(f"`{name}` has whole numbers {_span(tgt)} while BCE reads each target as a probability in "
                 f"[0, 1], and {ctx.code('input')} has a single output per {where}. If {value} marks "
                 f"{where}s to ignore (uncertain or unlabelled), leave them out of the loss and keep BCE. "
                 f"{classes}{where} and CrossEntropyLoss with `{name}` as int64 indices."),
        fix=f"{keep}\n{fixed}" if fixed else keep,
    )


def _method_free(expr: str) -> str:
    """``expr`` safe on the left of a comparison."""
    return expr if re.fullmatch(r"[\w.]+(\[[^\]]*\])?", expr) else f"({expr})"


@rule("NLH523", "bce-range", "BCE targets outside [0, 1]",
      families=("bce-target-range",),
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "probs = torch.rand(5)\n"
          "scores = torch.tensor([0.5, 1.7, 2.25, 0.1, 3.8])\n"
          "loss = nn.BCELoss()(probs, scores)",
          expect=("scores", "0.1..3.8", "MSELoss")),
          Example(
          "import torch, torch.nn.functional as F\n"
          "x = (torch.rand(8, 1, 28, 28) - 0.5) / 0.5   # transforms.Normalize((0.5,), (0.5,))\n"
          "x_hat = torch.sigmoid(torch.randn(8, 1, 28, 28))\n"
          "loss = F.binary_cross_entropy(x_hat, x)",
          expect=("loss = F.binary_cross_entropy(x_hat, (x + 1) / 2)", "images normalised to [-1, 1]")),
      ))
def bce_target_other(ctx) -> Hint | None:
    """Any other target outside [0, 1]: real-valued scores that are not probabilities.

    Real values that fill [-1, 1] are, almost always, images normalised with mean 0.5 and std 0.5 (the
    usual GAN/VAE transform) used as a reconstruction target: ``(x + 1) / 2`` maps them back to [0, 1].
    """
    found = _bce(ctx)
    if not found:
        return None
    _, tgt = found
    if tgt.has_nan or tgt.min is None or (tgt.min >= 0 and tgt.max <= 1):
        return None
    name = ctx.name("target")
    real = not tgt.whole
    if real and -1.001 <= tgt.min <= -0.8 and tgt.max <= 1.001:  # min near -1
        return _normalised_target(ctx, tgt)
    return Hint(
        title=f"`{name}` has values outside [0, 1] (it runs {_num(tgt.min)}..{_num(tgt.max)}), which {ctx.loss_label} cannot take",
        message=(f"BCE reads each target as the probability of the positive class, so it must lie in "
                 f"[0, 1]; `{name}` runs {_num(tgt.min)}..{_num(tgt.max)}. "
                 + ("Real-valued targets like these look like a regression task: use nn.MSELoss (or "
                    "nn.SmoothL1Loss), or rescale the targets to [0, 1] if they are meant as probabilities."
                    if real else "Check how the labels are encoded; binary labels must be 0 and 1.")),
        fix=None,
        evidence=_target_as(ctx, tgt, "real values") if real else None,  # a target, never "logits"
    )


def _target_as(ctx, tgt, role: str) -> tuple[str, ...]:
    """The call's evidence lines with the target described as ``role``."""
    from dataclasses import replace

    from ..explain import default_evidence

    return default_evidence(replace(ctx, tensors={**ctx.tensors, "target": replace(tgt, role=role)}))


def _normalised_target(ctx, tgt) -> Hint:
    """A BCE target in [-1, 1]: images (or values) normalised to [-1, 1], to map back to [0, 1]."""
    name = ctx.name("target")
    images = tgt.ndim >= 3
    what = "images normalised to [-1, 1]" if images else "real values in [-1, 1]"
    simple = re.fullmatch(r"[\w.]+", name.strip())
    rescaled = f"({name} + 1) / 2" if simple else f"(({name}) + 1) / 2"
    fix = ctx.fix({"target": rescaled}) or f"{name} = {rescaled}"
    how = ("transforms.Normalize((0.5,), (0.5,)) or (x - 0.5) / 0.5, the usual GAN/VAE preprocessing"
           if images else "as a (v - 0.5) / 0.5 scaling gives")
    return Hint(
        title=f"`{name}` holds {what}; {ctx.loss_label} needs targets in [0, 1]",
        message=(f"BCE reads each target as a probability in [0, 1], but `{name}` runs "
                 f"{_num(tgt.min)}..{_num(tgt.max)}: {what} ({how}). Map it back to [0, 1] for the loss "
                 f"with `{rescaled}`, or drop the normalisation; or, for real-valued targets, use "
                 f"nn.MSELoss."),
        fix=fix,
        evidence=_target_as(ctx, tgt, "normalised images" if images else "real values"),
    )


# --- nan-inf: anomaly mode ---------------------------------------------------------------------------------

def _anomaly(ctx):
    m = ctx.family("anomaly-nan")
    loss = ctx.t("loss")
    if m is None or ctx.via != "backward" or loss is None or not loss.values:
        return None
    return m.groups.get("function", ""), loss


def _sqrt_call(value):
    """The ``sqrt(...)`` call (or ``** 0.5``) in a loss expression, with its argument."""
    for node in ast.walk(value):
        if isinstance(node, ast.Call) and node.args and (
                (isinstance(node.func, ast.Attribute) and node.func.attr == "sqrt")
                or (isinstance(node.func, ast.Name) and node.func.id == "sqrt")):
            return node, node.args[0]
        if (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow) and isinstance(node.right, ast.Constant)
                and node.right.value == 0.5):
            return node, node.left
    return None


@rule("NLH513", "nan-inf", "sqrt of a zero loss (RMSE): an infinite gradient turns NaN in the loss's backward",
      families=("anomaly-nan",),
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "w = torch.ones(3, requires_grad=True)\n"
          "target = torch.ones(3)\n"
          "with torch.autograd.detect_anomaly():\n"
          "    loss = torch.sqrt(nn.MSELoss()(w, target))   # RMSE\n"
          "    loss.backward()",
          expect=("loss = torch.sqrt(nn.MSELoss()(w, target) + 1e-8)", "MseLossBackward0", "line 5")),))
def sqrt_of_zero_loss(ctx) -> Hint | None:
    """RMSE as ``sqrt(mse)``: at a loss of exactly 0 the gradient of sqrt is infinite, then 0 * inf = NaN."""
    found = _anomaly(ctx)
    if not found:
        return None
    function, loss = found
    graph = ctx.graph
    if function not in LOSS_NODES or not graph or graph[0] not in ("SqrtBackward0", "PowBackward0"):
        return None
    if loss.has_nan or loss.min is None or loss.min != 0 or function not in graph[1:3]:
        return None
    expr = ctx.name("loss")
    fix = "loss = torch.sqrt(mse + 1e-8)   # mse: the loss inside the square root"
    where = ""
    stated = loss_statement(ctx)
    if stated:
        prog, stmt, value = stated
        sq = _sqrt_call(value)
        if sq:
            line = prog.first_line(stmt)
            node_text, arg_text = prog.segment(sq[0]), prog.segment(sq[1])
            fixed_node = node_text.replace(arg_text, f"{arg_text} + 1e-8", 1) if isinstance(sq[0], ast.Call) \
                else f"({arg_text} + 1e-8) ** 0.5"
            if node_text in line:
                fix = line.replace(node_text, fixed_node, 1)
                where = f" (line {prog.line(stmt)})"
    return Hint(
        title=f"`{expr}` is the square root of a loss that is exactly 0: its gradient is infinite",
        message=(f"`{expr}`{where} is sqrt({LOSS_NODES[function]}), and that loss is 0 here (a perfect fit, or "
                 "identical predictions and targets). The derivative of sqrt is infinite at 0, and "
                 f"{function} multiplies it by the zero residuals: 0 * inf = NaN. Add a small epsilon "
                 "inside the square root."),
        fix=fix,
    )


# --- unstable-log: log(softmax(x)), log(sigmoid(x)), log(1 - sigmoid(x)) ---------------------------------------

LOG_OVER = {  # what the log is taken of -> the autograd edges (node, its input) that show it
    "softmax": (("LogBackward0", "SoftmaxBackward0"),),
    "sigmoid": (("LogBackward0", "SigmoidBackward0"),),
    "1 - sigmoid": (("LogBackward0", "RsubBackward1"), ("RsubBackward1", "SigmoidBackward0")),
}
NAN_NODES = ("LogBackward0", "SoftmaxBackward0", "SigmoidBackward0", "RsubBackward1")


def _log_over(ctx) -> str | None:
    """Which ``log(probabilities)`` the loss's graph holds whose probabilities hit exactly 0 (or 1 for 1 - p)."""
    edges = set(ctx.graph_edges)
    for kind, pattern in LOG_OVER.items():
        if not all(e in edges for e in pattern):
            continue
        facts = ctx.graph_results.get(">".join(pattern[-1]))
        if facts is None or not facts.values or facts.has_nan or facts.has_inf or facts.min is None:
            continue
        if (facts.max == 1.0) if kind == "1 - sigmoid" else (facts.min == 0.0):
            return kind
    return None


def _callee_last(node) -> str | None:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None


def _functional_prefix(ctx) -> str:
    """How the user can write torch.nn.functional: ``F``, ``nn.functional`` or ``torch.nn.functional``."""
    import torch

    if ctx.lookup("F") is torch.nn.functional:
        return "F"
    if ctx.lookup("nn") is torch.nn:
        return "nn.functional"
    return "torch.nn.functional"


def _prob_call(prog, node, binds, before: int, depth: int = 0, name: str | None = None):
    """``(kind, call, name)`` when ``node`` is (a name bound to) softmax(...), sigmoid(...) or 1 - sigmoid(...);
    ``name`` is the variable that holds the probabilities, if any."""
    if depth > 3:
        return None
    if isinstance(node, ast.Name):
        found = [(st, v) for st, v in binds.get(node.id, ()) if isinstance(st, ast.Assign) and st.lineno <= before]
        if not found:
            return None
        stmt, value = max(found, key=lambda p: p[0].lineno)
        return _prob_call(prog, value, binds, stmt.lineno, depth + 1, node.id)
    if isinstance(node, ast.Call) and _callee_last(node) in ("softmax", "sigmoid") \
            and not isinstance(node.func, ast.Call):
        return _callee_last(node), node, name
    if (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Sub) and isinstance(node.left, ast.Constant)
            and node.left.value == 1):
        inner = _prob_call(prog, node.right, binds, before, depth + 1)
        if inner and inner[0] == "sigmoid":
            return "1 - sigmoid", inner[1], inner[2]
    return None


def _stable_expr(ctx, prog, kind: str, call) -> str | None:
    """The stable replacement of ``log(<call>)`` in the user's own terms."""
    func = call.func
    if not isinstance(func, ast.Attribute):
        return None
    func_text, call_text = prog.segment(func), prog.segment(call)
    owner = prog.segment(func.value)
    if kind == "softmax":  # torch.softmax / F.softmax / x.softmax(1)  ->  the same with log_softmax
        functional = owner in ("torch", "F", "nn.functional", "torch.nn.functional", "functional")
        dim = call.args[0] if call.args and not functional else None
        if dim is not None and not (isinstance(dim, ast.Constant) and type(dim.value) is int) and not (
                isinstance(dim, ast.UnaryOp) and isinstance(dim.operand, ast.Constant)):
            return None  # self.softmax(x): a module of the user's, not Tensor.softmax(dim)
        return func_text[: -len("softmax")] + "log_softmax" + call_text[len(func_text):]
    is_module = owner in ("torch", "F", "nn.functional", "torch.nn.functional", "functional")
    if (len(call.args) != 1 or call.keywords) if is_module else (call.args or call.keywords):
        return None  # x.sigmoid() takes no argument: self.sigmoid(x) is a module of the user's
    arg = prog.segment(call.args[0]) if is_module else owner
    prefix = owner if owner in ("F", "nn.functional", "torch.nn.functional", "functional") else _functional_prefix(ctx)
    if kind == "1 - sigmoid":
        simple = re.fullmatch(r"[\w.]+(\([^()]*\))?", arg)
        arg = f"-{arg}" if simple else f"-({arg})"
    return f"{prefix}.logsigmoid({arg})"


def _log_rewrite(ctx, kind: str):
    """``(line, probabilities, line number)``: the user's line with its ``torch.log(<probabilities>)`` made
    stable (every one of the same family in the statement), and how the probabilities are written."""
    from .backward import assignments, path_to

    stated = loss_statement(ctx)
    if not stated:
        return None
    prog, stmt, _ = stated
    binds = assignments(prog)
    rel = ctx.call.lineno - prog.start + 1
    path, _ = path_to(prog, _names_in(ctx.call.args["loss"]) or [ctx.call.args["loss"].strip()], rel)
    family = {"softmax"} if kind == "softmax" else {"sigmoid", "1 - sigmoid"}
    for st, value in sorted(path, key=lambda p: -p[0].lineno):
        line, probs, changed = prog.statement(st), None, False
        for node in ast.walk(value):
            if not isinstance(node, ast.Call) or _callee_last(node) != "log" or not isinstance(node.func, ast.Attribute):
                continue
            owner = node.func.value
            if isinstance(owner, ast.Name) and owner.id in ("torch", "np", "math"):
                if owner.id != "torch" or len(node.args) != 1 or node.keywords:
                    continue
                arg = node.args[0]
            elif not node.args and not node.keywords:
                arg = owner
            else:
                continue
            found = _prob_call(prog, arg, binds, st.lineno)
            if not found or found[0] not in family:
                continue
            new, old = _stable_expr(ctx, prog, found[0], found[1]), prog.segment(node)
            if not new or old not in line:
                continue
            line, changed = line.replace(old, new, 1), True
            if found[0] == kind and probs is None:
                probs = found[2] or prog.segment(found[1])
        if changed and probs:
            return line, probs, prog.line(st)
    return None


@rule("NLH540", "unstable-log", "log(softmax(x)) or log(sigmoid(x)): probabilities that round to 0 give -inf and NaN",
      families=("anomaly-nan",),
      examples=(Example(
          "import torch\n"
          "logits = torch.tensor([[80.0, -30.0, 5.0], [-20.0, 90.0, 0.0]], requires_grad=True)\n"
          "targets = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])\n"
          "with torch.autograd.detect_anomaly():\n"
          "    probs = torch.softmax(logits, dim=1)\n"
          "    loss = -(targets * torch.log(probs)).sum(dim=1).mean()\n"
          "    loss.backward()",
          expect=("loss = -(targets * torch.log_softmax(logits, dim=1)).sum(dim=1).mean()", "`probs`",
                  "exactly 0", "LogBackward0")),))
def unstable_log(ctx) -> Hint | None:
    """log over softmax/sigmoid outputs (read from the loss's autograd graph): float32 probabilities round to
    exactly 0 for logits far apart, log(0) = -inf, and its gradient 1/p turns NaN. log_softmax/logsigmoid
    compute the same values without forming the 0."""
    found = _anomaly(ctx)
    if not found:
        return None
    function, loss = found
    if function not in NAN_NODES:
        return None
    kind = _log_over(ctx)
    if kind is None:
        return None
    probs = ctx.graph_results[">".join(LOG_OVER[kind][-1])]
    rewrite = _log_rewrite(ctx, kind) if ctx.call is not None and "loss" in ctx.call.args else None
    expr = ctx.name("loss")
    named, origin = None, ""
    if rewrite:
        fix, named, _ = rewrite
        what = f"`{named}`"
        origin = f" (from {'softmax' if kind == 'softmax' else 'sigmoid'})" if named.isidentifier() else ""
    else:
        what = f"the {kind.split()[-1]} output"
        fix = {"softmax": "F.log_softmax(logits, dim=1)   # instead of torch.log(F.softmax(logits, dim=1))",
               "sigmoid": "F.logsigmoid(logits)   # instead of torch.log(torch.sigmoid(logits))",
               "1 - sigmoid": "F.logsigmoid(-logits)   # instead of torch.log(1 - torch.sigmoid(logits))"}[kind]
    op = "softmax" if kind == "softmax" else "sigmoid"
    stable = "log_softmax" if kind == "softmax" else "logsigmoid"
    if kind == "1 - sigmoid":
        title = f"log(1 - sigmoid(...)) in `{expr}`: sigmoid outputs of exactly 1 give log(0) = -inf and NaN gradients"
        values = ("has entries that are exactly 1: in float32, sigmoid rounds to 1 once a logit is above about "
                  "17, so 1 - p is 0" if probs.dtype == "float32" else
                  "has entries that are exactly 1: sigmoid rounds to 1 for large logits, so 1 - p is 0")
        extreme = f"largest value exactly {_num(probs.max)}"
    else:
        title = f"log({op}(...)) in `{expr}`: probabilities of exactly 0 give log = -inf and NaN gradients"
        values = (f"has entries that are exactly 0: in float32, {op} rounds to 0 once "
                  + ("the logits of a row are far apart (about 104 apart)" if op == "softmax"
                     else "a logit is below about -104")
                  if probs.dtype == "float32" else
                  f"has entries that are exactly 0: {op} rounds to 0 once the logits are far enough apart")
        extreme = "smallest value exactly 0"
    value = "nan" if loss.has_nan else "inf" if loss.has_inf else ""
    names = [expr, named or f"{op} output"]
    width = max(len(n) for n in names)
    evidence = (f"{expr:<{width}}  " + (f"{loss.dtype}[{', '.join(map(str, loss.shape))}] = {value}" if value
                                         else loss.summary()),
                f"{names[1]:<{width}}  {probs.summary()}, {extreme}",
                f"autograd: {' <- '.join(ctx.graph[:6])}")
    return Hint(
        title=title,
        message=(f"{what[0].upper() + what[1:]}{origin} {values}, and log(0) = -inf"
                 + {"nan": f", which makes `{expr}` nan" + (" (0 * -inf = nan)" if "MulBackward0" in ctx.graph else ""),
                    "inf": f", which makes `{expr}` inf", "": ""}[value]
                 + f". The gradient of log at 0 is infinite, which anomaly mode reports as NaN in {function}. "
                 f"{stable} computes the same log-probabilities directly from the logits, without ever forming "
                 "the 0."),
        fix=fix,
        evidence=evidence,
    )


@rule("NLH512", "nan-inf", "anomaly mode: NaN in a loss's backward because the loss itself is NaN/Inf",
      families=("anomaly-nan",),
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "counts = torch.tensor([40., 0., 25.])   # class 1 has no samples\n"
          "criterion = nn.CrossEntropyLoss(weight=1.0 / counts)\n"
          "model = nn.Linear(5, 3)\n"
          "x, labels = torch.randn(4, 5), torch.tensor([0, 1, 2, 1])\n"
          "with torch.autograd.detect_anomaly():\n"
          "    loss = criterion(model(x), labels)\n"
          "    loss.backward()",
          expect=("NllLossBackward0", "`loss` is", "class weight of `criterion` contains Inf",
                  "torch.isfinite(criterion.weight)")),))
def anomaly_nan_loss(ctx) -> Hint | None:
    """Anomaly mode names the loss's backward (or the log_softmax/sigmoid feeding it); the loss is NaN."""
    found = _anomaly(ctx)
    if not found:
        return None
    function, loss = found
    if not (loss.has_nan or loss.has_inf):
        return None
    if function in LOSS_NODES:
        loss_name = LOSS_NODES[function]
    elif function in LOSS_INPUT_NODES and ctx.loss:
        loss_name = next((LOSS_NODES[n] for n in ctx.graph if n in LOSS_NODES), ctx.loss)
    else:
        return None
    expr = ctx.name("loss")
    value = "nan" if loss.has_nan else "inf"
    own = bool(ctx.graph) and ctx.graph[0] in LOSS_NODES
    where = ("the forward pass already produced it" if own else
             f"it is built from {loss_name} through further operations ({ctx.graph[0]} last), which may "
             "also produce it (a division by zero, a log of 0)")
    stated = loss_statement(ctx)
    exprs, call_args = [], []
    if stated:
        prog, stmt, value_node = stated
        exprs = [prog.segment(value_node)]
        if isinstance(value_node, ast.Call):
            call_args = [prog.segment(a) for a in value_node.args[:2]]
    origin = _nan_origin(ctx, exprs) if exprs else None
    if origin:
        cause, fix = f" Here {origin[0]}.", origin[1]
    else:
        cause = (" A NaN loss comes from NaN/Inf in the model's outputs, the targets or a class weight, or from "
                 "a model that diverged (learning rate too high, no gradient clipping). Look at the loss's "
                 "inputs for the first batch where it happens.")
        simple = [a for a in call_args if re.fullmatch(r"[\w.]+", a)]
        fix = (" and ".join(f"torch.isfinite({a}).all()" for a in simple) if simple
               else "torch.isfinite(outputs).all()") + "   # check the loss's inputs, batch by batch"
        fix = "assert " + fix
    return Hint(
        title=f"`{expr}` is {value}: anomaly mode stopped in {function}, the backward of {loss_name}",
        message=f"{function} returned NaN gradients because `{expr}` is already {value}: {where}.{cause}",
        fix=fix,
        evidence=(f"{expr}  {loss.summary()}", f"autograd: {' <- '.join(ctx.graph[:4])}") if ctx.graph else None,
    )


RULES = [bce_input_nan, bce_tanh_input, bce_rounding, bce_logits,
         bce_target_nan, bce_target_255, bce_target_pm1, bce_ignore_or_classes, bce_class_indices, bce_target_other,
         sqrt_of_zero_loss, unstable_log, anomaly_nan_loss]
