"""The exception hint in an IPython shell: where it goes in the traceback and how it looks there.

Why ``_showtraceback`` and not ``set_custom_exc``: every traceback IPython shows (cell errors, ``%run``
errors, ``%tb``, other extensions' custom handlers that delegate to ``showtraceback``) passes through
``shell._showtraceback(etype, value, stb)``, after ``sys.last_*`` are set and before ``%pdb`` runs.
Wrapping it on the instance leaves IPython's single custom-exception slot to other extensions, keeps
``%debug``/``%tb``/``%pdb``/``%xmode`` untouched, and puts the hint right under the exception message
and into the kernel's error reply (so headless notebook runners show it too).

rich's traceback (``%load_ext rich`` or ``rich.traceback.install()`` in IPython) replaces
``shell._showtraceback`` with its own renderer, which ignores ``stb`` and keeps no reference to what
was there. So the hook also wraps ``shell.showtraceback`` (the caller of ``_showtraceback``): when the
traceback was drawn by someone who dropped our wrapper, or by rich before us, the hint is printed after
it, as a rich panel when rich drew the traceback. Either load order works, and unloading nllhint leaves
rich's traceback as it was.

Glue layer: imports the engine (``explain``, ``render``), never ``ipython``/``magics``/``losscheck``.
"""

from __future__ import annotations

import os
import shutil
import sys

from .render import is_rich

KERNEL_WIDTH = 100


class HintHook:
    """Owns the wrappers around one shell's tracebacks and what the user set with ``%nllhint``."""

    def __init__(self, shell):
        self.shell = shell
        self.enabled = True
        self.brief = False
        self.last_text: str | None = None  # the last hint, rendered without colour: text only, no tensors
        self._saved: dict = {}  # attribute -> (was set on the instance, previous value)
        self._wrappers: dict = {}
        self._delivered = True

    def install(self) -> None:
        previous_show = self.shell._showtraceback
        previous_caller = self.shell.showtraceback

        def _showtraceback(etype, evalue, stb):
            self._delivered = True
            if is_rich(previous_show):  # rich draws its own traceback from the exception, not from stb
                result = previous_show(etype, evalue, stb)
                self.print_panel(evalue)
                return result
            return previous_show(etype, evalue, list(stb) + self.hint_lines(evalue))

        def showtraceback(*args, **kwargs):
            outer, self._delivered = self._delivered, False
            try:
                return previous_caller(*args, **kwargs)
            finally:
                if not self._delivered and self.enabled:
                    self.print_panel(getattr(sys, "last_value", None))
                self._delivered = outer

        for name, wrapper in (("_showtraceback", _showtraceback), ("showtraceback", showtraceback)):
            self._saved[name] = (name in self.shell.__dict__, self.shell.__dict__.get(name))
            self._wrappers[name] = wrapper
            setattr(self.shell, name, wrapper)

    def uninstall(self) -> None:
        """Restore the shell; a wrapper someone wrapped since stays in their chain but goes quiet."""
        for name, wrapper in self._wrappers.items():
            if self.shell.__dict__.get(name) is wrapper:
                had_own, previous = self._saved[name]
                if had_own:
                    setattr(self.shell, name, previous)
                else:
                    delattr(self.shell, name)
        self.enabled = False

    # --- the hint ---------------------------------------------------------------------------------------
    def hint_lines(self, evalue) -> list[str]:
        """Lines to append under the traceback; never raises, at most one line when nllhint fails."""
        findings = self._findings(evalue)
        if isinstance(findings, str):
            return [findings]
        if not findings:
            return []
        try:
            from .render import render

            self.last_text = render(findings, color=False, width=self.width())
            return ["", render(findings, color=self.color(), width=self.width(), brief=self.brief)]
        except KeyboardInterrupt:
            return ["nllhint: hint interrupted"]
        except BaseException as exc:  # nllhint must never cost the user their traceback
            if os.environ.get("NLLHINT_DEBUG"):
                raise
            return [failure_line(exc)]

    def print_panel(self, evalue) -> None:
        """The hint after a traceback someone else drew (rich): a panel on rich's console, never raises."""
        findings = self._findings(evalue)
        try:
            if isinstance(findings, str):
                print(findings, file=sys.stderr)
                return
            if not findings:
                return
            from rich.console import Console

            from .render import PANEL_WIDTH, panel, render

            self.last_text = render(findings, color=False, width=self.width())
            console = Console(stderr=True)  # where rich's traceback went (in Jupyter: display())
            console.print()
            console.print(panel(findings, width=min(PANEL_WIDTH, console.width), brief=self.brief))
        except BaseException as exc:
            if os.environ.get("NLLHINT_DEBUG"):
                raise
            print(failure_line(exc), file=sys.stderr)

    def _findings(self, evalue):
        """explain(evalue), [] when off or not an exception, or the one failure line as a string."""
        if not self.enabled or not isinstance(evalue, BaseException):
            return []
        try:
            from .explain import explain

            return explain(evalue)
        except KeyboardInterrupt:
            return "nllhint: hint interrupted"
        except BaseException as exc:
            if os.environ.get("NLLHINT_DEBUG"):
                raise
            return failure_line(exc)

    def color(self) -> bool:
        return shell_color(self.shell)

    def width(self) -> int:
        return shell_width(self.shell)


def shell_color(shell) -> bool:
    """Colour like the traceback does: off for IPython's ``nocolor`` and for ``NO_COLOR``."""
    if os.environ.get("NO_COLOR"):
        return False
    scheme = str(getattr(shell, "colors", "nocolor")).lower()
    return scheme != "nocolor"


def shell_width(shell) -> int:
    """100 columns in a kernel (no terminal to ask), else the terminal's width within 40..120."""
    if type(shell).__name__ == "ZMQInteractiveShell":
        return KERNEL_WIDTH
    return max(40, min(shutil.get_terminal_size((KERNEL_WIDTH, 24)).columns, 120))


def failure_line(exc: BaseException) -> str:
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


def add_hook(shell) -> HintHook:
    hook = _HOOKS[id(shell)] = HintHook(shell)
    hook.install()
    return hook


def remove_hook(shell) -> None:
    hook = _HOOKS.pop(id(shell), None)
    if hook is not None:
        hook.uninstall()
