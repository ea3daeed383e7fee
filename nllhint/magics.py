"""``%nllhint``: switch hints on and off, choose brief or full, show the last hint or the rule list.

Glue layer: uses ``shellhook`` (the hook it controls) and the engine; ``ipython`` registers it.
"""

from __future__ import annotations

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class

from .codes import rules_table
from .shellhook import hook_for

USAGE = "usage: %nllhint [on | off | brief | full | last | rules]"


@magics_class
class NllhintMagics(Magics):
    @line_magic
    def nllhint(self, line: str = "") -> None:
        """Control nllhint's exception hints.

        %nllhint on      show hints under loss errors (the default after %load_ext nllhint)
        %nllhint off     stop showing them
        %nllhint brief   title and fix only
        %nllhint full    title, explanation, evidence and fix
        %nllhint last    show the last hint again
        %nllhint rules   the rule codes with one line each
        """
        hook = hook_for(self.shell)
        words = line.split()
        if len(words) > 1 or (words and words[0] not in ("on", "off", "brief", "full", "last", "rules")):
            raise UsageError(USAGE)
        action = words[0] if words else "on"
        if action == "rules":
            print(rules_table())
            return
        if hook is None:
            raise UsageError("nllhint is not active in this shell (is torch installed?)")
        if action in ("on", "off"):
            hook.enabled = action == "on"
            print(f"nllhint: hints {action}")
        elif action in ("brief", "full"):
            hook.brief = action == "brief"
            print(f"nllhint: {action} hints")
        elif action == "last":
            print(hook.last_text or "nllhint: no hint yet in this session")


def register(shell) -> None:
    shell.register_magics(NllhintMagics)


def unregister(shell) -> None:
    """Magics stay registered after %unload_ext unless removed by hand."""
    magics = shell.magics_manager.magics
    for kind, names in (("line", ("nllhint",)),):
        for name in names:
            magics[kind].pop(name, None)
    shell.magics_manager.registry.pop("NllhintMagics", None)
