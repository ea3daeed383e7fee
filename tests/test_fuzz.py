"""Property-based fuzzing of every loss nllhint knows: it must never be the thing that breaks a notebook.

For every generated call (``lossgen.calls``: random shapes, dtypes, values, layouts and options, starting
from correct calls of each loss and mutating them):
  * if it raises, ``nllhint.explain(exc)`` does not raise, returns only catalog categories, renders, and
    leaves the exception (type, message, args, traceback) as it was;
  * under ``nllhint.watch()`` the call gives exactly the same result (bit for bit, NaNs included) or the
    same exception (type and message), and the watch's report renders with catalog categories only;
  * neither touches the global RNG or the grad mode;
  * with ``NLLHINT_DEBUG=1`` (a rule or audit that fails inside re-raises) the answers are the same.
Correct calls of every loss (no mutation, N >= 1) get no finding from the watch (hard negatives). A sample
of the failing calls also goes through a real IPython shell: the exception line shows exactly once, and
the hint shows exactly when explain() found one.

torch 2.13 crashes the process on some inputs (1-D expanded CTC targets, CTC target values >= C): the
generator keeps clear of those (see ``lossgen._ctc_safe``); results torch itself does not repeat (empty
batches of the margin losses read uninitialised memory) are counted, not compared.

Profiles: the normal run is fast and derandomized (CI-stable). ``NLLHINT_FUZZ=long`` runs tens of
thousands of random examples (``python benchmarks/fuzz_long.py``); counts are printed at the end.
"""

from __future__ import annotations

import itertools
import linecache
import os
import re
import traceback
import warnings
from collections import Counter
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lossgen
import nllhint
from lossgen import CATALOG
from lossgen import debug as _debug

LONG = os.environ.get("NLLHINT_FUZZ", "").lower() == "long"
_COMMON = dict(deadline=None, database=None, print_blob=True,
               suppress_health_check=list(HealthCheck))
EXAMPLES = int(os.environ.get("NLLHINT_FUZZ_EXAMPLES", 0)) or (20_000 if LONG else 300)
IPYTHON_SAMPLE = 1_000 if LONG else 40
MAIN = settings(max_examples=EXAMPLES, derandomize=not LONG, **_COMMON)
NEGATIVES = settings(max_examples=max(EXAMPLES // 3, 20), derandomize=not LONG, **_COMMON)

CATALOG_MD = Path(__file__).resolve().parents[2] / "shared" / "catalog.md"

COUNTS: Counter = Counter()
SAMPLE: list = []  # failing calls, at most two per (loss, form, exception type, hinted), for the IPython test
SAMPLE_KEYS: Counter = Counter()
CELLS: list = []  # linecache names of the generated cells of the current example
CATEGORIES: Counter = Counter()
_names = itertools.count()


def test_catalog_slugs_are_the_catalogs():
    from nllhint.docs import CATEGORY_WHY

    assert set(CATEGORY_WHY) == CATALOG
    if CATALOG_MD.exists():  # the shared material beside the checkout
        slugs = set(re.findall(r"^\| `([a-z-]+)` \|", CATALOG_MD.read_text(), re.M))
        assert slugs == CATALOG


@pytest.fixture(scope="module", autouse=True)
def _print_counts(request):
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    lines = [f"fuzz ({'long' if LONG else 'fast'} profile): {COUNTS['examples']} examples, {COUNTS['raised']} raised, "
             f"{COUNTS['hinted']} got a hint; under watch(): {COUNTS['watch_findings']} with findings, "
             f"{COUNTS['correct']} correct calls without one, "
             f"{COUNTS['torch_nondeterministic']} results torch itself does not repeat; IPython: "
             f"{COUNTS['ipython']} failing cells, {COUNTS['ipython_hinted']} with a hint",
             "  categories: " + (", ".join(f"{k} {v}" for k, v in CATEGORIES.most_common()) or "-")]
    if reporter is None or capture is None:  # pragma: no cover
        print(*lines, sep="\n")
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line("")
        for line in lines:
            reporter.write_line(line)


# --- running a call -----------------------------------------------------------------------------------------

def _run(call: lossgen.Call, mode: str):
    """(result, exception) of the call, run the given way. A cell's source stays in linecache (as
    IPython's do) until ``_forget``."""
    name = f"<fuzz-cell-{next(_names)}>"
    CELLS.append(name)
    try:
        if mode == "direct":
            return call.run_direct(), None
        return call.run_source(name, register=(mode == "source")), None
    except Exception as exc:
        return None, exc


def _forget() -> None:
    while CELLS:
        linecache.cache.pop(CELLS.pop(), None)


def _tb_len(exc: BaseException) -> int:
    n, tb = 0, exc.__traceback__
    while tb is not None:
        n, tb = n + 1, tb.tb_next
    return n


def _same_result(a, b) -> None:
    assert type(a) is type(b)
    if not isinstance(a, torch.Tensor):
        assert a == b or (a != a and b != b)
        return
    assert (a.shape, a.dtype, a.device, a.requires_grad) == (b.shape, b.dtype, b.device, b.requires_grad)
    assert type(a.grad_fn).__name__ == type(b.grad_fn).__name__
    if a.device.type == "meta":
        return
    with torch.no_grad(), torch._C.DisableTorchFunctionSubclass():
        a, b = a.detach(), b.detach()
        same = a == b
        if a.is_floating_point() or a.is_complex():
            same |= a.isnan() & b.isnan()
        assert bool(same.all()), f"{a} != {b}"


def _torch_unstable(call, mode, result) -> bool:
    """Does torch itself give this call different results? Some 2.13 CPU kernels return uninitialised
    memory for an empty batch (multi_margin_loss, multilabel_margin_loss with reduction='mean'): the
    value then depends on what the allocator handed out, which any extra work (a watch) changes."""
    empty = any(isinstance(v, lossgen.T) and 0 in v.shape for v in {**call.args, **call.kwargs}.values())
    return empty or any(_differs(result, _run(call, mode)[0]) for _ in range(3))


def _differs(a, b) -> bool:
    try:
        _same_result(a, b)
    except AssertionError:
        return True
    return False


def _check_findings(findings) -> None:
    lossgen.check_findings(findings)
    CATEGORIES.update(f.category for f in findings)


def _state():
    return torch.get_rng_state(), torch.is_grad_enabled(), torch.is_inference_mode_enabled(), \
        torch.is_anomaly_enabled(), torch.get_default_dtype()


def _same_state(before, after) -> None:
    assert torch.equal(before[0], after[0]), "global RNG state changed"
    assert before[1:] == after[1:]


# --- the properties -------------------------------------------------------------------------------------------

@MAIN
@given(call=lossgen.calls(), mode=st.sampled_from(("direct", "direct", "source", "nosource")))
def test_explain_and_watch_never_break_a_loss_call(call, mode):
    COUNTS["examples"] += 1
    state = _state()
    result, exc = _run(call, mode)
    if exc is not None:
        COUNTS["raised"] += 1
        before = (type(exc), str(exc), exc.args, _tb_len(exc), exc.__cause__, exc.__context__)
        findings = nllhint.explain(exc)
        _check_findings(findings)
        COUNTS["hinted"] += bool(findings)
        with _debug():  # stricter: a rule that fails inside is a bug even though explain() hides it
            assert [f.code for f in nllhint.explain(exc)] == [f.code for f in findings]
        key = (call.loss, call.form, type(exc).__name__, bool(findings))
        if SAMPLE_KEYS[key] < 2 and len(SAMPLE) < IPYTHON_SAMPLE:  # for the IPython test below
            SAMPLE_KEYS[key] += 1
            SAMPLE.append(call)
        assert (type(exc), str(exc), exc.args, _tb_len(exc), exc.__cause__, exc.__context__) == before
        _same_state(state, _state())

    with _debug(), nllhint.watch() as report:  # an audit that fails inside would raise from the call
        watched, watched_exc = _run(call, mode)
    COUNTS["watched"] += 1
    _same_state(state, _state())
    if exc is None:
        assert watched_exc is None, f"raised only under the watch: {watched_exc!r}"
        try:
            _same_result(result, watched)
        except AssertionError:
            if not _torch_unstable(call, mode, result):
                raise
            COUNTS["torch_nondeterministic"] += 1
    else:
        assert watched_exc is not None, "raised only without the watch"
        assert (type(watched_exc), str(watched_exc)) == (type(exc), str(exc))
    text = str(report)
    assert text.startswith("nllhint losscheck:")
    _check_findings(report.findings)
    COUNTS["watch_findings"] += bool(report.findings)
    _forget()


@NEGATIVES
@given(call=lossgen.correct_calls(), mode=st.sampled_from(("direct", "source")))
def test_correct_calls_get_no_finding_and_the_same_result(call, mode):
    """Hard negatives: every loss called as its documentation wants (random sizes, N >= 1) raises nothing
    and the watch finds nothing in it."""
    COUNTS["correct"] += 1
    result, exc = _run(call, mode)
    assert exc is None, exc
    with _debug(), nllhint.watch() as report:
        watched, watched_exc = _run(call, mode)
    assert watched_exc is None
    _same_result(result, watched)
    assert report.findings == [], str(report)
    _forget()


def test_the_fuzzer_reaches_errors_and_hints():
    """Runs after the property (file order): the generator must keep producing failures and hints."""
    if not COUNTS["examples"]:
        pytest.skip("the property did not run")
    assert COUNTS["raised"] >= COUNTS["examples"] // 5
    assert COUNTS["hinted"] >= COUNTS["raised"] // 10


def _exception_line(exc: BaseException) -> str:
    return traceback.format_exception_only(type(exc), exc)[0].rstrip("\n")


def test_failing_calls_show_their_exception_once_in_ipython(ipython):
    """The failing calls sampled by the property above (file order), as cells in a real shell."""
    if not SAMPLE:
        pytest.skip("the property did not run")
    shell = ipython.shell
    warnings.simplefilter("ignore")  # the cells' own UserWarnings (pytest restores the filters)
    for call in SAMPLE:
        _, exc = _run(call, "source")
        assert exc is not None
        COUNTS["ipython"] += 1
        findings = nllhint.explain(exc)
        line = _exception_line(exc)
        del exc
        _forget()
        text, ns = call.source()
        shell.user_ns.update(ns)
        run = ipython.run(text)
        for name in ns:
            if name not in ("torch", "nn", "F"):
                shell.user_ns.pop(name, None)
        assert not run.success
        lines = run.out.splitlines()
        assert lines.count(line) == 1, (call.describe(), run.out)
        assert "could not build a hint" not in run.out, (call.describe(), run.out)
        hinted = any(x.startswith("nllhint NLH") for x in lines)
        COUNTS["ipython_hinted"] += hinted
        assert hinted == bool(findings), (call.describe(), run.out)
    shell.run_cell("pass")  # let go of the last error's frames
