"""Wiring into IPython: the hint is appended to the structured traceback, inside the error output.

Why ``_showtraceback`` and not ``set_custom_exc``: every traceback IPython shows (cell errors, ``%run``
errors, ``%tb``, other extensions' custom handlers that delegate to ``showtraceback``) passes through
``shell._showtraceback(etype, value, stb)``, after ``sys.last_*`` are set and before ``%pdb`` runs.
Wrapping it on the instance leaves IPython's single custom-exception slot to other extensions, keeps
``%debug``/``%tb``/``%pdb``/``%xmode`` untouched, and puts the hint right under the exception message
and into the kernel's error reply (so headless notebook runners show it too).
"""

from __future__ import annotations

import os
import shutil

from .finding import Finding

KERNEL_WIDTH = 100


class HintHook:
    """Owns the wrapper around one shell's ``_showtraceback`` and what the user set with ``%nllhint``."""

    def __init__(self, shell):
        self.shell = shell
        self.enabled = True
        self.brief = False
        self.last_text: str | None = None  # the last hint, rendered without colour: text only, no tensors
        self._had_own = "_showtraceback" in shell.__dict__
        self._previous = shell._showtraceback
        self._wrapper = None

    def install(self) -> None:
        def _showtraceback(etype, evalue, stb):
            return self._previous(etype, evalue, list(stb) + self.hint_lines(evalue))

        self._wrapper = _showtraceback
        self.shell._showtraceback = _showtraceback

    def uninstall(self) -> None:
        """Restore the shell; if someone wrapped us since, stay in their chain but go quiet."""
        if self.shell.__dict__.get("_showtraceback") is self._wrapper:
            if self._had_own:
                self.shell._showtraceback = self._previous
            else:
                del self.shell._showtraceback
        self.enabled = False

    # --- the hint ---------------------------------------------------------------------------------------
    def hint_lines(self, evalue) -> list[str]:
        """Lines to append under the traceback; never raises, at most one line when nllhint fails."""
        if not self.enabled or not isinstance(evalue, BaseException):
            return []
        try:
            from .explain import explain
            from .render import render

            findings = explain(evalue)
            if not findings:
                return []
            self.last_text = render(findings, color=False, width=self.width())
            text = render(findings, color=self.color(), width=self.width(), brief=self.brief)
            return ["", text]
        except KeyboardInterrupt:
            return ["nllhint: hint interrupted"]
        except BaseException as exc:  # nllhint must never cost the user their traceback
            if os.environ.get("NLLHINT_DEBUG"):
                raise
            return [_failure_line(exc)]

    def color(self) -> bool:
        """Colour like the traceback does: off for IPython's ``nocolor`` and for ``NO_COLOR``."""
        if os.environ.get("NO_COLOR"):
            return False
        scheme = str(getattr(self.shell, "colors", "nocolor")).lower()
        return scheme != "nocolor"

    def width(self) -> int:
        if type(self.shell).__name__ == "ZMQInteractiveShell":
            return KERNEL_WIDTH
        return max(40, min(shutil.get_terminal_size((KERNEL_WIDTH, 24)).columns, 120))


def _failure_line(exc: BaseException) -> str:
    """One short line, whatever the error: its message on one line, cut; a ``__str__`` that raises too."""
    try:
        detail = " ".join(str(exc).split())
    except Exception:
        detail = ""
    if len(detail) > 60:
        detail = detail[:57] + "..."
    return f"nllhint: could not build a hint ({type(exc).__name__}{': ' + detail if detail else ''})"


_HOOKS: dict[int, HintHook] = {}


def hook_for(shell) -> HintHook | None:
    return _HOOKS.get(id(shell))


def load(shell) -> None:
    import importlib.util

    if id(shell) in _HOOKS:
        return
    if importlib.util.find_spec("torch") is None:  # find_spec does not import torch
        print("nllhint: torch is not installed, so there is nothing to explain; staying quiet.")
        return
    hook = HintHook(shell)
    hook.install()
    _HOOKS[id(shell)] = hook
    from .magics import register

    register(shell)
    from . import losscheck

    losscheck.register(shell)


def unload(shell) -> None:
    hook = _HOOKS.pop(id(shell), None)
    if hook is not None:
        hook.uninstall()
    from .magics import unregister

    unregister(shell)
    from . import losscheck

    losscheck.unregister(shell)


def findings_text(findings: list[Finding]) -> str:
    from .render import render

    return render(findings, color=False, width=KERNEL_WIDTH)
