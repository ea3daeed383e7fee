"""PyTorch's own error corpus for the losses: every error input its test suite defines.

``torch.testing._internal.common_methods_invocations.op_db`` (``error_inputs_func`` of the
``nn.functional.*loss*``, ``cross_entropy``, ``kl_div``, ``ctc_loss`` and ``one_hot`` OpInfos) and
``common_modules.module_db`` (``module_error_inputs_func`` of the ``nn.*Loss`` ModuleInfos) list the calls
PyTorch's own tests expect to raise. Each is run; ``nllhint.explain`` must not raise on any (not even
with ``NLLHINT_DEBUG=1``, where a failing rule re-raises) and returns catalog categories only. The number
of inputs that got a hint is printed, with a floor so that a regression in coverage shows.

These modules are PyTorch internals (they need ``expecttest``, in the ``test`` extra); if a torch release
moves them the test skips rather than fails.
"""

from __future__ import annotations

from collections import Counter

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
HINTED_FLOOR = 30  # of 78 inputs in torch 2.13 (32 hinted when written)


def _op_inputs():
    for op in cmi.op_db:
        if not op.name.startswith("nn.functional.") or not any(w in op.name for w in LOSS_OP_WORDS):
            continue
        if op.error_inputs_func is None:
            continue
        for i, error in enumerate(op.error_inputs("cpu")):
            si = error.sample_input
            name = f"{op.name}{'.' + op.variant_test_name if op.variant_test_name else ''}[{i}]"
            yield name, error.error_type, (lambda op=op, si=si: op.op(si.input, *si.args, **si.kwargs))


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

            yield f"nn.{cls.__name__}[{i}]", error.error_type, call


def test_torch_error_corpus_gets_safe_hints(request):
    import warnings

    cases = list(_op_inputs()) + list(_module_inputs())
    assert len(cases) >= 60, "torch's loss error corpus shrank: is the filter still right?"
    ran = raised = hinted = 0
    seen: Counter = Counter()
    unexpected = []
    for name, error_type, call in cases:
        ran += 1
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                call()
        except Exception as exc:
            raised += 1
            if not isinstance(exc, error_type):
                unexpected.append((name, type(exc).__name__))
            findings = nllhint.explain(exc)
            check_findings(findings)
            with debug():
                assert [f.code for f in nllhint.explain(exc)] == [f.code for f in findings], name
            hinted += bool(findings)
            for f in findings:
                seen[f.category] += 1
            del exc
    assert not unexpected, f"raised another exception type than torch's tests expect: {unexpected}"
    line = (f"torch error corpus: {ran} inputs run, {raised} raised, {hinted} got a hint "
            f"({', '.join(f'{k} {v}' for k, v in seen.most_common())})")
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line("")
            reporter.write_line(line)
    assert set(seen) <= CATALOG
    assert hinted >= HINTED_FLOOR, line
