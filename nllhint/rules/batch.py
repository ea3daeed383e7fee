"""Rules for ``batch-mismatch`` and ``shape-mismatch``: input and target do not line up.

``batch-mismatch``: input and target hold different numbers of samples. The autograd history says which
operation changed the number of rows (a reshape or a ``torch.cat`` along dim 0) and the user's own code
says where; the shapes tell the rest apart: a flatten ``x.view(-1, k)`` with the wrong ``k``, a batch
size passed as a constant, per-position scores against labels of another length, one side flattened
over time and the other not, or sizes with no relation (labels of another batch, a short last batch).
(One-hot rows flattened and a batch axis lost to ``squeeze()`` are ``target-shape`` rules.)

``shape-mismatch``: element-wise losses (BCE, MSE, L1, ...) compare input and target element by element,
so their shapes must be equal: a stray singleton dimension, class indices where one column per class is
expected, a mask saved as RGB, or a different number of outputs per sample.
"""

from __future__ import annotations

import ast
import math
import operator
import re

from ..context import ELEMENTWISE_LOSSES
from ..contracts import UNIT, losses_where
from ..messages import parse_shape
from ..source import _offset, callee_name, strip_call
from .base import Example, Hint, rule

BATCH_FAMILIES = ("batch-size",)
SHAPE_FAMILIES = ("bce-size", "broadcast")
# every loss whose contract wants input and target of one shape (the index lists of MultiLabelMarginLoss
# have their own message and rules)
SHAPE_LOSSES = ELEMENTWISE_LOSSES | {"kl_div"} | (
    losses_where(lambda c: c.same_shape) - {"multilabel_margin_loss"})
BCE_LOSSES = tuple(sorted(losses_where(lambda c: c.targets[:1] == (UNIT,))))  # BCELoss, BCEWithLogitsLoss


def _shape_text(shape) -> str:
    return "(" + ", ".join(map(str, shape)) + (",)" if len(shape) == 1 else ")")


# --- reading the user's code (parsed, never run) ----------------------------------------------------

def _parse(expr: str):
    try:
        return ast.parse(expr.strip(), mode="eval").body
    except SyntaxError:
        return None


def _assignment(ctx, name: str) -> tuple[str, ast.expr, str] | None:
    """(statement, value node, its source text) of the last ``name = ...`` before the failing line."""
    parsed = ctx.user_tree()
    if not parsed or ctx.call is None:
        return None
    text, tree, first = parsed
    hit = None
    for node in ast.walk(tree):
        if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id == name and first + node.lineno - 1 < ctx.call.lineno):
            if hit is None or node.lineno > hit.lineno:
                hit = node
    if hit is None:
        return None
    return ast.get_source_segment(text, hit) or "", hit.value, text


def _origin(ctx, param: str) -> tuple[str | None, ast.expr, str] | None:
    """What produced a call argument: the expression itself, or the assignment of the name it is."""
    expr = ctx.name(param, "").strip()
    node = _parse(expr)
    if isinstance(node, ast.Name):
        return _assignment(ctx, node.id)
    return (None, node, expr) if node is not None else None


def _tensor(ctx, name: str):
    import torch

    value = ctx.lookup(name)
    return value if isinstance(value, torch.Tensor) else None


def _base(ctx, param: str):
    """``(name, tensor)`` when the argument is a plain variable flattened in the call (``y.view(-1)``)."""
    expr = ctx.name(param, "").strip()
    while True:
        m = re.fullmatch(r"(.+)\.(?:view\(-1\)|reshape\(-1\)|flatten\(\)|contiguous\(\)|long\(\))", expr, re.S)
        if not m:
            break
        expr = m.group(1)
    if re.fullmatch(r"[A-Za-z_]\w*", expr):
        tensor = _tensor(ctx, expr)
        if tensor is not None:
            return expr, tensor
    return None


# --- batch-mismatch ---------------------------------------------------------------------------------

def _counts(ctx) -> tuple[int, int] | None:
    """(input samples, target samples) when both are known, non-zero and different."""
    inp, tgt = ctx.input, ctx.target
    m = ctx.family(*BATCH_FAMILIES)
    n_in = inp.shape[0] if inp is not None and inp.ndim >= 2 else None
    n_tg = tgt.shape[0] if tgt is not None and tgt.ndim >= 1 else None
    if m is not None:
        n_in = n_in if n_in is not None else _int(m.groups.get("n_input"))
        n_tg = n_tg if n_tg is not None else _int(m.groups.get("n_target"))
    elif ctx.family(*SHAPE_FAMILIES):  # element-wise: only when the rest of the shapes agree
        if inp is None or tgt is None or inp.ndim != tgt.ndim or inp.ndim == 0 or inp.shape[1:] != tgt.shape[1:]:
            return None
        if ctx.via != "loss" or ctx.loss not in SHAPE_LOSSES or _broadcastable(inp.shape, tgt.shape):
            return None
        n_in, n_tg = inp.shape[0], tgt.shape[0]
    if not n_in or not n_tg or n_in == n_tg:  # zero samples: an empty batch, see empty-input
        return None
    return n_in, n_tg


def _int(text):
    return int(text) if text is not None and str(text).isdigit() else None


_OPS = {ast.Mult: operator.mul, ast.Add: operator.add, ast.Sub: operator.sub, ast.FloorDiv: operator.floordiv}


def _const(node) -> int | None:
    """The value of an integer constant expression such as ``16 * 5 * 5`` (nothing is run)."""
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        left, right = _const(node.left), _const(node.right)
        if left is None or right is None or (isinstance(node.op, ast.FloorDiv) and right == 0):
            return None
        return _OPS[type(node.op)](left, right)
    return None


def _view_width(code: str) -> int | None:
    """``k`` of ``x.view(-1, k)`` when it is a constant expression."""
    call = _parse(code)
    if isinstance(call, ast.Call) and len(call.args) == 2:
        return _const(call.args[1])
    return None


def _last_batch(ctx, n_in: int, n_tg: int):
    """A DataLoader whose batch size and (smaller) last batch are exactly the two counts."""
    for name, size, length, drop_last in ctx.data_loaders():
        if length is None or drop_last or size < 1:
            continue
        last = length % size
        if last and {n_in, n_tg} == {size, last}:
            return name, size, length, last
    return None


def _views(ctx) -> list[tuple[str, str]]:
    """``view(-1, k)`` calls in the models that produced the input.

    With an autograd graph the context already keeps only those models; without one (``torch.no_grad``),
    only the models named where the input was computed (``net(inputs)``) count.
    """
    views = ctx.model_views()
    inp = ctx.input
    if inp is not None and inp.grad_fn is not None:
        return views
    origin = _origin(ctx, "input")
    if origin is None:
        return []
    import torch

    classes = set()
    for node in ast.walk(origin[1]):
        if isinstance(node, ast.Name):
            value = ctx.lookup(node.id)
            if isinstance(value, torch.nn.Module):
                classes.add(type(value).__name__)
    return [v for v in views if v[0].split(".forward")[0] in classes]


def _fixed_batch_argument(ctx, n_in: int, n_tg: int, labels: str | None = None):
    """``model(pts, val_batch_size)``: an int argument equal to the input's rows beside a tensor of n_tg rows
    (or, when no argument has n_tg rows, e.g. points of several scenes, beside the ``labels`` of the batch)."""
    origin = _origin(ctx, "input")
    if origin is None or not isinstance(origin[1], ast.Call):
        return None
    statement, call, text = origin
    args = list(call.args) + [kw.value for kw in call.keywords]
    sizes, tensors = [], []
    for arg in args:
        name = ast.get_source_segment(text, arg)
        if isinstance(arg, ast.Name):
            value = ctx.lookup(arg.id)
            if type(value) is int and value == n_in:
                sizes.append((arg, name))
            elif (tensor := _tensor(ctx, arg.id)) is not None and tensor.dim() and tensor.shape[0] == n_tg:
                tensors.append(name)
    if not tensors and labels:
        tensors.append(labels)
    if len(sizes) != 1 or not tensors:
        return None
    arg, size_name = sizes[0]
    call_text = ast.get_source_segment(text, call) or ""
    lines = text.splitlines(keepends=True)
    start = _offset(lines, arg.lineno, arg.col_offset) - _offset(lines, call.lineno, call.col_offset)
    fixed_call = call_text[:start] + f"{tensors[0]}.shape[0]" + call_text[start + len(size_name):]
    fix = statement.replace(call_text, fixed_call, 1) if statement is not None else ctx.fix({"input": fixed_call})
    return size_name, tensors[0], call_text, fix


def _batch_size_reshapes(ctx, n_in: int) -> list[tuple[str, str, str]]:
    """``(where, code, size name)`` of reshapes in the model's forward whose first size is a variable
    (``x.view(batch_size, -1, 20)``, ``x.view(self.batch_size, ...)``) equal to the input's rows: a batch
    size fixed when the model was called or built, not read from the tensor."""
    import torch

    origin = _origin(ctx, "input")
    models = []
    if origin is not None:
        models = [v for node in ast.walk(origin[1]) if isinstance(node, ast.Name)
                  and isinstance(v := ctx.lookup(node.id), torch.nn.Module)]
    passed = set()  # int values of the names in the model call
    if origin is not None:
        for node in ast.walk(origin[1]):
            if isinstance(node, ast.Name) and type(ctx.lookup(node.id)) is int:
                passed.add(ctx.lookup(node.id))
            elif isinstance(node, ast.Constant) and type(node.value) is int:
                passed.add(node.value)
    found = []
    for where, code in ctx.model_calls("view", "reshape"):
        call = _parse(code)
        if not isinstance(call, ast.Call) or len(call.args) < 2:
            continue
        first = call.args[0]
        if isinstance(first, ast.Attribute) and isinstance(first.value, ast.Name) and first.value.id == "self":
            values = [m.__dict__.get(first.attr) for m in models if where.startswith(type(m).__name__ + ".")]
            if n_in in [v for v in values if type(v) is int]:
                found.append((where, code, f"self.{first.attr}"))
        elif isinstance(first, ast.Name) and re.search(r"batch|bs\b|^b$|^n$", first.id, re.I):
            value = ctx.lookup(first.id)
            if n_in in passed or (type(value) is int and value == n_in):
                found.append((where, code, first.id))
    return found


# --- a patch map per sample against one label per sample --------------------------------------------------

def _patch_map(ctx):
    """``(N, (h, w), flattened)``: the input holds an h x w map of scores per sample (``(N, h, w)``,
    ``(N, 1, h, w)``, or ``N*h*w`` rows flattened from one) while the target has one value per sample."""
    if ctx.via != "loss" or ctx.loss not in SHAPE_LOSSES:
        return None
    inp, tgt = ctx.input, ctx.target
    if inp is None or tgt is None or not tgt.shape or tgt.numel != tgt.shape[0] or tgt.ndim > 2:
        return None
    if tgt.is_int and tgt.max is not None and tgt.max >= 2:  # class ids (42), not real/fake labels
        return None
    n = tgt.shape[0]
    shape, flattened = inp.shape, False
    found = inp.reshaped
    flat = inp.ndim == 1 or (inp.ndim == 2 and inp.shape[1] == 1)
    if flat and inp.numel != n and found is not None and found[0] == "view" and found[2] == shape:
        shape, flattened = tuple(found[1][0]), True  # netD(x).view(-1): what it was before
    if not shape or shape[0] != n:
        return None
    dims = tuple(shape[1:])
    if len(dims) == 3 and dims[0] == 1:
        dims = dims[1:]  # (N, 1, h, w)
    if len(dims) != 2 or min(dims) < 2:
        return None
    convolutional = bool(ctx.output_layers(1, conv=True))  # a 1-channel convolution produced the input
    if not convolutional and not (flattened and len(shape) == 4):  # (N, h, w) alone could be (N, T, C)
        return None
    return n, dims, flattened, shape


def _images_fed(ctx) -> str | None:
    """``real_cpu`` (128x128) when the input was computed as ``model(name)`` from a 4-D image batch."""
    import torch

    origin = _origin(ctx, "input")
    if origin is None:
        return None
    for node in ast.walk(origin[1]):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.args
                and isinstance(ctx.lookup(node.func.id), torch.nn.Module) and isinstance(node.args[0], ast.Name)):
            images = _tensor(ctx, node.args[0].id)
            if images is not None and images.dim() == 4:
                return f"`{node.args[0].id}` is {images.shape[2]}x{images.shape[3]}"
    return None


_CONSTANT_MAKERS = {"ones": 1.0, "zeros": 0.0, "ones_like": 1.0, "zeros_like": 0.0, "full": None,
                    "full_like": None, "fill_": None, "new_ones": 1.0, "new_zeros": 0.0, "new_full": None}


def _made_constant(node) -> bool:
    """``torch.ones(n)``, ``torch.full((n,), 0.9)``, ``torch.zeros(n, device=d)``, ``x.new_ones(n)``,
    ``torch.ones(n) * 0.9``, ``torch.FloatTensor(n).fill_(1)``: a tensor of one value by construction."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mult, ast.Sub, ast.Add, ast.Div)):
        sides = (node.left, node.right)
        return any(_made_constant(x) for x in sides) and all(
            _made_constant(x) or isinstance(x, ast.Constant) for x in sides)
    while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in (
            "to", "cuda", "float", "double", "half", "type_as", "detach", "requires_grad_"):
        node = node.func.value  # torch.ones(n).to(device)
    if not isinstance(node, ast.Call):
        return False
    return callee_name(node) in _CONSTANT_MAKERS


def _constant_target(ctx) -> float | None:
    """The one value of a target that holds a single label for everything (a GAN's real/fake label):
    built as ``torch.ones(...)``/``zeros``/``full`` in the user's code, or every value read and all equal."""
    tgt = ctx.target
    origin = _origin(ctx, "target")
    made = origin is not None and _made_constant(origin[1])
    if tgt.values and tgt.distinct is not None and len(tgt.distinct) == 1:
        if made or (not tgt.sampled and tgt.numel >= 4):
            return tgt.distinct[0]
        return None
    if made and not tgt.values and isinstance(origin[1], ast.Call):
        return _CONSTANT_MAKERS.get(callee_name(origin[1]))
    return None


@rule("NLH543", "shape-mismatch", "one constant real/fake label per sample against several scores per sample",
      families=BATCH_FAMILIES + SHAPE_FAMILIES,
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "D = nn.Sequential(nn.Conv2d(3, 1, 4, stride=2, padding=1), nn.Sigmoid(), nn.Flatten())\n"
          "bce = nn.BCELoss()\n"
          "real = torch.rand(4, 3, 16, 16)\n"
          "valid = torch.ones(4)\n"
          "loss = bce(D(real), valid)",
          expect=("64 scores per sample", "out = D(real)", "loss = bce(out, torch.ones_like(out))")),))
def constant_label_per_sample(ctx) -> Hint | None:
    """A PatchGAN discriminator scores every patch, ``(N, P)`` or ``(N, 1, h, w)``, while the label is one
    constant per image (``torch.ones(N)``). A label of one value fits any shape, so ``torch.ones_like(out)``
    is exactly the label the user meant, for every score."""
    if ctx.via != "loss" or ctx.loss not in SHAPE_LOSSES:
        return None
    inp, tgt = ctx.input, ctx.target
    if inp is None or tgt is None or tgt.ndim not in (1, 2) or not tgt.shape or tgt.numel != tgt.shape[0]:
        return None
    n = tgt.shape[0]
    if inp.ndim < 2 or inp.shape[0] != n or inp.numel <= n or not inp.is_float:
        return None
    map_shape = inp.shape
    found = inp.reshaped
    if found and found[0] == "view" and found[2] == inp.shape and found[1][0][:1] == (n,):
        map_shape = tuple(found[1][0])  # D(x).view(x.size(0), -1): the map it was before
    conv_map = len(map_shape) >= 3 and (map_shape[1] == 1 or bool(ctx.output_layers(1, conv=True)))
    if inp.ndim >= 3 and not conv_map:  # (N, T, H) from an RNN: not scores of one kind
        return None
    value = _constant_target(ctx)
    if value is None:
        return None
    if not (tgt.is_float and conv_map):
        # integer labels beside a 2-column Linear head (a batch whose class ids happen to be all 0) are class
        # ids, not a real/fake label: only float labels against a map of scores make the PatchGAN reading
        return None
    fixed = _constant_fix(ctx, value)
    per = inp.numel // n
    spatial = [s for s in map_shape[1:] if s != 1]
    what = (f"a {spatial[0]}x{spatial[1]} map of scores per sample (one per image patch, as a PatchGAN "
            f"discriminator gives)" if conv_map and len(spatial) == 2 else f"{per} scores per sample")
    tgt_name, label = ctx.code("target"), _num_text(value)
    return Hint(
        title=(f"{ctx.code('input')} has {per} scores per sample {_shape_text(inp.shape)}, but {tgt_name} "
               f"has one label per sample {_shape_text(tgt.shape)}"),
        message=(f"{ctx.code('input')} holds {what}; {tgt_name} gives each of the {n} samples one label, the "
                 f"same for all ({label}). {ctx.loss_label} compares value by value, so the label must cover "
                 f"every score: a tensor of {label}s shaped like {ctx.code('input')}. (If the model should "
                 f"give one score per sample instead, average the scores or change its last layer.)"),
        fix=fixed,
    )


def _constant_fix(ctx, value: float) -> str:
    """``loss = bce(out, torch.ones_like(out))``, naming the input first when it is an expression."""
    maker = ("torch.ones_like({})" if value == 1 else "torch.zeros_like({})" if value == 0
             else "torch.full_like({}, " + _num_text(value) + ")")
    expr = ctx.name("input").strip()
    if re.fullmatch(r"[A-Za-z_]\w*", expr):
        return ctx.fix({"target": maker.format(expr)}) or f"{ctx.name('target')} = {maker.format(expr)}"
    out = "out" if ctx.lookup("out") is None else "d_out"
    fixed = ctx.fix({"input": out, "target": maker.format(out)})
    return f"{out} = {expr}\n{fixed}" if fixed else f"{ctx.name('target')} = {maker.format(expr)}"


def _num_text(v: float) -> str:
    """0.9 for a float32 0.9 (7 significant digits: what float32 holds), 1 for 1.0."""
    return str(int(v)) if float(v).is_integer() else f"{v:.7g}"


@rule("NLH542", "shape-mismatch", "a discriminator's patch map (scores per region) against one label per image",
      families=BATCH_FAMILIES + SHAPE_FAMILIES,
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "netD = nn.Sequential(nn.Conv2d(3, 8, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(8, 1, 4, 1, 0), nn.Sigmoid())\n"
          "criterion = nn.BCELoss()\n"
          "images = torch.rand(4, 3, 16, 16)   # the network was built for 8x8\n"
          "label = torch.full((4,), 1.0)\n"
          "output = netD(images).view(-1)\n"
          "loss = criterion(output, label)",
          expect=("5x5", "loss = criterion(output, label.repeat_interleave(25))",
                  "loss = criterion(output.view(label.size(0), -1).mean(1), label)",
                  "16x16")),))
def patch_map_per_sample(ctx) -> Hint | None:
    """A convolutional discriminator (or critic) that ends in an h x w map, not 1x1: one score per patch.

    At the image size the network was built for the map is 1x1; on larger images it is a map (PatchGAN
    style). The labels must then cover the map, or the map be averaged into one score per image.
    """
    found = _patch_map(ctx)
    if not found:
        return None
    n, (h, w), flattened, shape = found
    inp, tgt = ctx.code("input"), ctx.code("target")
    name, labels = ctx.name("input"), ctx.name("target")
    per = h * w
    fed = _images_fed(ctx)
    cause = (f"larger images (here {fed}) give a map of scores, one per image region" if fed
             else "larger images give a map of scores, one per image region")
    if flattened:
        title = (f"{inp} holds a {h}x{w} map per image ({n} x {per} = {n * per} values), but {tgt} has one "
                 "label per image")
        how = f"the flattening turned {_shape_text(shape)} into {_shape_text(ctx.input.shape)}"
        expanded = ctx.with_method("target", f".view(-1).repeat_interleave({per})")
        if ctx.target.ndim == 1:
            expanded = ctx.with_method("target", f".repeat_interleave({per})")
        keep = ", keepdim=True" if ctx.target.ndim == 2 else ""  # (N, 1) labels: (N, 1) means
        averaged = ctx.with_method("input", f".view({ctx.with_method('target', '.size(0)')}, -1).mean(1{keep})")
    else:
        title = f"{inp} is a {h}x{w} map per image {_shape_text(shape)}, but {tgt} has one label per image"
        how = f"{inp} is {_shape_text(shape)}"
        ones = ", 1" * (len(shape) - 1)
        sizes = ", ".join(["-1"] + [str(s) for s in shape[1:]])
        expanded = ctx.with_method("target", f".view(-1{ones}).expand({sizes})")
        dims = ", ".join(str(d) for d in range(1, len(shape)))
        keep = ", keepdim=True" if ctx.target.ndim == 2 else ""
        averaged = ctx.with_method("input", f".flatten(1).mean(1{keep})" if keep else f".mean(({dims}))")
    fixed = ctx.fix({"target": expanded})
    mean_fix = ctx.fix({"input": averaged})
    value = _constant_target(ctx)
    lines = [f"# each of the {per} map values gets its image's label (PatchGAN style):",
             fixed or f"{labels} = {expanded}"]
    if value is not None:  # one label for every image: a tensor of it shaped like the map
        lines = [f"# every map value gets the label {_num_text(value)} (PatchGAN style):",
                 _constant_fix(ctx, value), "# or, the same, each image's label repeated over its map:",
                 lines[1]]
    if mean_fix:
        lines += ["# or one score per image, the mean over the map:", mean_fix]
    lines.append("# or feed images of the size the model was built for (it then ends in 1x1)")
    return Hint(
        title=title,
        message=(f"The loss compares {inp} with {tgt} value by value, but {tgt} has {n} values, one per "
                 f"image, while {inp} has {per} per image: the model's last convolution gives a "
                 f"{h}x{w} map, not a single score ({how}). A convolutional model such as a GAN "
                 f"discriminator ends in 1x1 only at the image size it was built for; {cause}. Give every "
                 "value of the map its image's "
                 "label, average the map into one score per image, or use images of the expected size."),
        fix="\n".join(lines),
    )


@rule("NLH301", "batch-mismatch", "a reshape in the model (view(-1, k) or a fixed batch size) changes the rows",
      families=BATCH_FAMILIES + SHAPE_FAMILIES,  # MSE/L1 with (N, k) targets raise a broadcast error
      examples=(Example(
          "import torch, torch.nn as nn, torch.nn.functional as F\n"
          "class Net(nn.Module):\n"
          "    def __init__(self):\n"
          "        super().__init__()\n"
          "        self.conv = nn.Conv2d(3, 16, 3, padding=1)\n"
          "        self.pool = nn.MaxPool2d(2)\n"
          "        self.fc = nn.Linear(16 * 8 * 8, 10)\n"
          "    def forward(self, x):\n"
          "        x = self.pool(F.relu(self.conv(x)))\n"
          "        x = x.view(-1, 16 * 8 * 8)\n"
          "        return self.fc(x)\n"
          "net = Net()\n"
          "images, labels = torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))\n"
          "loss = nn.CrossEntropyLoss()(net(images), labels)",
          expect=("Net.forward, line 10", "x.view(x.size(0), -1)", "4096")),
          Example(
          "import torch, torch.nn as nn\n"
          "class PointNet(nn.Module):\n"
          "    def __init__(self):\n"
          "        super().__init__()\n"
          "        self.fc = nn.Linear(12, 4)\n"
          "    def forward(self, pts, batch_size):\n"
          "        return self.fc(pts.reshape(batch_size, -1, 12).mean(1))\n"
          "model, batch_size = PointNet(), 8\n"
          "pts, labels = torch.randn(3, 16, 12), torch.randint(0, 4, (3,))   # the last batch\n"
          "logits = model(pts, batch_size)\n"
          "loss = nn.functional.cross_entropy(logits, labels)",
          expect=("logits = model(pts, pts.shape[0])",))))
def reshape_changes_rows(ctx) -> Hint | None:
    """A reshape inside the model that does not keep the batch dimension.

    ``x.view(-1, k)`` with ``k`` other than the features per sample cuts each sample into several rows
    (or merges samples); a batch size passed as a constant breaks on a smaller last batch. The autograd
    history (when grad is on) gives the shapes before and after; the model's ``forward`` gives the line.
    """
    counts = _counts(ctx)
    inp, target = ctx.input, ctx.target
    if not counts or inp is None or inp.ndim < 2:
        return None
    n_in, n_tg = counts
    tin, ttg = ctx.code("input"), ctx.code("target")
    reshapes = _batch_size_reshapes(ctx, n_in) if n_in > n_tg else []
    if len(reshapes) == 1:
        where, code, size = reshapes[0]
        base = _base(ctx, "target")
        labels = base[0] if base is not None and base[1].shape[0] == n_tg else None
        fixed = _fixed_batch_argument(ctx, n_in, n_tg, labels) if "." not in size else None
        lines = [fixed[3]] if fixed else [f"{code}  ->  {code.replace(size, 'x.size(0)', 1)}   # {where}: "
                                          "the batch size of the tensor itself (x: the batch going in)"]
        lines.append("# or drop the short last batch: DataLoader(..., drop_last=True)")
        return Hint(
            title=f"`{code}` in {where} reshapes with a fixed batch size ({size} = {n_in}), but {ttg} has "
                  f"{n_tg} samples",
            message=(f"The model reshapes its output with {size} ({n_in}) as the batch dimension, so {tin} has "
                     f"{n_in} rows while {ttg} holds {n_tg} samples: a last batch is often smaller than the "
                     f"others. Take the batch size from the batch itself (x.size(0) of a tensor that has one "
                     f"row per sample), or drop the short batch."),
            fix="\n".join(lines),
        )
    if target is not None and target.ndim >= 2 and ctx.loss not in SHAPE_LOSSES:  # MSE/L1: (N, k) targets
        return None
    fixed = _fixed_batch_argument(ctx, n_in, n_tg)
    if fixed:
        size_name, tensor, call_text, fix = fixed
        return Hint(
            title=f"`{call_text}` passes {size_name}={n_in} as the batch size, but `{tensor}` has {n_tg} samples",
            message=(f"The model builds its rows from {size_name} ({n_in}), so {tin} has {n_in} rows while "
                     f"`{tensor}` and {ttg} hold {n_tg} samples (a last batch is often smaller). Take the "
                     f"batch size from the data itself."),
            fix=fix,
        )
    found = inp.reshaped
    classes = inp.shape[1]
    width = before = None
    if found is not None:
        if found[0] != "view" or found[2] is None:
            return None
        before, after = found[1][0], found[2]
        if before[0] != n_tg or after[0] != n_in:
            return None
        if len(before) == 3 and len(after) == 2 and before[-1] == after[-1]:
            return None  # (N, T, C) -> (N*T, C): per-step outputs, see NLH305
        width = after[1] if len(after) == 2 else None
    elif inp.grad_fn is not None or ctx.loss in SHAPE_LOSSES:
        return None  # the history is known and has no reshape (or, for MSE/L1, unknown: no evidence)
    known = [(where, code, _view_width(code)) for where, code in _views(ctx)]
    if width is not None:
        places = [v for v in known if v[2] == width] or [v for v in known if v[2] is None]
    else:
        places = [v for v in known if v[2] != classes]
        widths = {v[2] for v in places}
        width = widths.pop() if len(widths) == 1 else None
    if before is None and (not places or n_in % n_tg):
        return None
    per_sample = math.prod(before[1:]) if before else (width * n_in // n_tg if width else None)
    if places and len(places) <= 2:
        where = " or ".join(f"`{code}` in {place}" for place, code, _ in places)
        if width and per_sample and per_sample != width:
            how = (f"each sample holds {per_sample} features, so view(-1, {width}) makes "
                   + (f"{per_sample // width} rows of each" if per_sample > width and per_sample % width == 0
                      else f"one row of all {n_tg} samples" if n_in == 1
                      else f"rows of {width // per_sample} samples each" if width % per_sample == 0
                      else "rows that mix samples"))
        else:
            how = "-1 lets view choose the number of rows, so k decides how many rows each sample becomes"
        rows, labels = ("row" if n_in == 1 else "rows"), ("samples" if ctx.loss in SHAPE_LOSSES else "labels")
        message = (f"{tin} has {n_in} {rows} but {ttg} has {n_tg} {labels}. {where} is behind it: {how}. "
                   "Flatten per sample instead (the batch size first), and size the next Linear layer to match.")
        lines = []
        for place, code, _ in places:
            call = _parse(code)
            name = (ast.get_source_segment(code, call.func.value) if isinstance(call, ast.Call)
                    and isinstance(call.func, ast.Attribute) else None) or "x"
            lines.append(f"{code}  ->  {name}.view({name}.size(0), -1)   # {place}, or {name}.flatten(1)")
    else:
        shapes = f" turned {_shape_text(before)} into {_shape_text(found[2])}" if before else ""
        message = (f"{tin} has {n_in} rows but {ttg} has {n_tg} labels: a reshape in the model{shapes}, so "
                   f"{n_tg} samples became {n_in} rows. Keep the batch dimension: reshape with the batch size "
                   "taken from the input first (not -1 and not a fixed number).")
        lines = ["x = x.view(x.size(0), -1)   # or x.flatten(1), where the model reshapes"]
    if per_sample and width and per_sample != width:
        lines.append(f"# then the Linear layer after it takes {per_sample} inputs: nn.Linear({per_sample}, ...)")
    return Hint(
        title=f"{tin} has {n_in} rows for the {n_tg} samples of {ttg}: a reshape in the model loses the batch",
        message=message,
        fix="\n".join(lines),
    )


@rule("NLH304", "batch-mismatch", "torch.cat along dim 0 stacks feature sets as extra samples",
      families=BATCH_FAMILIES,
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "class TwoTower(nn.Module):\n"
          "    def __init__(self):\n"
          "        super().__init__()\n"
          "        self.a, self.b = nn.Linear(5, 8), nn.Linear(7, 8)\n"
          "        self.head = nn.Linear(8, 3)\n"
          "    def forward(self, xa, xb):\n"
          "        return self.head(torch.cat([self.a(xa), self.b(xb)]))\n"
          "model = TwoTower()\n"
          "y = torch.randint(0, 3, (10,))\n"
          "loss = nn.CrossEntropyLoss()(model(torch.randn(10, 5), torch.randn(10, 7)), y)",
          expect=("torch.cat([self.a(xa), self.b(xb)], dim=1)", "TwoTower.forward, line 8", "nn.Linear(16, ...)")),))
def cat_along_batch(ctx) -> Hint | None:
    """``torch.cat(features)`` without ``dim=1``: k feature tensors of N rows become k*N samples."""
    counts = _counts(ctx)
    inp = ctx.input
    if not counts or inp is None or inp.reshaped is None or inp.reshaped[0] != "cat":
        return None
    n_in, n_tg = counts
    _, pieces, out = inp.reshaped
    if out is None or out[0] != n_in or not pieces or any(p is None or p[0] != n_tg for p in pieces):
        return None
    k = len(pieces)
    features = sum(math.prod(p[1:]) for p in pieces)
    calls = [(w, c, new) for w, c in ctx.model_calls("cat", "concat", "concatenate") if (new := _cat_on_features(c))]
    tin, ttg = ctx.code("input"), ctx.code("target")
    lines = [f"{new}   # {where}" for where, _, new in calls[:2]]
    if not lines:
        lines.append("torch.cat(features, dim=1)   # where the model joins its feature tensors")
    lines.append(f"# then the layer after it takes {features} inputs: nn.Linear({features}, ...)")
    where = f" (`{calls[0][1]}` in {calls[0][0]})" if len(calls) == 1 else ""
    return Hint(
        title=f"torch.cat stacked {k} feature tensors along dim 0: {tin} has {n_in} rows for {n_tg} samples",
        message=(f"The model joins {k} tensors of {n_tg} rows each along dim 0{where}, which adds them as "
                 f"{k}x more samples instead of more features per sample. Concatenate along the feature "
                 "dimension (dim=1) and size the next layer for the wider input."),
        fix="\n".join(lines),
    )


def _cat_on_features(code: str) -> str | None:
    """``torch.cat(xs)`` or ``torch.cat(xs, 0)`` rewritten along dim 1; None when it already joins another dim."""
    call = _parse(code)
    if not isinstance(call, ast.Call) or not call.args:
        return None
    dim = next((kw.value for kw in call.keywords if kw.arg in ("dim", "axis")), call.args[1] if len(call.args) > 1 else None)
    if dim is None:
        return code[:-1] + ", dim=1)"
    if isinstance(dim, ast.Constant) and dim.value == 0:
        lines = code.splitlines(keepends=True)
        start, end = _offset(lines, dim.lineno, dim.col_offset), _offset(lines, dim.end_lineno, dim.end_col_offset)
        return code[:start] + "1" + code[end:]
    return None


def _noted(fix: str | None, note: str) -> str | None:
    return f"{fix}   # {note}" if fix and "\n" not in fix else fix


def _flattened_from(ctx) -> tuple | None:
    """``(before, after)`` shapes of the input's flatten: from the autograd history, or (no graph:
    ``torch.no_grad``, a tensor built by hand) from the call, ``pred.view(-1, pred.size(2))`` of a 3-D
    ``pred``."""
    inp = ctx.input
    if inp is None:
        return None
    if inp.reshaped is not None:
        if inp.reshaped[0] != "view" or inp.reshaped[2] is None:
            return None
        return inp.reshaped[1][0], inp.reshaped[2]
    if inp.grad_fn is not None or inp.ndim != 2:
        return None
    name = _flattened_name(ctx, "input")
    tensor = _tensor(ctx, name) if name else None
    if tensor is None or tensor.dim() != 3 or tensor.numel() != inp.numel:
        return None
    return tuple(tensor.shape), inp.shape


def _flattened_name(ctx, param: str) -> str | None:
    """``pred`` when the argument is ``pred.view(-1, ...)`` (``.reshape``, ``.contiguous().view``,
    ``.flatten()``), written in the call or in the last assignment of the name passed."""
    expr = ctx.name(param, "").strip()
    node = _parse(expr)
    if isinstance(node, ast.Name):
        found = _assignment(ctx, node.id)
        if found is None:
            return None
        expr = (ast.get_source_segment(found[2], found[1]) or "").strip()
    m = re.fullmatch(r"([A-Za-z_]\w*)(?:\.contiguous\(\))?\.(?:view|reshape|flatten)\((.*)\)", expr, re.S)
    return m.group(1) if m and (m.group(2).strip() in ("", "-1") or m.group(2).lstrip().startswith("-1")) else None


@rule("NLH305", "batch-mismatch", "per-position scores and labels of a different length per sequence",
      families=BATCH_FAMILIES,
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "decoder, proj = nn.GRU(16, 32, batch_first=True), nn.Linear(32, 30)\n"
          "question = torch.randint(1, 30, (4, 8))\n"
          "out, _ = decoder(torch.randn(4, 7, 16))      # fed question[:, :-1]\n"
          "pred = proj(out)\n"
          "loss = nn.CrossEntropyLoss()(pred.view(-1, 30), question.view(-1))",
          expect=("question[:, 1:].reshape(-1)", "7")),))
def sequence_lengths_differ(ctx) -> Hint | None:
    """Scores flattened from ``(N, T, C)`` against labels from ``(N, T')`` with ``T' != T``."""
    counts = _counts(ctx)
    inp = ctx.input
    flattened = _flattened_from(ctx) if counts else None
    if not flattened:
        return None
    n_in, n_tg = counts
    before, after = flattened
    if len(before) != 3 or len(after) != 2 or before[-1] != after[-1] or after[0] != n_in:
        return None
    n, steps = before[0], before[1]
    tin, ttg = ctx.code("input"), ctx.code("target")
    m_input = _flattened_name(ctx, "input")
    base = _base(ctx, "target")
    if (base is None or base[1].dim() != 2) and (flat := _flattened_name(ctx, "target")) \
            and (labels_2d := _tensor(ctx, flat)) is not None:
        base = flat, labels_2d
    if base is not None and base[1].dim() == 2 and base[1].shape[0] == n and base[1].numel() == n_tg:
        name, labels = base[0], base[1].shape[1]
        if labels == steps + 1:
            return Hint(
                title=f"{tin} has {steps} steps per sequence but `{name}` has {labels}: one step short",
                message=(f"{tin} comes from ({n}, {steps}, {before[2]}) and `{name}` is ({n}, {labels}), so "
                         f"the loss sees {n_in} = {n} x {steps} predictions for {n_tg} = {n} x {labels} labels: "
                         f"the same {n} sequences, one step apart. A decoder fed `{name}[:, :-1]` (teacher "
                         f"forcing) predicts the next tokens, `{name}[:, 1:]`: compare against those. If it "
                         f"should produce all {labels} steps, it stops one short: check its loop."),
                fix=_noted(ctx.fix({"target": f"{name}[:, 1:].reshape(-1)"}), "the next tokens"),
            )
        if steps == labels + 1 and m_input is not None:
            pname = m_input
            return Hint(
                title=f"{tin} has {steps} steps per sequence but `{name}` has {labels}: one step too many",
                message=(f"{tin} comes from ({n}, {steps}, {before[2]}) and `{name}` is ({n}, {labels}), so "
                         f"the loss sees {n_in} = {n} x {steps} predictions for {n_tg} = {n} x {labels} labels: "
                         f"the same {n} sequences, one step apart. Compare the steps that have a label: drop "
                         f"the prediction after the last token (or the first one, if `{name}` starts after a "
                         "start token)."),
                fix=_noted(ctx.fix({"input": f"{pname}[:, :-1].reshape(-1, {pname}.size(-1))"}), "align the steps"),
            )
        fix = _size_fix(ctx, name, n, steps)
        return Hint(
            title=f"{tin} has {steps} positions per sequence but `{name}` has {labels}",
            message=(f"{tin} comes from ({n}, {steps}, {before[2]}), one row per position, while `{name}` is "
                     f"({n}, {labels}). There must be one label per position: build `{name}` with {steps} "
                     f"columns (the sequence length), or pad/cut both to the same length."),
            fix=fix,
        )
    if n_tg == n and ctx.target is not None and ctx.target.ndim == 1:
        return Hint(
            title=f"{tin} has a row per position ({n} x {steps}), but {ttg} has one label per sequence",
            message=(f"{tin} was flattened from ({n}, {steps}, {before[2]}): {steps} predictions per sequence, "
                     f"while {ttg} holds one label for each of the {n} sequences. For one label per sequence, "
                     "reduce over the positions before the loss (e.g. the last step, or a mean)."),
            fix=None,
        )
    return None


def _size_fix(ctx, name: str, n: int, steps: int) -> str | None:
    """``labels = ... input_ids.size(0) ...`` rewritten with size(1) when that tensor is (N, T)."""
    found = _assignment(ctx, name)
    if not found:
        return None
    statement, value, text = found
    for node in ast.walk(value):
        ref = None
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "size"
                and len(node.args) == 1 and isinstance(node.args[0], ast.Constant) and node.args[0].value == 0):
            ref, old, new = node.func.value, ".size(0)", ".size(1)"
        elif (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute) and node.value.attr == "shape"
              and isinstance(node.slice, ast.Constant) and node.slice.value == 0):
            ref, old, new = node.value.value, ".shape[0]", ".shape[1]"
        if isinstance(ref, ast.Name):
            tensor = _tensor(ctx, ref.id)
            if tensor is not None and tensor.dim() >= 2 and tuple(tensor.shape[:2]) == (n, steps):
                fixed = statement.replace(f"{ref.id}{old}", f"{ref.id}{new}", 1)
                return f"{fixed}   # {steps} positions, not {n}" if fixed != statement else None
    return None


@rule("NLH302", "batch-mismatch", "one side flattened over time or positions, the other not",
      families=BATCH_FAMILIES,
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "lstm, head = nn.LSTM(8, 16, batch_first=True), nn.Linear(16, 5)\n"
          "x = torch.randn(4, 7, 8)\n"
          "tags = torch.randint(0, 5, (4, 7))\n"
          "out, _ = lstm(x)\n"
          "logits = head(out).view(-1, 5)\n"
          "loss = nn.CrossEntropyLoss()(logits, tags)",
          expect=("tags.reshape(-1)", "28")),))
def flattened_one_side(ctx) -> Hint | None:
    """Sequence labelling: scores flattened to ``(N*T, C)`` but labels still ``(N, T)``, or the reverse."""
    counts = _counts(ctx)
    if not counts:
        return None
    n_in, n_tg = counts
    inp_f, tgt_f = ctx.input, ctx.target
    if inp_f is None or tgt_f is None:
        return None
    inp, tgt = ctx.code("input"), ctx.code("target")
    if inp_f.ndim == 2 and tgt_f.ndim >= 2 and tgt_f.numel == n_in:
        found = inp_f.reshaped
        before = found[1][0] if found and found[0] == "view" else None
        swapped = (before is not None and len(before) == 3 and tgt_f.ndim == 2
                   and tuple(before[:2]) == tgt_f.shape[::-1] and before[0] != before[1])
        flat = ".transpose(0, 1).reshape(-1)" if swapped else ".reshape(-1)"
        order = (f" {inp} was flattened from {_shape_text(before)}, time first, so the labels must be "
                 "transposed to the same order first." if swapped else
                 " Flatten the labels the same way (the rows of both must be in the same order).")
        return Hint(
            title=f"{inp} is flattened to {n_in} rows, but {tgt} is still {_shape_text(tgt_f.shape)}",
            message=(f"{inp} has one row per position ({_shape_text(inp_f.shape)}), while {tgt} keeps "
                     f"its {_shape_text(tgt_f.shape)} layout, so the loss sees {n_tg} labels for "
                     f"{n_in} rows.{order}"),
            fix=ctx.fix({"target": ctx.with_method("target", flat)}),
        )
    if inp_f.ndim == 3 and tgt_f.ndim == 1 and n_tg in (inp_f.shape[0] * inp_f.shape[1], inp_f.shape[0] * inp_f.shape[2]):
        steps_mid = n_tg == inp_f.shape[0] * inp_f.shape[1] and inp_f.shape[1] != inp_f.shape[2]
        name = ctx.name("input")
        if steps_mid:  # (N, T, C): flatten the scores like the labels
            new = {"input": ctx.with_method("input", f".reshape(-1, {name}.size(-1))")}
            layout = f"(N={inp_f.shape[0]}, T={inp_f.shape[1]}, C={inp_f.shape[2]})"
        else:  # (N, C, T): the loss takes it as is with (N, T) labels
            new = {"target": ctx.with_method("target", f".view({name}.size(0), -1)")}
            layout = f"(N={inp_f.shape[0]}, C={inp_f.shape[1]}, T={inp_f.shape[2]})"
        return Hint(
            title=f"{tgt} is flattened to {n_tg} labels, but {inp} is still {_shape_text(inp_f.shape)}",
            message=(f"{tgt} has one label per position, {n_tg} = {n_in} sequences x {n_tg // n_in} "
                     f"steps, while {inp} keeps its {layout} layout, and the loss counts only its first "
                     "dimension as samples. Bring both to the same layout."),
            fix=ctx.fix(new),
        )
    return None


@rule("NLH303", "batch-mismatch", "input and labels from different batches (or a smaller last batch)",
      families=BATCH_FAMILIES + SHAPE_FAMILIES,
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "model = nn.Linear(20, 3)\n"
          "x_train, y_train = torch.randn(100, 20), torch.randint(0, 3, (100,))\n"
          "x_batch, y_batch = x_train[:32], y_train[:32]\n"
          "loss = nn.CrossEntropyLoss()(model(x_batch), y_train)",
          expect=("32", "100", "y_train", "loss = nn.CrossEntropyLoss()(model(x_batch), y_batch)")),))
def different_batches(ctx) -> Hint | None:
    """Counts with no flatten behind them: labels of another batch, or a last batch of another size."""
    counts = _counts(ctx)
    if not counts:
        return None
    n_in, n_tg = counts
    inp, tgt = ctx.code("input"), ctx.code("target")
    title = f"{inp} has {n_in} samples but {tgt} has {n_tg}: they do not come from the same batch"
    noun = "target" if ctx.loss in SHAPE_LOSSES else "label"
    last = _last_batch(ctx, n_in, n_tg)
    if last:
        name, size, length, rest = last
        if n_in == size:
            return Hint(
                title=f"{inp} keeps {size} rows on the last batch of `{name}`, which has only {rest} samples",
                message=(f"`{name}` yields batches of {size}, but its dataset has {length} samples, so the "
                         f"last batch holds {rest}. {tgt} has {rest} labels while {inp} still has {size} "
                         "rows: the model seems to assume a fixed batch size (a hidden state or a "
                         "view(batch_size, -1) built from a constant). Use x.size(0) inside the model, "
                         "or drop the short batch."),
                fix=(f"# in the model: x.size(0) instead of a fixed batch size, or\n"
                     f"{name} = DataLoader(..., batch_size={size}, drop_last=True)"),
            )
        return Hint(
            title=title,
            message=(f"`{name}` yields batches of {size} and a last batch of {rest} ({length} samples). "
                     f"{inp} has {n_in} rows but {tgt} has {n_tg}: one of them is not from the current "
                     "batch, e.g. labels kept from an earlier step, or a variable of another loop."),
            fix=f"for inputs, labels in {name}:   # outputs and labels from the same step",
        )
    if max(n_in, n_tg) % min(n_in, n_tg) == 0:
        relation = (f"{inp} has {n_in // n_tg} times as many rows. If the model flattens with view(-1, k), "
                    "check k; otherwise" if n_in > n_tg else f"{tgt} has {n_tg // n_in} times as many;")
        message = (f"The loss needs one {noun} per sample, but {inp} has {n_in} rows and {tgt} has "
                   f"{n_tg}. {relation} check that both come from the same batch (the same step of the "
                   "same loop, not a variable left from earlier).")
    else:
        message = (f"The loss needs one {noun} per sample, but {inp} has {n_in} rows and {tgt} has "
                   f"{n_tg}, and neither is a multiple of the other. That usually means they come from "
                   "different batches: labels of another step or split, the whole label tensor, or a "
                   "last batch smaller than the others. Take both from the same batch.")
    from .partners import batch_partner

    partner = batch_partner(ctx, "input", "target", n_in)  # x_batch, y_batch = ...: y_batch goes with x_batch
    if partner:
        message += f" `{partner}`, unpacked together with the inputs, has {n_in}."
    from .samebatch import same_batch_fix

    return Hint(title=title, message=message,
                fix=ctx.fix({"target": partner}) if partner else same_batch_fix(ctx, n_in, n_tg))


# --- shape-mismatch ---------------------------------------------------------------------------------

def _shapes(ctx) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    """(input shape, target shape) of an element-wise loss whose input and target do not fit together."""
    if ctx.via != "loss" or ctx.loss not in SHAPE_LOSSES:
        return None
    inp, tgt = ctx.input, ctx.target
    if inp is not None and tgt is not None:
        a, b = inp.shape, tgt.shape
    else:
        m = ctx.family("bce-size")
        if m is None or "input" not in m.groups:
            return None
        a, b = parse_shape(m.groups["input"]), parse_shape(m.groups["target"])
        if a is None or b is None:
            return None
    m = ctx.family("broadcast")
    in_place = m is not None and "out" in m.groups  # "output with shape [N, 1] doesn't match the broadcast shape"
    if a == b or (m and _broadcastable(a, b) and not in_place):
        return None  # the broadcast error is about another tensor (weight, pos_weight, var)
    return tuple(a), tuple(b)


def _broadcastable(a, b) -> bool:
    return all(x == y or x == 1 or y == 1 for x, y in zip(reversed(a), reversed(b)))


def _extra_singleton(longer, shorter) -> int | None:
    """The position of the one size-1 dimension whose removal turns ``longer`` into ``shorter``."""
    if len(longer) != len(shorter) + 1:
        return None
    for d, size in enumerate(longer):
        if size == 1 and longer[:d] + longer[d + 1:] == shorter:
            return d
    return None


def _undo_unsqueeze(expr: str, longer, shorter) -> str | None:
    """``y.unsqueeze(1)`` -> ``y`` when that unsqueeze is exactly the extra dimension."""
    m = re.fullmatch(r"(.+)\.unsqueeze\((?:dim=)?(-?\d+)\)", expr.strip(), re.S)
    if not m:
        return None
    d = int(m.group(2)) % len(longer)
    return m.group(1) if longer[:d] + longer[d + 1:] == shorter else None


def _float_suffix(ctx) -> str:
    tgt = ctx.target
    return ".float()" if tgt is not None and tgt.is_int and ctx.loss in BCE_LOSSES else ""


@rule("NLH310", "shape-mismatch", "an extra size-1 dimension on one side of an element-wise loss",
      families=SHAPE_FAMILIES,
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "class Scorer(nn.Module):\n"
          "    def __init__(self):\n"
          "        super().__init__()\n"
          "        self.fc = nn.Linear(10, 1)\n"
          "        self.criterion = nn.SoftMarginLoss()\n"
          "    def forward(self, x, y):\n"
          "        return self.criterion(self.fc(x), y)\n"
          "x, y = torch.randn(16, 10), torch.randint(0, 2, (16,)).float() * 2 - 1   # -1 / +1 labels\n"
          "loss = Scorer()(x, y)",
          expect=("self.criterion(self.fc(x).squeeze(1), y)", "(16, 1)")),
          Example(
          "import torch, torch.nn as nn\n"
          "model = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 1))\n"
          "x, y = torch.randn(16, 10), torch.randint(0, 2, (16,))\n"
          "criterion = nn.BCEWithLogitsLoss()\n"
          "loss = criterion(model(x), y)",
          expect=("criterion(model(x).squeeze(1), y.float())", "(16, 1)")),))
def extra_singleton(ctx) -> Hint | None:
    """``(N, 1)`` scores against ``(N,)`` targets (or the reverse): a model with one output unit."""
    shapes = _shapes(ctx)
    if not shapes:
        return None
    a, b = shapes
    inp, tgt = ctx.code("input"), ctx.code("target")
    d = _extra_singleton(a, b)
    side, other = ("input", "target") if d is not None else ("target", "input")
    if d is None:
        d = _extra_singleton(b, a)
    if d is None:
        return None
    longer, shorter = (a, b) if side == "input" else (b, a)
    dim = d if d == 1 or d != len(longer) - 1 else -1
    floats = _float_suffix(ctx)
    new = {side: _undo_unsqueeze(ctx.name(side), longer, shorter) or ctx.with_method(side, f".squeeze({dim})")}
    if floats:
        new["target"] = (new["target"] if side == "target" else ctx.name("target")) + floats
    alt = ("" if re.search(r"\.squeeze\([^()]*\)$", ctx.name(other))
           else f" (or give {ctx.code(other)} the same dimension with `{ctx.with_method(other, f'.unsqueeze({dim})')}`)")
    why = (" (a last layer with one output unit gives one column per sample)" if side == "input" and d == len(a) - 1
           else "")
    return Hint(
        title=f"{ctx.code(side)} is {_shape_text(longer)} but {ctx.code(other)} is {_shape_text(shorter)}: "
              f"an extra size-1 dimension",
        message=(f"{ctx.loss_label} compares {inp} and {tgt} element by element, so their shapes must "
                 f"be equal; {ctx.code(side)} has an extra dimension of size 1 at dim {d}{why}. "
                 f"Squeeze it{alt}."
                 + (f" {tgt} holds integers, and this loss needs float targets." if floats else "")),
        fix=ctx.fix(new) or f"{ctx.name(side)} = {new[side]}",
    )


def _index_span(facts) -> str:
    """'0..3', or 'all 0' for a batch that holds one class only."""
    low, high = int(facts.min), int(facts.max)
    return f"{low}..{high}" if high > low else f"(all {high} in this batch)"


@rule("NLH311", "shape-mismatch", "class indices given to an element-wise loss that expects one column per class",
      families=SHAPE_FAMILIES,
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "logits = torch.randn(8, 4, requires_grad=True)\n"
          "labels = torch.tensor([0, 3, 1, 2, 2, 0, 1, 3])\n"
          "loss = nn.MultiLabelSoftMarginLoss()(logits, labels.float())",
          expect=("nn.CrossEntropyLoss()(logits, labels.long())",)),
          Example(
          "import torch, torch.nn as nn\n"
          "logits = torch.randn(8, 4, requires_grad=True)\n"
          "labels = torch.tensor([0, 3, 1, 2, 2, 0, 1, 3])\n"
          "loss = nn.BCEWithLogitsLoss()(logits, labels.float())",
          expect=("nn.CrossEntropyLoss()(logits, labels.long())",)),
          Example(
          "import torch, torch.nn as nn\n"
          "scores = torch.sigmoid(nn.Linear(10, 3)(torch.randn(6, 10)))\n"
          "labels = torch.tensor([0, 2, 1, 1, 0, 2])\n"
          "loss = nn.BCELoss()(scores, labels.float())",
          expect=("F.one_hot(labels.long(), num_classes=3).float()",)),
          Example(
          "import torch, torch.nn.functional as F\n"
          "per_frame_logits = torch.randn(1, 100, 75, requires_grad=True)\n"
          "labels = torch.tensor([42])\n"
          "loc_loss = F.binary_cross_entropy_with_logits(per_frame_logits, labels)",
          expect=("F.one_hot(labels,", "class id 42 (int64)"))))
def class_indices_for_columns(ctx) -> Hint | None:
    """``(N, C)`` scores with ``(N,)`` labels 0..C-1: a multi-class task given to BCE/MSE.

    On logits the fix is CrossEntropyLoss with the labels as they are; on probabilities (after a sigmoid,
    for BCELoss) one-hot rows keep the loss.
    """
    shapes = _shapes(ctx)
    inp_f, tgt_f = ctx.input, ctx.target
    if not shapes or inp_f is None or tgt_f is None or not tgt_f.values or tgt_f.min is None:
        return None
    a, b = shapes
    if len(a) == 3 and len(b) == 1 and a[0] == b[0]:
        return _class_ids_for_a_score_map(ctx, a, b)
    if len(a) != 2 or len(b) != 1 or a[0] != b[0] or a[1] < 2:
        return None
    classes = a[1]
    # int64 labels are class ids even when one batch holds a single class (all 0s); a float constant such
    # as torch.ones(n) is not
    if not (tgt_f.whole and tgt_f.min >= 0 and tgt_f.max < classes and (tgt_f.max >= 1 or tgt_f.is_int)):
        return None
    if tgt_f.distinct is not None and len(tgt_f.distinct) < 2 and not tgt_f.is_int:
        return None  # torch.ones(n): a constant, not class labels (an int64 [42] is one class id)
    inp, tgt = ctx.code("input"), ctx.code("target")
    labels = strip_call(ctx.name("target"), "float")
    as_long = f"{labels}.long()" if labels else ctx.with_method("target", ".long()")
    probabilities = ctx.loss == "binary_cross_entropy" and inp_f.in_unit_interval
    if probabilities:
        onehot = f"F.one_hot({as_long}, num_classes={classes}).float()"
        fix = ctx.fix({"target": onehot}) or onehot
        advice = (f"{inp} holds probabilities, so one-hot rows keep BCELoss working; for a plain "
                  "multi-class task, CrossEntropyLoss on the logits (before the sigmoid) is the usual choice.")
    else:
        callee = "nn.CrossEntropyLoss()" if ctx.module else "F.cross_entropy"
        fix = ctx.fix({"target": as_long}, callee=callee) or f"loss = {callee}({ctx.name('input')}, {as_long})"
        if tgt_f.is_int and ctx.loss in ("mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss"):
            # a regression loss on the ids as they came: it works on one-hot rows of them
            fix += (f"\n# or keep {ctx.loss_label}: "
                    f"F.one_hot({labels or ctx.name('target')}, num_classes={classes}).float() as the target")
        advice = (f"If each sample has exactly one class, CrossEntropyLoss takes these scores and labels as "
                  f"they are; if several classes can be on at once, {tgt} must be multi-hot "
                  f"({b[0]}, {classes}) rows instead.")
    return Hint(
        title=(f"{tgt} holds class indices {_index_span(tgt_f)}, but {inp} has one column per class "
               f"({classes})"),
        message=(f"{ctx.loss_label} needs a target of the same shape as {inp} {_shape_text(a)}, one "
                 f"value per column; {tgt} is {_shape_text(b)} and looks like class numbers. {advice}"),
        fix=fix,
    )


def _class_ids_for_a_score_map(ctx, a, b) -> Hint | None:
    """``(N, C, T)`` scores (per class and frame/position) with ``(N,)`` integer class ids: one label per
    sample where the element-wise loss wants a value per score. Only int64/int32 ids of classes in dim 1."""
    tgt_f = ctx.target
    n, classes, steps = a
    if not (tgt_f.is_int and tgt_f.dtype != "bool" and tgt_f.min >= 0 and tgt_f.max < classes and classes >= 2
            and steps >= 2 and (tgt_f.max >= 2 or (tgt_f.distinct is not None and len(tgt_f.distinct) >= 2))):
        return None
    inp, tgt, name = ctx.code("input"), ctx.code("target"), ctx.name("input")
    labels = ctx.name("target")
    ids = (f"class id {int(tgt_f.max)}" if tgt_f.distinct is not None and len(tgt_f.distinct) == 1
           else f"class ids 0..{int(tgt_f.max)}")
    onehot = f"F.one_hot({labels}, num_classes={classes}).float().unsqueeze(-1).expand_as({name})"
    fix = ctx.fix({"target": onehot}) or onehot
    per_step = f"{labels}.view(-1, 1).expand(-1, {steps})"
    callee = "nn.CrossEntropyLoss()" if ctx.module else "F.cross_entropy"
    alternative = ctx.fix({"target": per_step}, callee=callee) or f"{callee}({name}, {per_step})"
    return Hint(
        title=f"{tgt} holds {ids} ({tgt_f.dtype}), but {inp} has a score per class and step {_shape_text(a)}",
        message=(f"{ctx.loss_label} compares {inp} and {tgt} element by element, so it needs a target of shape "
                 f"{_shape_text(a)}: {classes} classes (dim 1) x {steps} steps. {tgt} is {_shape_text(b)}: one "
                 f"class number per sample, which an element-wise loss cannot use. Turn it into one-hot scores "
                 f"for every step, or, for one class per sample, use CrossEntropyLoss with the ids repeated per "
                 f"step."),
        fix=f"{fix}\n# or, one class per sample: {alternative}",
    )


@rule("NLH314", "shape-mismatch", "a mask with 3 identical colour channels for a 1-channel prediction",
      families=SHAPE_FAMILIES,
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "net = nn.Conv2d(3, 1, 3, padding=1)\n"
          "true_masks = (torch.rand(2, 1, 16, 16) > 0.5).float().repeat(1, 3, 1, 1)   # PNG saved as RGB\n"
          "loss = nn.BCEWithLogitsLoss()(net(torch.rand(2, 3, 16, 16)), true_masks)",
          expect=("true_masks[:, :1]",)),))
def rgb_mask(ctx) -> Hint | None:
    """``(N, 1, H, W)`` predictions against a ``(N, 3, H, W)`` (or RGBA) mask of 0/1 values."""
    shapes = _shapes(ctx)
    tgt_f = ctx.target
    if not shapes or tgt_f is None:
        return None
    a, b = shapes
    if len(a) != len(b) or len(a) < 3 or a[0] != b[0] or a[2:] != b[2:] or a[1] != 1 or b[1] not in (3, 4):
        return None
    if not (tgt_f.values and tgt_f.whole and tgt_f.min is not None and tgt_f.min >= 0 and tgt_f.max <= 255):
        return None
    name = ctx.code("target")
    colours = "RGB" if b[1] == 3 else "RGBA"
    return Hint(
        title=f"{name} has {b[1]} channels ({colours}) for a 1-channel prediction {_shape_text(a)}",
        message=(f"{ctx.code('input')} predicts one mask channel, but {name} {_shape_text(b)} holds "
                 f"{b[1]}: a mask image saved or loaded as {colours}. Keep one channel (or load the mask "
                 "as greyscale, e.g. PIL's convert('L'))."),
        fix=ctx.fix({"target": f"{ctx.with_method('target', '')}[:, :1]"}),
    )


@rule("NLH312", "shape-mismatch", "input and target have a different number of values or channels per sample",
      families=SHAPE_FAMILIES,
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "rate_head = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, 3))   # log-rates of 3 counters\n"
          "x, counts = torch.randn(16, 6), torch.poisson(torch.full((16, 2), 4.0))\n"
          "loss = nn.PoissonNLLLoss()(rate_head(x), counts)",
          expect=("(16, 3)", "(16, 2)", "nn.Linear(rate_head[2].in_features, 2)")),
          Example(
          "import torch, torch.nn as nn\n"
          "model = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, 3))\n"
          "x, y = torch.randn(16, 6), torch.randn(16, 2)\n"
          "loss = nn.MSELoss()(model(x), y)",
          expect=("(16, 3)", "(16, 2)", "nn.Linear(model[2].in_features, 2)")),
          Example(
          "import torch, torch.nn as nn, torch.nn.functional as F\n"
          "seg = nn.Conv2d(3, 20, 1)\n"
          "labels = F.one_hot(torch.randint(0, 32, (2, 8, 8)), 32).permute(0, 3, 1, 2).float()\n"
          "loss = nn.BCEWithLogitsLoss()(seg(torch.rand(2, 3, 8, 8)), labels)",
          expect=("seg = nn.Conv2d(seg.in_channels, 32",))))
def different_widths(ctx) -> Hint | None:
    """``(N, k)`` against ``(N, m)``, or ``(N, k, H, W)`` against ``(N, m, H, W)``: the output layer's width."""
    shapes = _shapes(ctx)
    if not shapes:
        return None
    a, b = shapes
    if len(a) != len(b) or len(a) < 2 or 1 in (a[1], b[1]):
        return None
    if len(a) == 2 or a[2:] == b[2:] and a[0] == b[0] and a[1] != b[1]:
        dim = 1
    elif a[:-1] == b[:-1]:
        dim = len(a) - 1
    else:
        return None
    if a[:dim] + a[dim + 1:] != b[:dim] + b[dim + 1:]:
        return None
    have, want = a[dim], b[dim]
    inp, tgt = ctx.code("input"), ctx.code("target")
    channels = dim == 1 and len(a) > 2
    layers = ctx.output_layers(have, conv=channels)
    layer = layers[0] if layers else None
    if channels:
        kind = _module_kind(ctx, layer) if layer else None
        where = f" ({layer} has out_channels={have})" if layer else ""
        fix = (f"{layer} = nn.{kind}({layer}.in_channels, {want}, {layer}.kernel_size, padding={layer}.padding)"
               if layer and kind else f"# last layer: {want} output channels")
        what = "channels"
    else:
        where = f" ({layer} has out_features={have})" if layer else ""
        fix = (f"{layer} = nn.Linear({layer}.in_features, {want})" if layer
               else f"# last layer: nn.Linear(in_features, {want})")
        what = "values per sample"
    return Hint(
        title=f"{inp} has {have} {what} but {tgt} has {want}",
        message=(f"{ctx.loss_label} compares element by element, so {inp} {_shape_text(a)} and {tgt} "
                 f"{_shape_text(b)} must have the same shape. Dim {dim} differs{where}: either the model's "
                 f"last layer should output {want}, or {tgt} holds other {what} than the model predicts."),
        fix=fix,
    )


def _module_kind(ctx, layer: str) -> str | None:
    """``Conv2d`` for ``model.head[2]``, looked up through the model's own submodule table."""
    m = re.match(r"[A-Za-z_]\w*", layer)
    root = ctx.lookup(m.group(0)) if m else None
    if root is None:
        return None
    path = re.sub(r"\[(\d+)\]", r".\1", layer[m.end():]).lstrip(".")
    try:
        module = dict(root.named_modules()).get(path) if path else root
    except Exception:
        return None
    return type(module).__name__ if module is not None else None


@rule("NLH313", "shape-mismatch", "input and target shapes of an element-wise loss do not match",
      families=SHAPE_FAMILIES,
      examples=(Example(
          "import torch, torch.nn.functional as F\n"
          "pred = torch.randn(4, 3, 8, 8)\n"
          "depth = torch.randn(4, 8, 8, 3)\n"
          "loss = F.l1_loss(pred, depth)",
          expect=("(4, 3, 8, 8)", "F.l1_loss(pred, depth.permute(0, 3, 1, 2))")),))
def shapes_differ(ctx) -> Hint | None:
    """Any other input/target shape difference for an element-wise loss: say both shapes and why."""
    shapes = _shapes(ctx)
    if not shapes:
        return None
    a, b = shapes
    if a[:1] != b[:1]:  # different sample counts are a batch-mismatch (NLH303)
        return None
    inp, tgt = ctx.code("input"), ctx.code("target")
    order = _moved_dim(b, a)
    if order is not None:
        message = (f"They hold the same sizes in another order: one dimension of {tgt} sits elsewhere "
                   "(e.g. channels last, as images from NumPy/PIL are, instead of first). Move it.")
        fix = ctx.fix({"target": ctx.with_method("target", f".permute({', '.join(map(str, order))})")})
    else:
        message = "Check which of the two does not have the layout you intended."
        fix = None
        scaled = _spatial_scales(ctx, a, b)
        if scaled is not None:
            message, fix = scaled
    return Hint(
        title=f"{inp} is {_shape_text(a)} but {tgt} is {_shape_text(b)}",
        message=(f"{ctx.loss_label} compares {inp} and {tgt} element by element, so both need the same "
                 f"shape. {message}"),
        fix=fix,
    )


_SCALE_WORDS = re.compile(r"\b(\w*scale\w*)\s*=\s*(\d+)\b")  # scale_factor=2, upscale_factor=2, scale = 2


def _spatial_scales(ctx, a, b) -> tuple[str, str | None] | None:
    """Same samples and channels, other spatial sizes: say which sizes differ and by what factor. When the
    model's input divides both (a super-resolution model: 17 -> 34 against labels of 51), the model's scale
    factor and the labels' disagree; a ``scale_factor=2`` in the user's code is the line to change."""
    if len(a) != len(b) or len(a) < 3 or a[:2] != b[:2] or a[2:] == b[2:] or 0 in a or 0 in b:
        return None
    pa, pb = a[2:], b[2:]
    size = lambda dims: "x".join(map(str, dims))  # noqa: E731
    inp, tgt = ctx.code("input"), ctx.code("target")
    fed = _model_input(ctx, len(a), a[0])
    if fed is not None:
        name, dims = fed[:2]
        if 0 not in dims and all(p % d == 0 and q % d == 0 for p, q, d in zip(pa, pb, dims)):
            fa, fb = {p // d for p, d in zip(pa, dims)}, {q // d for q, d in zip(pb, dims)}
            if len(fa) == 1 and len(fb) == 1 and fa != fb:
                fa, fb = fa.pop(), fb.pop()
                model = (f"{inp} is `{name}` ({size(dims)}) scaled x{fa}" if fa > 1 else
                         f"{inp} has the size of `{name}` ({size(dims)})")
                labels = f"{tgt} is x{fb} of it" if fb > 1 else f"{tgt} has its size"
                does = f"the model upsamples by {fa}" if fa > 1 else "the model does not upsample"
                prepared = f"the labels were prepared for x{fb}" if fb > 1 else "the labels are not upsampled"
                message = (f"The spatial sizes differ: {size(pa)} against {size(pb)}. {model}, but {labels}: "
                           f"{does} while {prepared}. Make the model's scale factor {fb}, or prepare the "
                           f"labels for x{fa}.")
                layer = _scaling_layer(ctx, fed[2], fa)
                if layer:
                    message += f" ({layer} scales by {fa}.)"
                return message, (_scale_line(ctx, fa, fb) if fb > 1 else None)  # x1 labels: the labels are wrong
    ratios = {(p / math.gcd(p, q), q / math.gcd(p, q)) for p, q in zip(pa, pb)}
    if len(ratios) == 1:
        ra, rb = (int(v) for v in ratios.pop())
        if max(ra, rb) <= 8:
            bases = sorted({p // ra for p in pa})
            message = (f"The spatial sizes differ: {size(pa)} against {size(pb)}, a ratio of {ra}:{rb} in "
                       f"every spatial dim ({pa[0]} = {ra} x {bases[0]}, {pb[0]} = {rb} x {bases[0]}). Sizes "
                       f"that are different multiples of one base mean two scale factors: a model that "
                       f"up- or downsamples by one factor, labels made for another.")
            return message, _scale_line(ctx, None, None)
    dims = [str(i + 2) for i, (p, q) in enumerate(zip(pa, pb)) if p != q]
    trimmed = {q - p for p, q in zip(pa, pb)}
    why = ("the model's resizing (strides, padding, up/downsampling) does not give the labels' size")
    if len(trimmed) == 1 and 0 < min(trimmed) <= 16:
        why = (f"{inp} is {min(trimmed)} smaller in each, as convolutions without padding give (each 3x3 "
               f"one trims 2: padding=1 keeps the size)")
    return (f"Only the spatial sizes differ ({size(pa)} against {size(pb)}, dim{'s' if len(dims) > 1 else ''} "
            f"{', '.join(dims)}): {why}.", None)


def _model_input(ctx, ndim: int, n: int) -> tuple[str, tuple[int, ...]] | None:
    """``("inputs", (17, 17))`` when the input was computed as ``model(inputs)`` from a batch of that rank."""
    import torch

    origin = _origin(ctx, "input")
    if origin is None:
        return None
    for node in ast.walk(origin[1]):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.args
                and isinstance(ctx.lookup(node.func.id), torch.nn.Module) and isinstance(node.args[0], ast.Name)):
            fed = _tensor(ctx, node.args[0].id)
            if fed is not None and fed.dim() == ndim and fed.shape[0] == n:
                return node.args[0].id, tuple(int(v) for v in fed.shape[2:]), node.func.id
    return None


def _scaling_layer(ctx, model: str, factor: int) -> str | None:
    """``model.ps (nn.PixelShuffle)``: the model's one layer that up- or downsamples by ``factor``."""
    root = ctx.lookup(model)
    try:
        found = [(path, type(m).__name__) for path, m in root.named_modules()
                 if factor in (getattr(m, "upscale_factor", None), getattr(m, "downscale_factor", None))
                 or getattr(m, "scale_factor", None) in (factor, float(factor))]
    except Exception:
        return None
    if len(found) != 1:
        return None
    return f"{model}.{found[0][0]} (nn.{found[0][1]})" if found[0][0] else f"{model} (nn.{found[0][1]})"


def _scale_line(ctx, have: int | None, want: int | None) -> str | None:
    """The user's ``model = ESPCN(scale_factor=2)`` with ``want`` for ``have``, when the cell shows it."""
    found = ctx.user_source()
    if not found or have is None:
        return None
    text, first = found
    for number, line in enumerate(text.splitlines(), first):
        if ctx.call is not None and number >= ctx.call.lineno:
            break
        m = _SCALE_WORDS.search(line)
        if m and int(m.group(2)) == have and not line.lstrip().startswith("#"):
            fixed = line[:m.start(2)] + str(want) + line[m.end(2):]
            return (f"{fixed.strip()}   # line {number}: the labels' factor (or prepare the labels "
                    f"for x{have})")
    return None


def _moved_dim(src, dst) -> tuple[int, ...] | None:
    """The permutation that moves one dimension of ``src`` (not the batch dim) to give ``dst``."""
    n = len(src)
    if n != len(dst) or n < 3:
        return None
    for i in range(1, n):
        for j in range(1, n):
            order = list(range(n))
            order.insert(j, order.pop(i))
            if i != j and tuple(src[k] for k in order) == tuple(dst):
                return tuple(order)
    return None


RULES = [patch_map_per_sample, constant_label_per_sample, flattened_one_side, sequence_lengths_differ, cat_along_batch, reshape_changes_rows, different_batches,
         extra_singleton, class_indices_for_columns, rgb_mask, different_widths, shapes_differ]
