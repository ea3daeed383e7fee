"""Audits for the conventions of KLDivLoss and CTCLoss, which are easy to get silently wrong.

KLDivLoss(input, target): input log-probabilities, target probabilities (or log-probabilities with
``log_target=True``), ``reduction='batchmean'`` for the real KL divergence. CTCLoss(log_probs, ...):
log_probs (T, N, C) from log_softmax over the classes (dim 2); an input too short for its target gives
an infinite loss unless ``zero_infinity=True``.
"""

from __future__ import annotations

import math
import re

from ..probe import _num
from .base import Example, Hint, LossCall, audit, method_on, unwrap
from .formats import LINEAR, SQUASHED, _assigned_activation, _cap_first as _cap, log_probabilities_of, probability_rows, squashed_upstream

_HEAD = "import torch, torch.nn as nn, torch.nn.functional as F\n"
_KL_DATA = ("torch.manual_seed(0)\n"
            "student = torch.randn(16, 10, requires_grad=True)\n"
            "teacher = torch.randn(16, 10)\n")


def _log_probability_rows(call: LossCall, name: str):
    """Value evidence for log-probability rows: every value <= 0, each row's exp sums to 1."""
    facts = call.values(name)
    if facts is None or facts.has_nan or facts.numel < 4:
        return None
    if facts.rows_log_simplex and facts.max <= 1e-3 and facts.min < -1e-3:
        return facts
    return None


def _is_probabilities(call: LossCall, name: str) -> str | None:
    """Why ``name`` holds probabilities (producer or values), or None."""
    o = call.origin(name)
    if o.producer in SQUASHED:
        return f"{o.evidence(call.name(name))} (certain)"
    below = squashed_upstream(call, name) if o.traced else None
    if o.traced and below is None:
        return None
    if probability_rows(call, name) is not None:
        why = (f"every row of {call.code(name)} is >= 0 and sums to 1, so it looks like probabilities "
               f"(certain that it is not log-probabilities: those are never above 0)")
        return f"{why}; {below}" if below else why
    return None


def _is_log_probabilities(call: LossCall, name: str) -> str | None:
    o = call.origin(name)
    if o.producer in ("log_softmax", "logsigmoid", "log(softmax)", "log(sigmoid)"):
        return f"{o.evidence(call.name(name))} (certain)"
    if o.traced:
        return None
    if _log_probability_rows(call, name) is not None:
        return (f"every value of {call.code(name)} is <= 0 and each row's exp sums to 1: these are "
                f"log-probabilities (certain: read from the values, and probabilities are never negative)")
    return None


@audit("NLH810", "kl-format", "KLDivLoss arguments swapped: input holds probabilities, target log-probabilities",
       losses=("kl_div",),
       examples=(Example(_HEAD + _KL_DATA + "criterion = nn.KLDivLoss(reduction='batchmean')\n"
                         "loss = criterion(F.softmax(teacher, dim=1), F.log_softmax(student, dim=1))",
                         expect=("NLH810", "loss = criterion(F.log_softmax(student, dim=1), "
                                           "F.softmax(teacher, dim=1))")),))
def kl_swapped(call: LossCall) -> Hint | None:
    """KLDivLoss(input, target) is KL(target || exp(input)): the model's log-probabilities go first."""
    if call.options.get("log_target"):
        return None
    probs = _is_probabilities(call, "input")
    logs = _is_log_probabilities(call, "target")
    if not probs or not logs:
        return None
    return Hint(
        title=f"{call.loss_label} arguments look swapped: {call.code('input')} is probabilities, "
              f"{call.code('target')} log-probabilities",
        message=(f"{_cap(probs)}; {logs}. {call.loss_label}(input, target) wants the model's "
                 f"log-probabilities first and the reference probabilities second; swapped, it computes "
                 f"a different quantity that can go negative."),
        fix=call.fix({"input": call.name("target"), "target": call.name("input")}),
    )


@audit("NLH846", "kl-format", "KLDivLoss arguments swapped: the reference (no grad) is the input, the model's "
       "probabilities (with grad) the target",
       losses=("kl_div",),
       examples=(Example(_HEAD + "torch.manual_seed(0)\n"
                         "student = nn.Linear(16, 8)\n"
                         "teacher_probs = F.softmax(torch.randn(4, 8), dim=1)\n"
                         "feat = torch.randn(4, 16)\n"
                         "loss = F.kl_div(teacher_probs.log(), F.softmax(student(feat), dim=1), "
                         "reduction='batchmean')",
                         expect=("NLH846", "loss = F.kl_div(student(feat).log_softmax(dim=1), teacher_probs, "
                                           "reduction='batchmean')")),))
def kl_swapped_by_grad(call: LossCall) -> Hint | None:
    """The model's log-probabilities go first, the fixed reference second. When the input carries no grad
    and the target is probabilities that do (a softmax of the model's output), the two were swapped: the
    model is trained through the target, on KL(model || reference) instead of KL(reference || model)."""
    if call.options.get("log_target"):
        return None  # both are log-probabilities: a deliberate order is as likely
    a, b = call.tensor("input"), call.tensor("target")
    if a is None or b is None or a.requires_grad or not b.requires_grad or call.shape("input") != call.shape("target"):
        return None
    target = call.origin("target")
    if target.producer != "softmax":
        return None
    logs = _is_log_probabilities(call, "input") or _log_of(call)
    if not logs or _reverse_kl_said(call) or _fixed_prior(call):
        return None
    new_input = log_probabilities_of(call, "target", target.producer)
    return Hint(
        title=f"{call.loss_label} arguments look swapped: {call.code('target')} is the model's probabilities, "
              f"{call.code('input')} the fixed reference",
        message=(f"{_cap(target.evidence(call.name('target')))} and it requires grad, while "
                 f"{call.code('input')} does not (certain: from autograd); {logs}. {call.loss_label}(input, "
                 f"target) wants the model's log-probabilities first and the reference probabilities second. "
                 f"As written the model is trained through the target, on the reverse divergence "
                 f"KL(model || reference); if that is not what you meant, swap them."),
        fix=call.fix({"input": new_input, "target": _probabilities_from_log(call, "input")}),
    )


_REVERSE_KL = re.compile(r"reverse[ _-]?kl|mode[ _-]?seeking|exclusive[ _-]?kl|\bkl_?rev|\brkl\b|"
                         r"\bjsd?\b|jensen|\bjs_?div|_jsd\b|mixture|"
                         r"KL\s*\(\s*(?:policy|pi|model|student|q|actor)\w*\s*\|\|", re.I)


def _reverse_kl_said(call: LossCall) -> bool:
    """The user's code says the reverse divergence is meant (RLHF's KL(policy || ref), mode-seeking
    distillation, a Jensen-Shannon divergence with the mixture as input): a comment or a name such as
    ``reverse_kl`` or ``jsd`` in their cell or function."""
    frame = call.user_frame()
    if frame is None:
        return False
    import inspect
    import linecache

    code = frame.f_code
    del frame
    try:  # the function's own lines; a cell (or script) whole
        lines = [] if code.co_name == "<module>" or code.co_name.startswith("<") else inspect.getsourcelines(code)[0]
    except (OSError, TypeError):
        lines = []
    text = "".join(lines or linecache.getlines(code.co_filename))
    return bool(_REVERSE_KL.search(text))


def _fixed_prior(call: LossCall) -> bool:
    """The input is one fixed distribution for every sample (a uniform or class prior broadcast over the
    batch): KL(model || prior) is then a deliberate regularizer (confidence penalty, class balance), not a
    swapped teacher. Metadata (an expanded batch dim) or a bounded read of the first rows."""
    t = call.tensor("input")
    if t.dim() < 2 or t.shape[0] < 2:
        return t.dim() < 2
    if t.stride(0) == 0:
        return True
    facts = call.values("input")
    if facts is not None and facts.rows_uniform:
        return True
    if not call.read_values or t.is_cuda:
        return False
    head = t.detach()[:16].reshape(min(16, t.shape[0]), -1)[:, :4096]
    return bool((head == head[:1]).all())


def _log_of(call: LossCall) -> str | None:
    """``p.log()`` / ``torch.log(p)`` written in the call on a tensor without grad."""
    if unwrap(call.name("input"), "log") is None:
        return None
    return f"{call.code('input')} is the log of probabilities, written in the call"


def _probabilities_from_log(call: LossCall, name: str) -> str:
    """``p.log()`` -> ``p``; ``F.log_softmax(z, dim=1)`` -> ``z.softmax(dim=1)``; else ``x.exp()``."""
    found = unwrap(call.name(name), "log")
    if found:
        return found[0]
    found = unwrap(call.name(name), "log_softmax")
    if found:
        return method_on(found[0], f".softmax(dim={found[1] or 1})")
    return call.with_method(name, ".exp()")


@audit("NLH803", "input-not-logprob", "KLDivLoss input is probabilities or raw scores, not log-probabilities",
       losses=("kl_div",),
       examples=(Example(_HEAD + _KL_DATA + "criterion = nn.KLDivLoss(reduction='batchmean')\n"
                         "loss = criterion(F.softmax(student, dim=1), F.softmax(teacher, dim=1))",
                         expect=("NLH803", "loss = criterion(student.log_softmax(dim=1), "
                                           "F.softmax(teacher, dim=1))")),))
def kl_input_not_log(call: LossCall) -> Hint | None:
    """KLDivLoss computes target * (log target - input): input must be log-probabilities."""
    expr = call.code("input")
    probs = _is_probabilities(call, "input")
    if probs:
        if _is_log_probabilities(call, "target") and not call.options.get("log_target"):
            return None  # NLH810: swapped
        what, why = "probabilities", probs
        activation = call.origin("input").producer or "softmax"
        new = log_probabilities_of(call, "input", activation if activation in SQUASHED else "softmax")
    else:
        o = call.origin("input")
        if o.producer in LINEAR:
            why = f"{o.evidence(call.name('input'))}, with no log_softmax after it (certain)"
        elif o.traced:  # a graph whose producer we do not know: stay quiet
            return None
        else:
            facts = call.values("input")
            if facts is None or facts.max <= 1e-3 or facts.has_nan:
                return None
            why = (f"{expr} has values above 0 (up to {_num(facts.max)}), which log-probabilities never have "
                   f"(certain: read from the values)")
        what = "raw scores"
        new = call.with_method("input", f".log_softmax(dim={max(len(call.shape('input') or ()) - 1, 0)})")
    return Hint(
        title=f"{call.loss_label} input {expr} is {what}, not log-probabilities",
        message=(f"{_cap(why)}. {call.loss_label} expects its input as log-probabilities (and its target "
                 f"as probabilities); with {what} the value is not a KL divergence and its gradients "
                 f"point the wrong way."),
        fix=call.fix({"input": new}),
    )


@audit("NLH811", "kl-format", "KLDivLoss target is log-probabilities but log_target=False",
       losses=("kl_div",),
       examples=(Example(_HEAD + _KL_DATA +
                         "loss = F.kl_div(F.log_softmax(student, dim=1), F.log_softmax(teacher, dim=1), "
                         "reduction='batchmean')",
                         expect=("NLH811", "reduction='batchmean', log_target=True)")),))
def kl_log_target(call: LossCall) -> Hint | None:
    """With log_target=False a log-probability target is read as probabilities: negative "probabilities"
    make target * log(target) NaN or meaningless."""
    if call.options.get("log_target"):
        return None
    why = _is_log_probabilities(call, "target")
    if not why or _is_probabilities(call, "input"):
        return None
    fix = call.set_option("log_target", "True") or call.fix({"target": call.with_method("target", ".exp()")})
    return Hint(
        title=f"{call.loss_label} target {call.code('target')} is log-probabilities, but log_target=False",
        message=(f"{_cap(why)}. Without log_target=True, {call.loss_label} reads the target as "
                 f"probabilities, and negative values give NaN or a meaningless loss. Pass "
                 f"log_target=True{'' if call.functional else ' when creating the loss'}, or give "
                 f"probabilities."),
        fix=fix,
    )


@audit("NLH812", "kl-format", "KLDivLoss log_target=True but the target is probabilities",
       losses=("kl_div",),
       examples=(Example(_HEAD + _KL_DATA +
                         "loss = F.kl_div(F.log_softmax(student, dim=1), F.softmax(teacher, dim=1), "
                         "reduction='batchmean', log_target=True)",
                         expect=("NLH812", "log_target=False")),))
def kl_log_target_on_probabilities(call: LossCall) -> Hint | None:
    """log_target=True exponentiates the target: probabilities become values in [1, e]."""
    if not call.options.get("log_target"):
        return None
    why = _is_probabilities(call, "target")
    if not why:
        return None
    return Hint(
        title=f"{call.loss_label} has log_target=True but {call.code('target')} is probabilities",
        message=(f"{_cap(why)}. With log_target=True the target is taken as log-probabilities and "
                 f"exponentiated, so these probabilities become weights between 1 and e: the loss is "
                 f"not a KL divergence."),
        fix=call.set_option("log_target", "False") or "create the loss with log_target=False",
    )


@audit("NLH813", "kl-format", "KLDivLoss with reduction='mean' (averages over classes too): use 'batchmean'",
       losses=("kl_div",),
       examples=(Example(_HEAD + _KL_DATA + "criterion = nn.KLDivLoss()\n"
                         "loss = criterion(F.log_softmax(student, dim=1), F.softmax(teacher, dim=1))",
                         expect=("NLH813", "criterion = nn.KLDivLoss(reduction='batchmean')")),))
def kl_mean(call: LossCall) -> Hint | None:
    """'mean' divides by every element (batch x classes), not by the batch: the value is C times too
    small and does not match the mathematical KL divergence."""
    if call.options.get("reduction") != "mean":
        return None
    shape = call.shape("input") or ()
    if len(shape) < 2 or shape[-1] < 2:
        return None
    if call.functional:
        fix = call.set_option("reduction", "'batchmean'")
    else:
        callee = call.call.callee if call.call else ""
        extra = ", log_target=True" if call.options.get("log_target") else ""
        fix = (f"{callee} = nn.KLDivLoss(reduction='batchmean'{extra})" if callee.isidentifier()
               else f"nn.KLDivLoss(reduction='batchmean'{extra})")
    return Hint(
        title=f"{call.loss_label} with reduction='mean' divides by every element, not by the batch size",
        message=(f"reduction='mean' averages over all {math.prod(shape)} elements of {call.code('input')}, so "
                 f"the loss is {shape[-1]}x smaller than the KL divergence per sample (certain: it is the "
                 f"option's definition). reduction='batchmean' gives the real KL divergence."),
        fix=fix,
    )


@audit("NLH840", "kl-format", "KLDivLoss target rows in [0, 1] that do not sum to 1: not probability distributions",
       losses=("kl_div",),
       examples=(Example(_HEAD + "loss = nn.KLDivLoss(reduction='batchmean')\n"
                         "output = torch.tensor([[0.1132, 0.5477, 0.3390]])\n"
                         "target = torch.tensor([[0.1541, 0.0511, 0.0947]])\n"
                         "kl = loss(output.log(), target)",
                         expect=("NLH840", "sums to 0.3", "target / target.sum(dim=-1, keepdim=True)")),))
def kl_target_not_distribution(call: LossCall) -> Hint | None:
    """KL(target || p) needs the target to be a probability distribution over the classes. Rows in
    [0, 1] that sum to 0.3 (or 2.5) make the value meaningless: it can go below 0, and the model is
    pulled towards a distribution that does not exist."""
    if call.options.get("log_target"):
        return None
    sums = _row_sums(call.tensor("target")) if call.read_values else None
    if sums is None:
        return None
    low, high = min(sums), max(sums)
    if low <= 1.05 and high >= 0.95:  # some row is a distribution: a mix of idioms, not this mistake
        return None
    expr = call.code("target")
    rows = "its only row" if len(sums) == 1 else f"each of its {len(sums)} rows read"
    total = f"sums to {low:.3g}" if len(sums) == 1 else f"sums to between {low:.3g} and {high:.3g}"
    negative = call.result_value is not None and call.result_value < 0
    sure = " (certain: read from the values, and the loss came out negative)" if negative else \
        ", read from the values"
    fix = call.fix({"target": f"{call.name('target')} / {call.name('target')}.sum(dim=-1, keepdim=True)"}) \
        if call.is_simple("target") else None
    return Hint(
        title=f"{call.loss_label} target {expr} is not a probability distribution: {rows} {total}",
        message=(f"Every value of {expr} is in [0, 1] but {rows} {total}, not 1{sure}. "
                 f"{call.loss_label} computes KL(target || exp(input)), which needs the target rows to be "
                 f"probability distributions over the last dim; otherwise the value is not a divergence (it "
                 f"can go below 0) and the model is fitted to a distribution that does not exist. Normalise "
                 f"the target (softmax of the teacher's scores, or divide by the row sums)."),
        fix=fix or f"normalise {expr} over its last dim (rows summing to 1) before the loss",
    )


def _row_sums(t) -> list[float] | None:
    """Sums of up to 64 rows along the last dim of a float tensor whose values are all in [0, 1], or None
    (a bounded read: the same cost on any size). None when the rows sum to 1 along dim 1 or over the
    whole tensor instead (a (N, C, H, W) distribution over the channels, a joint distribution)."""
    import torch

    if t is None or not t.is_floating_point() or t.dim() < 1 or t.shape[-1] < 2 or t.device.type == "meta":
        return None
    with torch.no_grad():
        rows = t.detach().reshape(-1, t.shape[-1])[:64].double().cpu()
        if rows.numel() == 0 or not torch.isfinite(rows).all() or rows.min() < 0 or rows.max() > 1:
            return None
        if t.numel() <= 1 << 16 and abs(float(t.detach().double().sum()) - 1) <= 1e-3:
            return None  # one distribution over every element
        if t.dim() >= 3:
            over = t.detach()[:8].double().sum(dim=1)
            if bool(((over - 1).abs() <= 1e-3).all()):
                return None  # normalised over dim 1 (channels of a dense map)
        return [float(v) for v in rows.sum(dim=-1)]


# --- CTC ---------------------------------------------------------------------------------------------------

_CTC_DATA = ("torch.manual_seed(0)\n"
             "T, N, C = 30, 4, 6\n"
             "rnn_out = torch.randn(T, N, C, requires_grad=True)\n"
             "targets = torch.randint(1, C, (N, 8))\n"
             "input_lengths = torch.full((N,), T)\n"
             "target_lengths = torch.full((N,), 8)\n"
             "ctc = nn.CTCLoss()\n")


@audit("NLH814", "ctc-format", "CTCLoss log_probs are not log-probabilities over the classes (dim 2)",
       losses=("ctc_loss",),
       examples=(Example(_HEAD + _CTC_DATA +
                         "loss = ctc(F.log_softmax(rnn_out, dim=1), targets, input_lengths, target_lengths)",
                         expect=("NLH814", "loss = ctc(rnn_out.log_softmax(dim=2), targets, input_lengths, "
                                           "target_lengths)")),
                 Example(_HEAD + _CTC_DATA + "loss = ctc(rnn_out, targets, input_lengths, target_lengths)",
                         expect=("NLH814", "rnn_out.log_softmax(dim=2)")),))
def ctc_not_log_probs(call: LossCall) -> Hint | None:
    """CTCLoss reads log_probs[t, n, c] as log-probabilities of class c: log_softmax must run over dim 2
    of the (T, N, C) tensor. Over dim 1 it normalises across the batch; raw scores are not normalised."""
    name = "log_probs"
    shape = call.shape(name)
    if not shape or len(shape) != 3 or not call.is_float(name):
        return None
    o = call.origin(name)
    expr = call.code(name)
    if o.producer in ("log_softmax", "softmax") and o.dim is not None and o.dim != 2:
        dim_name = {0: "time (dim 0)", 1: "the batch (dim 1)"}.get(o.dim, f"dim {o.dim}")
        what = f"{o.producer} over {dim_name}, not over the {shape[2]} classes"
        why = f"{o.evidence(call.name(name))} with dim={o.dim} (certain)"
        found = unwrap(call.name(name), o.producer) or _assigned(call, name, o)
        inner = found[0] if found else None
    elif o.producer == "softmax":
        what, why = "probabilities, not log-probabilities", f"{o.evidence(call.name(name))} (certain)"
        found = unwrap(call.name(name), "softmax") or _assigned(call, name, o)  # out = F.softmax(...) above
        inner = found[0] if found else None
    elif o.producer in LINEAR:
        what = "raw scores, not log-probabilities"
        why = f"{o.evidence(call.name(name))}, with no log_softmax after it (certain)"
        inner = call.name(name)
    elif o.traced:  # a graph whose producer we do not know: stay quiet
        return None
    else:
        facts = call.values(name, class_dim=-1)
        if facts is None or facts.has_nan or facts.rows_log_simplex:
            return None
        if facts.max > 1e-3:
            what = "raw scores, not log-probabilities"
            why = (f"{expr} has values above 0 (up to {_num(facts.max)}), which log-probabilities never have "
                   f"(certain: read from the values)")
            inner = call.name(name)
        else:
            return None
    if inner is not None:
        new = method_on(inner, ".log_softmax(dim=2)")
    elif o.producer == "softmax" and o.dim in (2, None):  # probabilities over the classes: their log
        new = call.with_method(name, ".clamp_min(1e-8).log()")
    else:
        new = None
    return Hint(
        title=f"{call.loss_label} got {expr} as {what}",
        message=(f"{_cap(why)}. {call.loss_label} wants (T, N, C) log-probabilities normalised over the "
                 f"classes, i.e. log_softmax(dim=2); otherwise the loss does not measure the transcription "
                 f"and training goes nowhere."),
        fix=(call.fix({name: new}) if new else None) or "apply .log_softmax(dim=2) to the (T, N, C) scores",
    )


def _assigned(call: LossCall, name: str, o) -> tuple[str, str | None] | None:
    """``out = F.softmax(scores, dim=2)`` above the call, when grad_fn says that softmax made ``out`` as it is."""
    if o.reshaped or o.reordered or o.producer not in ("softmax", "log_softmax"):
        return None
    return _assigned_activation(call, name, o.producer)


@audit("NLH815", "ctc-format", "CTCLoss is inf: an input is too short for its target (zero_infinity=False)",
       losses=("ctc_loss",), severity="error",
       examples=(Example(_HEAD + "torch.manual_seed(0)\n"
                         "T, N, C = 10, 3, 6\n"
                         "log_probs = torch.randn(T, N, C).log_softmax(2)\n"
                         "targets = torch.randint(1, C, (N, 12))\n"
                         "input_lengths = torch.tensor([10, 10, 6])\n"
                         "target_lengths = torch.tensor([4, 5, 12])\n"
                         "loss = F.ctc_loss(log_probs, targets, input_lengths, target_lengths)",
                         expect=("NLH815", "zero_infinity=True")),))
def ctc_too_short(call: LossCall) -> Hint | None:
    """CTC needs at least one frame per label (two for a repeated label). Shorter inputs have no valid
    alignment: probability 0, loss inf, and NaN gradients that poison the model."""
    if call.result_finite is not False or call.options.get("zero_infinity"):
        return None
    lp = call.values("log_probs", class_dim=-1)
    if lp is not None and (lp.has_nan or lp.has_inf):
        return None  # the non-finite values came in: NLH902 says so
    pairs = _lengths(call)
    short = [(i, a, b) for i, (a, b) in enumerate(pairs) if a < b]
    if short:
        i, a, b = short[0]
        why = (f"sample {i} has {a} input frames for {b} target labels"
               + (f" ({len(short)} samples are too short)" if len(short) > 1 else "") + " (certain)")
    elif pairs:
        why = ("every input is at least as long as its target, so repeated labels (which need a blank "
               "between them) most likely make some too short (likely)")
    else:
        why = "the inputs were finite, so some input is most likely too short for its target (likely)"
    fix = call.set_option("zero_infinity", "True")
    return Hint(
        title=f"{call.loss_label} returned inf: an input is too short for its target",
        message=(f"{_cap(why)}. With no valid alignment the loss is inf and the gradients NaN. Make the "
                 f"model's output longer (less downsampling) or drop such samples; zero_infinity=True "
                 f"zeroes these losses instead."),
        fix=fix or "create the loss with nn.CTCLoss(zero_infinity=True) (and check the lengths)",
    )


def _lengths(call: LossCall) -> list[tuple[int, int]]:
    """(input length, target length) per sample, from at most 4096 samples; [] when unreadable."""
    import torch

    a, b = call.tensor("input_lengths"), call.tensor("target_lengths")
    if not call.read_values:
        return []
    try:
        if isinstance(a, torch.Tensor):
            if a.device.type == "meta":
                return []
            a = a.reshape(-1)[:4096].tolist()
        if isinstance(b, torch.Tensor):
            if b.device.type == "meta":
                return []
            b = b.reshape(-1)[:4096].tolist()
        return [(int(x), int(y)) for x, y in zip(a, b)]
    except Exception:
        return []


RULES = [kl_swapped, kl_swapped_by_grad, kl_input_not_log, kl_log_target, kl_log_target_on_probabilities, kl_mean,
         kl_target_not_distribution,
         ctc_not_log_probs, ctc_too_short]
