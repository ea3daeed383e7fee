"""nllhint.watch() from Python: the engine behind %%losscheck. No IPython needed."""

import contextlib

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import nllhint
from nllhint.watcher import LOSS_NAMES

ORIGINALS = {name: getattr(F, name) for name in LOSS_NAMES if hasattr(F, name)}


def assert_restored():
    for name, fn in ORIGINALS.items():
        assert getattr(F, name) is fn, name


def _train(watched: bool, steps: int = 40):
    """A small training run touching many losses and code paths (examined calls read values)."""
    torch.manual_seed(123)
    model = nn.Sequential(nn.Linear(10, 32), nn.Dropout(0.2), nn.ReLU(), nn.Linear(32, 4))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    kd = nn.KLDivLoss(reduction="batchmean")
    losses, grads = [], []
    ctx = nllhint.watch() if watched else contextlib.nullcontext()
    with ctx as report:
        for step in range(steps):
            x, y = torch.randn(16, 10), torch.randint(0, 4, (16,))
            optimizer.zero_grad()
            out = model(x)
            loss = (F.cross_entropy(out, y, label_smoothing=0.1)
                    + nn.CrossEntropyLoss()(F.softmax(out, dim=1), y)  # a mistake: examined, values read
                    + kd(F.log_softmax(out, dim=1), F.softmax(torch.randn(16, 4), dim=1))
                    + F.mse_loss(out[:, :1], x[:, :1])
                    + F.binary_cross_entropy_with_logits(out, (torch.rand(16, 4) > 0.5).float()))
            loss.backward()
            grads.append([p.grad.clone() for p in model.parameters()])
            optimizer.step()
            losses.append(loss.detach().clone())
    params = [p.detach().clone() for p in model.parameters()]
    return losses, grads, params, torch.get_rng_state(), report


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # a busy machine makes torch's thread pool thrash; both runs use the same
    yield
    torch.set_num_threads(before)


def test_results_are_bit_identical_with_and_without_the_watch(one_thread):
    plain = _train(False)
    watched = _train(True)
    for a, b in zip(plain[0], watched[0]):
        assert torch.equal(a, b)
    for ga, gb in zip(plain[1], watched[1]):
        assert all(torch.equal(a, b) for a, b in zip(ga, gb))
    assert all(torch.equal(a, b) for a, b in zip(plain[2], watched[2]))
    assert torch.equal(plain[3], watched[3])  # global RNG state untouched by the checks
    report = watched[4]
    assert report.calls == 5 * 40
    assert "NLH804" in {f.code for f in report.findings}
    assert_restored()


def test_report_object_findings_and_text():
    model = nn.Linear(8, 3)
    with nllhint.watch() as report:
        for _ in range(1000):
            loss = F.nll_loss(model(torch.randn(4, 8)), torch.randint(0, 3, (4,)))
    assert report.calls == 1000
    (site,) = report.sites
    assert site.calls == 1000 and site.examined <= 3 + 10  # first 3, then powers of two
    assert site.expression == "F.nll_loss(model(torch.randn(4, 8)), torch.randint(0, 3, (4,)))"
    (finding,) = report.findings
    assert isinstance(finding, nllhint.Finding)
    assert (finding.code, finding.category, finding.severity) == ("NLH801", "input-not-logprob", "warning")
    assert finding.location.startswith("test_losscheck_engine.py:")
    assert finding.fix == "loss = F.nll_loss(model(torch.randn(4, 8)).log_softmax(dim=1), torch.randint(0, 3, (4,)))"
    text = str(report)
    assert text.startswith("nllhint losscheck: 1000 loss calls at 1 site: 1 warning")
    assert "F.nll_loss, 1000 calls" in text
    assert "\x1b[" not in text and "\x1b[" in report.render(color=True)
    assert "1000 loss calls" in repr(report) and bool(report)


def test_clean_block_and_report_while_running():
    with nllhint.watch() as report:
        F.cross_entropy(torch.randn(4, 3), torch.tensor([0, 1, 2, 0]))
        assert report.calls == 1  # live view
        F.cross_entropy(torch.randn(4, 3), torch.tensor([0, 1, 2, 0]))
    assert str(report) == "nllhint losscheck: 2 loss calls at 2 sites, no problems found"
    assert not report and report.findings == []


def test_first_nan_is_found_at_an_unsampled_call():
    model = nn.Linear(4, 3)
    with nllhint.watch() as report:
        for step in range(60):
            x = torch.randn(8, 4)
            if step >= 36:
                x[2, 1] = float("inf")
            loss = F.cross_entropy(model(x), torch.randint(0, 3, (8,)))
    (finding,) = report.findings
    assert finding.code == "NLH902"
    assert "first at call 37" in finding.title and "`model(x)` held Inf" in finding.title


def test_patches_are_restored_after_an_exception_and_leftover_wrappers_pass_through():
    with pytest.raises(IndexError):
        with nllhint.watch() as report:
            captured = F.cross_entropy
            F.cross_entropy(torch.randn(2, 3), torch.tensor([0, 7]))
    assert_restored()
    assert report.sites[0].notes == ("1 call raised an error",)
    assert captured is not F.cross_entropy and captured.__wrapped__ is F.cross_entropy
    value = captured(torch.zeros(2, 3), torch.tensor([0, 1]))  # after the watch: a plain pass-through
    assert torch.allclose(value, torch.tensor(1.0986), atol=1e-4)


def test_nested_watches_record_in_the_innermost_and_restore_once():
    with nllhint.watch() as outer:
        F.mse_loss(torch.ones(2), torch.zeros(2))
        with nllhint.watch() as inner:
            F.mse_loss(torch.ones(2), torch.zeros(2))
        assert getattr(F.mse_loss, "__nllhint_original__", None) is ORIGINALS["mse_loss"]
        F.l1_loss(torch.ones(2), torch.zeros(2))
    assert (outer.calls, inner.calls) == (2, 1)
    assert_restored()


def test_an_audit_that_fails_never_changes_the_result(monkeypatch):
    from nllhint import audit

    def broken(call):
        raise RuntimeError("audit bug")

    first = audit.AUDITS[0]
    monkeypatch.setattr(audit, "AUDITS", [audit.Audit(code="NLH899", category="nan-inf", severity="error",
                                                      summary="broken", losses=frozenset(), check=broken),
                                          *audit.AUDITS])
    monkeypatch.delenv("NLLHINT_DEBUG", raising=False)
    x = torch.randn(4, 3)
    with nllhint.watch() as report:
        loss = F.nll_loss(x, torch.tensor([0, 1, 2, 0]))
    assert torch.equal(loss, F.nll_loss(x, torch.tensor([0, 1, 2, 0])))
    assert [f.code for f in report.findings] == [first.code]


def test_meta_tensors_values_unavailable_no_crash():
    logits = torch.empty(8, 5, device="meta", requires_grad=True)
    target = torch.empty(8, dtype=torch.long, device="meta")
    with nllhint.watch() as report:
        a = F.cross_entropy(logits, target)
        b = F.cross_entropy(F.softmax(logits, dim=1), target)  # grad_fn still tells
        c = F.mse_loss(torch.empty(8, 1, device="meta"), torch.empty(8, device="meta"))
    assert a.device.type == b.device.type == "meta"
    text = str(report)
    assert "values unavailable (meta tensors)" in text
    assert {f.code for f in report.findings} == {"NLH804", "NLH901"}


def test_loss_inside_torch_compile_causes_no_graph_break():
    import torch._dynamo
    from torch._dynamo.utils import counters

    # Process-wide state other tests may have left: dynamo's caches and counters, and whatever F.<loss>
    # is bound to now (compared with itself after the watch, not with the import-time ORIGINALS).
    before = {name: getattr(F, name) for name in ORIGINALS}
    torch._dynamo.reset()
    counters.clear()
    try:
        model = nn.Linear(8, 3)

        @torch.compile(backend="eager", fullgraph=True)  # fullgraph: any graph break would raise
        def step(x, y):
            return F.cross_entropy(model(x), y) + nn.NLLLoss()(model(x).log_softmax(1), y)

        x, y = torch.randn(4, 8), torch.randint(0, 3, (4,))
        expected = step(x, y)  # compiled before the watch
        with nllhint.watch() as report:
            inside = step(x, y)  # recompiled once (dynamo guards on F.cross_entropy), traced straight through
            inside.backward()
        after = step(x, y)
        assert torch.equal(expected, inside) and torch.equal(expected, after)
        assert not counters["graph_break"]
        assert report.calls == 0  # compiled calls are not checked
        assert {name: getattr(F, name) for name in before} == before
    finally:
        torch._dynamo.reset()
        counters.clear()


def test_torchscript_of_a_model_calling_a_loss_during_a_watch():
    class WithLoss(nn.Module):
        def forward(self, x, y):
            return F.cross_entropy(x, y)

    with nllhint.watch():
        scripted = torch.jit.script(WithLoss())
    x, y = torch.randn(3, 4), torch.tensor([0, 1, 2])
    assert torch.equal(scripted(x, y), F.cross_entropy(x, y))


def test_values_off_reads_no_values_but_grad_fn_still_counts():
    logits = torch.randn(8, 5, requires_grad=True)
    y = torch.randint(0, 5, (8,))
    with nllhint.watch(values=False) as report:
        F.cross_entropy(logits.softmax(1), y)
        with torch.no_grad():
            F.cross_entropy(logits.softmax(1), y)
    codes = [(f.code, f.location) for f in report.findings]
    assert len(codes) == 1 and codes[0][0] == "NLH804"


def test_functorch_transforms_pass_through():
    from torch.func import grad, vmap

    w = torch.randn(4, 3)
    xs, ys = torch.randn(5, 2, 4), torch.randint(0, 3, (5, 2))

    def loss_fn(w, x, y):
        return F.cross_entropy(x @ w, y)

    expected = vmap(grad(loss_fn), in_dims=(None, 0, 0))(w, xs, ys)
    with nllhint.watch() as report:
        got = vmap(grad(loss_fn), in_dims=(None, 0, 0))(w, xs, ys)
    assert torch.equal(expected, got)
    assert report.calls == 0  # under torch.func transforms the wrapper calls straight through


def test_importing_nllhint_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, nllhint; nllhint.watch; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_bad_arguments():
    with pytest.raises(ValueError):
        nllhint.watch(min_severity="loud")
    w = nllhint.watch()
    with w:
        pass
    with pytest.raises(RuntimeError):
        w.start()


def test_accelerator_nan_flag_is_queued_and_read_once_at_the_end():
    """The device path (CUDA, MPS, ...) folds isfinite into a flag; exercised here with a CPU tensor."""
    from nllhint.watcher import Watch, _Site

    w = Watch()
    site = _Site(order=0, loss="cross_entropy", label="CrossEntropyLoss", module="CrossEntropyLoss",
                 location="train.py:3", expression="criterion(out, y)")
    w._sites[(0, 0)] = site
    w._running = True
    for value in (1.0, float("nan"), 2.0):
        w._queue(site, torch.tensor(value))
    assert isinstance(site.pending, torch.Tensor) and site.pending.dim() == 0 and site.pending.isnan()
    w._running = False
    w._read_pending()
    w.report._freeze(w._snapshot())
    (finding,) = w.report.findings
    assert finding.code == "NLH902" and "criterion(out, y)" in finding.message
    assert site.pending is None
