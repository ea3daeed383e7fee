"""Audits for scores flattened to (rows, C) in the wrong memory order before a class-index loss.

``out.reshape(-1, C)`` only lines rows up with ``target.reshape(-1)`` when both tensors list samples and
positions in the same order and the classes are the *last* dim of ``out``. Two layouts break that
without any size check failing: channels-first scores (N, C, T) from a convolution, whose rows of C then
mix classes and positions; and sequence-first scores (T, B, C) from an RNN flattened against batch-first
labels (B, T), whose rows pair the wrong (time, sample). The evidence is metadata only: the sizes that
the autograd ``view``/``reshape`` node saved (the shape before flattening) and, for the labels, the shape
of the tensor they are a flat view of. No value is read.
"""

from __future__ import annotations

import ast
import math

from ..probe import VIEW_NODES
from .base import Example, Hint, LossCall, audit
from .formats import CLASS_LOSSES

_HEAD = "import torch, torch.nn as nn, torch.nn.functional as F\n"
# Ops between a convolution and the flattening that keep the channels in dim 1.
_KEEPS_CHANNELS = frozenset({
    "ReluBackward0", "LeakyReluBackward0", "GeluBackward0", "EluBackward0", "SiluBackward0", "TanhBackward0",
    "HardtanhBackward0", "NativeBatchNormBackward0", "CudnnBatchNormBackward0", "NativeDropoutBackward0",
    "CloneBackward0", "ToCopyBackward0", "UpsampleBilinear2DBackward0", "UpsampleNearest2DBackward0",
    "UpsampleNearest1DBackward0", "UpsampleLinear1DBackward0", "AddBackward0", "LogSoftmaxBackward0",
    "SoftmaxBackward0",
})
_COPIES = frozenset({"CloneBackward0", "ToCopyBackward0", "AliasBackward0", "ContiguousBackward0"})
_CONVS = frozenset({"ConvolutionBackward0", "MkldnnConvolutionBackward0", "CudnnConvolutionBackward0",
                    "SlowConv2DBackward0", "ConvolutionBackwardOverrideable"})


def _shape(shape) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def flattened_from(call: LossCall, name: str) -> tuple[tuple[int, ...], object] | None:
    """The shape ``name`` had before the view/reshape that made it, and that node's parent, from grad_fn."""
    t = call.tensor(name)
    fn = getattr(t, "grad_fn", None)
    if fn is None or type(fn).__name__ not in VIEW_NODES:
        return None
    sizes = getattr(fn, "_saved_self_sym_sizes", None)
    if sizes is None:
        return None
    parent = next((f for f, _ in fn.next_functions if f is not None), None)
    return tuple(int(s) for s in sizes), parent


def _flat_scores(call: LossCall):
    """(rows, C) scores made by a view/reshape: their shape, the shape before it and that node's parent."""
    shape = call.shape("input")
    if not shape or len(shape) != 2:
        return None
    found = flattened_from(call, "input")
    return None if found is None else (tuple(shape), *found)


def _after_conv(node) -> bool:
    """A convolution made these values, through ops that keep its channels in dim 1."""
    for _ in range(8):
        if node is None:
            return False
        name = type(node).__name__
        if name in _CONVS:
            return True
        if name not in _KEEPS_CHANNELS:
            return False
        node = next((f for f, _ in node.next_functions if f is not None and type(f).__name__ != "AccumulateGrad"),
                    None)
    return False


def _moved_to_dim_1(call: LossCall, node) -> bool:
    """A Linear layer's outputs (classes last), transposed into dim 1 right before the flattening."""
    for _ in range(4):
        if node is None or type(node).__name__ not in _COPIES:
            break
        node = next((f for f, _ in node.next_functions if f is not None), None)
    if node is None or type(node).__name__ not in ("TransposeBackward0", "PermuteBackward0"):
        return False
    o = call.origin("input")
    return o.producer == "linear" and o.reordered


def _flat_labels_of(call: LossCall, name: str = "target") -> tuple[str, tuple[int, ...]] | None:
    """``("tags", (N, T))`` when the argument is written ``tags.view(-1)`` / ``.reshape(-1)`` / ``.flatten()``
    and is that tensor flattened: a view of the same memory (same size, contiguous), or, for a copy
    (``reshape`` of a transposed tensor), the tensor bound to that name in the user's frame (shape only)."""
    import torch

    t = call.tensor(name)
    if t is None or t.dim() != 1:
        return None
    base = getattr(t, "_base", None)
    if base is not None and (base.dim() < 2 or base.numel() != t.numel() or not base.is_contiguous()
                             or not t.is_contiguous() or base.data_ptr() != t.data_ptr()):
        return None
    expr = call.name(name)
    try:
        node = ast.parse(expr.strip(), mode="eval").body
    except SyntaxError:
        return None
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and not node.keywords):
        return None
    method, args = node.func.attr, [ast.unparse(a) for a in node.args]
    if not ((method in ("view", "reshape") and args == ["-1"]) or (method == "flatten" and args in ([], ["0"]))):
        return None
    inner = node.func.value
    while (isinstance(inner, ast.Call) and isinstance(inner.func, ast.Attribute)
           and inner.func.attr in ("contiguous", "long") and not inner.args):
        inner = inner.func.value
    if not isinstance(inner, ast.Name):
        return None
    if base is None:  # a copy: the name's tensor in the user's frame, read from its metadata
        frame = call.user_frame()
        scopes = (frame.f_locals, frame.f_globals) if frame is not None else ()
        base = next((scope[inner.id] for scope in scopes if inner.id in scope), None)
        del frame, scopes
        if not issubclass(type(base), torch.Tensor) or base.dim() < 2 or base.numel() != t.numel():
            return None
    return inner.id, tuple(int(s) for s in base.shape)


def _reshape_call(expr: str) -> tuple[str, str] | None:
    """``out.reshape(-1, C)`` -> ``("out", "-1, C")``."""
    try:
        node = ast.parse(expr.strip(), mode="eval").body
    except SyntaxError:
        return None
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("view", "reshape")
            and not node.keywords and node.args):
        text = expr.strip()
        base = ast.get_source_segment(text, node.func.value)
        if isinstance(node.func.value, (ast.Name, ast.Attribute, ast.Call, ast.Subscript)) and base:
            return base, ", ".join(ast.get_source_segment(text, a) for a in node.args)
    return None


@audit("NLH842", "class-dim", "channels-first (N, C, T) scores flattened with reshape(-1, C): classes and positions mixed",
       losses=CLASS_LOSSES, severity="error",
       examples=(Example(_HEAD + "torch.manual_seed(0)\n"
                         "N, C, T = 4, 5, 6\n"
                         "tagger = nn.Conv1d(8, C, 3, padding=1)\n"
                         "feats = torch.randn(N, 8, T)\n"
                         "tags = torch.randint(0, C, (N, T))\n"
                         "out = tagger(feats)                           # (N, C, T)\n"
                         "loss = F.cross_entropy(out.reshape(-1, C), tags.reshape(-1))",
                         expect=("NLH842", "loss = F.cross_entropy(out, tags)",
                                 "out.permute(0, 2, 1).reshape(-1, C)")),))
def channels_first_flattened(call: LossCall) -> Hint | None:
    """A convolution writes its C channels to dim 1: (N, C, T) or (N, C, H, W). Reshaping that to (-1, C)
    cuts memory into rows of C consecutive values, which run along T (or W), not along the channels: each
    row mixes one class's scores at C positions. No size check fails, so the loss trains on noise. The
    classes must be moved last first, or the unflattened scores given to the loss (it accepts (N, C, d1...))."""
    found = _flat_scores(call)
    if found is None:
        return None
    (rows, c), before, parent = found
    if len(before) < 3 or before[1] != c or before[-1] == c or math.prod(before[2:]) <= 1:
        return None
    if before[0] * math.prod(before[2:]) != rows or call.shape("target") != (rows,):
        return None
    expr, inp = call.name("input"), call.code("input")
    if _after_conv(parent):
        why = (f"its grad_fn says a convolution produced the {_shape(before)} tensor, and a convolution "
               f"writes its {c} channels to dim 1 (certain)")
    elif _moved_to_dim_1(call, parent):
        why = (f"its grad_fn says a Linear layer produced the scores, which were then transposed to "
               f"{_shape(before)}: the Linear layer's {c} outputs now sit in dim 1 (likely)")
    else:
        return None  # a view of a flat layer output ((N, C*K).view(N, C, K)) is an arrangement it can learn
    order = ", ".join(["0"] + [str(d) for d in range(2, len(before))] + ["1"])
    parts = _reshape_call(expr)
    lines = []
    labels = _flat_labels_of(call)
    if parts is not None:
        base, args = parts
        if labels is not None and labels[1] == (before[0], *before[2:]):
            direct = call.fix({"input": base, "target": labels[0]})
            if direct:
                lines += [direct, f"# the loss takes {_shape(before)} scores with {_shape(labels[1])} labels; "
                                  "or move the classes last before flattening:"]
        permuted = call.fix({"input": f"{base}.permute({order}).reshape({args})"})
        lines.append(permuted or f"{base}.permute({order}).reshape({args})")
    return Hint(
        title=(f"{inp} flattens channels-first scores {_shape(before)} with reshape(-1, {c}): each row mixes "
               "classes and positions"),
        message=(f"{why[0].upper() + why[1:]}. Reshaping to (-1, {c}) without moving the classes last cuts "
                 f"memory into rows of {c} consecutive values along the last dim, so a row holds one class's "
                 f"scores at {c} positions, not the {c} class scores of one position. No size check fails; "
                 f"{call.loss_label} trains on scrambled scores. Pass the scores unflattened, or permute the "
                 "classes to the last dim first."),
        fix="\n".join(lines) if lines else f"permute({order}) the scores before reshape(-1, {c})",
    )


@audit("NLH843", "class-dim", "sequence-first (T, B, C) scores flattened against batch-first (B, T) labels",
       losses=CLASS_LOSSES, severity="error",
       examples=(Example(_HEAD + "torch.manual_seed(0)\n"
                         "V, T, B = 12, 5, 4\n"
                         "rnn = nn.LSTM(8, 16)                    # seq-first (batch_first=False)\n"
                         "decoder = nn.Linear(16, V)\n"
                         "emb = torch.randn(T, B, 8)\n"
                         "targets = torch.randint(0, V, (B, T))    # batch-first targets\n"
                         "output, _ = rnn(emb)\n"
                         "logits = decoder(output)                 # (T, B, V)\n"
                         "loss = F.cross_entropy(logits.view(-1, V), targets.view(-1))",
                         expect=("NLH843", "loss = F.cross_entropy(logits.transpose(0, 1).reshape(-1, V), "
                                           "targets.view(-1))", "batch_first=True")),))
def time_major_flattened(call: LossCall) -> Hint | None:
    """Scores (T, B, C) flattened to (T*B, C) list time step 0 of every sample first; labels (B, T)
    flattened to (B*T,) list sample 0's every step first. Row i of one is not row i of the other, yet the
    counts agree, so nothing raises. Needs both shapes before flattening (from grad_fn and from the labels'
    memory) and T != B: when T == B the shapes cannot tell the layouts apart."""
    found = _flat_scores(call)
    if found is None:
        return None
    shape, before, _ = found
    if len(before) != 3 or before[-1] != shape[1] or before[0] == before[1]:
        return None
    labels = _flat_labels_of(call)
    if labels is None or labels[1] != (before[1], before[0]):
        return None
    a, b, c = before
    name, inp = labels[0], call.code("input")
    parts = _reshape_call(call.name("input"))
    lines = []
    if parts is not None:
        base, args = parts
        fixed = call.fix({"input": f"{base}.transpose(0, 1).reshape({args})"})
        lines.append(fixed or f"{base}.transpose(0, 1).reshape({args})")
        lines.append("# or build the model batch-first: nn.LSTM(..., batch_first=True) (also GRU, RNN, "
                     "TransformerEncoderLayer), so the scores come out (B, T, C)")
    return Hint(
        title=(f"{inp} is flattened from {_shape(before)} but `{name}` from {_shape(labels[1])}: rows pair "
               "the wrong (step, sample)"),
        message=(f"Its grad_fn says {inp} was reshaped from {_shape(before)}, and the labels are `{name}` "
                 f"{_shape(labels[1])} flattened (certain: from the shapes). The first two dims are swapped "
                 f"between them ({a} x {b} against {b} x {a}), so row i of the scores and label i belong to "
                 "different positions: a sequence-first RNN output (T, B, C) against batch-first labels (B, T), "
                 "or the other way round. The counts agree, so nothing raises. Transpose the scores to the "
                 "labels' order before flattening."),
        fix="\n".join(lines) if lines else f"transpose the scores to {_shape((b, a, c))} before reshape(-1, {c})",
    )


RULES = [channels_first_flattened, time_major_flattened]
