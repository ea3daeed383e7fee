"""Findings as text: rich markup rendered to ANSI (colour) or plain text, at a given width.

No boxes under IPython's own traceback: the hint sits under it and must survive copy-paste, narrow
terminals and the text/plain of a kernel's error reply. Under rich's traceback (``%load_ext rich``,
``rich.traceback.install()``) the same lines go in a panel (``panel``), so the hint matches the boxed
traceback above it.
"""

from __future__ import annotations

import io
import os

from .finding import Finding

SEVERITY_STYLE = {"error": "bold red", "warning": "bold yellow", "info": "bold cyan"}
PANEL_WIDTH = 100  # rich.traceback.install()'s default width: the panel lines up with the traceback


def render(findings: list[Finding], *, color: bool = False, width: int = 100, brief: bool = False) -> str:
    """Render findings for a terminal or a traceback. ``brief`` keeps title and fix only."""
    if os.environ.get("NO_COLOR"):
        color = False
    out = io.StringIO()
    console = _console(out, width=max(40, width), color=color)
    for line in _lines(findings, console.width, brief=brief):
        console.print(line)
    return "\n".join(line.rstrip() for line in out.getvalue().rstrip("\n").splitlines())


def panel(findings: list[Finding], *, width: int = PANEL_WIDTH, brief: bool = False):
    """The findings as one rich ``Panel`` (a renderable for a rich ``Console``), titled like the hint."""
    from rich.console import Group
    from rich.panel import Panel

    worst = min(findings, key=lambda f: ("error", "warning", "info").index(f.severity)).severity
    border = SEVERITY_STYLE.get(worst, "bold").replace("bold ", "")
    return Panel(Group(*_lines(findings, width - 4, brief=brief)), title="[bold magenta]nllhint[/]",
                 title_align="left", border_style=border, width=width, expand=True)


def panel_text(findings: list[Finding], *, brief: bool = False) -> str:
    """The panel as a console on stderr prints it (colour when stderr is a terminal), as text: for
    ``sys.excepthook`` under ``rich.traceback.install()``, whose traceback goes to the same place."""
    from rich.console import Console

    console = Console(stderr=True, force_jupyter=False)
    with console.capture() as captured:
        console.print(panel(findings, width=min(PANEL_WIDTH, console.width), brief=brief))
    return captured.get().rstrip("\n")


def _console(file, *, width: int, color: bool):
    from rich.console import Console

    return Console(file=file, width=width, force_terminal=color, no_color=not color,
                   color_system="standard" if color else None, force_jupyter=False,
                   force_interactive=False, highlight=False, soft_wrap=False, emoji=False)


def _lines(findings: list[Finding], width: int, *, brief: bool) -> list:
    """The hint as rich renderables, one per printed line or block, wrapped for ``width`` columns."""
    from rich.text import Text

    out: list = []
    for finding in findings:
        head = Text()
        head.append("nllhint ", style="bold magenta")
        head.append(f"{finding.code} ", style=SEVERITY_STYLE.get(finding.severity, "bold"))
        head.append(f"[{finding.category}] ", style="magenta")
        head.append(finding.title, style="bold")
        out += _hanging(head, width)
        if not brief:
            out.append(_indented(finding.message))
            if finding.evidence:
                out.append(Text("  evidence", style="dim"))
                out += [_indented(line, indent=4, style="cyan") for line in finding.evidence]
        if finding.fix:
            out.append(Text("  fix", style="dim"))
            out += [_indented(line, indent=4, style="green") for line in finding.fix.splitlines()]
        if finding.location and not brief:
            out.append(Text(f"  at {finding.location} · nllhint rules {finding.code}", style="dim"))
    return out


def _hanging(text, width: int) -> list:
    """``text`` wrapped to ``width``, continuation lines indented under the first."""
    from rich.console import Console
    from rich.text import Text

    measure = Console(file=io.StringIO(), width=width, force_jupyter=False, color_system=None)
    return [Text("  ") + line if i else line for i, line in enumerate(text.wrap(measure, width - 2))]


def _indented(text: str, indent: int = 2, style: str | None = None):
    from rich.padding import Padding
    from rich.text import Text

    return Padding(Text(text, style=style or ""), (0, 0, 0, indent))


def is_rich(function) -> bool:
    """Whether a traceback hook or renderer is rich's (``rich.traceback.install``): the hint then goes
    under it as a panel."""
    return str(getattr(function, "__module__", "") or "").startswith("rich.")
