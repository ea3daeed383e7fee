"""When nllhint itself, or what it reads, goes wrong: the user's traceback stays exactly as it is without
the extension, and nllhint adds its hint or at most one short line.

Covered elsewhere (tests/test_ipython_integration.py): the renderer raising, ``explain`` interrupted by
Ctrl-C, an extension holding the custom-exception slot. Here: a rule that raises (any exception class), a
KeyboardInterrupt deep inside a rule and inside rich, rich failing or missing, an audit that raises under
the watch, a tensor whose ``__repr__``/``__format__``/``__str__`` raise, code without source (``exec`` of
a string, a ``%run`` script deleted before the error is shown), a traceback 1000 frames deep, a
RecursionError through a loss, and ``explain`` called with almost no stack left.
"""

from __future__ import annotations

import re
import sys
import textwrap

import pytest

import nllhint

SETUP = """
import torch, torch.nn as nn
criterion = nn.CrossEntropyLoss()
outputs = torch.randn(8, 5)
labels = torch.tensor([1, 2, 3, 4, 5, 1, 2, 3])
"""
LOSS_LINE = "loss = criterion(outputs, labels)\n"
ERROR_LINE = "IndexError: Target 5 is out of bounds."


def _normalise(text: str) -> str:
    """Cell numbers differ between two runs of a cell, and trailing blank lines between xmodes."""
    text = re.sub(r"In\[\d+\]", "In[N]", text.rstrip())
    return re.sub(r"<ipython-input-\d+-[0-9a-f]+>", "<ipython-input-N>", text)


def _without_hint(out: str) -> str:
    """The output with nllhint's lines (a hint block, or its one line) taken out."""
    lines = out.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("nllhint")), None)
    if start is None:
        return out
    end = start + 1
    while end < len(lines) and (lines[end].startswith("  ") or not lines[end].strip()):
        end += 1  # the hint's indented body
    while start and not lines[start - 1].strip():
        start -= 1  # the blank line(s) before the hint
    return "\n".join(lines[:start] + lines[end:])


def _nllhint_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("nllhint")]


def _run_both(ipython, cell: str, before=None):
    """The cell's output with the extension, then without it (``before()`` runs ahead of each run)."""
    ipython.run(SETUP)
    if before:
        before()
    with_ext = ipython.run(cell)
    ipython.shell.run_line_magic("unload_ext", "nllhint")
    try:
        ipython.run(SETUP)
        if before:
            before()
        without = ipython.run(cell)
    finally:
        ipython.shell.run_line_magic("load_ext", "nllhint")
    return with_ext, without


def _assert_intact(with_ext, without, error_line: str = ERROR_LINE) -> None:
    assert not with_ext.success and not without.success
    assert with_ext.out.splitlines().count(error_line) == 1, with_ext.out
    assert _normalise(_without_hint(with_ext.out)) == _normalise(without.out)
    assert type(with_ext.result.error_in_exec) is type(without.result.error_in_exec)


def _assert_one_short_line(out: str, expected: str | None = None) -> None:
    lines = _nllhint_lines(out)
    assert len(lines) == 1 and len(lines[0]) <= 120, lines
    if expected is not None:
        assert lines[0].startswith(expected), lines


# --- nllhint's own parts failing ------------------------------------------------------------------------------

def _raising_rule(exc_type):
    from nllhint.messages import FAMILIES
    from nllhint.rules import Rule

    def check(ctx):
        raise exc_type("rule exploded")

    return Rule(code="NLH000", category="target-range", severity="error", summary="raises",
                families=tuple(FAMILIES), check=check)


@pytest.mark.parametrize("exc_type", [RuntimeError, RecursionError, MemoryError, AttributeError, ValueError])
def test_a_rule_that_raises_is_skipped_and_the_next_rule_answers(ipython, monkeypatch, exc_type):
    import nllhint.rules

    monkeypatch.setattr(nllhint.rules, "RULES", [_raising_rule(exc_type)] + nllhint.rules.RULES)
    with_ext, without = _run_both(ipython, LOSS_LINE)
    _assert_intact(with_ext, without)
    assert "nllhint NLH101" in with_ext.out
    assert "could not build" not in with_ext.out


def test_a_rule_that_raises_a_base_exception_costs_one_line(ipython, monkeypatch):
    import nllhint.rules

    monkeypatch.setattr(nllhint.rules, "RULES", [_raising_rule(SystemExit)] + nllhint.rules.RULES)
    with_ext, without = _run_both(ipython, LOSS_LINE)
    _assert_intact(with_ext, without)
    _assert_one_short_line(with_ext.out, "nllhint: could not build a hint (SystemExit")


def test_ctrl_c_inside_a_rule_keeps_the_traceback_and_the_next_hint_works(ipython, monkeypatch):
    import nllhint.rules

    monkeypatch.setattr(nllhint.rules, "RULES", [_raising_rule(KeyboardInterrupt)] + nllhint.rules.RULES)
    with_ext, without = _run_both(ipython, LOSS_LINE)
    _assert_intact(with_ext, without)
    _assert_one_short_line(with_ext.out, "nllhint: hint interrupted")
    monkeypatch.undo()
    assert "nllhint NLH101" in ipython.run(LOSS_LINE).out  # nothing left half-done


def _console_print_raises(exc_type):
    def print_(self, *args, **kwargs):
        raise exc_type("console broke")

    return print_


@pytest.mark.parametrize("exc_type,expected", [
    (KeyboardInterrupt, "nllhint: hint interrupted"),
    (UnicodeEncodeError, "nllhint: could not build a hint"),
    (OSError, "nllhint: could not build a hint"),
    (lambda msg: RuntimeError("console broke\n" + "a second line " * 20), "nllhint: could not build a hint"),
], ids=["KeyboardInterrupt", "UnicodeEncodeError", "OSError", "long-multiline-message"])
def test_rich_failing_while_printing_costs_one_line(ipython, monkeypatch, exc_type, expected):
    import rich.console

    if exc_type is UnicodeEncodeError:
        def print_(self, *args, **kwargs):
            raise UnicodeEncodeError("ascii", "\u2192", 0, 1, "ordinal not in range(128)")
    else:
        print_ = _console_print_raises(exc_type)
    monkeypatch.setattr(rich.console.Console, "print", print_)
    with_ext, without = _run_both(ipython, LOSS_LINE)
    _assert_intact(with_ext, without)
    _assert_one_short_line(with_ext.out, expected)


def test_rich_not_importable_costs_one_line(ipython, monkeypatch):
    for name in [n for n in sys.modules if n == "rich" or n.startswith("rich.")]:
        monkeypatch.setitem(sys.modules, name, None)  # as if the install were broken
    with_ext, without = _run_both(ipython, LOSS_LINE)
    _assert_intact(with_ext, without)
    _assert_one_short_line(with_ext.out, "nllhint: could not build a hint (ModuleNotFoundError")


def test_an_audit_that_raises_leaves_the_watched_cell_alone(ipython, monkeypatch):
    import nllhint.audit
    from nllhint.audit import Audit

    def check(call):
        raise RuntimeError("audit exploded")

    broken = Audit(code="NLH899", category="nan-inf", severity="error", summary="raises",
                   losses=frozenset(), check=check)
    monkeypatch.setattr(nllhint.audit, "AUDITS", [broken] + nllhint.audit.AUDITS)
    run = ipython.run("""
        %%losscheck
        import torch, torch.nn as nn
        g = torch.Generator().manual_seed(0)
        value = nn.CrossEntropyLoss()(torch.randn(8, 5, generator=g), torch.tensor([0, 1, 2, 3, 4, 0, 1, 2]))
        value
    """)
    assert run.success, run.out
    import torch

    g = torch.Generator().manual_seed(0)
    expected = torch.nn.CrossEntropyLoss()(torch.randn(8, 5, generator=g), torch.tensor([0, 1, 2, 3, 4, 0, 1, 2]))
    assert torch.equal(ipython.shell.user_ns["value"], expected)
    assert "NLH899" not in run.out and "audit exploded" not in run.out


# --- what nllhint reads going wrong -----------------------------------------------------------------------------

def test_a_tensor_whose_repr_format_and_str_raise(ipython):
    cell = textwrap.dedent("""
        class Loud(torch.Tensor):
            def __repr__(self):
                raise RuntimeError("no repr")
            def __format__(self, spec):
                raise RuntimeError("no format")
            def __str__(self):
                raise RuntimeError("no str")
        x, y = outputs.as_subclass(Loud), labels.as_subclass(Loud)
        loss = criterion(x, y)
    """)
    with_ext, without = _run_both(ipython, cell)
    _assert_intact(with_ext, without)
    assert "nllhint NLH101" in with_ext.out
    assert "loss = criterion(x, y - 1)" in with_ext.out


def test_code_from_exec_of_a_string_has_no_source(ipython):
    with_ext, without = _run_both(ipython, 'exec("loss = criterion(outputs, labels)")\n')
    _assert_intact(with_ext, without)
    assert "nllhint NLH101" in with_ext.out  # from the tensors alone
    assert "could not build" not in with_ext.out


def test_a_run_script_deleted_before_its_error_is_shown(ipython, tmp_path):
    script = tmp_path / "train.py"

    def write():
        script.write_text("import os\nos.remove(__file__)\n" + textwrap.dedent(SETUP) + LOSS_LINE)

    with_ext, without = _run_both(ipython, f"%run {script}", before=write)
    assert not script.exists()
    assert with_ext.out.splitlines().count(ERROR_LINE) == 1
    assert _normalise(_without_hint(with_ext.out)) == _normalise(without.out)
    assert "could not build" not in with_ext.out
    assert "nllhint NLH101" in with_ext.out


def test_a_traceback_1000_frames_deep(ipython):
    cell = textwrap.dedent("""
        def deep(n):
            if n == 0:
                return criterion(outputs, labels)
            return deep(n - 1)
        loss = deep(1000)
    """)
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 5000))
    ipython.run("%xmode Plain")  # IPython's Context mode takes seconds to format 1000 frames
    try:
        with_ext, without = _run_both(ipython, cell)
    finally:
        sys.setrecursionlimit(old)
        ipython.run("%xmode Context")
    _assert_intact(with_ext, without)
    assert "nllhint NLH101" in with_ext.out


def test_a_recursion_error_through_a_loss_module(ipython):
    cell = textwrap.dedent("""
        class SmoothedLoss(nn.CrossEntropyLoss):
            def forward(self, input, target):
                return self(input, target)   # meant super().forward
        loss = SmoothedLoss()(outputs, labels)
    """)
    ipython.run("%xmode Plain")  # faster to format than Context for a thousand frames
    try:
        with_ext, without = _run_both(ipython, cell)
    finally:
        ipython.run("%xmode Context")
    line = [x for x in without.out.splitlines() if x.startswith("RecursionError")][0]
    _assert_intact(with_ext, without, line)
    assert _nllhint_lines(with_ext.out) == []


def test_explain_with_almost_no_stack_left_never_raises():
    """A handler deep in a recursion calling explain: whatever fails inside nllhint returns []."""
    import torch

    try:
        torch.nn.CrossEntropyLoss()(torch.randn(8, 5), torch.tensor([1, 2, 3, 4, 5, 1, 2, 3]))
    except IndexError as exc:
        error = exc
    assert [f.code for f in nllhint.explain(error)] == ["NLH101"]
    escaped = []

    def at(depth):
        if depth > 0:
            return at(depth - 1)
        try:
            return nllhint.explain(error)
        except BaseException as exc:  # noqa: BLE001
            escaped.append(exc)

    old = sys.getrecursionlimit()
    sys.setrecursionlimit(400)
    try:
        for depth in range(200, 400):
            try:
                at(depth)
            except RecursionError:
                pass  # the test's own recursion hit the limit
    finally:
        sys.setrecursionlimit(old)
    inside = [exc for exc in escaped if _raised_inside_nllhint(exc)]
    assert not inside, [f"{type(e).__name__}: {e}" for e in inside]


def _raised_inside_nllhint(exc: BaseException) -> bool:
    import os

    package = os.path.dirname(nllhint.__file__)
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.startswith(package):
            return True
        tb = tb.tb_next
    return False
