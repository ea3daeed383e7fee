"""Findings as text: rich markup rendered to ANSI (colour) or plain text, at a given width.

No boxes: the hint sits under a traceback and must survive copy-paste, narrow terminals and the
text/plain of a kernel's error reply.
"""

from __future__ import annotations

import io
import os

from .finding import Finding

SEVERITY_STYLE = {"error": "bold red", "warning": "bold yellow", "info": "bold cyan"}


def render(findings: list[Finding], *, color: bool = False, width: int = 100, brief: bool = False) -> str:
    """Render findings for a terminal or a traceback. ``brief`` keeps title and fix only."""
    from rich.console import Console
    from rich.text import Text

    if os.environ.get("NO_COLOR"):
        color = False
    out = io.StringIO()
    console = Console(file=out, width=max(40, width), force_terminal=color, no_color=not color,
                      color_system="standard" if color else None, force_jupyter=False,
                      force_interactive=False, highlight=False, soft_wrap=False, emoji=False)
    for finding in findings:
        head = Text()
        head.append("nllhint ", style="bold magenta")
        head.append(f"{finding.code} ", style=SEVERITY_STYLE.get(finding.severity, "bold"))
        head.append(f"[{finding.category}] ", style="magenta")
        head.append(finding.title, style="bold")
        _hanging(console, head)
        if not brief:
            _indented(console, finding.message)
            if finding.evidence:
                console.print(Text("  evidence", style="dim"))
                for line in finding.evidence:
                    _indented(console, line, indent=4, style="cyan")
        if finding.fix:
            console.print(Text("  fix", style="dim"))
            for line in finding.fix.splitlines():
                _indented(console, line, indent=4, style="green")
        if finding.location and not brief:
            console.print(Text(f"  at {finding.location} · nllhint rules {finding.code}", style="dim"))
    return "\n".join(line.rstrip() for line in out.getvalue().rstrip("\n").splitlines())


def _hanging(console, text) -> None:
    """Print ``text`` wrapped to the console, continuation lines indented under the first."""
    from rich.text import Text

    for i, line in enumerate(text.wrap(console, console.width - 2)):
        console.print(Text("  ") + line if i else line)


def _indented(console, text: str, indent: int = 2, style: str | None = None) -> None:
    from rich.padding import Padding
    from rich.text import Text

    console.print(Padding(Text(text, style=style or ""), (0, 0, 0, indent)))
