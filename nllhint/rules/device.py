"""Rules for ``device-mismatch``: the tensors of one loss call live on different devices.

The messages ("found at least two devices, cuda:0 and cpu", "target is on cpu, different from other
tensors on cuda:0", "Tensor on device meta is not on the expected device cpu", the old "Expected object of
device type cuda but got device type cpu for argument #2 'target'") name devices, not the user's
tensors. The loss frame does: each tensor's device is metadata, so the hint says which of the user's
expressions is where. The variants differ in what to move: the labels (``y.to(device)``), a class weight
held by a loss module built before ``.to(device)`` (``criterion.to(device)``), or the model itself when
its output is the one left on the CPU.
"""

from __future__ import annotations

import ast
import re

from .base import Example, Hint, rule

FAMILIES = ("device",)
PARAMS = ("input", "target", "weight", "pos_weight", "input1", "input2", "var", "log_probs", "targets")
DEVICE_NAMES = ("device", "DEVICE", "dev")


def _devices(ctx) -> dict[str, str] | None:
    """param -> device of the call's tensors, when at least two devices are involved."""
    if ctx.via != "loss" or ctx.loss == "ctc_loss":  # CTC takes lengths (and, for cuDNN, targets) on the CPU
        return None
    found = {}
    for param in PARAMS:
        facts = ctx.t(param)
        if facts is None or facts.device in ("?", ""):
            continue
        if facts.ndim == 0 and facts.device == "cpu":  # CPU scalars mix with any device
            continue
        found[param] = facts.device
    if len(set(found.values())) < 2 or "input" not in found:
        return None
    return found


def _reference(found: dict[str, str]) -> str:
    """The device the computation is meant for: the model output's, unless that one is the odd CPU one."""
    if found["input"] != "cpu":
        return found["input"]
    return next(d for d in found.values() if d != "cpu")


def _simple(expr: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z_][\w.]*", expr))


def _device_expr(ctx, device: str, prefer: str | None = None) -> str:
    """How to name ``device`` in the user's code: their ``device`` variable, ``<prefer>.device``, or a literal."""
    import torch

    if prefer and _simple(ctx.name(prefer)):
        return f"{ctx.name(prefer)}.device"
    src = ctx.user_source()
    text = src[0] if src else ""
    for name in sorted(DEVICE_NAMES, key=lambda n: not re.search(rf"(?<![\w.]){n}\b", text)):  # the cell's own first
        value = ctx.lookup(name)
        if isinstance(value, (torch.device, str)):
            try:
                if torch.device(value).type == torch.device(device).type:
                    return name
            except (RuntimeError, TypeError):
                continue
    return repr(device.split(":")[0] if device.endswith(":0") else device).replace("'", '"')


def _evidence(ctx, found: dict[str, str]) -> tuple[str, ...]:
    names = [(ctx.name(p) if p in ("input", "target") or (ctx.call and p in ctx.call.args)
              else f"{_holder(ctx)}.{p}" if ctx.module else p, p) for p in found]
    width = min(max(len(n) for n, _ in names), 24)
    out = []
    for name, param in names:
        facts = ctx.t(param)
        shape = ", ".join(map(str, facts.shape))
        out.append(f"{name[:40]:<{width}}  on {facts.device}  {facts.dtype}[{shape}]")
    return tuple(out)


def _holder(ctx) -> str:
    """The user's name for the loss module (``criterion``), or the module class."""
    callee = ctx.call.callee if ctx.call else ""
    return callee if _simple(callee) else (ctx.module or "the loss")


@rule("NLH601", "device-mismatch", "the loss's class weight is on another device (loss built before .to(device))",
      families=FAMILIES,
      examples=(
          Example(
              "import torch, torch.nn as nn\n"
              "device = torch.device('meta')   # stands in for 'cuda' on this machine\n"
              "class_weights = torch.tensor([1.0, 3.0, 0.5])\n"
              "criterion = nn.CrossEntropyLoss(weight=class_weights)   # weight stays on the CPU\n"
              "model = nn.Linear(8, 3).to(device)\n"
              "optimizer = torch.optim.SGD(model.parameters(), lr=0.1)\n"
              "x, y = torch.randn(4, 8).to(device), torch.randint(0, 3, (4,)).to(device)\n"
              "loss = criterion(model(x), y)",
              expect=("criterion = criterion.to(device)", "`criterion.weight` is on cpu", "on meta")),
          Example(
              "import torch, torch.nn.functional as F\n"
              "logits = torch.randn(6, 4, device='meta')\n"
              "labels = torch.zeros(6, dtype=torch.long, device='meta')\n"
              "w = torch.ones(4)\n"
              "loss = F.cross_entropy(logits, labels, weight=w)",
              expect=("loss = F.cross_entropy(logits, labels, weight=w.to(logits.device))",)),
      ))
def weight_device(ctx) -> Hint | None:
    """A class ``weight``/``pos_weight`` left on the CPU while input and target moved to the GPU."""
    found = _devices(ctx)
    if not found:
        return None
    ref = _reference(found)
    odd = [p for p, d in found.items() if d != ref]
    if not odd or not set(odd) <= {"weight", "pos_weight"} or found["input"] != ref:
        return None
    param = odd[0]
    if ctx.module and not (ctx.call and param in ctx.call.args):
        holder = _holder(ctx)
        dev = _device_expr(ctx, ref)
        if _simple(holder) and holder != ctx.module:
            fix = f"{holder} = {holder}.to({dev})   # moves its {param} buffer too\n{ctx.call.statement}"
        elif ctx.call:
            fix = ctx.fix(callee=f"{ctx.call.callee}.to({dev})")
        else:
            fix = f"criterion = criterion.to({dev})"
        what = f"`{holder}.{param}`"
        why = (f"{ctx.module} keeps its {param} as a buffer, so it stays where it was built until the loss "
               f"module itself is moved: .to(device) on the model does not move `{holder}`.")
    else:
        dev = _device_expr(ctx, ref, prefer="input")
        fix = ctx.fix({param: ctx.with_method(param, f".to({dev})")})
        what = ctx.code(param)
        why = "Every tensor of a loss call must be on one device."
    return Hint(
        title=f"{what} is on {found[param]}, but {ctx.code('input')} is on {ref}",
        message=(f"{ctx.code('input')} and {ctx.code('target')} are on {ref}, while the class {param} "
                 f"{what} is on {found[param]}. {why} Move it to {ref} once, before the training loop."),
        fix=fix,
        evidence=_evidence(ctx, found),
    )


@rule("NLH602", "device-mismatch", "the target (labels) was not moved to the model's device",
      families=FAMILIES,
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "device = 'meta'   # stands in for 'cuda' on this machine\n"
          "model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 5)).to(device)\n"
          "optimizer = torch.optim.Adam(model.parameters())\n"
          "criterion = nn.CrossEntropyLoss()\n"
          "inputs, labels = torch.randn(16, 10), torch.randint(0, 5, (16,))\n"
          "inputs = inputs.to(device)   # labels forgotten\n"
          "optimizer.zero_grad()\n"
          "outputs = model(inputs)\n"
          "loss = criterion(outputs, labels)",
          expect=("`labels` is on cpu", "`outputs` is on meta", "loss = criterion(outputs, labels.to(outputs.device))")),))
def target_device(ctx) -> Hint | None:
    """The labels stayed on the CPU while the model output is on the GPU."""
    found = _devices(ctx)
    if not found:
        return None
    ref = _reference(found)
    odd = [p for p, d in found.items() if d != ref]
    if found["input"] != ref or "target" not in odd:
        return None
    dev = _device_expr(ctx, ref, prefer="input")
    moves = {p: ctx.with_method(p, f".to({dev})") for p in odd if ctx.call and p in ctx.call.args}
    fix = ctx.fix(moves) if moves else None
    extra = [p for p in odd if p != "target"]
    also = f" ({', '.join(ctx.name(p) for p in extra)} too.)" if extra else ""
    return Hint(
        title=f"{ctx.code('target')} is on {found['target']}, but {ctx.code('input')} is on {ref}",
        message=(f"The model's output {ctx.code('input')} is on {ref}, while the labels "
                 f"{ctx.code('target')} are still on {found['target']}: the batch's inputs were moved to the "
                 f"device and the labels were not. Move the labels with the inputs.{also}"),
        fix=fix or f"{ctx.name('target')} = {ctx.name('target')}.to({dev})",
        evidence=_evidence(ctx, found),
    )


def _model_call(ctx) -> tuple[str, list[str]] | None:
    """``(model, [inputs])`` for an input written ``model(x)``, or assigned ``outputs = model(x)`` nearby."""
    import torch

    def parse(expr: str):
        try:
            node = ast.parse(expr.strip(), mode="eval").body
        except SyntaxError:
            return None
        if isinstance(node, ast.Call) and isinstance(node.func, (ast.Name, ast.Attribute)):
            name = ast.unparse(node.func)
            args = [ast.unparse(a) for a in node.args if isinstance(a, (ast.Name, ast.Attribute))]
            return name, args
        return None

    expr = ctx.name("input")
    found = parse(expr)
    if found is None and re.fullmatch(r"[A-Za-z_]\w*", expr):
        from .backward import assignments, user_program

        prog = user_program(ctx)
        if prog is not None:
            binds = [(s, v) for s, v in assignments(prog).get(expr, ()) if isinstance(s, ast.Assign)]
            if binds:
                found = parse(prog.segment(max(binds, key=lambda p: p[0].lineno)[1]))
    if found is None:
        return None
    root = found[0].split(".")[0]
    value = ctx.lookup(root)
    if "." not in found[0] and not isinstance(value, torch.nn.Module):
        return None
    return found


@rule("NLH603", "device-mismatch", "the model's output is on the CPU while the labels are on the GPU",
      families=FAMILIES,
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "device = torch.device('meta')   # stands in for 'cuda' on this machine\n"
          "model = nn.Linear(6, 2)   # never moved\n"
          "criterion = nn.CrossEntropyLoss()\n"
          "x = torch.randn(3, 6)\n"
          "y = torch.tensor([0, 1, 1]).to(device)\n"
          "loss = criterion(model(x), y)",
          expect=("model = model.to(device)", "x = x.to(device)", "`model(x)` is on cpu")),))
def input_on_cpu(ctx) -> Hint | None:
    """The labels were moved to the GPU, the model (and its inputs) were not."""
    found = _devices(ctx)
    if not found or found["input"] != "cpu":
        return None
    ref = _reference(found)
    dev = _device_expr(ctx, ref)
    call = _model_call(ctx)
    if call:
        model, inputs = call
        fix = "\n".join([f"{model} = {model}.to({dev})"] + [f"{x} = {x}.to({dev})" for x in inputs[:3]]
                        + ([ctx.call.statement] if ctx.call else []))
        who = f"`{model}` and its input{'s' if len(inputs) != 1 else ''} " + ", ".join(f"`{x}`" for x in inputs[:3])
    else:
        fix = f"# move the model and its inputs: model.to({dev}); inputs = inputs.to({dev})"
        who = "the model and its inputs"
    others = [p for p, d in found.items() if d != "cpu"]
    return Hint(
        title=f"{ctx.code('input')} is on cpu, but {', '.join(ctx.code(p) if p in ('input', 'target') else p for p in others)} "
              f"{'is' if len(others) == 1 else 'are'} on {ref}",
        message=(f"The model's output {ctx.code('input')} was computed on the CPU, while "
                 f"{ctx.code(others[0]) if others[0] in ('target', 'input') else others[0]} is on {ref}: "
                 f"{who} were not moved to {ref}. Move the model once after building it, and each batch "
                 "as it comes."),
        fix=fix,
        evidence=_evidence(ctx, found),
    )


@rule("NLH604", "device-mismatch", "tensors of one loss call on different devices",
      families=FAMILIES,
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "mean = torch.randn(4, 2, device='meta')\n"
          "y = torch.randn(4, 2, device='meta')\n"
          "variance = torch.ones(4, 2)   # built on the CPU\n"
          "loss = nn.functional.gaussian_nll_loss(mean, y, variance)",
          expect=("`variance` on cpu", "loss = nn.functional.gaussian_nll_loss(mean, y, variance.to(mean.device))")),))
def other_device_mix(ctx) -> Hint | None:
    """Any other mix: move every tensor of the call to the model output's device."""
    found = _devices(ctx)
    if not found:
        return None
    ref = _reference(found)
    odd = [p for p, d in found.items() if d != ref]
    if not odd:
        return None
    dev = _device_expr(ctx, ref, prefer="input")
    moves = {p: ctx.with_method(p, f".to({dev})") for p in odd if ctx.call and p in ctx.call.args}
    fix = ctx.fix(moves) if moves else None
    where = "; ".join(f"{ctx.code(p)} on {found[p]}" for p in odd)
    return Hint(
        title=f"{ctx.loss_label} got tensors on different devices: {where}, {ctx.code('input')} on {ref}",
        message=(f"All tensors of one loss call must be on the same device; {ctx.code('input')} is on {ref} "
                 f"and {where}. Move them to {ref}."),
        fix=fix,
        evidence=_evidence(ctx, found),
    )


RULES = [weight_device, target_device, input_on_cpu, other_device_mix]
