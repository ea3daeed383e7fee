"""NLH106: a CUDA device-side assert (and the cuDNN/cuBLAS errors that follow one), explained from what is
still readable.

On CUDA a class index outside ``[0, C)`` trips an assert inside the loss kernel. CUDA reports it at the
next call that waits for the GPU: ``loss.item()``, ``loss.backward()``, ``print(loss)``, a later cell, or
as a cuDNN/cuBLAS error in backward. After it the CUDA context is broken: any CUDA call raises again, so
no value may be read. What is left, and what this rule reads:

1. the autograd history of the tensors in the failing frame: a loss's backward node keeps its
   ``ignore_index``, and its input edge the input's shape (C) and device, all metadata;
2. the loss call itself when the error was raised inside it (``CUDA_LAUNCH_BLOCKING=1``);
3. the user's code: the loss calls in the failing cell or function and in the cells just before it
   (``nllhint.recent``), which name the target as the user wrote it.

The hint names the target expression, C, the likely variant where the code or metadata shows it, and the
honest next step: restart, then look at the labels where they can be read.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from .base import Example, Hint, rule

FAMILIES = ("cuda-assert", "cuda-followon")
LOSS_NODES = {"NllLossBackward0": "nll_loss", "NllLoss2DBackward0": "nll_loss",
              "MultiMarginLossBackward0": "multi_margin_loss"}
GRAPH_NODES = 64  # autograd nodes visited per tensor
MAX_NAMES = 40  # names of the failing statement looked up
CLASS_COUNTS = ("num_classes", "num_labels", "n_classes", "nb_classes", "NUM_CLASSES", "N_CLASSES")
FOLLOW_ON = (("cuDNN", re.compile(r"cuDNN error|CUDNN_STATUS")),
             ("cuBLAS", re.compile(r"CUBLAS_STATUS")),
             ("illegal memory access", re.compile(r"illegal memory access")),
             ("unspecified launch failure", re.compile(r"unspecified launch failure")))


@dataclass
class Suspect:
    """The class-index loss call that most likely asserted: strings and numbers only."""

    loss: str  # "cross_entropy", "nll_loss", "one_hot"
    label: str  # "CrossEntropyLoss", "F.cross_entropy"
    target: str | None = None  # the user's target expression
    input: str | None = None
    classes: int | None = None
    target_meta: str | None = None  # "int64[16] on cuda:0"
    input_meta: str | None = None
    target_ndim: int | None = None
    device: str | None = None
    ignore_index: int | None = None
    ignore_known: bool = False  # ignore_index was read (graph, call or module), not assumed
    line: object = None  # recent.LossLine
    where: str | None = None  # "cell [4], line 3"
    holder: str | None = None  # the variable holding the loss tensor: "loss"
    node: str | None = None  # "NllLossBackward0"
    embedding: bool = False  # an nn.Embedding lookup feeds the loss: token ids can assert the same way
    texts: list = field(default_factory=list)  # the source texts searched (for the variant)


@rule("NLH106", "target-range", "a CUDA device-side assert, most often a label outside 0..C-1",
      families=FAMILIES, severity="warning",
      examples=(Example(
          "import torch, torch.nn.functional as F\n"
          "device = 'meta'   # stands in for 'cuda' on this machine: shapes and grad_fn, no values\n"
          "logits = torch.randn(16, 10, device=device, requires_grad=True)\n"
          "targets = torch.randint(0, 10, (16,), device=device) + 1   # labels numbered 1..10\n"
          "loss = F.cross_entropy(logits, targets)\n"
          "raise torch.AcceleratorError('CUDA error: device-side assert triggered')   # what loss.item() raises",
          expect=("`targets`", "0..9 (C = 10)", "F.cross_entropy(logits, targets - 1)", "CUDA_LAUNCH_BLOCKING=1")),))
def cuda_assert(ctx) -> Hint | None:
    """On CUDA an out-of-range label is a device-side assert, reported at a later line or cell.

    After it the CUDA context is unusable, so this hint is built from metadata, the autograd history and
    the user's code only; it says how to see the bad values after a restart.
    """
    suspect = find_suspect(ctx)
    if suspect is None:
        return None
    return _hint(ctx, suspect)


def stopped_summary(summary: str, exc: BaseException) -> str:
    """The watch report's summary for a cell that is dying of a CUDA error: never "no problems found"
    above that traceback, since the checks did not see the batch that asserted."""
    try:
        from ..context import _is_cuda_failure

        if not _is_cuda_failure(exc, str(exc)):
            return summary
        head = summary.replace(", no problems found", "")
        return f"{head}; the cell stopped at a CUDA error (explained under the traceback)"
    except Exception:
        return summary


# --- finding the loss --------------------------------------------------------------------------------------

def find_suspect(ctx) -> Suspect | None:
    """The class-index loss behind a CUDA failure, or None when none is in evidence (or it ran on the CPU)."""
    if ctx.via == "loss":
        suspect = _from_loss_frame(ctx)
    elif ctx.via in ("backward", "none"):
        suspect = _from_code_and_graph(ctx)
    else:
        return None
    if suspect is None or (suspect.device or "").startswith("cpu"):
        return None  # a loss on the CPU cannot assert on the device
    return suspect


def _from_loss_frame(ctx) -> Suspect | None:
    """The error came out of the loss call itself (CUDA_LAUNCH_BLOCKING=1, or an assert caught at once)."""
    from ..context import CLASS_INDEX_LOSSES

    if ctx.loss not in CLASS_INDEX_LOSSES:
        return None
    facts, target = ctx.input, ctx.target
    ignore = ctx.option("ignore_index")
    suspect = Suspect(loss=ctx.loss, label=ctx.loss_label, target=ctx.name("target"), input=ctx.name("input"),
                      classes=ctx.num_classes, where=ctx.location,
                      ignore_index=ignore if isinstance(ignore, int) else None, ignore_known=isinstance(ignore, int))
    if facts is not None:
        suspect.input_meta, suspect.device = _meta(facts.shape, facts.dtype, facts.device), facts.device
    if target is not None:
        suspect.target_meta, suspect.target_ndim = _meta(target.shape, target.dtype, target.device), target.ndim
    suspect.texts = [source.text for source in _texts(ctx)[:1]]
    if ctx.call is not None:
        from ..recent import loss_lines

        lines = loss_lines(ctx.call.statement, lambda name: ctx.lookup(name))
        suspect.line = lines[-1] if lines else None
    return suspect


@dataclass(frozen=True)
class _Found:
    """A loss line and where it was found: in the failing function or cell (``failing``), or a cell before."""

    line: object  # recent.LossLine
    where: str
    lookup: object
    failing: bool
    before_failure: bool  # above the failing line (so it ran), or in an earlier cell


def _from_code_and_graph(ctx) -> Suspect | None:
    from ..recent import constructors, loss_lines

    texts = _texts(ctx)
    built = constructors([source.text for source in texts])
    found = []  # newest text first, the last call of a text first
    for source in texts:
        failing = source.upto is not None
        for line in reversed(loss_lines(source.text, source.lookup, built, upto=source.upto)):
            found.append(_Found(line, source.where(line.lineno), source.lookup, failing=failing,
                                before_failure=not (failing and line.lineno >= source.upto)))
    follow_on = _form(ctx) is not None
    # a follow-on error (cuDNN, cuBLAS, illegal access) is blamed on a loss only with direct evidence:
    # a loss in the autograd history of what the failing statement uses, or a loss that ran above it
    graph = _graph(ctx, [] if follow_on else [name for f in found for name in f.line.assigned])
    if follow_on and graph is None:
        found = [f for f in found if f.failing and f.before_failure]
    suspect = None
    if graph is not None:
        holder, node, facts = graph
        entry = next((f for f in found if holder in f.line.assigned), None)
        if entry is None and found and found[0].failing:
            entry = found[0]  # the failing code's own loss call, assigned to no name we saw
        suspect = _suspect_from_line(entry) if entry else Suspect(loss=LOSS_NODES[node], label=f"F.{LOSS_NODES[node]}")
        suspect.holder, suspect.node = holder, node
        suspect.classes = facts.get("classes") or suspect.classes
        suspect.input_meta = facts.get("input") or suspect.input_meta
        suspect.target_ndim = facts.get("target_ndim", suspect.target_ndim)
        suspect.device = facts.get("device") or suspect.device
        if "ignore_index" in facts:
            suspect.ignore_index, suspect.ignore_known = facts["ignore_index"], True
        suspect.embedding = bool(facts.get("embedding"))
    else:
        for entry in found:
            candidate = _suspect_from_line(entry)
            if candidate.device and not candidate.device.startswith("cpu"):
                suspect = candidate
                break
            if entry.failing and candidate.device is None:
                suspect = candidate  # in the failing code itself: named even when its tensors can't be looked up
                break
    if suspect is not None:
        suspect.texts = [source.text for source in texts]
    return suspect


def _suspect_from_line(entry: _Found) -> Suspect:
    """What a loss line says, with the metadata of the plain names it uses (looked up, never evaluated)."""
    line, where, lookup = entry.line, entry.where, entry.lookup
    if line.loss == "one_hot":
        suspect = Suspect(loss="one_hot", label="F.one_hot", target=line.arg("tensor"), line=line, where=where)
        classes = line.arg("num_classes")
        value = _literal_or_name(classes, lookup) if classes else None
        suspect.classes = value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None
        _tensor_meta(suspect, "target", line.arg("tensor"), lookup)
        return suspect
    suspect = Suspect(loss=line.loss, label=line.label, target=line.arg("target"), input=line.arg("input"),
                      line=line, where=where)
    _tensor_meta(suspect, "input", suspect.input, lookup)
    _tensor_meta(suspect, "target", suspect.target, lookup)
    ignore = line.arg("ignore_index") or _keyword(line.constructor, "ignore_index")
    if ignore is not None:
        value = _literal_or_name(ignore, lookup)
        if isinstance(value, int):
            suspect.ignore_index, suspect.ignore_known = value, True
    else:
        module = _lookup_dotted(line.callee, lookup) if re.fullmatch(r"[A-Za-z_][\w.]*", line.callee) else None
        value = getattr(module, "__dict__", {}).get("ignore_index") if module is not None else None
        if isinstance(value, int):
            suspect.ignore_index, suspect.ignore_known = value, True
    return suspect


def _tensor_meta(suspect: Suspect, role: str, expr: str | None, lookup) -> None:
    """Shape, dtype and device of the tensor behind ``expr`` when it is a name (casts stripped)."""
    import torch

    if not expr:
        return
    if role == "input" and suspect.loss != "one_hot":
        width = _model_outputs(expr, lookup)
        if width:
            suspect.classes = width
    root = re.sub(r"\.(long|int|to|cuda|cpu|detach|clone|contiguous|squeeze|view|reshape|flatten|type)\(.*$",
                  "", expr.strip())
    value = _lookup_dotted(root, lookup) if re.fullmatch(r"[A-Za-z_][\w.]*", root) else None
    if not issubclass(type(value), torch.Tensor):
        return
    shape, dtype, device = tuple(int(s) for s in value.shape), str(value.dtype).removeprefix("torch."), str(value.device)
    if expr.strip() != root:  # a cast or a move: only the shape is surely the same
        if re.search(r"\.(cuda|to)\(", expr):
            device = None
        if re.search(r"\.(view|reshape|flatten|squeeze)\(", expr):
            return
    setattr(suspect, f"{role}_meta", _meta(shape, dtype, device or "?"))
    if role == "target":
        suspect.target_ndim = len(shape)
    if role == "input" and suspect.loss != "one_hot" and len(shape) >= 1:
        suspect.classes = shape[1] if len(shape) >= 2 else shape[0]
    if device and (suspect.device is None or suspect.device.startswith("cpu")):
        suspect.device = device


def _model_outputs(expr: str, lookup) -> int | None:
    """C for an input written ``model(x)``: the width of the model's last Linear or convolution."""
    import torch

    m = re.fullmatch(r"([A-Za-z_][\w.]*)\(.*\)", expr.strip(), re.S)
    model = _lookup_dotted(m.group(1), lookup) if m else None
    if not issubclass(type(model), torch.nn.Module):
        return None
    width = None
    try:
        for count, (_, module) in enumerate(torch.nn.Module.named_modules(model)):
            if count > 2000:
                break
            if issubclass(type(module), torch.nn.Linear):
                width = int(module.out_features)
            elif issubclass(type(module), torch.nn.modules.conv._ConvNd):
                width = int(module.out_channels)
    except Exception:
        return None
    return width


def _lookup_dotted(expr: str, lookup):
    import inspect

    parts = expr.split(".")
    try:
        value = lookup(parts[0])
        for part in parts[1:]:
            if value is None:
                return None
            value = inspect.getattr_static(value, part)
            if isinstance(value, property):
                return None
    except Exception:
        return None
    return value


def _literal_or_name(expr: str, lookup):
    try:
        return ast.literal_eval(expr)
    except (ValueError, SyntaxError):
        pass
    return lookup(expr) if re.fullmatch(r"[A-Za-z_]\w*", expr.strip()) else None


def _keyword(call: str | None, key: str) -> str | None:
    if not call:
        return None
    try:
        node = ast.parse(call.strip(), mode="eval").body
    except SyntaxError:
        return None
    if not isinstance(node, ast.Call):
        return None
    return next((ast.unparse(k.value) for k in node.keywords if k.arg == key), None)


@dataclass(frozen=True)
class _Source:
    """Code to search for loss calls: the failing function or cell (with the failing line), or an earlier cell."""

    text: str
    where: object  # line number in ``text`` -> "cell [4], line 3" / "train.py:17"
    lookup: object  # name -> the object bound to it there (a dictionary read)
    upto: int | None = None  # the failing line, in ``text``'s numbering; None for earlier cells


def _texts(ctx) -> list[_Source]:
    """The failing function or cell, then the cells run before it (IPython's history), newest first."""
    import sys
    import textwrap

    from ..context import location_of
    from ..recent import history

    out = []
    frame = getattr(ctx, "_user_frame", None)
    found = ctx.user_source()
    if frame is not None and found:
        text, first = found
        filename = frame.f_code.co_filename
        failing = _failing_line(ctx)
        out.append(_Source(textwrap.dedent(text), lambda n, f=filename, d=first - 1: location_of(f, n + d),
                           lambda name: ctx.lookup(name), (failing - first + 1) if failing else None))
    number = _cell_number(ctx.location)
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None and number is not None else None
    ns = getattr(shell, "user_ns", None)
    if not isinstance(ns, dict):
        return out
    for cell, text in history(shell, number):
        out.append(_Source(text, lambda n, c=cell: f"cell [{c}], line {n}", ns.get))
    return out


def _failing_line(ctx) -> int | None:
    m = re.search(r"line (\d+)$|:(\d+)$", ctx.location or "")
    return int(m.group(1) or m.group(2)) if m else None


def _cell_number(location: str | None) -> int | None:
    m = re.match(r"cell \[(\d+)\]", location or "")
    return int(m.group(1)) if m else None


# --- the autograd history ------------------------------------------------------------------------------------

def _graph(ctx, assigned: list[str]):
    """``(holder, node name, facts)`` for the first class-index loss node behind a tensor of the failing
    frame: the tensor ``.backward()`` was called on, those the failing statement names, and those the loss
    lines assign. Metadata of the node's saved tensors only."""
    import torch

    names = []
    if ctx.call is not None and "loss" in ctx.call.args:
        names.append(ctx.call.args["loss"])
    names += list(ctx.tensors)
    statement = ctx.call.statement if ctx.call is not None else _failing_text(ctx)
    names += re.findall(r"(?<![\w.])[A-Za-z_]\w*", statement or "")[:MAX_NAMES]
    names += assigned
    seen = set()
    for name in names:
        if name in seen or not re.fullmatch(r"[A-Za-z_]\w*", name):
            continue
        seen.add(name)
        value = ctx.lookup(name)
        if not issubclass(type(value), torch.Tensor):
            continue
        try:
            found = _loss_node(value.grad_fn)
        except Exception:
            found = None
        if found is not None:
            return name, type(found).__name__, _node_facts(found, value)
    return None


def _failing_text(ctx) -> str:
    import linecache

    frame = getattr(ctx, "_user_frame", None)
    line = _failing_line(ctx)
    if frame is None or line is None:
        return ""
    return linecache.getline(frame.f_code.co_filename, line)


def _nearest(node, names):
    """The nearest node whose type name is in ``names`` from ``node`` (breadth-first, at most
    ``GRAPH_NODES`` nodes, node names only), or None."""
    queue, seen = [node], set()
    while queue and len(seen) < GRAPH_NODES:
        current = queue.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if type(current).__name__ in names:
            return current
        queue.extend(fn for fn, _ in getattr(current, "next_functions", ()))
    return None


def _loss_node(grad_fn):
    """The nearest class-index loss node from ``grad_fn``."""
    return _nearest(grad_fn, LOSS_NODES)


def _node_facts(node, tensor) -> dict:
    """What a loss node knows, as metadata: C from the shape of its input edge, and ignore_index.

    Saved tensors are not unpacked: an unpack runs the saved-tensor hooks a user may have installed
    (offloading to the CPU copies from the broken device), and a backward that already ran freed them. The
    input's shape and device stay on the edge (a leaf's variable, or the metadata of the node producing it);
    the target of a class-index loss has the input's shape without the class dimension.
    """
    facts = {"device": str(tensor.device)}
    try:
        edge = node.next_functions[0][0]
        variable = getattr(edge, "variable", None)
        meta = variable if variable is not None else edge._input_metadata[0]
        shape = tuple(int(v) for v in meta.shape)
        facts["input"] = _meta(shape, str(meta.dtype).removeprefix("torch."), str(meta.device))
        facts["device"] = str(meta.device)
        if shape:
            facts["classes"] = shape[1] if len(shape) >= 2 else shape[0]
            facts["target_ndim"] = max(len(shape) - 1, 1)
    except Exception:  # another autograd version: C then comes from the user's code, if at all
        pass
    facts["embedding"] = _below(node, "EmbeddingBackward0")
    try:
        ignore = int(node._saved_ignore_index)  # a plain integer attribute, saved as uint64
        facts["ignore_index"] = ignore - (1 << 64) if ignore >= 1 << 63 else ignore
    except Exception:
        pass
    return facts


def _below(node, name: str) -> bool:
    """Is there a ``name`` node in the first ``GRAPH_NODES`` nodes under ``node``?"""
    return _nearest(node, (name,)) is not None


def _meta(shape, dtype, device) -> str:
    return f"{dtype}[{', '.join(map(str, shape))}] on {device}"


# --- the hint ------------------------------------------------------------------------------------------------

def _variant(suspect: Suspect, lookup) -> tuple[str, str] | None:
    """``(sentence, fixed line)`` for the variant the code or the metadata shows, else None."""
    target = suspect.target or ""
    root = re.match(r"[A-Za-z_][\w.]*", target.strip())
    root = root.group(0).split(".")[0] if root else None
    mentions = re.compile(rf"^.*(?<![\w.]){re.escape(root)}\b.*$", re.M) if root else None
    lines = [m.group(0) for text in suspect.texts for m in mentions.finditer(text)][:200] if mentions else []
    line = suspect.line
    if suspect.loss != "one_hot" and suspect.classes:
        # 1-based labels: the code adds one to them, or draws them from 1
        for text in lines:
            if re.search(rf"(?<![\w.]){re.escape(root)}\s*(\+=\s*1\b|=.*(\+\s*1\b|randint\(\s*1\s*,|arange\(\s*1\s*,|range\(\s*1\s*,))", text):
                fixed = _replace_arg(line, "target", f"{_paren(target)} - 1")
                return (f"The code makes `{root}` 1-based (`{_one_line(text.split('#')[0])}`), so its largest label is "
                        f"{suspect.classes}, one past the last class {suspect.classes - 1}.", fixed)
        # padding labels without ignore_index
        pads = {int(m.group(1)) for text in lines for m in re.finditer(r"(?<![\w.\-])(255|-1)(?![\w.])", text)
                if not re.search(r"(view|reshape|dim|flatten|squeeze|unsqueeze|permute|size|shape)\b[^\n]*-1", text)}
        ignore = suspect.ignore_index
        if pads and ignore not in pads:
            pad = max(pads)
            fixed = _ignore_fix(suspect, pad)
            return (f"The code puts {pad} into `{root}` and the loss does not ignore it (ignore_index is "
                    f"{ignore if suspect.ignore_known else 'left at -100'}): {pad} is read as a class index.",
                    fixed)
        # too few outputs: the user's own class count is larger than C
        for name in CLASS_COUNTS:
            value = lookup(name) if lookup else None
            if type(value) is int and value > suspect.classes:
                return (f"`{name}` is {value} but {_code(suspect.input, 'the input')} has only "
                        f"{suspect.classes} outputs: the last layer is too small for the labels.",
                        f"# build the last layer with {name} outputs: nn.Linear(in_features, {name})")
        if (suspect.target_ndim or 0) >= 2 and suspect.ignore_known and suspect.ignore_index == -100:
            return (f"{_code(suspect.target, 'The target')} is a {suspect.target_ndim}-D map: segmentation "
                    f"masks often mark void or border pixels with 255 (or padding with -1), which needs "
                    f"ignore_index; it is -100 here.", _ignore_fix(suspect, 255))
    return None


def _paren(expr: str) -> str:
    return expr if re.fullmatch(r"[\w.]+(\(.*\))?", expr.strip()) else f"({expr})"


def _replace_arg(line, param: str, new: str) -> str | None:
    if line is None or not line.arg(param):
        return None
    old = line.arg(param)
    call = line.call.replace(old, new, 1)
    return line.statement.replace(line.call, call, 1)


def _ignore_fix(suspect: Suspect, pad: int) -> str | None:
    from .ranges import _with_keyword

    line = suspect.line
    if line is None:
        return None
    if line.constructor and line.constructor != line.callee:  # criterion = nn.CrossEntropyLoss(...)
        rebuilt = _with_keyword(line.constructor, "ignore_index", str(pad))
        return f"{line.callee} = {rebuilt}" if rebuilt else None
    if line.constructor:  # nn.CrossEntropyLoss()(out, y)
        rebuilt = _with_keyword(line.constructor, "ignore_index", str(pad))
        return line.statement.replace(line.constructor, rebuilt, 1) if rebuilt else None
    rebuilt = _with_keyword(line.call, "ignore_index", str(pad))
    return line.statement.replace(line.call, rebuilt, 1) if rebuilt else None


def _code(expr: str | None, default: str) -> str:
    return f"`{expr}`" if expr else default


def _form(ctx) -> str | None:
    """The follow-on error's library when the message is not the assert itself."""
    if ctx.family("cuda-assert") and "illegal memory access" not in ctx.message:
        return None
    return next((name for name, pattern in FOLLOW_ON if pattern.search(ctx.message)), "CUDA")


def _hint(ctx, s: Suspect) -> Hint:
    lookup = (lambda name: ctx.lookup(name))
    C = s.classes
    one_hot = s.loss == "one_hot"
    bound = f"0..{C - 1} (C = {C})" if C else "0..C-1"
    target = _code(s.target, "the target")
    in_loss = ctx.via == "loss"
    in_ipython = bool(re.match(r"cell", ctx.location or ""))
    form = _form(ctx)
    if one_hot:
        what = f"a value of {target} outside {bound.replace('C =', 'num_classes =')}"
    else:
        what = f"a label in {target} outside {bound}"
    head = "CUDA device-side assert" if form is None else f"{form} error after a device-side assert"
    title = f"{head} in {s.label}: most likely {what}"

    parts = []
    if s.line is not None and s.where and not in_loss:
        parts.append(f"The loss behind it is `{_one_line(s.line.statement)}` ({s.where}).")
    elif s.holder and s.node:
        parts.append(f"`{s.holder}` comes from {s.label} ({s.node} in its autograd history).")
    later = "" if in_loss else ", and CUDA reports that at a later call that waits for the GPU"
    if one_hot:
        parts.append(f"F.one_hot on CUDA asserts that every value of {target} is in {bound}{later}.")
    else:
        has = f"{_code(s.input, 'The input')} has {C} classes along dim 1, so" if C else "So"
        parts.append(f"{has} every label in {target} must be in {bound.split(' (')[0]}; the kernel of "
                     f"{s.label} asserts it{later}.")
    if form is not None:
        parts.append(f"A {form} error after a loss is how such an assert shows once later GPU work runs.")
    variant = _variant(s, lookup) if not one_hot else None
    if variant is None and not one_hot and C:
        variant = _class_count_keyword(ctx, C)
    if variant:
        parts.append(variant[0])
    if s.embedding:
        parts.append("An nn.Embedding lookup feeds this loss too: a token id >= num_embeddings asserts the "
                     "same way, so check the ids as well.")
    restart = "the kernel" if in_ipython else "the program"
    parts.append(f"Every CUDA call now fails until {restart} restarts, so no value was read.")

    again = ("re-run the cell with CUDA_LAUNCH_BLOCKING=1, on the CPU, or under %%losscheck" if in_ipython
             else "run it with CUDA_LAUNCH_BLOCKING=1, on the CPU, or with nllhint run --check")
    fix = [f"# restart {restart} (the CUDA context cannot recover), then see the bad labels:",
           f"#   {again}"]
    name = _value_root(s.target)
    if name:
        fix.append(f"print({name}.min().item(), {name}.max().item())   # must lie in {bound.split(' (')[0]}")
    if variant and variant[1]:
        fix.append(variant[1])
    rows = []
    if s.input_meta and not one_hot:
        rows.append((_code(s.input, "input"), s.input_meta))
    if s.target_meta:
        rows.append((_code(s.target, "target"), f"{s.target_meta}, values not read after a CUDA error"))
    if s.node:
        ignore = f", ignore_index={s.ignore_index}" if s.ignore_known else ""
        rows.append((_code(s.holder, "loss"), f"{s.node} in its autograd history{ignore}"))
    width = min(max((len(n) for n, _ in rows), default=0), 24)
    evidence = tuple(f"{n[:40]:<{width}}  {text}" for n, text in rows)
    return Hint(title=title, message=" ".join(parts), fix="\n".join(fix), evidence=evidence)


def _class_count_keyword(ctx, classes: int) -> tuple[str, str] | None:
    """The user's ``from_pretrained(..., num_labels=C)`` (or config) that fixed C: the labels cannot be read
    after the assert, so it is named as the place to raise, not rewritten with a number."""
    from .ranges import class_count_setting

    found = class_count_setting(ctx, classes, "K")
    if found is None:
        return None
    keyword, where, statement, _ = found
    return (f"The model's {classes} classes come from {keyword}={classes} in `{_one_line(statement)}` ({where}): "
            f"if the labels go beyond {classes - 1}, set {keyword} there to the number of classes (the largest "
            "label + 1).", f"# {where}: {keyword}=<number of classes>, not {classes}")


def _value_root(expr: str | None) -> str | None:
    """``y`` for ``y.cuda()``, ``labels.long().view(-1)``: the tensor holding the same values, when it is a name."""
    if not expr:
        return None
    root = expr.strip()
    while True:
        stripped = re.sub(r"\.(long|int|to|cuda|cpu|detach|clone|contiguous|view|reshape|flatten|squeeze)"
                          r"\([^()]*\)$", "", root)
        if stripped == root:
            break
        root = stripped
    return root if re.fullmatch(r"[A-Za-z_][\w.]*(\[['\"\w]+\])?", root) else None


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 80 else text[:77] + "..."


RULES = [cuda_assert]
