"""The loss contracts: what every loss PyTorch ships requires of its arguments. The one place loss
knowledge lives; the silent audits (``nllhint.audit``), the exception rules (``nllhint.rules``) and the
generated docs read it from here instead of keeping their own lists.

Stable API (other modules read it; add fields at the end, never rename or remove):

    CONTRACTS[name] -> Contract          keyed by functional name: CONTRACTS["cross_entropy"]
    contract(name_or_module) -> Contract | None   "cross_entropy", "CrossEntropyLoss" or "F.cross_entropy"
    by_module(class_name) -> Contract | None
    effective_reduction(options) -> str  the reduction a call really uses, legacy size_average/reduce read
    legacy_reduction(size_average, reduce) -> str
    losses_where(predicate) -> frozenset of functional names, e.g. losses_where(lambda c: c.elementwise)
    predicts_target(contract) -> bool    input predicts the target value by value (regression, binary)
    FUNCTIONAL_NAMES                     the functional names torch.nn.functional may have (watch list)
    Domain constants (strings): LOGITS, LOG_PROBS, PROBS, UNIT, REAL, POSITIVE, NON_NEGATIVE,
    CLASS_INDEX, BINARY, SIGNS, INDEX_LISTS, LABEL_SEQUENCES, LENGTHS, EMBEDDING
    Weight kinds: CLASS_WEIGHT (1-D, one entry per class, looked up by the target's class),
    ELEMENTWISE_WEIGHT (multiplies the unreduced loss, broadcasting like any tensor op: a (K,) tensor
    lines up with the LAST dim of the input), LAST_DIM (pos_weight: broadcasts over the input's last dim).

A ``Contract`` records, per loss: the input's domain (``input``, with ``input_if`` for options that change
it), the accepted target domains (``targets``; the first is the usual one), the class dim of a batched
input, whether input and target must have equal shapes and whether torch broadcasts them silently when
they do not, the mathematical range of the reduced value (and under which condition it holds), what
``weight``/``pos_weight`` apply to, the argument names in order (functional and module forward), the
options, and whether legacy ``size_average``/``reduce`` are accepted. Nothing here imports torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

# --- domains: what values a tensor argument must hold --------------------------------------------------
LOGITS = "logits"  # raw scores, any real; the loss normalises them itself (softmax / sigmoid inside)
LOG_PROBS = "log_probs"  # log-probabilities over the class dim: every value <= 0, logsumexp over it == 0
PROBS = "probs"  # probabilities over the class dim: values in [0, 1], rows sum to 1
UNIT = "unit"  # elementwise probabilities: each value in [0, 1], no row constraint
REAL = "real"  # any real values
POSITIVE = "positive"  # > 0 (a variance)
NON_NEGATIVE = "non_negative"  # >= 0 (counts, a Poisson rate)
CLASS_INDEX = "class_index"  # integers in [0, C) (or ignore_index)
BINARY = "binary"  # exactly 0 or 1 (multi-hot rows)
SIGNS = "signs"  # exactly -1 or +1
INDEX_LISTS = "index_lists"  # per row: class indices, the list ended by -1 (MultiLabelMarginLoss)
LABEL_SEQUENCES = "label_sequences"  # CTC targets: class indices in [0, C) other than blank
LENGTHS = "lengths"  # positive integer lengths
EMBEDDING = "embedding"  # real feature vectors compared with a distance or a cosine

DOMAINS = (LOGITS, LOG_PROBS, PROBS, UNIT, REAL, POSITIVE, NON_NEGATIVE, CLASS_INDEX, BINARY, SIGNS,
           INDEX_LISTS, LABEL_SEQUENCES, LENGTHS, EMBEDDING)

# --- what weight / pos_weight apply to ------------------------------------------------------------------
CLASS_WEIGHT = "class"  # shape (C,): one entry per class, picked by each sample's target class
ELEMENTWISE_WEIGHT = "elementwise"  # multiplies the unreduced loss elementwise (broadcasts from the last dim)
LAST_DIM = "last_dim"  # pos_weight: one entry per output of the last dim (per label), broadcast over the rest

NON_NEGATIVE_RANGE = (0.0, math.inf)
UNBOUNDED = (-math.inf, math.inf)

_LEGACY = ("size_average", "reduce")


@dataclass(frozen=True)
class Contract:
    """What one loss requires. Field names are API: add new ones at the end with a default."""

    name: str  # functional name, the key of CONTRACTS: "cross_entropy"
    module: str  # torch.nn class name: "CrossEntropyLoss"
    functional: bool  # torch.nn.functional has ``name`` (False for AdaptiveLogSoftmaxWithLoss)
    params: tuple[str, ...]  # positional parameters of the functional form, in order
    forward: tuple[str, ...]  # the module's forward parameters, in order (as torch names them)
    tensors: tuple[str, ...]  # the tensor arguments a check looks at, functional names
    input: str  # domain of the main input (``input`` / ``log_probs`` / ``input1``...)
    targets: tuple[str, ...]  # accepted target domains, the usual one first; () when no target
    class_dim: int | None = None  # dim of the classes in a batched input (0 for an unbatched 1-D input)
    same_shape: bool = False  # input and target must have equal shapes
    broadcasts: bool = False  # unequal shapes broadcast silently (a UserWarning at most)
    value_range: tuple[float, float] = NON_NEGATIVE_RANGE  # of the reduced value, when ``range_when`` holds
    range_when: str = ""  # the contract the range depends on, in words ("" = always)
    weight: str | None = None  # CLASS_WEIGHT / ELEMENTWISE_WEIGHT, None when there is no weight argument
    pos_weight: str | None = None  # LAST_DIM for BCEWithLogitsLoss
    options: tuple[str, ...] = ()  # non-tensor options, functional names (reduction included)
    legacy: bool = False  # accepts the deprecated size_average / reduce
    input_if: tuple[tuple[str, object, str], ...] = ()  # (option, value, input domain) overrides
    targets_if: tuple[tuple[str, object, tuple[str, ...]], ...] = ()  # (option, value, target domains)
    class_loss: bool = False  # the target names one class per sample (index) out of the input's classes
    elementwise: bool = False  # the loss compares input and target element by element
    normalised_over: int | None = None  # dim the input must be (log-)normalised over; None: not normalised
    notes: str = ""  # one line on what is easy to get wrong
    log_softmax_classes: bool = False  # scores log_softmax over the class dim (CE applies it, NLL expects it)

    def input_domain(self, options: dict | None = None) -> str:
        """The input domain for these options (PoissonNLLLoss(log_input=False) wants rates >= 0)."""
        for option, value, domain in self.input_if:
            if options and options.get(option) == value:
                return domain
        return self.input

    def target_domains(self, options: dict | None = None) -> tuple[str, ...]:
        """Accepted target domains for these options (KLDivLoss(log_target=True) wants log-probabilities)."""
        for option, value, domains in self.targets_if:
            if options and options.get(option) == value:
                return domains
        return self.targets

    @property
    def target_param(self) -> str | None:
        """The functional name of the target argument ("target", "targets"), None when there is none."""
        for name in ("target", "targets"):
            if name in self.tensors:
                return name
        return None

    @property
    def input_param(self) -> str:
        return self.tensors[0]

    @property
    def non_negative(self) -> bool:
        return self.value_range[0] >= 0


def legacy_reduction(size_average=None, reduce=None) -> str:
    """What the deprecated arguments mean, as torch reads them: ``reduce=False`` -> 'none' (whatever
    size_average says), else ``size_average=False`` -> 'sum', else 'mean' (None counts as True)."""
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if not reduce:
        return "none"
    return "mean" if size_average else "sum"


def effective_reduction(options: dict, default: str = "mean") -> str:
    """The reduction a call really uses: legacy ``size_average``/``reduce``, when either is given, win
    over ``reduction`` (as in torch; ``F.kl_div(a, b, size_average=False)`` sums)."""
    if options.get("size_average") is not None or options.get("reduce") is not None:
        return legacy_reduction(options.get("size_average"), options.get("reduce"))
    reduction = options.get("reduction", default)
    return reduction if isinstance(reduction, str) else default


_R = ("reduction",)
_L = ("size_average", "reduce", "reduction")


def _c(name, module, params, tensors, input, targets, **kw) -> Contract:
    forward = kw.pop("forward", None) or tuple(tensors)
    functional = kw.pop("functional", True)
    return Contract(name=name, module=module, functional=functional, params=tuple(params), forward=forward,
                    tensors=tuple(tensors), input=input, targets=tuple(targets), **kw)


_TABLE = (
    # --- classification over C classes --------------------------------------------------------------
    _c("cross_entropy", "CrossEntropyLoss",
       ("input", "target", "weight", "size_average", "ignore_index", "reduce", "reduction", "label_smoothing"),
       ("input", "target"), LOGITS, (CLASS_INDEX, PROBS), class_dim=1, weight=CLASS_WEIGHT,
       options=("ignore_index", "label_smoothing") + _L, legacy=True, class_loss=True,
       range_when="target indices, or probability targets in [0, 1]",
       notes="applies log_softmax over dim 1 itself: pass raw scores; float targets of the input's shape "
             "are class probabilities (soft labels)", log_softmax_classes=True),
    _c("nll_loss", "NLLLoss",
       ("input", "target", "weight", "size_average", "ignore_index", "reduce", "reduction"),
       ("input", "target"), LOG_PROBS, (CLASS_INDEX,), class_dim=1, weight=CLASS_WEIGHT,
       options=("ignore_index",) + _L, legacy=True, class_loss=True, normalised_over=1,
       range_when="input is log-probabilities (log_softmax over dim 1)",
       notes="only picks -input[n, target[n]]: it does not normalise", log_softmax_classes=True),
    _c("linear_cross_entropy", "LinearCrossEntropyLoss", ("input", "linear_weight", "target"),
       ("input", "linear_weight", "target"), REAL, (CLASS_INDEX, PROBS), class_dim=1, weight=CLASS_WEIGHT,
       forward=("input", "target"),
       options=("reduction", "ignore_index", "label_smoothing"), class_loss=True,
       range_when="target indices", notes="input is the features before the output projection"),
    _c("adaptive_log_softmax_with_loss", "AdaptiveLogSoftmaxWithLoss", ("input_", "target_"),
       ("input_", "target_"), REAL, (CLASS_INDEX,), functional=False, class_loss=True,
       range_when="always (the output's .loss)", notes="input is features (N, in_features), not scores"),
    _c("multi_margin_loss", "MultiMarginLoss",
       ("input", "target", "p", "margin", "weight", "size_average", "reduce", "reduction"),
       ("input", "target"), LOGITS, (CLASS_INDEX,), class_dim=1, weight=CLASS_WEIGHT,
       options=("p", "margin") + _L, legacy=True, class_loss=True),
    # --- KL and CTC ----------------------------------------------------------------------------------
    _c("kl_div", "KLDivLoss", ("input", "target", "size_average", "reduce", "reduction", "log_target"),
       ("input", "target"), LOG_PROBS, (PROBS,), same_shape=True, broadcasts=True, options=("log_target",) + _L,
       legacy=True,
       targets_if=(("log_target", True, (LOG_PROBS,)),), normalised_over=-1,
       range_when="input and target rows are distributions over the same dim (reduced)",
       notes="KL(target || exp(input)): the model's log-probabilities first; 'batchmean' is the real KL"),
    _c("ctc_loss", "CTCLoss",
       ("log_probs", "targets", "input_lengths", "target_lengths", "blank", "reduction", "zero_infinity"),
       ("log_probs", "targets", "input_lengths", "target_lengths"), LOG_PROBS, (LABEL_SEQUENCES,),
       class_dim=2, options=("blank", "reduction", "zero_infinity"), normalised_over=2,
       range_when="log_probs is log_softmax over the classes (dim 2 of (T, N, C))",
       notes="(T, N, C) log-probabilities; blank (default 0) is never a target label"),
    # --- binary / multi-label ------------------------------------------------------------------------
    _c("binary_cross_entropy", "BCELoss",
       ("input", "target", "weight", "size_average", "reduce", "reduction"),
       ("input", "target"), UNIT, (UNIT,), same_shape=True, weight=ELEMENTWISE_WEIGHT, options=_L,
       legacy=True, elementwise=True, range_when="target in [0, 1]",
       notes="input is probabilities (after sigmoid); weight broadcasts elementwise, it is not a class weight"),
    _c("binary_cross_entropy_with_logits", "BCEWithLogitsLoss",
       ("input", "target", "weight", "size_average", "reduce", "reduction", "pos_weight"),
       ("input", "target"), LOGITS, (UNIT,), same_shape=True, weight=ELEMENTWISE_WEIGHT, pos_weight=LAST_DIM,
       options=_L, legacy=True, elementwise=True, range_when="target in [0, 1] and pos_weight >= 0",
       notes="applies sigmoid itself; pos_weight has one entry per output of the last dim"),
    _c("multilabel_soft_margin_loss", "MultiLabelSoftMarginLoss",
       ("input", "target", "weight", "size_average", "reduce", "reduction"),
       ("input", "target"), LOGITS, (BINARY, UNIT), class_dim=1, same_shape=True, broadcasts=True,
       weight=ELEMENTWISE_WEIGHT,
       options=_L, legacy=True, range_when="target in [0, 1]",
       notes="multi-hot {0, 1} targets, the same shape as the input; weight (C,) broadcasts over the last dim"),
    _c("multilabel_margin_loss", "MultiLabelMarginLoss",
       ("input", "target", "size_average", "reduce", "reduction"),
       ("input", "target"), LOGITS, (INDEX_LISTS,), class_dim=1, same_shape=True, options=_L, legacy=True,
       notes="target rows are class indices ended by -1 ([3, 0, -1, 1] means {3, 0}), NOT multi-hot rows"),
    _c("soft_margin_loss", "SoftMarginLoss", ("input", "target", "size_average", "reduce", "reduction"),
       ("input", "target"), LOGITS, (SIGNS,), same_shape=True, options=_L, legacy=True, elementwise=True,
       notes="targets are -1 / +1; 0/1 labels turn every negative into a zero-gradient term"),
    # --- pairs and embeddings ------------------------------------------------------------------------
    _c("hinge_embedding_loss", "HingeEmbeddingLoss",
       ("input", "target", "margin", "size_average", "reduce", "reduction"),
       ("input", "target"), NON_NEGATIVE, (SIGNS,), same_shape=True, broadcasts=True, options=("margin",) + _L,
       legacy=True,
       value_range=UNBOUNDED, range_when="", elementwise=True,
       notes="input is a distance; target -1 / +1 (with 0 labels those samples contribute nothing)"),
    _c("cosine_embedding_loss", "CosineEmbeddingLoss",
       ("input1", "input2", "target", "margin", "size_average", "reduce", "reduction"),
       ("input1", "input2", "target"), EMBEDDING, (SIGNS,), options=("margin",) + _L, legacy=True,
       notes="target -1 / +1 per pair; 0 labels are neither similar nor dissimilar"),
    _c("margin_ranking_loss", "MarginRankingLoss",
       ("input1", "input2", "target", "margin", "size_average", "reduce", "reduction"),
       ("input1", "input2", "target"), REAL, (SIGNS,),
       options=("margin",) + _L, legacy=True, notes="target +1 means input1 should rank higher; -1 / +1 only"),
    _c("triplet_margin_loss", "TripletMarginLoss",
       ("anchor", "positive", "negative", "margin", "p", "eps", "swap", "size_average", "reduce", "reduction"),
       ("anchor", "positive", "negative"), EMBEDDING, (), options=("margin", "p", "eps", "swap") + _L,
       legacy=True),
    _c("triplet_margin_with_distance_loss", "TripletMarginWithDistanceLoss", ("anchor", "positive", "negative"),
       ("anchor", "positive", "negative"), EMBEDDING, (), options=("margin", "swap", "reduction"),
       range_when="the distance function is non-negative"),
    # --- regression ----------------------------------------------------------------------------------
    _c("mse_loss", "MSELoss", ("input", "target", "size_average", "reduce", "reduction", "weight"),
       ("input", "target"), REAL, (REAL,), same_shape=True, broadcasts=True, weight=ELEMENTWISE_WEIGHT,
       options=_L, legacy=True, elementwise=True),
    _c("l1_loss", "L1Loss", ("input", "target", "size_average", "reduce", "reduction", "weight"),
       ("input", "target"), REAL, (REAL,), same_shape=True, broadcasts=True, weight=ELEMENTWISE_WEIGHT,
       options=_L, legacy=True, elementwise=True),
    _c("smooth_l1_loss", "SmoothL1Loss", ("input", "target", "size_average", "reduce", "reduction", "beta"),
       ("input", "target"), REAL, (REAL,), same_shape=True, broadcasts=True, options=("beta",) + _L,
       legacy=True, elementwise=True),
    _c("huber_loss", "HuberLoss", ("input", "target", "reduction", "delta", "weight"),
       ("input", "target"), REAL, (REAL,), same_shape=True, broadcasts=True, weight=ELEMENTWISE_WEIGHT,
       options=("delta", "reduction"), elementwise=True),
    _c("poisson_nll_loss", "PoissonNLLLoss",
       ("input", "target", "log_input", "full", "size_average", "eps", "reduce", "reduction"),
       ("input", "target"), REAL, (NON_NEGATIVE,), same_shape=True, broadcasts=True,
       forward=("log_input", "target"), options=("log_input", "full", "eps") + _L, legacy=True,
       input_if=(("log_input", False, NON_NEGATIVE),), value_range=UNBOUNDED, elementwise=True,
       notes="log_input=True (default): input is the log of the rate, raw outputs are right; False: the rate"),
    _c("gaussian_nll_loss", "GaussianNLLLoss", ("input", "target", "var", "full", "eps", "reduction"),
       ("input", "target", "var"), REAL, (REAL,), same_shape=True, broadcasts=True,
       options=("full", "eps", "reduction"), value_range=UNBOUNDED, elementwise=True,
       notes="var must be positive (a variance, e.g. softplus or exp of an output), one per input or (N, 1)"),
)

CONTRACTS: dict[str, Contract] = {c.name: c for c in _TABLE}
_BY_MODULE: dict[str, Contract] = {c.module: c for c in _TABLE}

# The functional names a watch wraps (those missing from the installed torch are skipped by the watch).
FUNCTIONAL_NAMES: tuple[str, ...] = tuple(c.name for c in _TABLE if c.functional)


def by_module(class_name: str) -> Contract | None:
    """The contract of an ``nn`` loss class, by class name ("CrossEntropyLoss")."""
    return _BY_MODULE.get(class_name)


def contract(name: str | None) -> Contract | None:
    """The contract for a functional name, a module class name or ``F.<name>``; None if not a loss."""
    if not name:
        return None
    name = name.rsplit(".", 1)[-1]
    return CONTRACTS.get(name) or _BY_MODULE.get(name)


def module_label(name: str) -> str:
    """``CrossEntropyLoss`` for ``cross_entropy`` (the name itself when unknown)."""
    found = CONTRACTS.get(name)
    return found.module if found else name


def losses_where(predicate: Callable[[Contract], bool]) -> frozenset[str]:
    """Functional names of the losses whose contract satisfies ``predicate``."""
    return frozenset(c.name for c in _TABLE if predicate(c))


def predicts_target(c: Contract) -> bool:
    """The input is a prediction of the target value by value (equal shapes, one value per element): the
    regression and binary losses. Not KLDivLoss (rows of a distribution), MultiLabelMarginLoss (index
    lists) nor HingeEmbeddingLoss (its input is a distance, not a prediction)."""
    return (c.same_shape and bool(c.targets) and c.targets[0] not in (PROBS, INDEX_LISTS)
            and c.input != NON_NEGATIVE)


__all__ = [
    "Contract", "CONTRACTS", "FUNCTIONAL_NAMES", "by_module", "contract", "module_label", "losses_where",
    "predicts_target",
    "legacy_reduction", "effective_reduction", "DOMAINS", "LOGITS", "LOG_PROBS", "PROBS", "UNIT", "REAL",
    "POSITIVE", "NON_NEGATIVE", "CLASS_INDEX", "BINARY", "SIGNS", "INDEX_LISTS", "LABEL_SEQUENCES", "LENGTHS",
    "EMBEDDING", "CLASS_WEIGHT", "ELEMENTWISE_WEIGHT", "LAST_DIM", "NON_NEGATIVE_RANGE", "UNBOUNDED",
]
