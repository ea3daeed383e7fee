"""Random loss calls for the fuzz tests: a hypothesis strategy, and ways to run one call.

A call is plain data (``Call``): which loss, functional or module form, tensor recipes (``T``) and
options. Tensors are rebuilt from their recipe for every run (own ``torch.Generator``, the global RNG is
never touched), so a call can be run twice, with and without ``nllhint.watch()``, on identical inputs.

Each recipe starts from a correct call of the loss (shapes, dtypes and values as its docs want them) and
then applies a few mutations: another dtype, shape, value pattern, memory layout, ``requires_grad``, or an
option set to an edge or invalid value. So the calls mix correct code, each loss's classic mistakes and
nonsense.
"""

from __future__ import annotations

import contextlib
import linecache
import math
import os
import re
import warnings
from dataclasses import dataclass, field, replace

import torch
import torch.nn as nn
import torch.nn.functional as F
from hypothesis import strategies as st

from nllhint import Finding

# The catalog's category slugs (the public API of Finding.category). The table lives in the shared
# catalog; the same slugs key nllhint.docs.CATEGORY_WHY (test_fuzz checks the three agree).
CATALOG = frozenset({
    "target-shape", "target-dtype", "target-range", "batch-mismatch", "class-dim", "input-not-logprob",
    "double-softmax", "unstable-log", "bce-range", "double-sigmoid", "shape-mismatch", "weight-size", "nan-inf",
    "device-mismatch", "input-dtype", "backward-nonscalar", "no-grad", "kl-format", "ctc-format", "bad-option",
    "empty-input", "wrong-loss",
})

DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.int32, torch.int64, torch.uint8,
          torch.bool, torch.complex64)
VALUE_KINDS = ("randn", "uniform", "probs", "logprobs", "binary", "signs", "nan", "inf", "neginf", "negative",
               "equal", "zeros", "large")
LAYOUTS = ("contiguous", "noncontig", "transposed", "expanded", "meta", "subclass")

# functional name -> (module class name or None, positional tensor parameters of the functional)
LOSSES = {
    "nll_loss": ("NLLLoss", ("input", "target")),
    "cross_entropy": ("CrossEntropyLoss", ("input", "target")),
    "binary_cross_entropy": ("BCELoss", ("input", "target")),
    "binary_cross_entropy_with_logits": ("BCEWithLogitsLoss", ("input", "target")),
    "kl_div": ("KLDivLoss", ("input", "target")),
    "ctc_loss": ("CTCLoss", ("log_probs", "targets", "input_lengths", "target_lengths")),
    "mse_loss": ("MSELoss", ("input", "target")),
    "l1_loss": ("L1Loss", ("input", "target")),
    "smooth_l1_loss": ("SmoothL1Loss", ("input", "target")),
    "huber_loss": ("HuberLoss", ("input", "target")),
    "poisson_nll_loss": ("PoissonNLLLoss", ("input", "target")),
    "gaussian_nll_loss": ("GaussianNLLLoss", ("input", "target", "var")),
    "margin_ranking_loss": ("MarginRankingLoss", ("input1", "input2", "target")),
    "hinge_embedding_loss": ("HingeEmbeddingLoss", ("input", "target")),
    "multilabel_margin_loss": ("MultiLabelMarginLoss", ("input", "target")),
    "soft_margin_loss": ("SoftMarginLoss", ("input", "target")),
    "multilabel_soft_margin_loss": ("MultiLabelSoftMarginLoss", ("input", "target")),
    "cosine_embedding_loss": ("CosineEmbeddingLoss", ("input1", "input2", "target")),
    "multi_margin_loss": ("MultiMarginLoss", ("input", "target")),
    "triplet_margin_loss": ("TripletMarginLoss", ("anchor", "positive", "negative")),
    "linear_cross_entropy": ("LinearCrossEntropyLoss", ("input", "linear_weight", "target")),
    "one_hot": (None, ("tensor",)),
}

# Names a user would give each argument (for the calls written out as source code).
VAR_NAMES = {
    "input": "out", "target": "y", "weight": "class_w", "pos_weight": "pos_w", "log_probs": "log_probs",
    "targets": "targets", "input_lengths": "input_lengths", "target_lengths": "target_lengths", "var": "var",
    "input1": "x1", "input2": "x2", "anchor": "anchor", "positive": "pos", "negative": "neg",
    "linear_weight": "W", "linear_bias": "b", "tensor": "labels",
}

# Option values to try: the documented ones, edges and invalid ones.
OPTION_VALUES = {
    "reduction": ("mean", "sum", "none", "batchmean", "elementwise_mean", "avg", "", None, 1),
    "ignore_index": (-100, -1, 0, 1, 2, 255, 10_000),
    "label_smoothing": (0.0, 0.1, 0.5, 1.0, -0.1, 1.5, math.nan),
    "log_target": (False, True),
    "blank": (0, 1, -1, 2, 100),
    "zero_infinity": (False, True),
    "margin": (0.0, 1.0, -1.0, 0.5, math.inf),
    "delta": (1.0, 0.5, 0.0, -1.0),
    "beta": (1.0, 0.0, -1.0, 2.0),
    "p": (1, 2, 3, 0, -1),
    "eps": (1e-6, 0.0, -1.0, 1e-8),
    "swap": (False, True),
    "full": (False, True),
    "log_input": (True, False),
    "num_classes": (-1, 0, 1, 2, 3, 5, 1000),
    "size_average": (None, True, False),
    "reduce": (None, True, False),
}
LOSS_OPTIONS = {
    "nll_loss": ("reduction", "ignore_index", "size_average", "reduce"),
    "cross_entropy": ("reduction", "ignore_index", "label_smoothing", "size_average", "reduce"),
    "binary_cross_entropy": ("reduction", "size_average", "reduce"),
    "binary_cross_entropy_with_logits": ("reduction", "size_average", "reduce"),
    "kl_div": ("reduction", "log_target", "size_average", "reduce"),
    "ctc_loss": ("reduction", "blank", "zero_infinity"),
    "mse_loss": ("reduction", "size_average", "reduce"),
    "l1_loss": ("reduction", "size_average", "reduce"),
    "smooth_l1_loss": ("reduction", "beta", "size_average", "reduce"),
    "huber_loss": ("reduction", "delta"),
    "poisson_nll_loss": ("reduction", "log_input", "full", "eps", "size_average", "reduce"),
    "gaussian_nll_loss": ("reduction", "full", "eps"),
    "margin_ranking_loss": ("reduction", "margin", "size_average", "reduce"),
    "hinge_embedding_loss": ("reduction", "margin", "size_average", "reduce"),
    "multilabel_margin_loss": ("reduction", "size_average", "reduce"),
    "soft_margin_loss": ("reduction", "size_average", "reduce"),
    "multilabel_soft_margin_loss": ("reduction", "size_average", "reduce"),
    "cosine_embedding_loss": ("reduction", "margin", "size_average", "reduce"),
    "multi_margin_loss": ("reduction", "p", "margin", "size_average", "reduce"),
    "triplet_margin_loss": ("reduction", "margin", "p", "eps", "swap", "size_average", "reduce"),
    "linear_cross_entropy": ("reduction", "ignore_index", "label_smoothing"),
    "one_hot": ("num_classes",),
}


class Tagged(torch.Tensor):
    """A plain tensor subclass (default ``__torch_function__``), as libraries such as torchvision's
    tv_tensors or nn.Parameter-like wrappers make."""


@dataclass(frozen=True)
class T:
    """How to build one tensor. Built afresh for every run: two builds are identical."""

    shape: tuple
    dtype: torch.dtype = torch.float32
    values: str = "randn"  # a VALUE_KINDS entry, or "classes" (integers in [low, high))
    low: int = 0
    high: int = 2
    layout: str = "contiguous"
    grad: str = "off"  # "off", "leaf" (requires_grad=True) or "graph" (made by an op: has a grad_fn)
    seed: int = 0
    clip: int | None = None  # values folded into [0, clip): see Call.values (CTC targets)
    dim: int = 1  # the class dimension of "probs"/"logprobs" (-1 for CTC's (T, N, C))

    def build(self) -> torch.Tensor:
        shape = tuple(self.shape)
        if self.layout == "meta":
            t = torch.empty(shape, dtype=self.dtype, device="meta")
            return t.requires_grad_() if self.grad != "off" and _grad_ok(self.dtype) else t
        base_shape = shape
        if self.layout == "noncontig" and shape:
            base_shape = shape[:-1] + (shape[-1] * 2,)
        elif self.layout == "transposed" and len(shape) >= 2:
            base_shape = tuple(reversed(shape))
        elif self.layout == "expanded" and shape:
            base_shape = (1,) + shape[1:]
        g = torch.Generator().manual_seed(self.seed)
        x = _values(self, base_shape, g)
        if self.clip is not None:
            x = torch.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0).abs().floor().remainder(self.clip)
        grad = self.grad != "off" and _grad_ok(self.dtype)
        if self.dtype.is_complex:
            x = torch.complex(x.float(), torch.full_like(x, 0.5).float())
        elif self.dtype.is_floating_point:
            x = x.to(self.dtype)
        else:
            x = torch.nan_to_num(x, nan=0.0, posinf=1e6, neginf=-1e6)
            x = x.to(torch.bool) if self.dtype == torch.bool else x.round().to(torch.int64).to(self.dtype)
        if grad and self.grad == "graph" and self.values in ("probs", "logprobs") and x.dim() >= 1 \
                and x.is_floating_point():
            leaf = x.detach().log().nan_to_num().requires_grad_() if self.values == "probs" else x.detach().requires_grad_()
            dim = self.dim if x.dim() >= 2 else 0
            x = leaf.softmax(dim) if self.values == "probs" else leaf.log_softmax(dim)
        elif grad and self.grad == "graph":
            x = x.requires_grad_() * 1
        elif grad:
            x.requires_grad_()
        if self.layout == "noncontig" and shape:
            x = x[..., ::2]
        elif self.layout == "transposed" and len(shape) >= 2:
            x = x.permute(*reversed(range(len(shape))))
        elif self.layout == "expanded" and shape:
            x = x.expand(shape)
        elif self.layout == "subclass":
            x = x.as_subclass(Tagged)
        return x


def _grad_ok(dtype) -> bool:
    return dtype.is_floating_point or dtype.is_complex


def _values(spec: T, shape, g) -> torch.Tensor:
    """float64 values of the recipe's kind (converted to the dtype afterwards)."""
    kind = spec.values
    d = torch.float64
    if kind == "classes":
        high = spec.high if spec.high > spec.low else spec.low + 1
        return torch.randint(spec.low, high, shape, generator=g).to(d)
    if kind in ("probs", "logprobs"):
        x = torch.randn(shape, generator=g, dtype=d)
        if x.dim() == 0:
            return x.sigmoid() if kind == "probs" else x.sigmoid().log()
        dim = spec.dim if x.dim() >= 2 else 0
        return x.softmax(dim) if kind == "probs" else x.log_softmax(dim)
    if kind == "uniform":
        return torch.rand(shape, generator=g, dtype=d)
    if kind == "binary":
        return torch.randint(0, 2, shape, generator=g).to(d)
    if kind == "signs":
        return torch.randint(0, 2, shape, generator=g).to(d) * 2 - 1
    if kind == "negative":
        return -torch.rand(shape, generator=g, dtype=d) - 0.1
    if kind == "equal":
        return torch.full(shape, 0.25, dtype=d)
    if kind == "zeros":
        return torch.zeros(shape, dtype=d)
    if kind == "large":
        return torch.randn(shape, generator=g, dtype=d) * 1e5
    x = torch.randn(shape, generator=g, dtype=d) * 2
    if kind in ("nan", "inf", "neginf") and x.numel():
        flat = x.view(-1)
        flat[:: 3] = {"nan": math.nan, "inf": math.inf, "neginf": -math.inf}[kind]
    return x


@dataclass(frozen=True)
class Call:
    """One loss call, as data."""

    loss: str
    form: str  # "functional" or "module"
    args: dict  # positional parameters in order: name -> T, a list of ints, a float
    kwargs: dict = field(default_factory=dict)  # keyword arguments: T or plain values
    style: str = "names"  # how the source form writes the arguments: names, subscript, attribute, multiline

    def describe(self) -> str:
        return f"{self.form} {self.loss} args={self.args} kwargs={self.kwargs} style={self.style}"

    # --- building ----------------------------------------------------------------------------------------
    def values(self) -> tuple[dict, dict]:
        """Fresh tensors for every T: (positional by name, keyword by name)."""
        args = dict(self.args)
        if self.loss == "ctc_loss":  # torch's CPU CTC does not check target values: keep them in range
            args["targets"] = _ctc_safe(args.get("targets"), args.get("log_probs"))
        return ({k: _build(v) for k, v in args.items()}, {k: _build(v) for k, v in self.kwargs.items()})

    def module(self, kwargs: dict):
        """The loss module, built with the options its constructor takes (seeded, global RNG untouched)."""
        cls = getattr(nn, LOSSES[self.loss][0])
        import inspect

        accepted = list(inspect.signature(cls.__init__).parameters)[1:]
        ctor = {k: v for k, v in kwargs.items() if k in accepted}
        if self.loss == "linear_cross_entropy":
            w = self.args.get("linear_weight")
            shape = w.shape if isinstance(w, T) else (3, 4)
            ctor["in_features"] = int(shape[-1]) if len(shape) else 4
            ctor["num_classes"] = int(shape[0]) if len(shape) else 3
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            return cls(**ctor)

    # --- running -----------------------------------------------------------------------------------------
    def run_direct(self):
        """Call the loss from this file: ``F.<loss>(*args, **kwargs)`` or ``module(*args)``."""
        args, kwargs = self.values()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if self.form == "module":
                criterion = self.module(kwargs)
                forward = [v for k, v in args.items() if k != "linear_weight"]
                return criterion(*forward)
            return getattr(F, self.loss)(*args.values(), **kwargs)

    def source(self) -> tuple[str, dict]:
        """The call written as a user would write it, and the namespace it runs in."""
        args, kwargs = self.values()
        ns = {"torch": torch, "nn": nn, "F": F}
        values = {**args, **kwargs}
        tensors = {k: v for k, v in values.items() if isinstance(v, torch.Tensor) or isinstance(v, list)}

        def expr(name):
            var = VAR_NAMES.get(name, name)
            if name not in tensors:
                return _lit(values[name])
            if self.style == "subscript":
                ns.setdefault("batch", {})[var] = tensors[name]
                return f"batch[{var!r}]"
            if self.style == "attribute":
                import types

                ns.setdefault("data", types.SimpleNamespace())
                setattr(ns["data"], var, tensors[name])
                return f"data.{var}"
            ns[var] = tensors[name]
            return var

        sep = ",\n    " if self.style == "multiline" else ", "
        lines = []
        if self.form == "module":
            cls = LOSSES[self.loss][0]
            import inspect

            accepted = list(inspect.signature(getattr(nn, cls).__init__).parameters)[1:]
            ctor = [f"{k}={expr(k)}" for k in kwargs if k in accepted]
            if self.loss == "linear_cross_entropy":
                w = self.args.get("linear_weight")
                shape = w.shape if isinstance(w, T) else (3, 4)
                ctor = [str(int(shape[-1]) if len(shape) else 4), str(int(shape[0]) if len(shape) else 3)] + ctor
            ns["_seeded"] = _seeded
            lines.append(f"with _seeded():\n    criterion = nn.{cls}({', '.join(ctor)})")
            params = [expr(k) for k in args if k != "linear_weight"]
            lines.append(f"loss = criterion({sep.join(params)})")
        else:
            params = [expr(k) for k in args] + [f"{k}={expr(k)}" for k in kwargs]
            lines.append(f"loss = F.{self.loss}({sep.join(params)})")
        return "\n".join(lines) + "\n", ns

    def run_source(self, filename: str, register: bool = True):
        """Run the call as code compiled from its source (like a notebook cell). With ``register``
        False the source is not in linecache: the frame's source is unavailable."""
        text, ns = self.source()
        if register:
            linecache.cache[filename] = (len(text), None, text.splitlines(keepends=True), filename)
        code = compile(text, filename, "exec")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exec(code, ns)
        return ns["loss"]


class _seeded:
    """``with _seeded(): criterion = nn.X(...)``: module init draws from its own seeded RNG."""

    def __enter__(self):
        self._fork = torch.random.fork_rng(devices=[])
        self._fork.__enter__()
        torch.manual_seed(0)

    def __exit__(self, *exc):
        return self._fork.__exit__(*exc)


def _ctc_safe(targets, log_probs):
    """torch 2.13's CPU ``ctc_loss`` reads out of bounds (garbage, or a segfault) for target values
    outside ``[0, C)`` and segfaults on 1-D targets with stride 0 (``expand``); no one can hint after a
    crash, so the fuzzer keeps to what torch survives."""
    if not isinstance(targets, T) or targets.layout == "meta":
        return targets
    if targets.layout == "expanded" and len(targets.shape) == 1:
        targets = replace(targets, layout="contiguous")
    classes = log_probs.shape[-1] if isinstance(log_probs, T) and len(log_probs.shape) else 1
    if classes < 1:
        return replace(targets, shape=(0,))
    return replace(targets, clip=min(classes, 2 if targets.dtype == torch.bool else 256 if targets.dtype == torch.uint8
                                      else classes))


def _build(v):
    if isinstance(v, T):
        return v.build()
    if isinstance(v, tuple) and v and v[0] == "list":  # CTC lengths as a Python list
        return list(v[1])
    return v


def _lit(v) -> str:
    if isinstance(v, float) and not math.isfinite(v):
        return f"float({str(v)!r})"
    if isinstance(v, tuple) and v and v[0] == "list":
        return repr(list(v[1]))
    return repr(v)


# --- the strategy --------------------------------------------------------------------------------------

def _sizes(draw, correct=False):
    n = draw(st.sampled_from((1, 2, 3, 4, 5) if correct else (1, 2, 3, 4, 0, 5)))
    c = draw(st.sampled_from((3, 2, 5, 1, 1000)))
    extra = draw(st.sampled_from(((), (), (2,), (2, 3))))
    if c == 1000 and n * math.prod(extra) > 8:
        extra = ()
    return n, c, extra


def _base(draw, loss: str, seed: int, correct: bool = False) -> tuple[dict, dict]:
    """A call of ``loss`` as its docs want it: (positional recipes, keyword recipes/options). Without
    ``correct`` it may also have an empty batch, CTC inputs too short for their targets or a variance of
    0 or -1, which torch accepts or rejects on its own."""
    n, c, extra = _sizes(draw, correct)
    s = iter(range(seed, seed + 100))
    f = lambda shape, values="randn", **kw: T(tuple(shape), torch.float32, values, seed=next(s), **kw)  # noqa: E731
    cls = lambda shape, high: T(tuple(shape), torch.int64, "classes", 0, high, seed=next(s))  # noqa: E731
    grad = draw(st.sampled_from(("off", "leaf", "graph")))
    kw: dict = {}
    if loss in ("nll_loss", "cross_entropy"):
        unbatched = draw(st.integers(0, 9)) == 0
        ishape = (c,) if unbatched else (n, c, *extra)
        tshape = () if unbatched else (n, *extra)
        x = f(ishape, "logprobs" if loss == "nll_loss" else "randn", grad=grad)
        if loss == "cross_entropy" and draw(st.integers(0, 4)) == 0:
            y = f(ishape, "probs")  # soft targets
        else:
            y = cls(tshape, c)
        if draw(st.booleans()):
            kw["weight"] = f((c,), "uniform")
        args = {"input": x, "target": y}
    elif loss == "linear_cross_entropy":
        h = draw(st.sampled_from((4, 1, 8)))
        args = {"input": f((n, h), grad=grad), "linear_weight": f((min(c, 50), h)), "target": cls((n,), min(c, 50))}
        if draw(st.booleans()):
            kw["weight"] = f((min(c, 50),), "uniform")
        if draw(st.integers(0, 3)) == 0:
            kw["linear_bias"] = f((min(c, 50),))
    elif loss == "binary_cross_entropy":
        shape = (n, *extra) if draw(st.booleans()) else (n, c)
        args = {"input": f(shape, "uniform", grad=grad), "target": f(shape, "binary")}
        if draw(st.integers(0, 3)) == 0:
            kw["weight"] = f(shape, "uniform")
    elif loss == "binary_cross_entropy_with_logits":
        shape = (n, c)
        args = {"input": f(shape, grad=grad), "target": f(shape, "binary")}
        if draw(st.integers(0, 2)) == 0:
            kw["pos_weight"] = f((c,), "uniform")
        if draw(st.integers(0, 3)) == 0:
            kw["weight"] = f((c,), "uniform")
    elif loss == "kl_div":
        log_target = draw(st.booleans())
        args = {"input": f((n, c), "logprobs", grad=grad), "target": f((n, c), "logprobs" if log_target else "probs")}
        kw["log_target"] = log_target
        kw["reduction"] = "batchmean"
    elif loss == "ctc_loss":
        t_len = draw(st.sampled_from((6, 1, 10)))
        s_len = draw(st.sampled_from((2, 1, 3, 0)))
        if correct:
            t_len = max(t_len, 2 * s_len + 1)  # room for the target and a blank between repeats
        classes = max(c, 2) if c < 1000 else 20
        n = max(n, 1) if draw(st.booleans()) else n
        args = {"log_probs": f((t_len, n, classes), "logprobs", grad=grad, dim=-1)}
        if draw(st.booleans()):
            args["targets"] = T((n, s_len), torch.int64, "classes", 1, classes, seed=next(s))
        else:
            args["targets"] = T((n * s_len,), torch.int64, "classes", 1, classes, seed=next(s))
        lengths_as = draw(st.sampled_from(("tensor", "list")))
        for name, value in (("input_lengths", t_len), ("target_lengths", s_len)):
            if lengths_as == "list":
                args[name] = ("list", (value,) * n)
            else:
                args[name] = T((n,), torch.int64, "classes", value, value + 1, seed=next(s))
    elif loss in ("mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "soft_margin_loss"):
        shape = (n, *extra) if draw(st.booleans()) else (n, c)
        target = "signs" if loss == "soft_margin_loss" else "randn"
        args = {"input": f(shape, grad=grad), "target": f(shape, target)}
    elif loss == "poisson_nll_loss":
        args = {"input": f((n, c), grad=grad), "target": T((n, c), torch.float32, "classes", 0, 5, seed=next(s))}
    elif loss == "gaussian_nll_loss":
        d = min(c, 8)
        args = {"input": f((n, d), grad=grad), "target": f((n, d)),
                "var": f(draw(st.sampled_from(((n, d), (n, 1), (n,)))), "uniform")}
        if draw(st.integers(0, 4)) == 0:
            args["var"] = draw(st.sampled_from((0.5, 1.0) if correct else (0.5, 1.0, -1.0, 0.0)))
    elif loss in ("margin_ranking_loss",):
        args = {"input1": f((n,), grad=grad), "input2": f((n,)), "target": f((n,), "signs")}
    elif loss == "hinge_embedding_loss":
        args = {"input": f((n, *extra), grad=grad), "target": f((n, *extra), "signs")}
    elif loss == "multilabel_margin_loss":
        args = {"input": f((n, c), grad=grad), "target": T((n, c), torch.int64, "classes", -1, c, seed=next(s))}
    elif loss == "multilabel_soft_margin_loss":
        args = {"input": f((n, c), grad=grad), "target": f((n, c), "binary")}
        if draw(st.booleans()):
            kw["weight"] = f((c,), "uniform")
    elif loss == "cosine_embedding_loss":
        d = min(c, 8)
        args = {"input1": f((n, d), grad=grad), "input2": f((n, d)), "target": f((n,), "signs")}
    elif loss == "multi_margin_loss":
        args = {"input": f((n, c), grad=grad), "target": cls((n,), c)}
        if draw(st.booleans()):
            kw["weight"] = f((c,), "uniform")
    elif loss == "triplet_margin_loss":
        d = min(c, 8)
        args = {"anchor": f((n, d), grad=grad), "positive": f((n, d)), "negative": f((n, d))}
    elif loss == "one_hot":
        args = {"tensor": cls((n, *extra), c)}
        kw["num_classes"] = draw(st.sampled_from((-1, c)))
    else:  # pragma: no cover
        raise AssertionError(loss)
    return args, kw


def _mutate_tensor(draw, t: T, c: int) -> T:
    what = draw(st.sampled_from(("dtype", "dtype", "shape", "values", "classes", "layout", "grad")))
    if what == "dtype":
        return replace(t, dtype=draw(st.sampled_from(DTYPES)))
    if what == "shape":
        shape = tuple(t.shape)
        how = draw(st.sampled_from(("drop", "add1", "addC", "resize", "zero", "scalar", "swap", "unsqueeze0")))
        if how == "drop" and shape:
            shape = shape[:-1]
        elif how == "add1":
            shape = shape + (1,)
        elif how == "addC":
            shape = shape + (min(c, 50),)
        elif how == "resize" and shape:
            i = draw(st.integers(0, len(shape) - 1))
            shape = shape[:i] + (shape[i] + draw(st.sampled_from((1, 2, 7))),) + shape[i + 1:]
        elif how == "zero" and shape:
            shape = (0,) + shape[1:]
        elif how == "scalar":
            shape = ()
        elif how == "swap" and len(shape) >= 2:
            shape = shape[:-2] + (shape[-1], shape[-2])
        elif how == "unsqueeze0":
            shape = (1,) + shape
        return replace(t, shape=shape)
    if what == "values":
        return replace(t, values=draw(st.sampled_from(VALUE_KINDS)))
    if what == "classes":  # out-of-range and boundary labels: 1..C, -1 padding, 255, huge, C-1
        low, high = draw(st.sampled_from(((1, c + 1), (-1, c), (c - 1, c), (0, 256), (c, c + 1), (-100, -99),
                                          (0, 10 ** 6), (-5, 0))))
        dtype = t.dtype if not t.dtype.is_floating_point or draw(st.booleans()) else torch.int64
        return replace(t, values="classes", low=low, high=high, dtype=dtype)
    if what == "layout":
        return replace(t, layout=draw(st.sampled_from(LAYOUTS)))
    return replace(t, grad=draw(st.sampled_from(("off", "leaf", "graph"))))


# The classic mistakes are about class-index and binary losses: those come up twice as often.
WEIGHTED = tuple(LOSSES) + ("cross_entropy", "nll_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits",
                            "ctc_loss", "one_hot")


@st.composite
def calls(draw, losses=WEIGHTED) -> Call:
    loss = draw(st.sampled_from(losses))
    seed = draw(st.integers(0, 2 ** 16))
    args, kw = _base(draw, loss, seed)
    module = LOSSES[loss][0]
    form = "module" if module and draw(st.booleans()) else "functional"
    c = next((t.shape[1] for t in args.values() if isinstance(t, T) and len(t.shape) >= 2), 3)
    for _ in range(draw(st.sampled_from((0, 1, 1, 2, 2, 3)))):
        what = draw(st.sampled_from(("tensor", "tensor", "tensor", "option", "option", "all-meta", "all-layout")))
        tensors = [k for k, v in {**args, **kw}.items() if isinstance(v, T)]
        if what == "tensor" and tensors:
            name = draw(st.sampled_from(tensors))
            space = args if name in args else kw
            space[name] = _mutate_tensor(draw, space[name], c)
        elif what == "option":
            name = draw(st.sampled_from(LOSS_OPTIONS[loss] + (("weight",) if "weight" in kw else ())))
            if name == "weight":
                kw["weight"] = _mutate_tensor(draw, kw["weight"], c)
            else:
                kw[name] = draw(st.sampled_from(OPTION_VALUES[name]))
        elif what in ("all-meta", "all-layout"):
            layout = "meta" if what == "all-meta" else draw(st.sampled_from(LAYOUTS))
            for space in (args, kw):
                for k, v in space.items():
                    if isinstance(v, T):
                        space[k] = replace(v, layout=layout)
    style = draw(st.sampled_from(("names", "names", "subscript", "attribute", "multiline")))
    return Call(loss=loss, form=form, args=args, kwargs=kw, style=style)


@st.composite
def correct_calls(draw, losses=tuple(LOSSES)) -> Call:
    """Correct code: each loss called as its documentation wants, no mutation (hard negatives)."""
    loss = draw(st.sampled_from(losses))
    args, kw = _base(draw, loss, draw(st.integers(0, 2 ** 16)), correct=True)
    form = "module" if LOSSES[loss][0] and draw(st.booleans()) else "functional"
    style = draw(st.sampled_from(("names", "subscript", "attribute", "multiline")))
    return Call(loss=loss, form=form, args=args, kwargs=kw, style=style)


# --- checks shared by the fuzz and corpus tests -------------------------------------------------------------

def check_findings(findings) -> None:
    """What every list of findings must be: catalog categories, NLH codes, one-line titles; and it renders."""
    from nllhint.render import render

    assert isinstance(findings, list)
    for f in findings:
        assert isinstance(f, Finding)
        assert f.category in CATALOG, f.category
        assert re.fullmatch(r"NLH\d{3}", f.code), f.code
        assert f.title and isinstance(f.title, str) and "\n" not in f.title
        assert isinstance(f.message, str) and f.message
        assert all(isinstance(line, str) for line in f.evidence)
    if findings:
        text = render(findings, color=False, width=100)
        assert text.startswith("nllhint NLH")
        render(findings, color=True, width=40, brief=True)


@contextlib.contextmanager
def debug():
    """``NLLHINT_DEBUG=1``: nllhint re-raises its internal errors instead of skipping the rule or audit."""
    old = os.environ.get("NLLHINT_DEBUG")
    os.environ["NLLHINT_DEBUG"] = "1"
    try:
        yield
    finally:
        if old is None:
            del os.environ["NLLHINT_DEBUG"]
        else:
            os.environ["NLLHINT_DEBUG"] = old
