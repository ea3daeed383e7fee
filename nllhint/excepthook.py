"""``nllhint.install()``: the same hints for ``python script.py``, through ``sys.excepthook``."""

from __future__ import annotations

import sys

_previous = None


def _hook(etype, value, tb):
    from .watcher import hide_wrapper_frames

    hide_wrapper_frames(tb)  # the loss wrappers of the watch: no extra frame in the traceback
    _previous(etype, value, tb)
    try:
        from .explain import explain
        from .render import render

        findings = explain(value)
        if findings:
            from .distributed import present  # torchrun: one full hint per mistake, labelled with its rank

            color = hasattr(sys.stderr, "isatty") and sys.stderr.isatty()
            caller = sys._getframe().f_back  # torch's rank-labelling hook when it wraps ours, else None
            print("\n" + present(findings, lambda fs: render(fs, color=color, width=100), caller), file=sys.stderr)
    except BaseException as exc:
        print(f"nllhint: could not build a hint ({type(exc).__name__})", file=sys.stderr)


def install() -> None:
    global _previous
    if sys.excepthook is _hook:
        return
    _previous = sys.excepthook
    sys.excepthook = _hook


def uninstall() -> None:
    global _previous
    if sys.excepthook is _hook and _previous is not None:
        sys.excepthook = _previous
        _previous = None
