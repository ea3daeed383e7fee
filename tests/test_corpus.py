"""PyTorch's own error corpus for the losses: every loss error input its test suite defines.

``torch.testing._internal.common_methods_invocations``: the ``error_inputs`` of the loss OpInfos in
``op_db`` (``nn.functional.*loss*``, ``cross_entropy``, ``kl_div``, ``ctc_loss``, ``one_hot``) and of their
``torch._refs`` twins in ``python_ref_db`` (the same checks, raised from ``torch/_refs``);
``common_modules.module_db``: the ``module_error_inputs`` of the ``nn.*Loss`` ModuleInfos. PyTorch's own test
files (``test/test_nn.py``) are not shipped in the wheel; when a torch build has them beside the package,
nothing here reads them.

Each input is run; ``nllhint.explain`` must not raise, not even with ``NLLHINT_DEBUG=1`` (where a failing rule
re-raises), and at least 90 % of the raised errors must get a hint whose category is right for the error
(``EXPECTED`` below, written from the messages and ``shared/torch-messages.md``'s mapping of root causes to
catalog categories, independently of nllhint's own message families). A table of the misses by loss is
printed with the counts per loss.

These modules are PyTorch internals (they need ``expecttest``, in the ``test`` extra); if a torch release
moves them the test skips rather than fails.
"""

from __future__ import annotations

import re
import warnings
from collections import defaultdict

import pytest
import torch

import nllhint

pytest.importorskip("expecttest")
try:
    from torch.testing._internal import common_methods_invocations as cmi
    from torch.testing._internal import common_modules as cm
except Exception as exc:  # pragma: no cover - a torch release that moved its test internals
    pytest.skip(f"torch's test corpus is not importable: {exc}", allow_module_level=True)

from lossgen import CATALOG, check_findings, debug  # noqa: E402  (shared checks)

LOSS_OP_WORDS = ("loss", "cross_entropy", "kl_div", "ctc", "one_hot")
MIN_RIGHT = 0.90

# The right categories for an error, by its message: the first pattern that matches decides.
EXPECTED: list[tuple[str, frozenset]] = [(p, frozenset(c)) for p, c in (
    (r"is not a valid value for reduction|is not valid$|Invalid reduction", {"bad-option"}),
    (r"must be greater than 0|only p == 1|non-positive values for delta|negative values for beta|"
     r"label_smoothing|cutoffs should|blank must be|must be a float or int", {"bad-option"}),
    (r"var has negative", {"bad-option"}),
    (r"var is of incorrect size", {"shape-mismatch"}),
    (r"linear_weight|linear_bias|K-dimensional|input with dimensionality|mat1 and mat2", {"shape-mismatch"}),
    (r"The size of tensor a \(\d+\) must match", {"shape-mismatch", "batch-mismatch", "weight-size"}),
    (r"same number of dimensions|should have same dimension", {"shape-mismatch", "target-shape", "batch-mismatch"}),
    (r"target tensor expects|multi-target not supported", {"target-shape", "shape-mismatch"}),
    (r"target tensor should be 1-D|inconsistent target size", {"target-shape", "batch-mismatch"}),
    (r"weight must be one-dimensional|weight to be None or 1D|inconsistent weight size|weight tensor should be|"
     r"expected weight shape", {"weight-size"}),
    (r"expected scalar type (?:Float|Double|Half|BFloat16) but found", {"weight-size", "input-dtype"}),
    (r"expected scalar type Long but found|expected target dtype", {"target-dtype", "wrong-loss"}),
    (r"Expected floating point type for target with class probabilities", {"target-shape", "target-dtype",
                                                                           "wrong-loss"}),
    (r"ignore_index", {"target-shape", "bad-option"}),
    (r"Expected non-empty|must not be empty", {"empty-input"}),
    (r"batch_size|batch size|same size in the batch", {"batch-mismatch", "target-shape", "shape-mismatch"}),
    (r"Expected target size|size mismatch", {"class-dim", "shape-mismatch", "target-shape", "batch-mismatch"}),
    (r"out of bounds|out of range|Target values should be", {"target-range"}),
    (r"Integral inputs|Complex inputs|not implemented for", {"input-dtype", "kl-format", "target-dtype"}),
    (r"1 or more dimensions", {"shape-mismatch"}),
)]


def expected_categories(message: str) -> frozenset | None:
    for pattern, categories in EXPECTED:
        if re.search(pattern, message):
            return categories
    return None


def _op_inputs():
    dbs = (("op_db", cmi.op_db), ("python_ref_db", getattr(cmi, "python_ref_db", [])))
    for db_name, db in dbs:
        for op in db:
            name = op.name.removeprefix("_refs.")
            if not name.startswith("nn.functional.") or not any(w in name for w in LOSS_OP_WORDS):
                continue
            if op.error_inputs_func is None:
                continue
            loss = name.removeprefix("nn.functional.")
            for i, error in enumerate(op.error_inputs("cpu")):
                si = error.sample_input
                variant = f".{op.variant_test_name}" if op.variant_test_name else ""
                tag = "_refs." if db_name == "python_ref_db" else "F."
                yield (f"{tag}{loss}", f"{db_name}:{op.name}{variant}[{i}]", error.error_type,
                       (lambda op=op, si=si: op.op(si.input, *si.args, **si.kwargs)))


def _module_inputs():
    for info in cm.module_db:
        cls = info.module_cls
        if not cls.__name__.endswith("Loss") or info.module_error_inputs_func is None:
            continue
        errors = info.module_error_inputs_func(info, device="cpu", dtype=torch.float32, requires_grad=False,
                                               training=True)
        for i, error in enumerate(errors):
            case = error.module_error_input
            ctor, fwd = case.constructor_input, case.forward_input

            def call(cls=cls, ctor=ctor, fwd=fwd, construct_only=error.error_on == cm.ModuleErrorEnum.CONSTRUCTION_ERROR):
                module = cls(*ctor.args, **ctor.kwargs)
                if not construct_only:
                    return module(*fwd.args, **fwd.kwargs)

            yield f"nn.{cls.__name__}", f"module_db:{cls.__name__}[{i}]", error.error_type, call


def _run(cases):
    """Per loss: raised, hinted, right category; and the misses (name, message, what nllhint said)."""
    counts = defaultdict(lambda: [0, 0, 0])
    misses, crashes, unexpected = [], [], []
    for loss, name, error_type, call in cases:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                call()
        except Exception as exc:
            if not isinstance(exc, error_type):
                unexpected.append((name, type(exc).__name__))
            try:
                findings = nllhint.explain(exc)
                check_findings(findings)
                with debug():
                    assert [f.code for f in nllhint.explain(exc)] == [f.code for f in findings], name
            except Exception as problem:  # noqa: BLE001 - counted and reported, the test then fails
                crashes.append((name, repr(problem)[:200]))
                findings = []
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            wanted = expected_categories(message)
            row = counts[loss]
            row[0] += 1
            row[1] += bool(findings)
            right = bool(findings) and wanted is not None and findings[0].category in wanted
            row[2] += right
            if not right:
                said = f"{findings[0].code} {findings[0].category}" if findings else "no hint"
                misses.append((loss, name, message[:90], said))
            del exc
    return counts, misses, crashes, unexpected


def _table(counts, misses) -> list[str]:
    lines = [f"{'loss':42} {'raised':>6} {'hinted':>6} {'right':>6}"]
    for loss in sorted(counts):
        raised, hinted, right = counts[loss]
        lines.append(f"{loss:42} {raised:6} {hinted:6} {right:6}")
    total = [sum(c[i] for c in counts.values()) for i in range(3)]
    lines.append(f"{'all':42} {total[0]:6} {total[1]:6} {total[2]:6}  ({total[2] / max(total[0], 1):.0%} right)")
    if misses:
        lines.append("misses by loss:")
        for loss, name, message, said in sorted(misses):
            lines.append(f"  {loss:34} {name:46} {said:24} {message}")
    return lines


def test_torch_error_corpus_gets_right_hints(request):
    cases = list(_op_inputs()) + list(_module_inputs())
    assert len(cases) >= 90, "torch's loss error corpus shrank: is the filter still right?"
    counts, misses, crashes, unexpected = _run(cases)
    lines = _table(counts, misses)
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line("")
            for line in ["torch loss error corpus:", *lines]:
                reporter.write_line(line)
    assert not crashes, f"the hint path crashed: {crashes}"
    assert not unexpected, f"raised another exception type than torch's tests expect: {unexpected}"
    raised = sum(c[0] for c in counts.values())
    right = sum(c[2] for c in counts.values())
    assert right >= MIN_RIGHT * raised, "\n".join(lines)


def test_every_corpus_message_has_an_expected_category():
    """The category table covers every message the corpus raises, so a new torch wording shows up here."""
    unknown = []
    for _, name, _, call in list(_op_inputs()) + list(_module_inputs()):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                call()
        except Exception as exc:
            message = str(exc).splitlines()[0] if str(exc) else ""
            if expected_categories(message) is None:
                unknown.append((name, message[:100]))
    assert not unknown, unknown


def test_expected_categories_are_catalog_slugs():
    assert set().union(*(c for _, c in EXPECTED)) <= CATALOG
