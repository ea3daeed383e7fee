"""The stable Python API: explain(), Finding, install()/uninstall(), watch()."""

import subprocess
import sys

import pytest
import torch
import torch.nn as nn

import nllhint
from nllhint import Finding

CATALOG = {"target-shape", "target-dtype", "target-range", "batch-mismatch", "class-dim", "input-not-logprob",
           "double-softmax", "unstable-log", "bce-range", "double-sigmoid", "shape-mismatch", "weight-size",
           "nan-inf", "device-mismatch", "input-dtype", "backward-nonscalar", "no-grad", "kl-format",
           "ctc-format", "bad-option", "empty-input", "wrong-loss"}


def _raise(fn):
    try:
        fn()
    except BaseException as exc:  # noqa: BLE001 - what a user would catch
        return exc
    raise AssertionError("expected an exception")


def test_explain_a_caught_loss_error_is_pure_and_returns_findings(capsys):
    exc = _raise(lambda: nn.NLLLoss()(torch.randn(4, 3).log_softmax(1), torch.tensor([1, 2, 3, 1])))
    findings = nllhint.explain(exc)
    assert capsys.readouterr() == ("", "")
    assert len(findings) == 1
    f = findings[0]
    assert isinstance(f, Finding)
    assert f.code == "NLH101" and f.category == "target-range" and f.severity == "error"
    assert f.title and f.message and f.fix
    assert f.category in CATALOG


@pytest.mark.parametrize("make", [
    lambda: 1 / 0,
    lambda: torch.randn(2, 3) @ torch.randn(2, 3),
    lambda: {}["missing"],
    lambda: nn.Linear(3, 2)(torch.randn(4, 5)),
])
def test_explain_returns_nothing_for_errors_that_did_not_come_through_a_loss(make):
    assert nllhint.explain(_raise(make)) == []


def test_explain_follows_a_training_helper_that_reraises():
    def train_step():
        try:
            nn.CrossEntropyLoss()(torch.randn(4, 3), torch.tensor([1, 2, 3, 1]))
        except IndexError as exc:
            raise RuntimeError("training step failed") from exc

    findings = nllhint.explain(_raise(train_step))
    assert [f.code for f in findings] == ["NLH101"]


def test_every_rule_and_audit_uses_a_catalog_category():
    from nllhint.audit import AUDITS
    from nllhint.rules import RULES

    assert {r.category for r in [*RULES, *AUDITS]} <= CATALOG


def test_finding_rejects_an_unknown_severity():
    with pytest.raises(ValueError):
        Finding(code="NLH000", category="nan-inf", severity="fatal", title="t", message="m")


def test_importing_nllhint_does_not_import_torch():
    code = "import sys, nllhint; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout
    assert out.strip() == "False"
