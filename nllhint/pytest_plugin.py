"""``pytest -p nllhint``: a failing test whose exception came through a loss carries the hint.

The hook lives in a module without a pytest import, and ``nllhint/__init__`` re-exports it, so that
``-p nllhint`` works and importing nllhint never imports pytest.
"""

from __future__ import annotations


def pytest_exception_interact(node, call, report) -> None:
    """Add an ``nllhint`` section to the failure report (shown under the traceback)."""
    excinfo = getattr(call, "excinfo", None)
    if excinfo is None or not getattr(report, "failed", False):
        return
    try:
        from .explain import explain
        from .render import render

        findings = explain(excinfo.value)
        if findings:
            report.sections.append(("nllhint", render(findings, color=False, width=100)))
    except Exception as exc:  # never turn a test failure into a plugin crash
        report.sections.append(("nllhint", f"nllhint: could not build a hint ({type(exc).__name__})"))
