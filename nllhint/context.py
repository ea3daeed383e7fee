"""Everything a rule may look at, gathered once from a caught exception.

The context reads the traceback's frames (never calls user code), summarises the tensors it finds with
``probe.describe`` and keeps the user's call from ``source``. Frames are only held while rules run:
``close()`` drops them, and what stays is plain data.
"""

from __future__ import annotations

import ast
import inspect
import os
import re
import sys
import textwrap
from dataclasses import dataclass, field

from .contracts import losses_where, predicts_target
from .messages import MessageMatch, classify
from .probe import TensorFacts, describe
from .source import UserCall, callee_name, find_call, method, positional_params, user_call

# Functional losses (torch.nn.functional) whose frame holds the tensors under their parameter names.
LOSS_FUNCTIONS = losses_where(lambda c: c.functional)
# Losses that take class indices as target: the ones most rules are about.
CLASS_INDEX_LOSSES = losses_where(lambda c: c.functional and c.class_loss)
ELEMENTWISE_LOSSES = losses_where(predicts_target)
OPTION_NAMES = ("reduction", "ignore_index", "label_smoothing", "log_target", "blank", "zero_infinity",
                "delta", "beta", "margin", "p", "eps", "full", "log_input", "num_classes", "size_average",
                "reduce")
SIZE_OPTIONS = ("in_features", "n_classes", "cutoffs", "div_value", "var", "target")  # plain numbers a rule may quote
BACKWARD_LOSS_NODES = {  # grad_fn of a loss tensor -> loss name
    "NllLossBackward0": "nll_loss", "NllLoss2DBackward0": "nll_loss", "MseLossBackward0": "mse_loss",
    "L1LossBackward0": "l1_loss", "BinaryCrossEntropyBackward0": "binary_cross_entropy",
    "BinaryCrossEntropyWithLogitsBackward0": "binary_cross_entropy_with_logits",
    "SmoothL1LossBackward0": "smooth_l1_loss", "HuberLossBackward0": "huber_loss",
    "CtcLossBackward0": "ctc_loss", "KlDivBackward0": "kl_div",
}


@dataclass
class LossContext:
    """The facts about one failing (or, for the audit, one watched) loss call."""

    message: str = ""
    exc_type: str = ""
    matches: list[MessageMatch] = field(default_factory=list)
    via: str = "none"  # "loss", "init" (a loss module's constructor), "one_hot", "backward", "attribute" or "none"
    loss: str | None = None  # functional name: "cross_entropy"
    module: str | None = None  # module class name when called through one: "CrossEntropyLoss"
    options: dict = field(default_factory=dict)
    tensors: dict[str, TensorFacts] = field(default_factory=dict)  # by functional parameter name
    call: UserCall | None = None
    location: str | None = None
    values_readable: bool = True
    grad_enabled: bool | None = None
    graph: tuple[str, ...] = ()  # backward errors: the first autograd node names from the loss, breadth-first
    graph_edges: tuple[tuple[str, str], ...] = ()  # backward errors: (node, its input node) names, same walk
    graph_results: dict[str, TensorFacts] = field(default_factory=dict)  # "Parent>SoftmaxBackward0": its output
    aliases: dict[str, str] = field(default_factory=dict)  # names without a span: 'batch["labels"]', 'model(...)'
    unbound: set = field(default_factory=set)  # aliases that name no value of the user's (a library's keyword)
    callback: str | None = None  # a user function the loss called back that raised (a distance_function)
    _user_frame: object = field(default=None, repr=False)
    _input_params: frozenset = field(default=frozenset(), repr=False)  # id()s of parameters behind the input
    _parsed: object = field(default=False, repr=False)  # user_tree()'s answer once asked (False: not yet)

    # --- message -------------------------------------------------------------------------------------
    def family(self, *names: str) -> MessageMatch | None:
        """The first message family among ``names`` that the exception message matched."""
        for m in self.matches:
            if m.family in names:
                return m
        return None

    # --- naming --------------------------------------------------------------------------------------
    @property
    def loss_label(self) -> str:
        """How the user called the loss: ``CrossEntropyLoss`` or ``F.cross_entropy``."""
        if self.module:
            return self.module
        return f"F.{self.loss}" if self.loss else "the loss"

    def name(self, param: str, default: str | None = None) -> str:
        """The user's expression for a parameter (``outputs``, ``model(x)``), or a plain default."""
        if self.call and param in self.call.args:
            return self.call.args[param]
        return self.aliases.get(param) or default or param

    def code(self, param: str, default: str | None = None) -> str:
        """The user's expression, quoted for prose."""
        return f"`{self.name(param, default)}`"

    def with_method(self, param: str, suffix: str) -> str:
        """The user's expression with ``suffix`` appended: ``labels.long()``, ``(a + b).squeeze(1)``."""
        expr = self.name(param)
        simple = self.call.simple.get(param, True) if self.call else True
        return f"{expr}{suffix}" if simple else f"({expr}){suffix}"

    def fix(self, replacements: dict[str, str] | None = None, callee: str | None = None,
            add: dict[str, str] | None = None) -> str | None:
        """The user's failing statement with arguments replaced or keywords added; None when not found."""
        if self.call is None:
            return None
        if replacements and not all(k in self.call.args for k in replacements):
            return None
        if self.call.inside and (callee is not None or add):  # the loss is the library's code, not this line
            return None
        return self.call.rewrite(replacements, callee, add)

    def fix_arg(self, param: str, new_expr: str) -> str:
        """The user's line with one argument replaced, or ``name = new_expr`` when the line is unknown."""
        name = self.name(param)
        if param not in self.unbound and re.fullmatch(r"[A-Za-z_][\w.]*(?:\[[^\[\]]+\])?", name):
            return self.fix({param: new_expr}) or f"{name} = {new_expr}"
        return self.fix({param: new_expr})  # model(...), labels.view(-1): not something to assign to

    def option(self, name: str, default=None):
        return self.options.get(name, default)

    def t(self, param: str) -> TensorFacts | None:
        return self.tensors.get(param)

    @property
    def input(self) -> TensorFacts | None:
        return self.tensors.get("input") or self.tensors.get("log_probs")

    @property
    def target(self) -> TensorFacts | None:
        return self.tensors.get("target") or self.tensors.get("targets")

    @property
    def num_classes(self) -> int | None:
        """C, read from the input's class dimension (dim 1, or dim 0 for an unbatched input)."""
        facts = self.input
        if facts is None or not facts.shape:
            return None
        if self.loss == "ctc_loss":
            return facts.shape[-1]
        return facts.shape[1] if facts.ndim >= 2 else facts.shape[0]

    # --- lazily read source (parsing only) --------------------------------------------------------------
    def model_views(self) -> list[tuple[str, str]]:
        """``view(-1, k)``/``reshape(-1, k)`` calls in the forward of the models behind the input (see
        ``_model_classes``).

        Returns ``(where, code)`` pairs such as ``("Net.forward, line 12", "x.view(-1, 16 * 4 * 4)")``.
        """
        return [found for cls in self._model_classes() for found in _forward_calls(cls, _flattening_view)]

    def model_calls(self, *names: str) -> list[tuple[str, str]]:
        """Calls such as ``torch.cat(...)`` (by last name) in the forward of the models behind the input."""
        return [found for cls in self._model_classes() for found in _forward_calls(cls, _named(*names))]

    def _model_classes(self) -> list[type]:
        """User-defined nn.Module classes visible where the loss was called; when the input has an autograd
        graph, only those whose parameters are in it (a model from an earlier cell is not blamed)."""
        frame = self._user_frame
        if frame is None:
            return []
        import torch

        classes = []
        for value in list(frame.f_locals.values()) + list(frame.f_globals.values())[:500]:
            if (not _is(value, torch.nn.Module) or type(value) in classes
                    or type(value).__module__.startswith("torch.") or _library_class(type(value))):
                continue
            if self._input_params:
                try:
                    if not any(id(p) in self._input_params for p in value.parameters()):
                        continue
                except Exception:
                    continue
            classes.append(type(value))
        return classes

    def output_layers(self, width: int, conv: bool = False) -> list[str]:
        """Linear layers with ``out_features == width`` in models visible where the loss was called.

        Named as the user would write them: ``model.fc3`` with ``Linear(in_features=84, out_features=10)``.
        With ``conv=True``: convolutions with ``out_channels == width`` instead.
        """
        frame = self._user_frame
        if frame is None:
            return []
        import torch

        found = []
        for var, value in list(frame.f_locals.items()) + list(frame.f_globals.items())[:500]:
            if not _is(value, torch.nn.Module) or var.startswith("_") or _library_class(type(value)):
                continue  # a library's model (BertFor...) is configured (num_labels=...), not edited layer by layer
            try:
                named = list(value.named_modules())[:2000]
            except Exception:
                continue
            for sub, module in named:
                if conv:
                    match = isinstance(module, torch.nn.modules.conv._ConvNd) and module.out_channels == width
                else:
                    match = isinstance(module, torch.nn.Linear) and module.out_features == width
                if match and (
                        not self._input_params or id(module.weight) in self._input_params):  # produced the input
                    found.append(re.sub(r"\.(\d+)(?=\.|$)", r"[\1]", f"{var}.{sub}") if sub else var)  # model[2]
            if found:
                return found[-1:]
        return found

    def data_loaders(self) -> list[tuple[str, int, int | None, bool]]:
        """DataLoaders visible where the loss was called: ``(name, batch_size, len(dataset), drop_last)``.

        The dataset length is read only from torch/torchvision datasets (a user ``__len__`` is never run).
        """
        frame = self._user_frame
        if frame is None:
            return []
        from torch.utils.data import DataLoader

        found = []
        for var, value in list(frame.f_locals.items()) + list(frame.f_globals.items())[:500]:
            if not _is(value, DataLoader) or var.startswith("_") or not isinstance(value.batch_size, int):
                continue
            dataset = value.__dict__.get("dataset")
            size = None
            if type(dataset).__module__.startswith(("torch.", "torchvision.")):
                try:
                    size = len(dataset)
                except Exception:
                    size = None
            found.append((var, value.batch_size, size, bool(value.drop_last)))
        return found

    def lookup(self, name: str, default=None):
        """The value bound to a plain ``name`` where the loss was called (locals, then globals).

        Reads the frame's dictionaries only: no code runs, no attribute is evaluated. An object that would
        run its own code when a rule asks ``isinstance`` (a mock, a lazy proxy) gives ``default``.
        """
        frame = self._user_frame
        if frame is None or not isinstance(name, str):
            return default
        for scope in (frame.f_locals, frame.f_globals):
            if name in scope:
                value = scope[name]
                return default if _answers_itself(value) else value
        return default

    def assigned_call(self, name: str) -> str | None:
        """The source of the call assigned to ``name`` (``criterion = nn.BCELoss(weight=w)`` gives
        ``nn.BCELoss(weight=w)``) in the user's function or cell: parsed, never run; the first one wins."""
        parsed = self.user_tree()
        if not parsed:
            return None
        text, tree, _ = parsed
        for node in ast.walk(tree):
            if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.value, ast.Call)
                    and ast.get_source_segment(text, node.targets[0]) == name):
                return ast.get_source_segment(text, node.value)
        return None

    def user_source(self) -> tuple[str, int] | None:
        """The source of the user's function (or cell) that called the loss, with its first line number."""
        frame = self._user_frame
        if frame is None:
            return None
        import linecache

        try:
            # a cell or script (IPython 7 names a cell "<cell line: N>"): getsourcelines gives its first line
            if frame.f_code.co_name == "<module>" or frame.f_code.co_name.startswith("<cell line"):
                raise OSError
            lines, start = inspect.getsourcelines(frame.f_code)
        except (OSError, TypeError):
            lines = linecache.getlines(frame.f_code.co_filename)
            start = 1
        return ("".join(lines), max(start, 1)) if lines else None

    def user_tree(self):
        """(dedented source, its parsed module, first line number) of :meth:`user_source`, or None.
        Parsed once per context: several rules (and the fixes they build) read the same source; the
        tree is shared, so they only walk it."""
        if self._parsed is False:
            found = self.user_source()
            text = textwrap.dedent(found[0]) if found else ""
            try:
                self._parsed = (text, ast.parse(text), found[1]) if found else None
            except SyntaxError:
                self._parsed = None
        return self._parsed

    def close(self) -> None:
        """Drop every frame reference: after this the context is plain data."""
        self._user_frame = None
        self._input_params = frozenset()
        self._parsed = None


def _is(value, cls) -> bool:
    """``isinstance`` without asking the object: it falls back to ``value.__class__``, which a property or a
    ``__getattribute__`` (mocks, lazy proxies) answers with user code; ``type()`` never runs any."""
    return issubclass(type(value), cls)


def _answers_itself(value) -> bool:
    """Does the object's class answer ``__class__`` or attribute reads with Python code of its own?"""
    import types

    for klass in type(value).__mro__:
        for name in ("__getattribute__", "__class__"):
            attr = klass.__dict__.get(name)
            if attr is not None and not isinstance(attr, (types.WrapperDescriptorType, types.GetSetDescriptorType)):
                return True
    return False


def _int_sequence(value, limit: int = 1 << 16) -> bool:
    return (_is(value, (list, tuple)) and 0 < len(value) <= limit
            and all(type(v) is int for v in value))


def _flattening_view(node) -> bool:
    """``x.view(-1, k)`` / ``x.reshape(-1, k)``."""
    return (isinstance(node.func, ast.Attribute) and node.func.attr in ("view", "reshape") and len(node.args) == 2
            and isinstance(node.args[0], ast.UnaryOp) and isinstance(node.args[0].op, ast.USub))


def _named(*names):
    def match(node) -> bool:
        func = node.func
        return (func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)) in names
    return match


def _forward_calls(cls, match) -> list[tuple[str, str]]:
    """``(where, code)`` of the calls in ``cls.forward`` that ``match`` accepts (the source is parsed only)."""
    try:
        src, start = inspect.getsourcelines(cls.forward)
        text = textwrap.dedent("".join(src))
        tree = ast.parse(text)
    except (OSError, TypeError, SyntaxError):
        return []
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and match(node):
            code = ast.get_source_segment(text, node) or ""
            found.append((f"{cls.__name__}.forward, line {start + node.lineno - 1}", " ".join(code.split())))
    return found


# --- building a context from an exception ------------------------------------------------------------

def _torch_dir() -> str:
    import torch

    return os.path.dirname(torch.__file__) + os.sep


def _entries(tb) -> list:
    out = []
    while tb is not None and len(out) < 10_000:
        out.append(tb)
        tb = tb.tb_next
    return out


def _is_cuda_failure(exc: BaseException, message: str) -> bool:
    return (type(exc).__name__ == "AcceleratorError" or "CUDA error" in message
            or "device-side assert" in message or "CUDNN_STATUS" in message or "CUBLAS_STATUS" in message)


def location_of(filename: str, lineno: int) -> str:
    """``cell [4], line 3`` for notebook cells, ``train.py:17`` for files."""
    m = re.match(r"<ipython-input-(\d+)-", filename)
    if m:
        return f"cell [{m.group(1)}], line {lineno}"
    if re.search(r"ipykernel_\d+[/\\]", filename):
        number = _cell_number(filename)
        return f"cell [{number}], line {lineno}" if number else f"cell, line {lineno}"
    return f"{os.path.basename(filename)}:{lineno}"


def _cell_number(filename: str) -> int | None:
    """The execution count IPython's compiler recorded for a kernel cell's file name."""
    shell = sys.modules.get("IPython") and sys.modules["IPython"].get_ipython()
    mapping = getattr(getattr(shell, "compile", None), "_filename_map", None)
    number = mapping.get(filename) if isinstance(mapping, dict) else None
    return number if isinstance(number, int) else None


def from_exception(exc: BaseException) -> LossContext | None:
    """Build the context for ``exc``, or None when it did not come through a loss."""
    message = str(exc) if not isinstance(exc, KeyError) else repr(exc)
    ctx = LossContext(message=message, exc_type=type(exc).__name__, matches=classify(message))
    ctx.values_readable = not _is_cuda_failure(exc, message)
    entries = _entries(exc.__traceback__)
    if not entries:
        return None
    torch_dir = _torch_dir()
    # nllhint.watch's loss wrappers sit between the user's call and torch: treat them as torch's frames.
    watch_file = os.path.join(os.path.dirname(os.path.abspath(__file__)), "watcher.py")
    in_torch = [tb.tb_frame.f_code.co_filename.startswith(torch_dir)
                or tb.tb_frame.f_code.co_filename == watch_file for tb in entries]

    loss_i = _find_loss_entry(entries, torch_dir)
    if loss_i is not None:
        ctx.via = "loss"
        _read_loss_frame(ctx, entries, loss_i, in_torch)
        return ctx
    call_i = _find_loss_call(entries, torch_dir, exc)
    if call_i is not None:  # criterion(out, y, w): Python refused the arguments before forward ran
        ctx.via = "call"
        owner = entries[call_i].tb_frame.f_locals.get("self")
        ctx.module = type(owner).__name__
        user_i = _user_index(entries, call_i, in_torch)
        if user_i is not None:
            names = positional_params(type(owner).forward)
            _read_user_call(ctx, entries, user_i, names)
            node, source = find_call(entries[user_i])
            if node is not None and ctx.call is not None and getattr(source, "text", None):
                extra = [ast.get_source_segment(source.text, a) for a in node.args[len(names):]]
                ctx.options["extra_args"] = tuple(e for e in extra if e)
        return ctx
    back_i = _find_backward_entry(entries, torch_dir)
    if back_i is not None:
        ctx.via = "backward"
        _read_backward_frame(ctx, entries, back_i, in_torch)
        return ctx
    if ctx.family("one-hot-too-large", "one-hot-negative", "one-hot-dtype"):
        ctx.via = "one_hot"
        if _read_one_hot(ctx, entries, in_torch):
            return ctx
        return None
    if ctx.family("cuda-assert", "cuda-followon"):
        ctx.via = "none"
        _read_cuda_failure(ctx, entries, in_torch)
        return ctx
    attr_i = _find_loss_attribute(entries, torch_dir, exc)
    if attr_i is not None:  # criterion.backward(): a tensor's method asked of the loss module
        ctx.via = "attribute"
        _read_loss_attribute(ctx, entries, attr_i, in_torch)
        return ctx
    if isinstance(exc, AttributeError) and ctx.family("torch-namespace") and not in_torch[-1]:
        ctx.via = "attribute"  # F.CrossEntropyLoss(...): a name torch.nn(.functional) does not have
        _read_namespace_attribute(ctx, entries)
        return ctx
    return None


def _find_loss_entry(entries, torch_dir) -> int | None:
    functional = (torch_dir + os.path.join("nn", "functional.py"),  # and the torch._refs twins (compile path)
                  torch_dir + os.path.join("_refs", "nn", "functional", "__init__.py"),
                  torch_dir + os.path.join("_decomp", "decompositions.py"))
    for i, tb in enumerate(entries):
        code = tb.tb_frame.f_code
        if code.co_filename in functional and code.co_name in LOSS_FUNCTIONS:
            return i
    modules_dir = torch_dir + os.path.join("nn", "modules") + os.sep
    for i, tb in enumerate(entries):
        code = tb.tb_frame.f_code
        if code.co_filename.startswith(modules_dir) and code.co_name in ("forward", "__init__"):
            owner = type(tb.tb_frame.f_locals.get("self")).__name__
            if owner.endswith(("Loss", "WithLoss")):
                return i
    return None


def _callable_kind(value) -> str:
    """What a loss's callable option is, in words a rule can test: ``function <lambda>``, ``class
    PairwiseDistance`` (the class, not an instance), ``module PairwiseDistance``, ``Tensor``, ``None``."""
    import torch

    if value is None:
        return "None"
    if _is(value, torch.Tensor):
        return "Tensor"
    if _is(value, type):
        return f"class {value.__name__}"
    if _is(value, torch.nn.Module):
        return f"module {type(value).__name__}"
    if callable(value):
        return f"function {getattr(value, '__name__', type(value).__name__)}"
    return type(value).__name__


def _callback_name(entries, loss_i: int, in_torch) -> str | None:
    """The user's own function that the loss called back and that raised (a ``distance_function``)."""
    for j in range(loss_i + 1, len(entries)):
        if not in_torch[j]:
            return entries[j].tb_frame.f_code.co_name
    return None


def _find_loss_call(entries, torch_dir, exc) -> int | None:
    """The innermost entry when a loss module's call itself raised a TypeError about forward's arguments."""
    if not isinstance(exc, TypeError) or not entries:
        return None
    tb = entries[-1]
    code = tb.tb_frame.f_code
    if code.co_filename != torch_dir + os.path.join("nn", "modules", "module.py") or code.co_name != "_call_impl":
        return None
    owner = tb.tb_frame.f_locals.get("self")
    if not type(owner).__name__.endswith(("Loss", "WithLoss")) or "forward()" not in str(exc):
        return None
    return len(entries) - 1


def _find_loss_attribute(entries, torch_dir, exc) -> int | None:
    """The innermost entry when nn.Module.__getattr__ of a loss module refused an attribute (``.backward``)."""
    if not isinstance(exc, AttributeError) or not entries:
        return None
    code = entries[-1].tb_frame.f_code
    if code.co_filename != torch_dir + os.path.join("nn", "modules", "module.py") or code.co_name != "__getattr__":
        return None
    owner = entries[-1].tb_frame.f_locals.get("self")
    return len(entries) - 1 if type(owner).__name__.endswith(("Loss", "WithLoss")) else None


def _read_loss_attribute(ctx: LossContext, entries, attr_i: int, in_torch) -> None:
    """The loss module and the user's ``criterion.backward()`` call; its receiver is ``ctx.aliases["module"]``."""
    ctx.module = type(entries[attr_i].tb_frame.f_locals.get("self")).__name__
    user_i = _user_index(entries, attr_i, in_torch)
    if user_i is None:
        return
    tb = entries[user_i]
    ctx._user_frame = tb.tb_frame
    ctx.location = location_of(tb.tb_frame.f_code.co_filename, tb.tb_lineno)
    node, source = find_call(tb)
    if node is None or not isinstance(node.func, ast.Attribute):
        return
    ctx.call = user_call(node, source, tb.tb_frame.f_code.co_filename, [])
    receiver = ast.get_source_segment(source.text, node.func.value)
    if ctx.call is not None and receiver:
        ctx.aliases["module"] = receiver


def _read_namespace_attribute(ctx: LossContext, entries) -> None:
    """The user's line that asked torch.nn or torch.nn.functional for a name it lacks, when it is the user's own
    code (not a library's) and the name is called: ``F.CrossEntropyLoss(out, y)``."""
    tb = entries[-1]
    if _is_library(tb.tb_frame.f_code.co_filename):
        return
    ctx._user_frame = tb.tb_frame
    ctx.location = location_of(tb.tb_frame.f_code.co_filename, tb.tb_lineno)
    node, source = find_call(tb)
    if node is not None and isinstance(node.func, ast.Attribute):
        ctx.call = user_call(node, source, tb.tb_frame.f_code.co_filename, [])
        if ctx.call is not None:
            ctx.options["positional"] = len(node.args)


def _find_backward_entry(entries, torch_dir) -> int | None:
    tensor_py = torch_dir + "_tensor.py"
    for i, tb in enumerate(entries):
        code = tb.tb_frame.f_code
        if code.co_filename == tensor_py and code.co_name == "backward":
            return i
    return None


def _user_index(entries, start: int, in_torch: list[bool]) -> int | None:
    """The entry that called into torch on the way to ``entries[start]``."""
    j = start - 1
    while j >= 0 and in_torch[j]:
        j -= 1
    return j if j >= 0 else None


def _read_loss_frame(ctx: LossContext, entries, loss_i: int, in_torch) -> None:
    import torch

    frame = entries[loss_i].tb_frame
    local = frame.f_locals
    name = frame.f_code.co_name
    owner = local.get("self")
    if name in ("forward", "__init__") and isinstance(owner, torch.nn.Module):  # a loss module's own code
        ctx.module = type(owner).__name__
        ctx.loss = None
        params = positional_params(getattr(type(owner), name))
        if name == "__init__":  # nn.TripletMarginLoss(margin=-1.0): the constructor rejected an option
            ctx.via = "init"
    else:
        ctx.loss = name
        params = positional_params(getattr(torch.nn.functional, name, None))
    for j in range(loss_i - 1, -1, -1):  # the loss module whose forward led here
        prev = entries[j].tb_frame
        if not in_torch[j]:
            break
        if prev.f_code.co_name == "forward" and isinstance(prev.f_locals.get("self"), torch.nn.Module):
            ctx.module = type(prev.f_locals["self"]).__name__
            break
    code = frame.f_code
    arguments = set(code.co_varnames[: code.co_argcount + code.co_kwonlyargcount])
    for key, value in local.items():
        if key not in arguments:  # torch's own temporaries (expanded_input, ...) are not the user's
            continue
        if _is(value, torch.Tensor):
            class_dim = -1 if (ctx.loss == "ctc_loss" and key == "log_probs") else None
            role = "lengths" if key.endswith("_lengths") else None
            ctx.tensors[key] = describe(value, read_values=ctx.values_readable, class_dim=class_dim, role=role)
        elif key in OPTION_NAMES and _is(value, (int, float, str, bool, type(None))):
            ctx.options[key] = value
        elif key.endswith("_lengths") and _int_sequence(value):  # CTC lengths given as a list of ints
            ctx.tensors[key] = describe(torch.tensor(value, dtype=torch.long), role="lengths")
        elif key in SIZE_OPTIONS:  # constructor sizes: AdaptiveLogSoftmaxWithLoss(in_features, n_classes, cutoffs)
            if _is(value, (int, float)) or (_is(value, (list, tuple)) and len(value) <= 64
                                            and all(_is(v, (int, float)) for v in value)):
                ctx.options[key] = tuple(value) if _is(value, (list, tuple)) else value
        elif key == "distance_function":
            ctx.options[key] = _callable_kind(value)
    if name == "forward" and isinstance(owner, torch.nn.Module):  # sizes the module was built with
        for key in SIZE_OPTIONS:
            value = owner.__dict__.get(key)
            if _is(value, (int, float)) or (_is(value, (list, tuple)) and len(value) <= 64
                                            and all(_is(v, (int, float)) for v in value)):
                ctx.options.setdefault(key, tuple(value) if _is(value, (list, tuple)) else value)
    ctx.callback = _callback_name(entries, loss_i, in_torch)
    _mark_domains(ctx)
    source = local.get("input", local.get("log_probs"))
    if isinstance(source, torch.Tensor) and source.grad_fn is not None:
        ctx._input_params = _graph_params(source.grad_fn)
    ctx.grad_enabled = torch.is_grad_enabled()
    user_i = _user_index(entries, loss_i, in_torch)
    if user_i is None:
        return
    outer = _outside_libraries(entries, user_i, in_torch)
    if outer is not None:  # the loss is computed inside a library (HF ``model(..., labels=labels)``)
        _read_library_call(ctx, entries, outer, loss_i, in_torch)
        return
    _read_user_call(ctx, entries, user_i, params)


def _mark_domains(ctx: LossContext) -> None:
    """Tell each tensor what the loss takes it as (its contract's domain), so its evidence line says
    "real values" for a regression input and not "logits"."""
    from dataclasses import replace

    from .contracts import POSITIVE, contract

    found = contract(ctx.module) or contract(ctx.loss)
    if found is None:
        return
    inputs = {found.input_param, *found.forward[:1], "input", "input1", "input2", "anchor", "positive",
              "negative", "log_probs"} & {*found.tensors, *found.forward}
    for key, facts in list(ctx.tensors.items()):
        if key in ("target", "targets") and key in {*found.tensors, *found.forward}:
            domains = found.target_domains(ctx.options)
            domain = domains[0] if domains else None
        elif key == "var":
            domain = POSITIVE
        elif key in inputs:
            domain = found.input_domain(ctx.options)
        else:
            continue
        if domain is not None:
            ctx.tensors[key] = replace(facts, domain=domain)


_LIBRARY = re.compile(r"[/\\](?:site|dist)-packages[/\\]")


def _is_library(filename: str) -> bool:
    """Installed code (site-packages) or the standard library's (a ``functools``/``contextlib`` frame between
    two library frames): a library's frame, never the user's own line."""
    return (_LIBRARY.search(filename) is not None or filename.startswith(("<frozen ", _stdlib_dir())))


def _stdlib_dir() -> str:
    import sysconfig

    return os.path.join(sysconfig.get_paths()["stdlib"], "")


def _library_class(cls) -> bool:
    """A model whose ``forward`` an installed package defines (``transformers``' BertForSequenceClassification)."""
    try:
        forward = inspect.getattr_static(cls, "forward", None)
    except Exception:
        return False
    filename = getattr(getattr(forward, "__code__", None), "co_filename", None)
    return isinstance(filename, str) and _is_library(filename) and not filename.startswith(_torch_dir())


def _outside_libraries(entries, user_i: int, in_torch) -> int | None:
    """When the caller of torch is a library (transformers, lightning), the user's own frame further out that
    called into it; None when the caller is the user's (the usual case) or no user frame is on the stack."""
    if not _is_library(entries[user_i].tb_frame.f_code.co_filename):
        return None
    j = user_i
    while j >= 0 and (in_torch[j] or _is_library(entries[j].tb_frame.f_code.co_filename)):
        j -= 1
    return j if j >= 0 else None


def _read_library_call(ctx: LossContext, entries, user_i: int, loss_i: int, in_torch) -> None:
    """The user's call into a library that computed the loss: name the loss's tensors by the user's arguments.

    A loss tensor is the user's argument when the library's entry function received that very object (or a
    view of it: ``labels.view(-1)``) under some parameter; the user's expression bound to that parameter then
    names it, and only those are in ``ctx.call.args``. The call is marked ``inside``: fixes may replace those
    arguments but never rewrite the callee or add loss keywords, which belong to the library's own code.
    """
    import torch

    tb = entries[user_i]
    frame = tb.tb_frame
    ctx._user_frame = frame
    ctx.location = location_of(frame.f_code.co_filename, tb.tb_lineno)
    library = [entries[j].tb_frame for j in range(user_i + 1, loss_i)
               if not in_torch[j] and _is_library(entries[j].tb_frame.f_code.co_filename)]
    node, source = find_call(tb)
    if node is None or not library:
        return
    received: dict = {}  # parameter -> value, outermost library frame first (decorators pass **kwargs on)
    for entry in library:
        for name, value in _arguments(entry).items():
            received.setdefault(name, value)
    positional = next((p for p in (_positional(entry) for entry in library) if p), [])
    call = user_call(node, source, frame.f_code.co_filename, positional)
    if call is None:
        return
    loss_locals = entries[loss_i].tb_frame.f_locals
    spread = next((kw.value.id for kw in node.keywords if kw.arg is None and isinstance(kw.value, ast.Name)), None)
    renames = {}
    for key in ctx.tensors:
        tensor = loss_locals.get(key)
        param = _received_as(tensor, received, torch)
        if param is None:
            continue
        expr = call.args.get(param) or (f'{spread}["{param}"]' if spread else None)  # model(**batch)
        if expr is None:  # trainer.train(): the library made the batch; name it as the model received it
            ctx.aliases[key] = param
            ctx.unbound.add(key)
            continue
        if tuple(tensor.shape) != tuple(received[param].shape):  # the library reshaped it: labels.view(-1)
            shape = ", ".join(str(n) for n in tensor.shape) if tensor.ndim != 1 else "-1"
            ctx.aliases[key] = method(expr, call.simple.get(param, True), f".view({shape})")
        elif param in call.args:
            renames[param] = key
        else:
            ctx.aliases[key] = expr
    call.keep(renames)
    callee_self = entries[user_i + 1].tb_frame.f_locals.get("self")
    if (ctx.input is not None and "input" not in ctx.aliases and "input" not in call.args
            and _is(callee_self, torch.nn.Module)):
        ctx.aliases["input"] = f"{call.callee}(...)"  # the scores the model computed in the user's call
    call.inside = True
    call.callee = ""  # the loss (its module, its options) is not in the user's code: nothing to rename there
    ctx.call = call


def _arguments(frame) -> dict:
    """A frame's arguments by name, with the contents of its ``**kwargs`` (a plain dict) spread in."""
    code = frame.f_code
    count = code.co_argcount + code.co_kwonlyargcount
    local = frame.f_locals
    found = {name: local.get(name) for name in code.co_varnames[:count] if name != "self"}
    if code.co_flags & inspect.CO_VARKEYWORDS:
        extra = local.get(code.co_varnames[count + bool(code.co_flags & inspect.CO_VARARGS)])
        if type(extra) is dict:
            found.update((k, v) for k, v in extra.items() if type(k) is str)
    return found


def _positional(frame) -> list[str]:
    """The names a call's positional arguments bind to in this frame's function (``self`` dropped)."""
    code = frame.f_code
    return [name for name in code.co_varnames[: code.co_argcount] if name != "self"]


def _received_as(tensor, received: dict, torch) -> str | None:
    """The parameter under which the library received ``tensor`` itself, else a value it is a view of
    (``labels.view(-1)``), else a view of the same elements (both views of one batch, same offset and size).
    Identity and metadata only: two slices of one batch (features and labels) are never confused."""
    if not _is(tensor, torch.Tensor):
        return None
    tensors = [(p, v) for p, v in received.items() if _is(v, torch.Tensor)]
    base = tensor._base
    for matches in (lambda v: v is tensor, lambda v: base is v,
                    lambda v: (base is not None and v._base is base and v.storage_offset() == tensor.storage_offset()
                               and v.numel() == tensor.numel())):
        found = next((p for p, v in tensors if matches(v)), None)
        if found is not None:
            return found
    return None


def _read_user_call(ctx: LossContext, entries, user_i: int, loss_params: list[str]) -> None:
    """Find the user's call and name its arguments with the loss function's parameter names."""
    import torch

    tb = entries[user_i]
    frame = tb.tb_frame
    ctx._user_frame = frame
    ctx.location = location_of(frame.f_code.co_filename, tb.tb_lineno)
    node, source = find_call(tb)
    if node is None:
        return
    params = loss_params
    callee_entry = entries[user_i + 1].tb_frame if user_i + 1 < len(entries) else None
    if callee_entry is not None:
        callee_self = callee_entry.f_locals.get("self")
        if isinstance(callee_self, torch.nn.Module) and callee_entry.f_code.co_name == "__init__":
            params = loss_params  # nn.XLoss(margin=...): the constructor's own parameters
        elif isinstance(callee_self, torch.nn.Module):  # criterion(out, y): bind to the module's forward
            forward_params = positional_params(type(callee_self).forward)
            params = [p if p in loss_params or not loss_params else
                      (loss_params[i] if i < len(loss_params) else p)
                      for i, p in enumerate(forward_params)]
        elif callee_entry.f_code.co_name == "backward":
            params = []
    ctx.call = user_call(node, source, frame.f_code.co_filename, params)


def _graph_params(grad_fn, limit: int = 256, stop: frozenset = frozenset()) -> frozenset:
    """id()s of the leaf tensors (parameters) reached from ``grad_fn`` in at most ``limit`` nodes; the walk
    does not go below a node whose type is named in ``stop`` (it still counts)."""
    found, queue, seen = set(), [grad_fn], 0
    while queue and seen < limit:
        node = queue.pop(0)
        if node is None:
            continue
        seen += 1
        if type(node).__name__ in stop:
            continue
        variable = getattr(node, "variable", None)
        if variable is not None:
            found.add(id(variable))
        queue.extend(fn for fn, _ in getattr(node, "next_functions", ()))
    return frozenset(found)


def _graph_names(grad_fn, limit: int = 12) -> tuple[str, ...]:
    """Names of the first ``limit`` autograd nodes from ``grad_fn``, breadth-first (metadata only)."""
    names, queue, seen = [], [grad_fn], set()
    while queue and len(names) < limit:
        node = queue.pop(0)
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        names.append(type(node).__name__)
        queue.extend(fn for fn, _ in getattr(node, "next_functions", ()))
    return tuple(names)


RESULT_NODES = ("SoftmaxBackward0", "SigmoidBackward0")  # nodes that save their output (probabilities)


def _graph_edges(ctx: LossContext, grad_fn, limit: int = 24) -> None:
    """``ctx.graph_edges`` and ``ctx.graph_results`` from the first ``limit`` nodes (breadth-first).

    Saved results are keyed by edge, ``"LogBackward0>SoftmaxBackward0"``, and read only if the node has not
    run yet (a backward that failed above it keeps them).
    """
    edges, queue, seen, read = [], [grad_fn], set(), {}
    while queue and len(seen) < limit:
        node = queue.pop(0)
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        name = type(node).__name__
        for fn, _ in getattr(node, "next_functions", ()):
            if fn is None:
                continue
            child = type(fn).__name__
            edges.append((name, child))
            queue.append(fn)
            key = f"{name}>{child}"
            if child in RESULT_NODES and key not in ctx.graph_results:
                if id(fn) not in read:
                    try:
                        read[id(fn)] = describe(fn._saved_result, read_values=ctx.values_readable)
                    except Exception:  # freed after the node ran, or another autograd version
                        read[id(fn)] = None
                if read[id(fn)] is not None:
                    ctx.graph_results[key] = read[id(fn)]
    ctx.graph_edges = tuple(edges)


def _read_backward_frame(ctx: LossContext, entries, back_i: int, in_torch) -> None:
    import torch

    tensor = entries[back_i].tb_frame.f_locals.get("self")
    if isinstance(tensor, torch.Tensor):
        facts = describe(tensor, read_values=ctx.values_readable)
        ctx.tensors["loss"] = facts
        ctx.graph = _graph_names(tensor.grad_fn)
        if ctx.family("anomaly-nan"):
            _graph_edges(ctx, tensor.grad_fn)
        ctx.loss = next((BACKWARD_LOSS_NODES[n] for n in ctx.graph if n in BACKWARD_LOSS_NODES), None)
    ctx.grad_enabled = torch.is_grad_enabled()  # read after the cell's own `with` blocks have exited
    user_i = _user_index(entries, back_i, in_torch)
    if user_i is None:
        return
    _read_user_call(ctx, entries, user_i, [])
    node, source = find_call(entries[user_i])
    if ctx.call is not None and node is not None and isinstance(node.func, ast.Attribute):
        receiver = ast.get_source_segment(source.text, node.func.value)
        if receiver:
            ctx.call.args["loss"] = receiver
            ctx.call.simple["loss"] = isinstance(node.func.value, (ast.Name, ast.Attribute, ast.Call))


def _read_one_hot(ctx: LossContext, entries, in_torch) -> bool:
    """``F.one_hot`` raises from C: find the call in the innermost user frame and look its argument up."""
    import torch

    user_i = max((i for i, t in enumerate(in_torch) if not t), default=None)
    if user_i is None:
        return False
    tb = entries[user_i]
    node, source = find_call(tb)
    if node is None or callee_name(node) != "one_hot":
        return False
    frame = tb.tb_frame
    ctx.loss = "one_hot"
    ctx._user_frame = frame
    ctx.location = location_of(frame.f_code.co_filename, tb.tb_lineno)
    ctx.call = user_call(node, source, frame.f_code.co_filename, ["tensor", "num_classes"])
    arg = _lookup(frame, _strip_casts(node.args[0])) if node.args else None
    if _is(arg, torch.Tensor):
        ctx.tensors["tensor"] = describe(arg, read_values=ctx.values_readable)
    classes = node.args[1] if len(node.args) > 1 else next(
        (k.value for k in node.keywords if k.arg == "num_classes"), None)
    value = _lookup(frame, classes) if classes is not None else -1
    if not _is(value, int) and classes is not None:
        value = _tensor_size(frame, classes)
    if _is(value, int):
        ctx.options["num_classes"] = value
    return True


def _tensor_size(frame, node) -> int | None:
    """``probs.shape[1]`` / ``logits.size(-1)`` of a tensor in ``frame``: a size read from metadata."""
    import torch

    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute) and node.value.attr == "shape":
        base, index = node.value.value, node.slice
    elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "size"
          and len(node.args) == 1 and not node.keywords):
        base, index = node.func.value, node.args[0]
    else:
        return None
    tensor, dim = _lookup(frame, base), _lookup(frame, index)
    if not _is(tensor, torch.Tensor) or type(dim) is not int or not -tensor.dim() <= dim < tensor.dim():
        return None
    return int(tensor.shape[dim])


# Methods that keep the values (and so min/max) of whole-number tensors: seen through to the name.
VALUE_KEEPING = frozenset({"long", "int", "to", "cpu", "cuda", "detach", "clone", "contiguous", "view",
                           "reshape", "flatten", "squeeze", "unsqueeze", "type"})


def _strip_casts(node):
    """``labels.to(torch.int64).view(-1)`` -> ``labels``: the tensor whose values the call received."""
    while (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
           and node.func.attr in VALUE_KEEPING):
        node = node.func.value
    return node


def _lookup(frame, node):
    """The value of a literal, a name, or ``name.attr`` in ``frame``, without running any code."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
        return -node.operand.value
    if isinstance(node, ast.Name):
        for scope in (frame.f_locals, frame.f_globals):
            if node.id in scope:
                return scope[node.id]
        return None
    if isinstance(node, ast.Attribute):
        base = _lookup(frame, node.value)
        if base is None:
            return None
        try:
            return inspect.getattr_static(base, node.attr) if not isinstance(
                inspect.getattr_static(base, node.attr), property) else None
        except AttributeError:
            return None
    return None


def _read_cuda_failure(ctx: LossContext, entries, in_torch) -> None:
    """After a device-side assert only metadata may be read: find loss results in the user's frame."""
    import torch

    user_i = max((i for i, t in enumerate(in_torch) if not t), default=None)
    if user_i is None:
        return
    tb = entries[user_i]
    frame = tb.tb_frame
    ctx._user_frame = frame
    ctx.location = location_of(frame.f_code.co_filename, tb.tb_lineno)
    used = set(frame.f_code.co_names) | set(frame.f_code.co_varnames)  # names this cell/function uses
    # IPython compiles a cell statement by statement (and IPython 7 names it "<cell line: N>")
    if frame.f_code.co_name == "<module>" or frame.f_code.co_name.startswith("<cell line"):
        import linecache

        used |= set(re.findall(r"[A-Za-z_]\w*", "".join(linecache.getlines(frame.f_code.co_filename))))
    for key, value in frame.f_locals.items():
        if key in used and _is(value, torch.Tensor) and value.grad_fn is not None:
            loss = BACKWARD_LOSS_NODES.get(type(value.grad_fn).__name__)
            if loss:
                ctx.loss = ctx.loss or loss
                ctx.tensors[key] = describe(value, read_values=False)
