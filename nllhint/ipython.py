"""``%load_ext nllhint``: wires the exception hint, ``%nllhint`` and ``%%losscheck`` into a shell.

The glue flows one way: this module uses ``shellhook`` (the traceback wrapper), ``magics`` and
``losscheck``; those use ``shellhook``, ``ipycompat`` and the engine (``explain``, ``render``,
``watcher``); nothing below imports what is above it, and the engine imports no glue.
"""

from __future__ import annotations

from . import shellhook
from .finding import Finding
from .shellhook import KERNEL_WIDTH, HintHook, hook_for  # noqa: F401  (the shell's hook, for callers)


def load(shell) -> None:
    import importlib.util

    if hook_for(shell) is not None:
        return
    if importlib.util.find_spec("torch") is None:  # find_spec does not import torch
        print("nllhint: torch is not installed, so there is nothing to explain; staying quiet.")
        return
    shellhook.add_hook(shell)
    from . import losscheck, magics

    magics.register(shell)
    losscheck.register(shell)
    from . import default_watch

    default_watch.load(shell)  # the light watch, or the configured default (NLLHINT_DEFAULT)


def unload(shell) -> None:
    shellhook.remove_hook(shell)
    from . import default_watch, losscheck, magics

    default_watch.unload(shell)

    magics.unregister(shell)
    losscheck.unregister(shell)


def findings_text(findings: list[Finding]) -> str:
    from .render import render

    return render(findings, color=False, width=KERNEL_WIDTH)
