"""PyTorch's loss error messages, grouped into families that survive rewording across releases.

Each family is one or more patterns; named groups capture the numbers a rule needs. Rules name the
families they handle, never raw strings, so a new PyTorch wording means one new pattern here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SHAPE = r"(?:torch\.Size\()?[\[(]?(?P<{0}>[\d, ]*)[\])]?\)?"

FAMILIES: dict[str, tuple[str, ...]] = {
    # target-range
    "target-out-of-bounds": (
        r"Target (?P<value>-?\d+) is out of bounds",
        r"Assertion `cur_target >= 0 && cur_target < n_classes' failed",  # torch <= 1.4 on the CPU
        r"Target values should be in \[0, (?P<last>\d+)\], but values in range \[(?P<min>-?\d+), (?P<max>-?\d+)\]",
        r"^target out of range",
        r"argument #2 'target' is out of range",
    ),
    "cuda-assert": (
        r"device-side assert",
        r"t >= 0 && t < n_classes",
        r"CUDA error: an illegal memory access",
    ),
    "cuda-followon": (  # how a device-side assert can surface at the next cuDNN/cuBLAS call (see rules/cuda.py)
        r"cuDNN error: CUDNN_STATUS_(?:INTERNAL_ERROR|EXECUTION_FAILED|MAPPING_ERROR)",
        r"CUBLAS_STATUS_(?:EXECUTION_FAILED|INTERNAL_ERROR|MAPPING_ERROR)",
        r"CUDA error: unspecified launch failure",
    ),
    "one-hot-too-large": (r"Class values must be smaller than num_classes",),
    "one-hot-negative": (r"Class values must be non-negative",),
    "one-hot-dtype": (r"one_hot is only applicable to index tensor",),  # float/int32/bool/uint8 input
    # target-shape / wrong-loss
    "multi-target": (
        r"0D or 1D target tensor expected, multi-target not supported",
        r"multi-target not supported",
    ),
    "spatial-target-dim": (
        r"only batches of spatial targets supported \((?:non-empty )?3D tensors\) but got targets of (?:dimension|size):[\s:]*(?P<dim>[\d\[\], ]+)",
    ),
    "prob-target-dtype": (r"Expected floating point type for target with class probabilities, got (?P<dtype>\w+)",),
    # target-dtype / input-dtype / weight-size
    "target-dtype": (
        r"expected target dtype to be Long or Byte, but got (?P<dtype>\w+)",
        r"Expected object of scalar type Long but got scalar type (?P<dtype>\w+) for argument #2 'target'",
    ),
    "scalar-type": (
        r"expected scalar type (?P<expected>\w+) but found (?P<found>\w+)",
        r"Expected object of scalar type (?P<expected>\w+) but got scalar type (?P<found>\w+)",
    ),
    "found-dtype": (r"Found dtype (?P<found>\w+) but expected (?P<expected>\w+)",),
    "result-cast": (r"result type (?P<result>\w+) can't be cast to the desired output type (?P<output>\w+)",),
    "not-implemented-dtype": (
        r"\"(?P<kernel>\w+)\" not implemented for '(?P<dtype>\w+)'",
        r"(?P<kernel>\w+) not implemented for '(?P<dtype>\w+)'",
        r"(?P<kernel>mean)\(\): could not infer output dtype\. Input dtype must be either a floating point or complex dtype\. Got: (?P<dtype>\w+)",
    ),
    "integral-input": (r"(?P<loss>\w+): (?P<what>Integral|Complex) inputs not supported",),
    "bool-sub": (r"Subtraction, the `-` operator, with two bool tensors is not supported",),
    "unbatched-target-size": (r"For 1D input, 1D target must have size 1, but got target size: (?P<n>\d+)",),
    # batch-mismatch / class-dim / shape-mismatch
    "batch-size": (
        r"Expected input batch_size \((?P<n_input>\d+)\) to match target batch_size \((?P<n_target>\d+)\)",
        r"Expected input batch size (?P<n_input>\d+) to match target batch size (?P<n_target>\d+)",
        r"Input and target should have the same size in the batch dimension",
        r"THIndexTensor_\(size\)\(target, 0\) == batch_size",  # torch < 1.0 (THNN assertion)
    ),
    "target-size": (r"Expected target size (?P<expected>\[[\d, ]*\]|\([\d, ]*\)), got (?P<got>.+)$",),
    "spatial-size": (
        r"size mismatch \(got input: (?P<input>\[[\d, ]*\]) ?, target: (?P<target>\[[\d, ]*\])",
        r"input and target batch or spatial sizes don't match: target \[(?P<target>[\d x]+)\], input \[(?P<input>[\d x]+)\]",
        r"target\.shape\[1:\] == input\.shape\[2:\], but got target\.shape (?P<target>.+?) and input\.shape (?P<input>.+)$",
    ),
    "bce-size": (
        r"Target size \((?P<target>.+?)\) must be the same as input size \((?P<input>.+?)\)$",
        r"Using a target size \((?P<target>.+?)\) that is different to the input size \((?P<input>.+?)\) is deprecated",
    ),
    "broadcast": (
        r"The size of tensor a \((?P<a>\d+)\) must match the size of tensor b \((?P<b>\d+)\) at non-singleton dimension (?P<dim>\d+)",
        r"Attempting to broadcast a dimension of length (?P<a>\d+)",
        r"output with shape \[(?P<out>[\d, ]*)\] doesn't match the broadcast shape \[(?P<shape>[\d, ]*)\]",
    ),
    # the losses of pairs, triplets and margins (rules/pairs.py, rules/margins.py)
    "triplet-ndim": (
        r"The anchor, positive, and negative tensors are expected to have the same number of dimensions, "
        r"but got: anchor (?P<anchor>\d+)D, positive (?P<positive>\d+)D,? and negative (?P<negative>\d+)D",
        r"All inputs should have same dimension but got (?P<anchor>\d+)D, (?P<positive>\d+)D and (?P<negative>\d+)D",
    ),
    "ranking-ndim": (
        r"margin_ranking_loss ?: All input tensors should have same dimension but got sizes: "
        r"input1: (?P<input1>.+?), input2: (?P<input2>.+?), target: (?P<target>.+?)\s*$",
    ),
    "pair-ndim": (  # CosineEmbeddingLoss; AdaptiveLogSoftmaxWithLoss says "size" for its one input
        r"(?P<target>[01])D target tensor expects (?P<inputs>[12])D input tensors?, but found inputs with sizes? "
        r"(?P<sizes>.+?)\.?$",
    ),
    "margin-target-size": (
        r"multi_margin_loss: target tensor should be 1-D with size equal to the number of input samples.*?"
        r"Expected target size \[(?P<n>\d+)\], but got (?P<got>\[[\d, ]*\])",
        r"inconsistent target size, expected (?P<n>\d+) but got (?P<got>(?:torch\.Size\()?\[[\d, ]*\]\)?)",
    ),
    "multilabel-target-size": (
        r"inconsistent target size: (?P<target>\[[\d, ]*\]) for input of size: (?P<input>\[[\d, ]*\])",
        r"inconsistent size (?P<target>\[[\d, ]*\]) for argument #2 'target'",  # torch < 2.1
    ),
    "var-size": (r"var is of incorrect size",),
    "var-type": (r"any\(\) received an invalid combination of arguments - got \((?P<type>bool)\)",
                 r"any\(\): argument 'input' \(position 1\) must be Tensor, not (?P<type>bool|float|int)",
                 r"'(?P<type>float|int)' object has no attribute '(?:size|dim|shape)'"),
    "weight-ndim": (
        r"weight must be one-dimensional",
        r"expected weight to be None or 1D tensor, got (?P<dim>\d+)D",
    ),
    "option-type": (r"(?P<what>delta|margin|beta|p) must be a (?P<expected>float or int|float|int), got: (?P<type>.+)",),
    "cutoffs": (
        r"cutoffs should be a sequence of length larger than 0",
        r"cutoffs should be a sequence of unique, positive integers sorted in an increasing order",
    ),
    "prob-target-ignore": (
        r"ignore_index is not supported for floating point target",
        r"ignore_index cannot be specified when target contains probabilities",
    ),
    "linear-shapes": (
        r"expected (?P<what>input) with dimensionality 1 or 2, got (?P<dim>\d+)",
        r"expected (?P<what>linear_weight) with dimensionality at least 2, got (?P<dim>\d+)",
        r"expected equal input and linear_weight last dimensions \(in_features\), got (?P<a>\d+) and (?P<b>\d+)",
        r"expected (?P<what>linear_bias) shape (?P<expected>\(.*?\)), got (?P<got>\(.*?\))",
        r"K-dimensional loss defined by linear_weight shape (?P<weight>\(.*?\)) requires batched input",
        r"mat1 and mat2 shapes cannot be multiplied \((?P<n>\d+)x(?P<a>\d+) and (?P<b>\d+)x(?P<m>\d+)\)",
    ),
    "elementwise-weight": (r"Weights and input must have the same size",),
    "not-tensor": (
        r"argument '(?P<arg>\w+)' \(position \d+\) must be Tensor, not (?P<type>[\w.]+)",
        r"'(?P<type>int|float|bool|list|tuple|numpy\.ndarray)' object has no attribute '(?:dim|size|shape|ndim)'",
        r"cannot assign '(?P<type>[\w.]+)' object to buffer '(?P<arg>\w+)'",
    ),
    "forward-args": (
        r"forward\(\) missing (?P<missing>\d+) required positional arguments?: (?P<names>.+)$",
        r"forward\(\) takes (?P<takes>\d+) positional arguments? but (?P<given>\d+) were given",
        r"forward\(\) got an unexpected keyword argument '(?P<keyword>\w+)'",
    ),
    "option-arg-type": (
        r"argument '(?P<arg>\w+)' \(position \d+\) must be (?P<expected>int|float|bool|str), not (?P<type>[\w.]+)",
    ),
    "tensor-bool": (r"(?:Boolean|bool) value of Tensor with more than one value is ambiguous",),
    "module-attribute": (r"^'(?P<module>\w+)' object has no attribute '(?P<attr>\w+)'",),  # criterion.backward()
    "torch-namespace": (r"^module 'torch\.nn(?P<functional>\.functional)?' has no attribute '(?P<attr>\w+)'",),
    "input-0d": (r"Expected (?:input tensor to have )?1 or more dimensions \(got (?P<dim>0)\)",),
    "distance-function": (
        r"'(?P<type>\w+)' object is not callable",
        r"unsupported operand type\(s\) for [-+]: '(?:float|int|Tensor)' and '(?P<type>\w+)'",
        r"takes (?P<count>\d+) positional arguments? but 2 were given",
        r"missing 1 required positional argument",
    ),
    "weight-classes": (
        r"weight tensor should be defined either for all (?P<classes>\d+) classes or no classes but got weight tensor of shape: \[(?P<shape>[\d, ]*)\]",
        r"weight tensor should be defined either for all or no classes",
        r"inconsistent weight size, expected (?P<classes>\d+) but got \[(?P<shape>[\d, ]*)\]",
        r"expected weight shape to be",
    ),
    # bce-range
    "bce-input-range": (r"all elements of input should be between 0 and 1",),
    "bce-target-range": (r"all elements of target should be between 0 and 1",),
    # device-mismatch
    "device": (
        r"Expected all tensors to be on the same device, but found at least two devices, (?P<a>[\w:]+) and (?P<b>[\w:]+)!?(?: \(when checking argument for argument (?P<arg>\w+))?",
        r"Expected all tensors to be on the same device, but got (?P<arg>\w+) is on (?P<b>[\w:]+), different from other tensors on (?P<a>[\w:]+)",
        r"Tensor on device (?P<a>[\w:]+) is not on the expected device (?P<b>[\w:]+)",
        r"Expected object of device type (?P<a>\w+) but got device type (?P<b>\w+)(?: for argument #\d+ '(?P<arg>\w+)')?",
        r"Expected object of backend (?P<a>\w+) but got backend (?P<b>\w+)(?: for argument #\d+ '(?P<arg>\w+)')?",
        r"Expected all tensors to be on the same device",
    ),
    # backward
    "backward-nonscalar": (r"grad can be implicitly created only for scalar outputs",),
    "no-grad": (r"element (?P<index>\d+) of tensors does not require grad and does not have a grad_fn",),
    "anomaly-nan": (r"Function '(?P<function>\w+)' returned nan values in its (?P<index>\d+)\w* output",),
    # bad-option
    "reduction": (
        r"^(?P<value>\S+) is not a valid value for reduction",
        r"^(?P<value>\S+) is not valid$",
        r"Invalid reduction mode: (?P<value>\S+?)\.",
    ),
    "label-smoothing": (r"label_smoothing must be between 0\.0 and 1\.0\. Got: (?P<value>\S+)",
                        r"expected label_smoothing to be in range \[0, 1\], got (?P<value>\S+)"),
    "hyperparameter": (
        r"(?P<what>smooth_l1_loss) does not support negative values for beta",
        r"(?P<what>huber_loss) does not support non-positive values for delta",
        r"(?P<what>margin) must be greater than 0, got (?P<value>\S+)",
        r"expected (?P<what>margin) to be greater than 0",
        r"only (?P<what>p) == 1 and p == 2 supported",
        r"(?P<what>var) has negative entry",
        r"(?P<what>blank) must be in label range",
    ),
    # ctc-format
    "ctc-lengths": (
        r"(?P<which>input_lengths|target_lengths) must be of size batch_size",
        r"Expected (?P<which>input_lengths) to have value at most (?P<limit>\d+), but got value (?P<value>-?\d+)",
        r"Expected (?P<which>input_lengths|target_lengths) to have value at least 0, but got value (?P<value>-?\d+)",
        r"Expected tensor to have size at least (?P<needed>\d+) at dimension 1, but got size (?P<got>\d+) for argument #2 'targets'",
        r"Expected tensor to have size (?P<needed>\d+) at dimension 0, but got size (?P<got>\d+) for argument #2 'targets'",
        r"(?P<which>input_lengths|target_lengths) must be integral",
        r"Expected 3-dimensional tensor, but got (?P<dim>\d+)-dimensional tensor for argument #1 'log_probs'",
    ),
    # empty-input
    "empty": (
        r"log_probs tensor must not be empty",
        r"Expected non-empty vector or matrix",
        r"non-empty (?:2D or 3D|vector or matrix).{0,40}expected for input",  # older multi-margin wording
        r"cannot reshape tensor of 0 elements",
    ),
}

_COMPILED = {name: tuple(re.compile(p, re.MULTILINE) for p in pats) for name, pats in FAMILIES.items()}


@dataclass(frozen=True)
class MessageMatch:
    family: str
    groups: dict


def classify(message: str) -> list[MessageMatch]:
    """Every family whose pattern matches ``message``, in table order."""
    found = []
    for family, patterns in _COMPILED.items():
        for pattern in patterns:
            m = pattern.search(message)
            if m:
                groups = {k: v for k, v in m.groupdict().items() if v is not None}
                found.append(MessageMatch(family, groups))
                break
    return found


def parse_shape(text: str) -> tuple[int, ...] | None:
    """``'[2, 5]'``, ``'torch.Size([16, 1])'`` or ``'(2, 5)'`` -> ``(2, 5)``."""
    digits = re.findall(r"\d+", text.replace("torch.Size", ""))
    return tuple(int(d) for d in digits) if re.search(r"[\[(]", text) or digits else None


# PyTorch's loss messages (shared/torch-messages.md) that get no hint, and why; docs/rules.md lists them.
NO_HINT: tuple[tuple[str, str], ...] = (
    ("reduction='elementwise_mean' is deprecated. Please use reduction='mean' instead.",
     "a deprecation warning, not an error; it names the replacement itself"),
    ("size_average and reduce args will be deprecated, please use reduction='{reduction}' instead.",
     "a deprecation warning that names the equivalent reduction itself"),
    ("reduction: 'mean' divides the total loss by both the batch size and the support size. ...",
     "a warning, not an error: %%losscheck reports KLDivLoss's 'mean' as a kl-format finding"),
    ("Using a target size ({target_size}) that is different to the input size ({input_size}). This will likely "
     "lead to incorrect results due to broadcasting. ...",
     "a warning, not an error: %%losscheck reports the silent broadcast as a shape-mismatch finding"),
    ("`NLLLoss2d` has been deprecated. Please use `NLLLoss` instead ...",
     "a deprecation warning that names the drop-in replacement itself"),
    ("linear_cross_entropy: ``options`` ignored; chunked path needs reduction in {'mean','sum','none'}, ...",
     "a warning that lists every condition and the values that broke it"),
    ("linear_cross_entropy: forcing allow_retain_graph=True under torch.compile ...",
     "a warning under torch.compile that says how to silence it"),
    ("Invalid reduction type encountered in cross_entropy: {reduction}",
     "internal: only torch._C._nn.cross_entropy_loss called with an integer reduction reaches it"),
    ("F.triplet_margin_with_distance_loss does not support JIT scripting: ...",
     "torch.jit.script fails at compile time before this check can run; the message says why"),
    ("invalid acc_policy: {v!r}", "raised while building LinearCrossEntropyOptions, outside any loss call; "
                                  "the message names the field and the value"),
    ("invalid chunking_method: {v!r}", "raised while building LinearCrossEntropyOptions, outside any loss call"),
    ("batch_chunk_size must be positive int or None, got {v!r}",
     "raised while building LinearCrossEntropyOptions; the message states the rule"),
    ("acc_dtype must be one of {None, torch.float16, torch.bfloat16, torch.float32, torch.float64}, got {v!r}. ...",
     "raised while building LinearCrossEntropyOptions; the message lists the valid values"),
    ("batch_chunk_size (={n}) and chunking_method ('{m}') give different chunk sizes ({n} vs {k}); pass only one.",
     "the message already says the fix (pass only one of the two)"),
    ("unhandled chunking_method: {m!r}", "internal: validated earlier, unreachable"),
    ("linear_cross_entropy chunked backward called twice; retain_graph=True / double backward are not supported.",
     "the message names the cause; the fix (compute the loss again, or no options=) depends on the training loop"),
    ("linear_cross_entropy: target dtype must be torch.int64, got {dtype}.",
     "internal guard of the chunked op; F.linear_cross_entropy routes other dtypes away first"),
    ("linear_cross_entropy does not support label smoothing", "internal guard of the chunked op"),
    ("linear_cross_entropy does not support reduction={reduction!r}", "internal guard of the chunked op"),
    ("linear_cross_entropy: expected linear_bias shape {expected}, got {got}.", "internal guard of the chunked op"),
    ("linear_cross_entropy supports float32 acc_dtype with float16/bfloat16 inputs, ...",
     "internal guard of the chunked op"),
    ("unresolved acc_policy={p!r} or acc_dtype={d!r}; use F.linear_cross_entropy.", "internal guard of the chunked op"),
    ("linear_cross_entropy chunked op: compute_{x}_grad was False at trace time ...",
     "torch.compile internals; the message says to recompile"),
    ("weight tensor should be defined either for all or no classes",
     "internal: aten.nll_loss_backward called directly; the public loss checks the weight first (NLH401/NLH402)"),
    ("input tensor should be 1D or 2D", "internal: torch._C._nn.nll_loss called directly; F.nll_loss reshapes "
                                        "K-dimensional input first"),
    ("size mismatch (got input: {input_shape}, target: {target_shape})",
     "internal: torch._C._nn.nll_loss called directly; F.nll_loss raises the batch_size message (NLH3xx) instead"),
    ("only batches of spatial targets supported (3D tensors) but got targets of dimension: {d}",
     "internal: torch._C._nn.nll_loss2d called directly; its older public form has the spatial-target rules NLH20x"),
    ("only batches of spatial inputs supported (4D tensors), but got input of dimension: {d}",
     "internal: torch._C._nn.nll_loss2d called directly"),
    ("expected total_weight to be a single element tensor, got: {shape} ({n} elements)",
     "internal: an aten backward called directly with a wrong total_weight"),
    ("Expected a single element grad_output tensor, but got: {shape}", "internal: aten.nll_loss_backward"),
    ("Expected a tensor of dimension 1 and tensor.size[0] == {n} but got: dimension {d} and tensor.size[0] = {m}",
     "internal: aten.nll_loss_backward"),
    ("grad_output must have same dimension as target (3) but got dimension: {shape}", "internal: aten.nll_loss2d_backward"),
    ("size mismatch (got grad_output: {g} target: {t}", "internal: aten.nll_loss2d_backward"),
    ("torch.nn.functional.binary_cross_entropy and torch.nn.BCELoss are unsafe to autocast. ...",
     "CUDA autocast only; the message itself says to use BCEWithLogitsLoss"),
    ("reduction == Reduction::Mean || reduction == Reduction::Sum INTERNAL ASSERT FAILED ...",
     "internal assert of Loss.cpp, not reachable through the public API"),
    ("is_target must be contiguous", "internal: aten.multilabel_margin_loss_backward"),
    ("Expected input dimension to be either [1, 2, 3] but received {d}.",
     "torch._refs internal; the public path rejects the input earlier"),
    ("A target class is out-of-bounds and not the ignore index.", "dead code in the installed torch._refs"),
    ("input tensor should be 1D or 2D, got {d}D", "torch._decomp nll_loss_forward, only under torch.compile tracing"),
    ("0D or 1D target tensor expected, multi-target not supported, got {d}D",
     "torch._decomp nll_loss_forward (compile path); the eager message of the same mistake has NLH201-NLH204/NLH587"),
    ("Trying to use forward AD with {op}_out that does not support it because it is an out= function",
     "internal: out= variants under forward-mode AD"),
    ("{fn}() got an unexpected keyword argument '{name}'",
     "for a functional loss, Python's own TypeError before the loss runs (no loss frame to read) and the message "
     "names the keyword; a loss module's call with an option gets NLH592"),
    ("Expected 2 or more dimensions (got {d})", "LibTorch C++ API only"),
    ("Expected !options.weight().defined() || options.weight().dim() == 1 to be true, but got false. ...",
     "LibTorch C++ API only"),
)
