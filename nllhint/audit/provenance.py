"""What produced a tensor, read from its autograd graph only (no value is read, no tensor is kept).

``origin(tensor)`` follows ``grad_fn`` through ops that move values without changing them (views,
reshapes, squeezes, indexing, dtype casts, transposes) to the op that made the values: softmax,
log_softmax, sigmoid, log(softmax), a Linear layer, a convolution... The answer is certain when it is
there: the graph *is* the computation. It is missing when grad was off (``torch.no_grad()``
evaluation, detached tensors), and then the checks fall back to bounded value samples.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_STEPS = 12  # value-preserving ops followed before giving up

# Ops that move or select values without changing them.
_SAME_SHAPE = frozenset({"CloneBackward0", "ToCopyBackward0", "AliasBackward0", "ContiguousBackward0"})
_REORDER = frozenset({"PermuteBackward0", "TransposeBackward0", "TBackward0"})
_RESHAPE = frozenset({
    "ViewBackward0", "UnsafeViewBackward0", "ReshapeAliasBackward0", "SqueezeBackward0", "SqueezeBackward1",
    "SqueezeBackward2", "SqueezeBackward3", "UnsqueezeBackward0", "SelectBackward0", "SliceBackward0",
    "IndexBackward0", "ExpandBackward0", "SplitBackward0", "SplitWithSizesBackward0", "UnbindBackward0",
    "IndexSelectBackward0", "MaskedSelectBackward0", "NarrowBackward0", "AsStridedBackward0",
    "UnflattenBackward0", "FlattenBackward0",
})
_PASS = _SAME_SHAPE | _REORDER | _RESHAPE

_PRODUCERS = {
    "SoftmaxBackward0": "softmax",
    "LogSoftmaxBackward0": "log_softmax",
    "SigmoidBackward0": "sigmoid",
    "LogSigmoidBackward0": "logsigmoid",
    "LogBackward0": "log",
    "AddmmBackward0": "linear",
    "MmBackward0": "linear",
    "BmmBackward0": "linear",
    "LinearBackward0": "linear",
    "ConvolutionBackward0": "conv",
    "MkldnnConvolutionBackward0": "conv",
}

# How a producer is named in a sentence.
WORDS = {
    "softmax": "softmax",
    "log_softmax": "log_softmax",
    "sigmoid": "sigmoid",
    "logsigmoid": "logsigmoid",
    "log(softmax)": "log(softmax(...))",
    "log(sigmoid)": "log(sigmoid(...))",
    "log": "log",
    "linear": "a Linear layer (a matrix product)",
    "conv": "a convolution",
}


@dataclass(frozen=True)
class Origin:
    """The op that made a tensor's values, and what happened to them on the way to the loss."""

    producer: str | None = None  # a key of WORDS, or None when unknown
    node: str | None = None  # the producer's grad_fn name: "SoftmaxBackward0"
    grad_fn: str | None = None  # the tensor's own grad_fn name
    dim: int | None = None  # softmax/log_softmax dim, normalised to the loss input's dims when possible
    reordered: bool = False  # a transpose/permute between the producer and the loss
    reshaped: bool = False  # a view/reshape/squeeze/index between them
    eps: bool = False  # log(p + eps) or log(p.clamp(...)): protected against log(0)

    @property
    def known(self) -> bool:
        return self.producer is not None

    @property
    def traced(self) -> bool:
        """There is an autograd graph: the producer is known, or it is an op we do not judge. Value-based
        guesses are only made for tensors without a graph (``torch.no_grad()``, data, detached)."""
        return self.grad_fn is not None

    @property
    def words(self) -> str:
        return WORDS.get(self.producer or "", self.producer or "an unknown op")

    def evidence(self, expr: str) -> str:
        """``grad_fn says softmax produced `probs``` (the certain kind of evidence)."""
        via = " (through a reshape)" if self.reshaped or self.reordered else ""
        return f"its grad_fn says {self.words} produced `{expr}`{via}"


NO_ORIGIN = Origin()


def _signed(dim: int) -> int:
    return dim - (1 << 64) if dim >= (1 << 63) else dim


def _linear_before_bias(add):
    """For ``matmul(x, W.T) + bias`` (how nn.Linear runs on some 3-D inputs), the matmul's node."""
    parents = [f for f, _ in add.next_functions if f is not None]
    leaves = [p for p in parents if type(p).__name__ == "AccumulateGrad"]
    others = [p for p in parents if type(p).__name__ != "AccumulateGrad"]
    if len(leaves) != 1 or len(others) != 1:
        return None
    node = others[0]
    for _ in range(3):
        name = type(node).__name__
        if name in ("MmBackward0", "BmmBackward0"):
            return others[0]
        if name not in _RESHAPE:
            return None
        node = next((f for f, _ in node.next_functions if f is not None), None)
        if node is None:
            return None
    return None


def _weight_operand(fn) -> bool:
    """Whether a matrix product multiplies by a weight matrix (a 2-D leaf that requires grad, maybe
    transposed or expanded), as a layer does, rather than two computed tensors."""
    for parent, _ in fn.next_functions:
        node = parent
        for _ in range(4):
            if node is None:
                break
            name = type(node).__name__
            if name == "AccumulateGrad":
                variable = getattr(node, "variable", None)
                if variable is not None and variable.dim() <= 2:
                    return True
                break
            if name not in _PASS:
                break
            node = next((f for f, _ in node.next_functions if f is not None), None)
    return False


def origin(tensor) -> Origin:
    """Follow ``tensor.grad_fn`` through value-preserving ops. Never raises; reads no values."""
    try:
        fn = tensor.grad_fn
    except Exception:
        return NO_ORIGIN
    if fn is None:
        return NO_ORIGIN
    first = type(fn).__name__
    reordered = reshaped = biased = False
    for _ in range(MAX_STEPS):
        name = type(fn).__name__
        if name == "AddBackward0":  # nn.Linear on a non-contiguous 3-D input: matmul, then + bias
            after_bias = _linear_before_bias(fn)
            if after_bias is None:
                return Origin(grad_fn=first, node=name, reordered=reordered, reshaped=reshaped)
            fn = after_bias
            biased = True
            continue
        if name in _PASS:
            reordered |= name in _REORDER
            reshaped |= name in _RESHAPE
            parents = [f for f, _ in fn.next_functions if f is not None]
            if not parents:
                return Origin(grad_fn=first)
            fn = parents[0]
            continue
        producer = _PRODUCERS.get(name)
        if producer == "linear" and name in ("MmBackward0", "BmmBackward0") and not biased \
                and not _weight_operand(fn):
            producer = None  # a product of two activations (attention, pointer scores, mixtures): no layer
        if producer is None:
            return Origin(grad_fn=first, node=name, reordered=reordered, reshaped=reshaped)
        dim = None
        eps = False
        if producer in ("softmax", "log_softmax"):
            try:
                raw = _signed(int(fn._saved_dim))
            except Exception:
                raw = None
            if raw is not None and not (reordered or reshaped):  # else the saved dim no longer names ours
                dim = raw if raw >= 0 else raw + tensor.dim()
        if producer == "log":
            producer, eps = _log_of(fn)
        return Origin(producer=producer, node=name, grad_fn=first, dim=dim, reordered=reordered,
                      reshaped=reshaped, eps=eps)
    return Origin(grad_fn=first, reordered=reordered, reshaped=reshaped)


def _log_of(fn) -> tuple[str, bool]:
    """``log`` of what: softmax, sigmoid (maybe through ``+ eps`` or ``clamp``)?"""
    eps = False
    node = fn
    for _ in range(4):
        parents = [f for f, _ in node.next_functions if f is not None]
        if not parents:
            break
        node = parents[0]
        name = type(node).__name__
        if name == "SoftmaxBackward0":
            return ("log(softmax)", eps)
        if name == "SigmoidBackward0":
            return ("log(sigmoid)", eps)
        if name.startswith(("AddBackward", "ClampBackward", "ClampMinBackward", "MaximumBackward")):
            eps = True
            continue
        if name in _PASS:
            continue
        break
    return ("log", eps)


# --- the normalisation upstream, and over which dim -----------------------------------------------------

MAX_WALK = 32  # nodes followed from the loss input down to a softmax/log_softmax
_ELEMENTWISE = frozenset({  # ops that keep the shape and the dims (a temperature, a scale, a sign flip)
    "MulBackward0", "MulBackward1", "DivBackward0", "DivBackward1", "NegBackward0", "AddBackward0",
    "AddBackward1", "SubBackward0", "SubBackward1", "RsubBackward1", "ClampBackward1", "ClampMinBackward0",
    "ToCopyBackward0", "CloneBackward0", "AliasBackward0", "ContiguousBackward0", "ExpBackward0",
    "LogBackward0",
})
_SIZED = frozenset({  # ops that save their input's sizes: the class dim is found again by its place from the end
    "ViewBackward0", "UnsafeViewBackward0", "ReshapeAliasBackward0", "SqueezeBackward0", "SqueezeBackward1",
    "SqueezeBackward2", "SqueezeBackward3", "SelectBackward0", "SliceBackward0", "IndexBackward0",
    "ExpandBackward0", "NarrowBackward0",
})


@dataclass(frozen=True)
class Normalisation:
    """A softmax/log_softmax found below the loss input, and whether it ran over the dim the loss
    reads as the classes. ``dim`` is the softmax's own dim (of a tensor of ``shape``); ``expected`` the
    dim of that same tensor that becomes the loss's class dim (None when it could not be followed)."""

    producer: str  # "softmax" or "log_softmax"
    dim: int
    shape: tuple[int, ...]
    expected: int | None
    steps: int
    via: tuple[str, ...] = ()  # op names between the producer and the loss input

    @property
    def wrong(self) -> bool:
        return self.expected is not None and self.dim != self.expected


def _size_after(shape, dim) -> int:
    n = 1
    for s in shape[dim + 1:]:
        n *= int(s)
    return n


def _map_dim(out_shape, dim, in_shape) -> int | None:
    """The dim of ``in_shape`` holding what ``out_shape[dim]`` holds, for views that keep the trailing
    layout (reshape, mask indexing, squeeze, select...): same size, same number of elements after it."""
    size, after = int(out_shape[dim]), _size_after(out_shape, dim)
    found = [j for j in range(len(in_shape)) if int(in_shape[j]) == size and _size_after(in_shape, j) == after]
    return found[0] if len(found) == 1 else None


def normalisation(tensor, class_dim: int) -> Normalisation | None:
    """Follow ``tensor.grad_fn`` down to a softmax/log_softmax through ops that move values (views,
    permutes, masks, a temperature) and say over which dim it normalised compared with ``class_dim`` of
    ``tensor``. Reads no values; None when there is none within MAX_WALK nodes or the graph branches."""
    try:
        fn = tensor.grad_fn
        shape = tuple(int(s) for s in tensor.shape)
    except Exception:
        return None
    if fn is None or not shape:
        return None
    dim = class_dim % len(shape)
    via = []
    for step in range(MAX_WALK):
        if fn is None:
            return None
        name = type(fn).__name__
        if name in ("SoftmaxBackward0", "LogSoftmaxBackward0"):
            try:
                result = fn._saved_result
                raw = _signed(int(fn._saved_dim))
                made = tuple(int(s) for s in result.shape)
            except Exception:
                return None
            raw = raw % len(made) if made else 0
            expected = dim if (dim is not None and made == shape) else None
            producer = "softmax" if name == "SoftmaxBackward0" else "log_softmax"
            return Normalisation(producer, raw, made, expected, step, tuple(reversed(via)))
        parents = [f for f, _ in fn.next_functions if f is not None and type(f).__name__ != "AccumulateGrad"]
        if len(parents) != 1:
            return None  # a leaf, or two computed operands (a product of activations): not a plain path
        try:
            if name in _ELEMENTWISE:
                pass  # same shape, same dims (broadcast scalars only: a mismatch is caught at the producer)
            elif name == "PermuteBackward0":
                dims = [int(d) % len(shape) for d in fn._saved_dims]
                new = [0] * len(shape)
                for i, d in enumerate(dims):
                    new[d] = shape[i]
                dim = dims[dim] if dim is not None else None
                shape = tuple(new)
            elif name in ("TransposeBackward0", "TBackward0"):
                if name == "TBackward0":
                    a, b = 0, len(shape) - 1
                else:
                    a, b = _signed(int(fn._saved_dim0)) % len(shape), _signed(int(fn._saved_dim1)) % len(shape)
                new = list(shape)
                new[a], new[b] = new[b], new[a]
                if dim in (a, b):
                    dim = b if dim == a else a
                shape = tuple(new)
            elif name == "UnsqueezeBackward0":
                d = _signed(int(fn._saved_dim)) % len(shape)
                if dim == d:
                    dim = None
                elif dim is not None and dim > d:
                    dim -= 1
                shape = shape[:d] + shape[d + 1:]
            elif name in _SIZED:
                new = tuple(int(s) for s in fn._saved_self_sym_sizes)
                dim = _map_dim(shape, dim, new) if dim is not None else None
                shape = new
            else:
                return None
        except Exception:
            return None
        if not shape:
            return None
        via.append(name)
        fn = parents[0]
    return None


def upstream(tensor, names: frozenset, limit: int = 64) -> tuple[str, int] | None:
    """The first node named in ``names`` within ``limit`` nodes below ``tensor`` (breadth-first), with
    its distance: (``"SoftmaxBackward0"``, 3). Reads no values."""
    try:
        start = tensor.grad_fn
    except Exception:
        return None
    if start is None:
        return None
    seen = {id(start)}
    frontier = [(start, 0)]
    count = 0
    while frontier and count < limit:
        node, depth = frontier.pop(0)
        count += 1
        name = type(node).__name__
        if name in names:
            return name, depth
        for parent, _ in getattr(node, "next_functions", ()):
            if parent is not None and id(parent) not in seen:
                seen.add(id(parent))
                frontier.append((parent, depth + 1))
    return None
