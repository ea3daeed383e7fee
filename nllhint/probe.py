"""Bounded, side-effect-free summaries of tensors: what a tensor *looks like*.

Every read here is capped: statistics use the whole tensor only up to ``EXACT_LIMIT`` elements and a
fixed strided sample beyond, and row tests look at a fixed number of rows. So a summary costs the same
on a 10-element and a 10^9-element tensor. Nothing here draws random numbers (global RNG untouched),
builds autograd graph (``torch.no_grad``), dispatches to tensor subclasses' ``__torch_function__``
(user code), or keeps a reference to the tensor: the result holds only Python scalars and strings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

EXACT_LIMIT = 1 << 20  # integer tensors (labels): exact min/max up to this many elements
EXACT_LIMIT_FLOAT = 1 << 16  # float tensors: NaN/Inf/min/max over the whole tensor up to this many
SAMPLE_SIZE = 1 << 14  # strided sample beyond those
DISTINCT_SAMPLE = 4096  # distinct values are counted on at most this many elements
DISTINCT_LABELS = 300  # whole-number tensors keep up to this many distinct values (segmentation labels)
MAX_ROWS = 64  # rows checked for "sums to one" along the class dimension
MAX_ROW_ELEMENTS = 1 << 18  # and at most this many elements in those rows together
ATOL = 1e-3

# What produced a tensor, read from its grad_fn name (no value is read).
PRODUCERS = {
    "SoftmaxBackward0": "softmax",
    "LogSoftmaxBackward0": "log_softmax",
    "SigmoidBackward0": "sigmoid",
    "LogBackward0": "log",
    "LogSigmoidBackward0": "logsigmoid",
    "AddmmBackward0": "a Linear layer",
    "MmBackward0": "a matrix product",
    "UnsafeViewBackward0": "a Linear layer",
    "ConvolutionBackward0": "a convolution",
    "TanhBackward0": "tanh",
    "ReluBackward0": "relu",
    "ArgmaxBackward0": "argmax",
}

SHORT_DTYPES = {
    "float32": "f32", "float64": "f64", "float16": "f16", "bfloat16": "bf16",
    "int64": "i64", "int32": "i32", "int16": "i16", "int8": "i8", "uint8": "u8", "bool": "bool",
    "complex64": "c64", "complex128": "c128",
}


@dataclass(frozen=True)
class TensorFacts:
    """What nllhint knows about one tensor. Plain data: shapes, names and a few numbers."""

    shape: tuple[int, ...]
    dtype: str  # "float32", "int64", ...
    device: str  # "cpu", "cuda:0", "meta"
    requires_grad: bool = False
    grad_fn: str | None = None  # "SoftmaxBackward0"
    producer: str | None = None  # "softmax", "log(softmax)", "a Linear layer"
    values: bool = False  # were values read at all
    why_no_values: str | None = None  # "meta tensor", "CUDA context unusable after a device-side assert"
    sampled: bool = False  # statistics come from a strided sample
    min: float | None = None
    max: float | None = None
    has_nan: bool = False
    has_inf: bool = False
    whole: bool = False  # every (sampled) value is a whole number
    distinct: tuple[float, ...] | None = None  # sorted distinct values, when there are at most 16
    rows_simplex: bool = False  # slices along the class dim are >= 0 and sum to 1 (probabilities/one-hot)
    rows_log_simplex: bool = False  # slices along the class dim have logsumexp 0 (log-probabilities)
    rows_max_sum: float | None = None  # largest row sum along the class dim (multi-hot detection)
    rows_uniform: bool = False  # every checked row repeats one value (a grey mask saved with 3 equal channels)
    class_dim: int | None = None
    role: str | None = None  # what the call says the tensor is, when that beats what it looks like ("lengths")
    reshaped: tuple | None = None  # (op, input shapes, output shape) of the nearest view / row cat, see reshaped()
    domain: str | None = None  # what the loss takes it as (a contracts domain: "real", "signs"), when known

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def is_float(self) -> bool:
        return self.dtype.startswith(("float", "bfloat"))

    @property
    def is_int(self) -> bool:
        return self.dtype.startswith(("int", "uint")) or self.dtype == "bool"

    @property
    def binary(self) -> bool:
        """Every (sampled) value is 0 or 1."""
        return self.distinct is not None and set(self.distinct) <= {0.0, 1.0}

    @property
    def in_unit_interval(self) -> bool:
        return self.min is not None and self.min >= 0.0 and self.max <= 1.0

    @property
    def kind(self) -> str:
        """What the values look like, in the words a user would use (NaN/Inf are flagged separately)."""
        if not self.values:
            return "values unavailable"
        if self.numel == 0:
            return "empty"
        if self.role:
            return self.role
        if self.dtype == "bool":
            return "booleans"
        if self.min is None:
            return "all NaN/Inf"
        if self.ndim >= 2 and self.binary and self.rows_simplex:
            return "one-hot rows"
        if self.ndim >= 3 and self.binary and self.rows_uniform:
            return "0/1 mask, same in every channel"
        if self.domain == "signs" and self.distinct is not None and set(self.distinct) <= {-1.0, 1.0}:
            return "-1/+1 labels"
        if self.ndim >= 2 and self.binary and (self.rows_max_sum or 0) > 1 and (
                len(self.distinct) == 2 or self.domain in (None, "binary", "unit")):
            return "multi-hot rows"
        if self.is_int:
            return "class indices"
        if self.producer in _PRODUCER_KIND:
            return _PRODUCER_KIND[self.producer]
        if self.ndim >= 1 and self.rows_simplex and not self.whole:
            return "probabilities"
        if self.ndim >= 1 and self.rows_log_simplex:
            return "log-probabilities"
        if self.whole:
            return "whole-number floats"
        if self.in_unit_interval:
            return "values in [0, 1]"
        if self.domain in _REAL_DOMAINS:  # a regression input or an embedding: its scores are not logits
            return _REAL_DOMAINS[self.domain]
        wide = self.ndim >= 2 and self.class_dim is not None and self.shape[self.class_dim] > 1
        return "logits" if wide else "real values"

    def summary(self) -> str:
        """One line, lovely-tensors style: ``float32[64, 10] logits in [-3.1, 2.9]``."""
        parts = [f"{self.dtype}[{', '.join(map(str, self.shape))}]"]
        if self.device != "cpu":
            parts.append(f"on {self.device}")
        if not self.values:
            parts.append(f"values unavailable: {self.why_no_values}")
        elif self.numel == 1 and self.min is not None:
            parts.append(f"= {_num(self.min)}")
        else:
            parts.append(self.kind)
            if self.min is not None and self.numel:
                if self.distinct is not None and len(self.distinct) <= 6:
                    parts.append("{" + ", ".join(_num(v) for v in self.distinct) + "}")
                elif not self.kind.startswith("values in"):
                    parts.append(f"in [{_num(self.min)}, {_num(self.max)}]")
        parts.extend(name for name, on in (("NaN!", self.has_nan), ("Inf!", self.has_inf)) if on)
        if self.producer and self.producer not in " ".join(parts[1:]):
            parts.append(f"from {self.producer}")
        if self.sampled:
            parts.append("(sampled)")
        return " ".join(parts)


_REAL_DOMAINS = {"real": "real values", "positive": "real values", "non_negative": "real values",
                 "embedding": "embeddings"}  # contracts domains, spelled out (kept here: probe imports nothing)
_PRODUCER_KIND = {
    "tanh": "tanh outputs",
    "relu": "non-negative (ReLU) outputs",
    "softmax": "probabilities",
    "sigmoid": "probabilities",
    "log_softmax": "log-probabilities",
    "log(softmax)": "log-probabilities",
    "logsigmoid": "log-probabilities",
}


def _num(v: float) -> str:
    if v is None:
        return "?"
    if math.isfinite(v) and v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return f"{v:.3g}"


def producer_of(grad_fn) -> str | None:
    """Name what made a tensor from its autograd node, looking one step further for log(softmax)."""
    if grad_fn is None:
        return None
    name = type(grad_fn).__name__
    found = PRODUCERS.get(name)
    if found == "log":
        parents = [type(fn).__name__ for fn, _ in getattr(grad_fn, "next_functions", ()) if fn is not None]
        if "SoftmaxBackward0" in parents:
            return "log(softmax)"
        if "SigmoidBackward0" in parents:
            return "log(sigmoid)"
    return found


VIEW_NODES = ("ViewBackward0", "UnsafeViewBackward0", "ReshapeAliasBackward0")
MATMUL_NODES = ("MmBackward0", "BmmBackward0", "AddmmBackward0", "BaddbmmBackward0")


def reshaped(grad_fn, limit: int = 32):
    """The nearest reshape or row concatenation in a tensor's autograd history (metadata only).

    ``(op, input shapes, output shape)`` with op ``"view"`` or ``"cat"`` (``torch.cat`` along dim 0):
    ``fc(x.view(-1, 80))`` on a ``(4, 16, 5, 5)`` map gives ``("view", ((4, 16, 5, 5),), (20, 80))``.
    The reshapes ``nn.Linear`` makes around a matmul on 3-D inputs are skipped.
    """
    queue, seen = [(grad_fn, False)], 0
    try:
        while queue and seen < limit:
            node, inside_matmul = queue.pop(0)
            if node is None:
                continue
            seen += 1
            name = type(node).__name__
            children = [fn for fn, _ in node.next_functions]
            if name in VIEW_NODES:
                if inside_matmul:  # the flattening of a Linear's 3-D input
                    queue.extend((c, False) for c in children)
                    continue
                if any(type(c).__name__ in MATMUL_NODES for c in children):  # ... and its un-flattening
                    queue.extend((c, type(c).__name__ in MATMUL_NODES) for c in children)
                    continue
                before = tuple(int(v) for v in node._saved_self_sym_sizes)
                return "view", (before,), _out_shape(node)
            if name == "CatBackward0":
                out = _out_shape(node)
                if out and node._saved_dim % len(out) == 0:
                    return "cat", tuple(_out_shape(c) if c is not None else None for c in children), out
            queue.extend((c, inside_matmul and name in MATMUL_NODES) for c in children)
    except Exception:  # autograd internals differ across versions: no provenance rather than an error
        return None
    return None


def _out_shape(node) -> tuple[int, ...] | None:
    variable = getattr(node, "variable", None)
    if variable is not None:
        return tuple(int(v) for v in variable.shape)
    return tuple(int(v) for v in node._input_metadata[0].shape)


def describe(tensor, *, read_values: bool = True, class_dim: int | None = None,
             role: str | None = None) -> TensorFacts:
    """Summarise ``tensor``. Never raises: anything unexpected yields metadata only."""
    import torch

    try:
        meta = _metadata(tensor)
        meta["role"] = role
    except Exception:  # a tensor-like object we cannot even measure
        return TensorFacts(shape=(), dtype="?", device="?", why_no_values="not a plain tensor")
    reason = None if read_values else "not read after a CUDA error"
    reason = reason or _unreadable(tensor)
    if reason:
        return TensorFacts(**meta, why_no_values=reason)
    if class_dim is None:
        class_dim = 1 if tensor.dim() >= 2 else 0
    try:
        with torch.no_grad(), torch._C.DisableTorchFunctionSubclass():
            stats = _value_stats(tensor.detach(), class_dim)
    except Exception as exc:  # values we cannot read (exotic layouts, lazy tensors): metadata only
        return TensorFacts(**meta, why_no_values=f"could not read values: {type(exc).__name__}")
    return TensorFacts(**meta, **stats)


def _metadata(tensor) -> dict:
    grad_fn = tensor.grad_fn
    return dict(
        shape=tuple(int(s) for s in tensor.shape),
        dtype=str(tensor.dtype).removeprefix("torch."),
        device=str(tensor.device),
        requires_grad=bool(tensor.requires_grad),
        grad_fn=type(grad_fn).__name__ if grad_fn is not None else None,
        producer=producer_of(grad_fn),
        reshaped=reshaped(grad_fn) if grad_fn is not None else None,
    )


def _unreadable(tensor) -> str | None:
    if tensor.device.type == "meta":
        return "meta tensor"
    import torch

    if tensor.layout != torch.strided or tensor.is_quantized:
        return f"{str(tensor.layout).removeprefix('torch.')} layout"
    name = type(tensor).__name__
    if name in ("FakeTensor", "FunctionalTensor") or "Proxy" in name:
        return "traced tensor"
    if tensor.is_complex():
        return "complex values"
    return None


def _value_stats(t, class_dim: int) -> dict:
    import torch

    numel = t.numel()
    out: dict = {"values": True, "class_dim": class_dim if t.dim() else None}
    if numel == 0:
        return out
    limit = EXACT_LIMIT_FLOAT if t.is_floating_point() else EXACT_LIMIT
    flat, sampled = _flat_sample(t, limit if numel <= limit else SAMPLE_SIZE)
    out["sampled"] = sampled
    if t.dtype == torch.bool:
        flat = flat.to(torch.uint8)
    elif flat.is_floating_point() and flat.dtype != torch.float64:
        flat = flat.float()
    if flat.is_floating_point() and not bool(torch.isfinite(flat).all()):
        nan = torch.isnan(flat)
        inf = torch.isinf(flat)
        out["has_nan"] = bool(nan.any())
        out["has_inf"] = bool(inf.any())
        finite = flat[~(nan | inf)]
    else:
        finite = flat
    if finite.numel():
        lo, hi = torch.aminmax(finite)
        out["min"], out["max"] = float(lo), float(hi)
        few = finite if finite.numel() <= DISTINCT_SAMPLE else _flat_sample(finite, DISTINCT_SAMPLE)[0]
        out["whole"] = bool((few == few.round()).all()) if few.is_floating_point() else True
        distinct = torch.unique(few)
        cap = DISTINCT_LABELS if out["whole"] else 16  # label sets: up to a few hundred classes
        if distinct.numel() <= cap:  # the exact extremes belong in it even when the rest is sampled
            values = {float(v) for v in distinct.tolist()} | {out["min"], out["max"]}
            out["distinct"] = tuple(sorted(values)) if len(values) <= cap else None
    if t.dim() >= 1:
        out.update(_row_stats(t, class_dim))
    return out


def _flat_sample(t, limit: int):
    """The tensor's values as a 1-D tensor: all of them up to ``limit``, else ``limit`` evenly spaced ones."""
    import torch

    numel = t.numel()
    if numel <= limit:
        return (t.reshape(-1), False)
    positions = _spread(numel, limit, t.device)
    index = _unravel(positions, t.shape)
    return (t[index], True)


def _spread(n: int, count: int, device):
    """``count`` evenly spaced positions in ``range(n)``, first and last included, in exact integers
    (a float32 ``linspace`` rounds 999_999_999 up to 10^9: one past the end of a 10^9-element tensor)."""
    import torch

    if count <= 1:
        return torch.zeros(1, dtype=torch.long, device=device)
    return torch.arange(count, dtype=torch.long, device=device) * (n - 1) // (count - 1)


def _unravel(positions, shape) -> tuple:
    """``torch.unravel_index`` for non-negative flat positions in a non-empty shape, without its import of
    ``torch.fx.experimental.symbolic_shapes`` (and sympy: about a second, on the first hint of a session)."""
    index = []
    for size in reversed(tuple(shape)):
        index.append(positions % size)
        positions = positions // size
    return tuple(reversed(index))


def _row_stats(t, class_dim: int) -> dict:
    """Do slices along the class dimension look like probability rows or log-probability rows?"""
    import torch

    if t.dim() == 0 or not -t.dim() <= class_dim < t.dim():
        return {}
    moved = t.movedim(class_dim, -1)
    width = moved.shape[-1]
    if width == 0 or width > MAX_ROW_ELEMENTS:  # a 1-D target of a million labels is not a "row"
        return {}
    n_rows = moved.numel() // width
    take = max(1, min(n_rows, MAX_ROWS, MAX_ROW_ELEMENTS // width))
    if moved.dim() == 1:
        rows = moved.unsqueeze(0)
    else:
        positions = _spread(n_rows, take, t.device)
        rows = moved[_unravel(positions, moved.shape[:-1])]
    rows = rows.double()
    if not torch.isfinite(rows).all():
        finite_rows = torch.isfinite(rows).all(dim=-1)
        rows = rows[finite_rows]
        if rows.numel() == 0:
            return {}
    sums = rows.sum(dim=-1)
    simplex = bool((rows >= -ATOL).all() and (sums - 1).abs().max() <= ATOL * max(1, width / 100))
    log_simplex = bool((rows <= ATOL).all() and (torch.logsumexp(rows, dim=-1).abs().max() <= 1e-2))
    return {"rows_simplex": simplex and width > 1, "rows_log_simplex": log_simplex and width > 1,
            "rows_max_sum": float(sums.max()), "rows_uniform": width > 1 and bool((rows == rows[..., :1]).all())}
