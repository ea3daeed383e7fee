"""Rules for ``target-range``: a class index outside ``[0, C)``.

The message only says one value is out of bounds; the variants differ in why, and the target's range,
its distinct values and C tell them apart: 1-based labels, a padding value, a last layer with too few
outputs, and labels from another encoding. The CUDA form, where no value may be read, is in ``cuda.py``.
"""

from __future__ import annotations

import ast
import re
import textwrap

from ..context import CLASS_INDEX_LOSSES
from ..probe import _num
from .base import Example, Hint, rule

FAMILIES = ("target-out-of-bounds",)
PADDING_VALUES = (-1, 255, -100)


def _with_keyword(call_text: str, key: str, value: str) -> str | None:
    """``nn.X(weight=w)`` with ``key=value`` added (or replacing an existing ``key=``), other options kept."""
    try:
        node = ast.parse(call_text.strip(), mode="eval").body
    except SyntaxError:
        return None
    if not isinstance(node, ast.Call):
        return None
    node.keywords = [kw for kw in node.keywords if kw.arg != key] + [ast.keyword(key, ast.parse(value, mode="eval").body)]
    return ast.unparse(node)


def _module_option_fix(ctx, key: str, value: str) -> str | None:
    """Set ``key=value`` on the user's loss module, keeping its other options (weight, label_smoothing...).

    ``criterion = nn.CrossEntropyLoss(weight=w)`` in this cell/function is rewritten with the option added;
    an inline ``nn.CrossEntropyLoss(...)(out, y)`` gets it in its constructor; a module built elsewhere gets
    the attribute set (``criterion.ignore_index = 255``), which the module reads at every call.
    """
    callee = ctx.call.callee if ctx.call else None
    if not callee:
        return None
    statement = ctx.call.statement
    inline = _with_keyword(callee, key, value) if "(" in callee else None
    if inline:
        return ctx.fix(callee=inline)
    if not re.fullmatch(r"[\w.]+", callee):
        return None
    built = ctx.assigned_call(callee) if ctx.module else None
    if built and re.match(rf"(?:[\w.]+\.)?{ctx.module}\(", built):
        rebuilt = _with_keyword(built, key, value)
        if rebuilt:
            return f"{callee} = {rebuilt}   # then: {statement}"
    return f"{callee}.{key} = {value}   # then: {statement}"


def _range(ctx):
    """(target facts, C, lowest, highest) when the data for a range diagnosis is there."""
    target = ctx.target
    classes = ctx.num_classes
    if target is None or classes is None or not target.values or target.min is None:
        return None
    if ctx.loss is not None and ctx.loss not in CLASS_INDEX_LOSSES:
        return None
    return target, classes, int(target.min), int(target.max)


@rule("NLH101", "target-range", "labels are 1-based (1..C) but classes are numbered from 0",
      families=FAMILIES,
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "criterion = nn.CrossEntropyLoss()\n"
          "outputs = torch.randn(8, 5, requires_grad=True)\n"
          "labels = torch.tensor([1, 2, 3, 4, 5, 1, 2, 3])\n"
          "loss = criterion(outputs, labels)",
          expect=("labels - 1", "1..5", "0..4")),))
def one_based_labels(ctx) -> Hint | None:
    """Class labels numbered 1..C (as in many datasets and in R/MATLAB) instead of 0..C-1."""
    found = _range(ctx)
    if not found:
        return None
    target, classes, lo, hi = found
    if not (lo >= 1 and hi == classes):
        return None
    name = ctx.code("target")
    return Hint(
        title=f"labels are 1-based: {name} runs {lo}..{hi}, but {ctx.loss_label} expects 0..{classes - 1}",
        message=(f"{ctx.code('input')} has {classes} classes along dim 1, so valid labels are "
                 f"0..{classes - 1}. {name} never contains 0 and reaches {hi}, which is what labels "
                 f"numbered from 1 look like. Shift them down by one."),
        fix=ctx.fix_arg("target", ctx.with_method("target", "") + " - 1"),
    )


@rule("NLH109", "target-range", "labels encoded -1..C-2 (e.g. sentiment -1/0/1) instead of 0..C-1",
      families=FAMILIES,
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "sentiment = torch.tensor([-1, 0, 1, 1, -1, 0, 1, -1])\n"
          "scores = torch.randn(8, 3, requires_grad=True)\n"
          "loss = nn.CrossEntropyLoss()(scores, sentiment)",
          expect=("sentiment + 1", "-1..1")),))
def shifted_labels(ctx) -> Hint | None:
    """One label per sample, covering exactly -1..C-2: an encoding such as negative/neutral/positive.

    Told apart from padding: the values fill -1..C-2 completely and C-1 never occurs, so -1 is one of
    the C classes, and ignoring it would silently drop a whole class.
    """
    found = _range(ctx)
    if not found:
        return None
    target, classes, lo, hi = found
    if target.ndim != 1 or target.distinct is None or classes < 2:
        return None
    if {int(v) for v in target.distinct} != set(range(-1, classes - 1)):
        return None
    name = ctx.code("target")
    return Hint(
        title=f"{name} is encoded {lo}..{hi}, one class per value, but class indices must be 0..{classes - 1}",
        message=(f"{name} takes exactly the {classes} values {lo}..{hi} and {ctx.code('input')} has "
                 f"{classes} classes, so -1 looks like one of the classes (for example a negative label), "
                 f"not padding. Shift the labels up by one; ignore_index=-1 would silently drop that class."),
        fix=ctx.fix_arg("target", ctx.with_method("target", "") + " + 1"),
    )


@rule("NLH110", "target-range", "a binary mask stored as 0/255 (an 8-bit image) used as class indices",
      families=FAMILIES,
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "net = nn.Conv2d(3, 2, kernel_size=3, padding=1)\n"
          "images = torch.rand(2, 3, 16, 16)\n"
          "masks = (torch.rand(2, 16, 16) > 0.7).long() * 255\n"
          "loss = nn.CrossEntropyLoss()(net(images), masks)",
          expect=("masks // 255",)),))
def mask_0_255(ctx) -> Hint | None:
    """A two-class mask read from a PNG keeps the image's 0/255 values; the classes are 0 and 1."""
    found = _range(ctx)
    if not found:
        return None
    target, classes, lo, hi = found
    if classes != 2 or target.distinct is None or set(target.distinct) != {0.0, 255.0}:
        return None
    name = ctx.code("target")
    return Hint(
        title=f"{name} holds 0 and 255 (an 8-bit mask image), but the {classes} classes are 0 and 1",
        message=(f"{name} has only the values 0 and 255: a binary mask read from an image file. "
                 f"{ctx.code('input')} has 2 classes, so the foreground must be 1. Divide by 255 "
                 f"(ignore_index=255 would drop every foreground pixel)."),
        fix=ctx.fix_arg("target", ctx.with_method("target", "") + " // 255"),
    )


@rule("NLH111", "target-range", "a segmentation mask with in-between values (resized with interpolation)",
      families=FAMILIES,
      examples=(Example(
          "import torch, torch.nn as nn, torch.nn.functional as F\n"
          "torch.manual_seed(0)\n"
          "mask_png = (torch.rand(2, 1, 16, 16) > 0.6).float() * 255\n"
          "masks = F.interpolate(mask_png, size=(12, 12), mode='bilinear').squeeze(1).long()\n"
          "logits = torch.randn(2, 2, 12, 12, requires_grad=True)\n"
          "loss = nn.CrossEntropyLoss()(logits, masks)",
          expect=("nearest", "masks")),))
def interpolated_mask(ctx) -> Hint | None:
    """Masks resized with bilinear/bicubic interpolation (or saved as JPEG) get values between the classes."""
    found = _range(ctx)
    if not found:
        return None
    target, classes, lo, hi = found
    if target.ndim < 2 or lo < 0 or hi > 255 or hi < classes:
        return None
    many = target.distinct is None or len(target.distinct) > classes + 1
    if not many:
        return None
    name = ctx.code("target")
    binary = (" For a 0/255 binary mask, threshold it: `(mask > 127).long()`." if classes == 2 else "")
    return Hint(
        title=f"{name} has many different values in {lo}..{hi}, but only {classes} classes: an interpolated mask",
        message=(f"A label mask should hold only the class numbers 0..{classes - 1}, but {name} has many "
                 f"distinct values up to {hi}, the signature of a mask resized with bilinear or bicubic "
                 f"interpolation (or stored as JPEG): edges get values between the classes. Resize masks "
                 f"with nearest-neighbour interpolation and map the pixel values to class numbers.{binary}"),
        fix=("masks = F.interpolate(mask.float(), size=size, mode='nearest').long()   "
             "# PIL: mask.resize(size, Image.NEAREST)"),
    )


@rule("NLH102", "target-range", "a padding label (-1, 255) without ignore_index",
      families=FAMILIES,
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "criterion = nn.CrossEntropyLoss()\n"
          "logits = torch.randn(2, 4, 8, 8)\n"
          "mask = torch.randint(0, 4, (2, 8, 8))\n"
          "mask[:, :2] = 255\n"
          "loss = criterion(logits, mask)",
          expect=("ignore_index=255", "mask")),))
def padding_label(ctx) -> Hint | None:
    """Padding or "void" pixels marked with -1 or 255 reach the loss, which treats them as classes."""
    found = _range(ctx)
    if not found:
        return None
    target, classes, lo, hi = found
    if target.distinct is None:  # many distinct values: not a lone padding marker (see NLH111)
        return None
    outside = [v for v in target.distinct if not 0 <= v < classes]
    pads = {int(v) for v in outside}
    if len(pads) != 1 or not pads <= set(PADDING_VALUES):
        return None
    pad = pads.pop()
    inside = [v for v in (target.distinct or ()) if 0 <= v < classes]
    if target.distinct is not None and not inside:
        return None
    from ..contracts import contract

    terms = contract(ctx.loss) or contract(ctx.module)
    if terms is not None and "ignore_index" not in terms.options:  # MultiMarginLoss: nothing to switch on
        keep = f"keep = {ctx.name('target')} != {pad}"
        fixed = ctx.fix({"input": ctx.with_method("input", "[keep]"), "target": ctx.with_method("target", "[keep]")})
        return Hint(
            title=f"{ctx.code('target')} uses {pad} as a padding label, and {ctx.loss_label} has no ignore_index",
            message=(f"Apart from {pad}, the labels lie in 0..{classes - 1} for the {classes} classes of "
                     f"{ctx.code('input')}. {pad} marks padding or unlabeled samples; {ctx.loss_label} cannot skip "
                     "them, so select the labelled samples before the loss."),
            fix=keep + "\n" + (fixed or "# then pass input[keep] and target[keep]"),
        )
    ignore = ctx.option("ignore_index")
    if ctx.module:
        fix = _module_option_fix(ctx, "ignore_index", str(pad))
    else:
        fix = ctx.fix(add={"ignore_index": str(pad)})
    return Hint(
        title=f"{ctx.code('target')} uses {pad} as a padding label, but the loss treats it as a class",
        message=(f"Apart from {pad}, the labels lie in 0..{classes - 1} for the {classes} classes of "
                 f"{ctx.code('input')}. {pad} is the usual marker for padding or unlabeled pixels; "
                 f"the loss only skips it when told to with ignore_index (now {ignore})."),
        fix=fix,
    )


CLASS_KEYWORDS = ("num_labels", "num_classes", "n_classes", "nb_classes", "n_labels", "num_outputs")
CLASS_COUNT_NAMES = re.compile(  # the keywords, and other names the user's code may give the class count
    r"(?<![\w.])(" + "|".join(CLASS_KEYWORDS + ("nclasses", "nclass", "n_class", "num_class", "number_of_classes",
                                               "n_outputs")) + r")(?!\w)", re.I)


def _classes_setting(ctx) -> str | None:
    """The user's own name for the number of classes (``num_labels``), if their code uses one."""
    found = ctx.user_source()
    m = CLASS_COUNT_NAMES.search(found[0]) if found else None
    return m.group(1) if m else None


def class_count_setting(ctx, classes: int, needed: int | str) -> tuple[str, str, str, str] | None:
    """``(keyword, where, statement, fixed statement)`` when the user's code sets the class count with a keyword
    that is C: ``from_pretrained(name, num_labels=2)`` becomes ``num_labels=5`` (``needed``), where is ``line 1``
    or ``cell [3], line 1``; ``num_labels=NUM_LABELS`` fixes the line ``NUM_LABELS = 2``. Parsed, never run;
    the statement is the user's own, with only the number changed."""
    from ..source import _offset
    from .usercode import user_texts

    rebound: set[str] = set()  # names a newer cell (or the function) assigns anew: older builds no longer count
    for text, first, where in user_texts(ctx):
        text = textwrap.dedent(text)
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        last = _last_assignments(tree)
        hits = []
        for stmt in ast.walk(tree):
            if not (isinstance(stmt, (ast.Assign, ast.AnnAssign)) and _builds_the_model(ctx, stmt)):
                continue
            name = (stmt.targets[0] if isinstance(stmt, ast.Assign) else stmt.target).id
            if name in rebound or last.get(name) != stmt.lineno:
                continue
            for node in ast.walk(stmt):
                for kw in node.keywords if isinstance(node, ast.Call) else ():
                    value = kw.value
                    if kw.arg not in CLASS_KEYWORDS:
                        continue
                    if isinstance(value, ast.Name) and ctx.lookup(value.id) == classes:  # num_labels=NUM_LABELS
                        hits.append((*(_assigned_number(tree, value.id, classes) or (stmt, value)), kw.arg))
                    elif isinstance(value, ast.Constant) and type(value.value) is int and value.value == classes:
                        hits.append((stmt, value, kw.arg))
        if not hits:
            rebound |= set(last)
            continue
        stmt, value, keyword = max(hits, key=lambda h: h[0].lineno)  # the latest build wins
        lines = text.splitlines(keepends=True)
        start = _offset(lines, stmt.lineno, stmt.col_offset)
        edit = (_offset(lines, value.lineno, value.col_offset) - start,
                _offset(lines, value.end_lineno, value.end_col_offset) - start)
        statement = text[start:_offset(lines, stmt.end_lineno, stmt.end_col_offset)]
        fixed = statement[:edit[0]] + str(needed) + statement[edit[1]:]
        line = first + stmt.lineno - 1
        return keyword, f"{where}line {line}", statement, fixed
    return None


def _last_assignments(tree) -> dict[str, int]:
    """The line of the last ``name = ...`` for each plain name; ``model = model.to(device)`` (built from the
    old value) does not count as a new model."""
    found: dict[str, int] = {}
    for stmt in ast.walk(tree):
        if not isinstance(stmt, (ast.Assign, ast.AnnAssign)) or stmt.value is None:
            continue
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        uses = {n.id for n in ast.walk(stmt.value) if isinstance(n, ast.Name)}
        for target in targets:
            if isinstance(target, ast.Name) and target.id not in uses:
                found[target.id] = max(found.get(target.id, 0), stmt.lineno)
    return found


def _builds_the_model(ctx, stmt) -> bool:
    """``model = ...`` / ``config = ...`` where the name now holds the model whose parameters produced the
    scores (or any model when there is no graph), or a config object (``BertConfig``): a ``num_classes=``
    given to ``F.one_hot`` or to a metric is not the model's class count."""
    import torch

    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
    if len(targets) != 1 or not isinstance(targets[0], ast.Name):
        return False
    frame, name = ctx._user_frame, targets[0].id
    scope = next((d for d in (frame.f_locals, frame.f_globals) if name in d), {}) if frame is not None else {}
    if type(scope.get(name)).__name__.endswith("Config"):  # type() only: HF configs answer attributes themselves
        return True
    value = ctx.lookup(name)
    if not issubclass(type(value), torch.nn.Module):
        return False
    if not ctx._input_params:
        return True
    try:
        return any(id(p) in ctx._input_params for p in value.parameters())
    except Exception:
        return False


def _assigned_number(tree, name: str, classes: int):
    """``(statement, number node)`` of ``NAME = C`` in the parsed code, the last one."""
    found = None
    for stmt in ast.walk(tree):
        if (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)
                and stmt.targets[0].id == name and isinstance(stmt.value, ast.Constant)
                and stmt.value.value == classes and type(stmt.value.value) is int):
            found = (stmt, stmt.value)
    return found


@rule("NLH103", "target-range", "the model's last layer has fewer outputs than there are classes",
      families=FAMILIES,
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 10))\n"
          "x = torch.randn(32, 20)\n"
          "y = torch.arange(32) % 12\n"
          "loss = nn.CrossEntropyLoss()(model(x), y)",
          expect=("out_features", "12")),
          Example(
              "import torch, torch.nn as nn\n"
              "class TextClassifier(nn.Module):\n"
              "    def __init__(self, num_labels):\n"
              "        super().__init__()\n"
              "        self.head = nn.Linear(16, num_labels)\n"
              "    def forward(self, features):\n"
              "        return self.head(features)\n"
              "model = TextClassifier(num_labels=3)\n"
              "labels = torch.tensor([0, 1, 2, 3, 4, 2])\n"
              "loss = nn.CrossEntropyLoss()(model(torch.randn(6, 16)), labels)",
              expect=("model = TextClassifier(num_labels=5)", "num_labels=3")),
      ))
def too_few_outputs(ctx) -> Hint | None:
    """Labels span 0..K-1 with K > C: the output layer was built for fewer classes than the data has. When the
    user's code sets C with a keyword (``from_pretrained(..., num_labels=2)``, ``BertConfig(num_labels=2)``),
    the fix is that line with the count the labels need."""
    found = _range(ctx)
    if not found:
        return None
    target, classes, lo, hi = found
    if lo < 0 or hi < classes or hi >= 4 * classes + 10:
        return None
    needed = hi + 1
    layers = ctx.output_layers(classes)
    where = f" ({layers[0]} has out_features={classes})" if layers else ""
    keyword = class_count_setting(ctx, classes, needed)  # from_pretrained(..., num_labels=2)
    if keyword:
        return Hint(
            title=f"the model predicts {_count(classes, 'class', 'classes')}, but {ctx.code('target')} has labels "
                  f"up to {hi}",
            message=(f"{ctx.code('input')} has {_count(classes, 'column')}, one per class{where}, while the labels "
                     f"run {lo}..{hi}: the data has at least {needed} classes. The model's class count comes "
                     f"from {keyword[0]}={classes} in your code: set it to {needed} (the largest label + 1)."),
            fix=f"# {keyword[1]}:\n{keyword[3]}",
        )
    setting = _classes_setting(ctx)
    fix = (f"{layers[0]} = nn.Linear({layers[0]}.in_features, {needed})" if layers
           else f"# last layer: nn.Linear(in_features, {needed})")
    binary = ""
    inp = ctx.input
    if classes == 1 and (lo, hi) == (0, 1) and inp is not None and inp.ndim == 2:  # one logit, 0/1 labels
        from .shapes import float_target, swap_loss

        binary = (" Or keep the one output: one logit per sample with 0/1 labels is binary classification, "
                  "which BCEWithLogitsLoss takes with float labels.")
        fix = (swap_loss(ctx, "BCEWithLogitsLoss", "binary_cross_entropy_with_logits",
                         {"input": ctx.with_method("input", ".squeeze(1)"),
                          "target": float_target(ctx, inp, target)})
               + f"   # binary: one logit per sample\n# or {needed} outputs: {fix.lstrip('# ')}")
    return Hint(
        title=f"the model predicts {_count(classes, 'class', 'classes')}, but {ctx.code('target')} has labels "
              f"up to {hi}",
        message=(f"{ctx.code('input')} has {_count(classes, 'column')}, one per class{where}, while the labels "
                 f"run {lo}..{hi}: the data has at least {needed} classes. Build the last layer with "
                 f"{needed} outputs" + (f" (or set {setting}={needed})." if setting else ".") + binary),
        fix=fix,
    )


def _count(n: int, one: str, many: str | None = None) -> str:
    """``1 class``, ``2 classes``."""
    return f"{n} {one if n == 1 else (many or one + 's')}"


@rule("NLH104", "target-range", "labels are raw ids or values, not class indices",
      families=FAMILIES,
      examples=(Example(
          "import torch, torch.nn.functional as F\n"
          "scores = torch.randn(4, 3)\n"
          "years = torch.tensor([1999, 2004, 2010, 1999])\n"
          "loss = F.cross_entropy(scores, years)",
          expect=("torch.unique", "years")),))
def foreign_labels(ctx) -> Hint | None:
    """Labels far above C: ids, years or counts used directly as class indices."""
    found = _range(ctx)
    if not found:
        return None
    target, classes, lo, hi = found
    if lo < 0 or hi < 4 * classes + 10:
        return None
    if classes < 2:  # one output column: a regression head (values as targets), not labels to re-index
        return None
    name = ctx.name("target")
    return Hint(
        title=f"{ctx.code('target')} holds values up to {hi}, far beyond the {classes} classes",
        message=(f"Class-index targets must be 0..{classes - 1}, but {ctx.code('target')} runs "
                 f"{lo}..{hi}: these look like raw ids or values, not class numbers. Map each distinct "
                 f"value to an index first (and size the model's output to the number of classes)."),
        fix=f"classes, {name}_idx = torch.unique({name}, return_inverse=True)   # then use {name}_idx",
    )


@rule("NLH105", "target-range", "a class index outside 0..C-1",
      families=FAMILIES,
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "out = torch.randn(6, 3).log_softmax(dim=1)\n"
          "target = torch.tensor([0, 1, 2, -3, 1, 0])\n"
          "loss = nn.NLLLoss()(out, target)",
          expect=("-3", "0..2")),))
def out_of_range(ctx) -> Hint | None:
    """Any other label outside the valid range; states the range, C and the offending values."""
    found = _range(ctx)
    if not found:
        return None
    target, classes, lo, hi = found
    bad = [_num(v) for v in (target.distinct or (lo, hi)) if not 0 <= v < classes]
    if not bad or classes < 2:  # one class: dropping the samples would keep only label 0 (a regression head?)
        return None
    return Hint(
        title=f"{ctx.code('target')} has labels outside 0..{classes - 1}: {', '.join(bad[:5])}",
        message=(f"{ctx.code('input')} has {classes} classes, so every label must be in 0..{classes - 1}; "
                 f"{ctx.code('target')} runs {lo}..{hi}. Check how the labels are encoded, or drop "
                 f"those samples."),
        fix=(f"keep = ({ctx.name('target')} >= 0) & ({ctx.name('target')} < {classes})"),
    )


@rule("NLH107", "target-range", "F.one_hot: a class value >= num_classes",
      families=("one-hot-too-large",),
      examples=(Example(
          "import torch, torch.nn.functional as F\n"
          "labels = torch.tensor([1, 2, 3, 3])\n"
          "onehot = F.one_hot(labels, num_classes=3)",
          expect=("labels - 1",)),
          Example(
          "import torch, torch.nn.functional as F\n"
          "n_classes = 2\n"
          "targets = torch.tensor([[0, 1, 255], [1, 0, 0]])   # 255 = ignore\n"
          "one_hot = F.one_hot(targets, num_classes=n_classes)",
          expect=("valid = targets != 255",
                  "one_hot = F.one_hot(targets.masked_fill(~valid, 0), num_classes=n_classes) * valid.unsqueeze(-1)")),))
def one_hot_too_large(ctx) -> Hint | None:
    """``F.one_hot`` with labels that reach num_classes: 1-based labels, or num_classes too small."""
    facts = ctx.t("tensor")
    classes = ctx.option("num_classes")
    if facts is None or not facts.values or facts.max is None or not isinstance(classes, int) or classes < 1:
        return None
    lo, hi = int(facts.min), int(facts.max)
    name = ctx.code("tensor")
    if facts.distinct is not None and set(facts.distinct) == {0.0, 255.0}:
        return Hint(
            title=f"{name} holds 0 and 255 (an 8-bit mask image), but one_hot needs classes 0..{classes - 1}",
            message=(f"{name} has only the values 0 and 255: a binary mask read from an image file. "
                     f"Divide by 255 so the classes are 0 and 1 (num_classes=256 would make 256 classes)."),
            fix=ctx.fix({"tensor": ctx.with_method("tensor", "") + " // 255"}),
        )
    ignored = _one_hot_ignore_label(ctx, facts, classes)
    if ignored:
        return ignored
    if lo >= 1 and hi == classes:
        return Hint(
            title=f"{name} is 1-based ({lo}..{hi}), but one_hot numbers classes 0..{classes - 1}",
            message=(f"With num_classes={classes} the valid values are 0..{classes - 1}; {name} never "
                     f"contains 0 and reaches {hi}, which is what labels numbered from 1 look like."),
            fix=ctx.fix({"tensor": ctx.with_method("tensor", "") + " - 1"}),
        )
    return Hint(
        title=f"{name} has values up to {hi}, but num_classes={classes}",
        message=(f"F.one_hot needs every value below num_classes; {name} runs {lo}..{hi}, so there are "
                 f"at least {hi + 1} classes."),
        fix=ctx.fix({"num_classes": str(hi + 1)}) or ctx.fix(add={"num_classes": str(hi + 1)}),
    )


def _masked_one_hot_fix(ctx, test: str, note: str) -> str:
    """``valid = t != 255``, the user's one_hot line on ``t.masked_fill(~valid, 0)`` with the ignored rows
    zeroed, and where the mask goes next (the loss must leave those positions out)."""
    name = ctx.name("tensor")
    fixed = ctx.fix({"tensor": ctx.with_method("tensor", ".masked_fill(~valid, 0)")})
    zeroed = None
    if fixed:
        try:
            node = ast.parse(fixed.strip()).body[0]
        except (SyntaxError, IndexError):
            node = None
        value = node.value if isinstance(node, ast.Assign) else None
        func = value.func if isinstance(value, ast.Call) else None
        if func is not None and getattr(func, "attr", getattr(func, "id", None)) == "one_hot":
            zeroed = f"{fixed.rstrip()} * valid.unsqueeze(-1)"  # the whole right side is the one_hot call
    classes = ctx.option("num_classes")
    lines = [f"valid = {ctx.with_method('tensor', '')} {test}   # {note}",
             zeroed or fixed or (f"F.one_hot({name}.masked_fill(~valid, 0), num_classes={classes}) "
                                 "* valid.unsqueeze(-1)"),
             *([] if zeroed or not fixed else ["# zero the ignored rows of the one-hot tensor: * valid.unsqueeze(-1)"]),
             "# and leave the ignored positions out of the loss (weight it by valid, or select [valid])"]
    return "\n".join(lines)


def _one_hot_ignore_label(ctx, facts, classes: int) -> Hint | None:
    """255 beside labels 0..C-1: the ignore label of segmentation masks, not class 255 (as NLH102 for CE).
    Encoding the valid labels and leaving the ignored positions out is the fix, not num_classes=256."""
    if facts.distinct is None:
        return None
    outside = {int(v) for v in facts.distinct if not 0 <= v < classes}
    inside = [v for v in facts.distinct if 0 <= v < classes]
    if outside != {255} or not inside or classes > 255:
        return None
    code = ctx.code("tensor")
    return Hint(
        title=f"{code} uses 255 as an ignore label, but F.one_hot treats it as class 255",
        message=(f"Apart from 255, the values of {code} lie in 0..{classes - 1}, the {classes} classes of "
                 f"num_classes={classes}. 255 is the usual ignore label of segmentation masks (unlabeled or "
                 f"border pixels; CrossEntropyLoss skips it with ignore_index=255): it is not a class, and "
                 f"num_classes=256 would add {256 - classes} empty classes. Encode the valid labels with the "
                 "ignored positions filled with 0, zero their one-hot rows, and leave them out of the loss."),
        fix=_masked_one_hot_fix(ctx, "!= 255", "255 = ignore"),
    )


@rule("NLH108", "target-range", "F.one_hot: negative class values (padding)",
      families=("one-hot-negative",),
      examples=(Example(
          "import torch, torch.nn.functional as F\n"
          "tags = torch.tensor([0, 2, -1, -1])\n"
          "onehot = F.one_hot(tags, num_classes=3)",
          expect=("valid = tags != -1", "onehot = F.one_hot(tags.masked_fill(~valid, 0), num_classes=3) * "
                                        "valid.unsqueeze(-1)")),))
def one_hot_negative(ctx) -> Hint | None:
    """Negative values passed to ``F.one_hot``: -1 padding or -100 (CrossEntropyLoss's ignore_index) mark
    positions without a label, not classes. Encode the others and leave those positions out."""
    facts = ctx.t("tensor")
    if facts is None or not facts.values or facts.min is None or facts.min >= 0:
        return None
    name = ctx.name("tensor")
    negatives = {int(v) for v in facts.distinct if v < 0} if facts.distinct is not None else None
    pad = negatives.pop() if negatives is not None and len(negatives) == 1 and negatives <= {-1, -100} else None
    if pad is not None:
        what = ("-100, CrossEntropyLoss's default ignore_index" if pad == -100 else "-1, the usual padding label")
        return Hint(
            title=f"`{name}` uses {pad} as an ignore label, which F.one_hot cannot encode",
            message=(f"`{name}` runs {_num(facts.min)}..{_num(facts.max)}: apart from {what}, the values are "
                     "class indices. An ignore label marks positions without a class (padding, unlabeled "
                     "tokens): encode the valid labels with the ignored positions filled with 0, zero their "
                     "one-hot rows, and leave them out of the loss."),
            fix=_masked_one_hot_fix(ctx, f"!= {pad}", f"{pad} = ignore"),
        )
    return Hint(
        title=f"`{name}` has negative values ({_num(facts.min)}), which F.one_hot cannot encode",
        message=(f"`{name}` runs {_num(facts.min)}..{_num(facts.max)}. Negative labels usually mark "
                 "padding; encode the valid ones, zero the padded rows and leave them out of the loss."),
        fix=_masked_one_hot_fix(ctx, ">= 0", "negative = padding"),
    )


RULES = [one_based_labels, shifted_labels, mask_0_255, interpolated_mask, padding_label, too_few_outputs, foreign_labels, out_of_range,
         one_hot_too_large, one_hot_negative]
