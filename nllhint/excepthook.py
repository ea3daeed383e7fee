"""``nllhint.install()``: the same hints for ``python script.py``, through ``sys.excepthook``.

With rich's traceback (``rich.traceback.install()``) the hint is a rich panel under rich's traceback, in
either order: installed after rich, our hook chains rich's; installed before, rich replaces our hook and
calls nothing else, so the hint comes from an atexit callback once the interpreter has shown the
uncaught exception (``sys.last_value``).
"""

from __future__ import annotations

import sys

from .render import is_rich

_previous = None
_hinted: int | None = None  # id() of the exception last hinted (no reference kept)
_watching_exit = False


def _hook(etype, value, tb):
    from .watcher import hide_wrapper_frames

    hide_wrapper_frames(tb)  # the loss wrappers of the watch: no extra frame in the traceback
    _previous(etype, value, tb)
    _hint(value, rich=is_rich(_previous), caller=_caller())


def _caller():
    """The frame that called our hook (torch's rank-labelling hook under torchrun), None from C."""
    try:
        return sys._getframe(2)
    except ValueError:
        return None


def _hint(value, *, rich: bool, caller=None) -> None:
    """Print the hint for ``value`` to stderr: text, or a panel under rich's traceback; never raises."""
    global _hinted
    _hinted = id(value)
    try:
        from .explain import explain
        from .render import panel_text, render

        findings = explain(value)
        if findings:
            from .distributed import emit, present  # torchrun: one full hint per mistake, labelled with its rank

            color = hasattr(sys.stderr, "isatty") and sys.stderr.isatty()
            if rich:
                text = present(findings, lambda fs: panel_text(fs), caller)
            else:
                text = present(findings, lambda fs: render(fs, color=color, width=100), caller)
            emit("\n" + text, sys.stderr)
    except BaseException as exc:
        print(f"nllhint: could not build a hint ({type(exc).__name__})", file=sys.stderr)


def _after_a_foreign_hook() -> None:
    """atexit: an uncaught exception shown by a hook that replaced ours and never called it (rich's)."""
    value = getattr(sys, "last_value", None)
    if _previous is None or sys.excepthook is _hook or not isinstance(value, BaseException) or id(value) == _hinted:
        return
    ipython = sys.modules.get("IPython")
    if ipython is not None and ipython.get_ipython() is not None:
        return  # IPython keeps sys.last_value for cell errors; its hints come from nllhint.shellhook
    _hint(value, rich=is_rich(sys.excepthook))


def install() -> None:
    global _previous, _watching_exit
    if sys.excepthook is _hook:
        return
    _previous = sys.excepthook
    sys.excepthook = _hook
    if not _watching_exit:
        import atexit

        atexit.register(_after_a_foreign_hook)
        _watching_exit = True


def uninstall() -> None:
    global _previous
    if sys.excepthook is _hook and _previous is not None:
        sys.excepthook = _previous
    _previous = None
