"""The loss-contract table matches the installed torch: every loss it ships is there, with its arguments."""

import inspect

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from nllhint import contracts
from nllhint.contracts import CONTRACTS


def _shipped_modules():
    return sorted(n for n in dir(nn) if n.endswith("Loss") and isinstance(getattr(nn, n), type))


def test_every_loss_module_torch_ships_has_a_contract():
    missing = [n for n in _shipped_modules() if contracts.by_module(n) is None]
    assert missing == []


@pytest.mark.parametrize("name", sorted(n for n, c in CONTRACTS.items() if c.functional))
def test_functional_arguments_in_torchs_order(name):
    c = CONTRACTS[name]
    fn = getattr(F, name, None)
    if fn is None:
        pytest.skip(f"torch {torch.__version__} has no F.{name}")
    fn = getattr(fn, "__nllhint_original__", fn)
    positional = [p.name for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    assert positional[: len(c.params)] == list(c.params)
    assert set(c.tensors) <= set(inspect.signature(fn).parameters)


@pytest.mark.parametrize("name", sorted(CONTRACTS))
def test_module_forward_arguments(name):
    c = CONTRACTS[name]
    cls = getattr(nn, c.module, None)
    if cls is None:
        pytest.skip(f"torch {torch.__version__} has no nn.{c.module}")
    forward = [p for p in inspect.signature(cls.forward).parameters if p != "self"]
    assert forward == list(c.forward)


def test_lookup_by_any_spelling():
    assert contracts.contract("F.kl_div") is contracts.contract("KLDivLoss") is CONTRACTS["kl_div"]
    assert contracts.contract("not_a_loss") is None
    assert contracts.module_label("ctc_loss") == "CTCLoss"


@pytest.mark.parametrize("size_average, reduce, expected", [
    (None, None, "mean"), (False, None, "sum"), (True, None, "mean"), (None, False, "none"),
    (False, False, "none"), (True, True, "mean"), (False, True, "sum"),
])
def test_legacy_arguments_mean_what_torch_says(size_average, reduce, expected):
    from torch.nn import _reduction

    assert contracts.legacy_reduction(size_average, reduce) == expected
    assert _reduction.legacy_get_string(size_average, reduce, emit_warning=False) == expected
    options = {"size_average": size_average, "reduce": reduce, "reduction": "mean"}
    assert contracts.effective_reduction(options) == expected


def test_plain_reduction_is_kept():
    assert contracts.effective_reduction({"reduction": "batchmean"}) == "batchmean"
    assert contracts.effective_reduction({}) == "mean"


def test_options_change_the_domains():
    kl = CONTRACTS["kl_div"]
    assert kl.target_domains({"log_target": True}) == (contracts.LOG_PROBS,)
    assert kl.target_domains({"log_target": False}) == (contracts.PROBS,)
    poisson = CONTRACTS["poisson_nll_loss"]
    assert poisson.input_domain({"log_input": True}) == contracts.REAL
    assert poisson.input_domain({"log_input": False}) == contracts.NON_NEGATIVE


def test_silent_broadcast_flag_matches_torch():
    """``broadcasts`` is true exactly for the losses that accept (4, 1) against (4,) without raising."""
    import warnings

    a, b = torch.randn(4, 1), torch.rand(4)
    extra = {"gaussian_nll_loss": (torch.ones(4, 1),)}
    for name, c in CONTRACTS.items():
        if not c.same_shape or not c.functional or len(c.tensors) != 2 + len(extra.get(name, ())):
            continue
        target = b.sign() if contracts.SIGNS in c.targets else b
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                getattr(F, name)(a, target, *extra.get(name, ()), reduction="sum")
                silent = True
            except (RuntimeError, ValueError):
                silent = False
        assert silent == c.broadcasts, name
