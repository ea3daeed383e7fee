"""Notices of the default (light) watch: a finding in three short lines, as text, ANSI or an HTML block.

    nllhint: warning NLH801  NLLLoss got raw scores: `logits` is not log-probabilities
      fix: loss = nn.NLLLoss()(logits.log_softmax(dim=1), labels)
      at cell [3], line 5 · put %%losscheck at the top of the cell for the full report

Only findings the audits are sure of become notices: errors and warnings whose message says
"(certain" or "(likely", and NaN/Inf losses. "Looks like" guesses stay in ``%%losscheck``'s report.
In a Jupyter-family frontend the notice (and the ``%%losscheck`` report) is an HTML block styled as a
warning, so it stands apart from the cell's own prints; a terminal gets plain text (colour unless
``NO_COLOR``).
"""

from __future__ import annotations

import html
import io
import keyword
import linecache
import os
import re
import textwrap
import tokenize
from dataclasses import dataclass

from .finding import Finding

SURE = re.compile(r"\((certain|likely)\b")
NOTICE_SEVERITIES = ("error", "warning")
FULL_REPORT = "put %%losscheck at the top of the cell for the full report"
SCRIPT_REPORT = "nllhint run --check gives the full report"
# Severity colours: (border and label, block background), readable on light and dark themes alike.
HTML_COLOURS = {"error": ("#c62828", "#fdecea"), "warning": ("#b26a00", "#fff4e0")}
ANSI_STYLE = {"error": "bold red", "warning": "bold yellow"}


@dataclass(frozen=True)
class Notice:
    """What one notice says (strings only)."""

    code: str
    severity: str
    title: str
    fix: str | None
    location: str | None

    @property
    def key(self) -> tuple:
        return (self.location, self.code)


def is_sure(finding: Finding) -> bool:
    """Worth a notice in the default mode: an error or warning that is certain or likely."""
    if finding.severity not in NOTICE_SEVERITIES:
        return False
    return finding.category == "nan-inf" or bool(SURE.search(finding.message))


def notice_for(finding: Finding, filename: str | None = None) -> Notice:
    return Notice(code=finding.code, severity=finding.severity, title=finding.title,
                  fix=short_fix(finding.fix, filename), location=finding.location)


MAX_FIX_LINES = 3


def short_fix(fix: str | None, filename: str | None) -> str | None:
    """The report's fix, short: each statement on one line (a call the user spread over lines is joined,
    so the notice shows the whole corrected statement); of several statements, those the source file
    does not already hold (at most ``MAX_FIX_LINES``)."""
    if not fix:
        return None
    statements = logical_lines(fix)
    if not statements:
        return None
    if len(statements) > 1 and filename:
        source = "".join(linecache.getlines(filename)[:20_000])
        known = {line.strip() for line in logical_lines(source) + source.splitlines()}
        statements = [s for s in statements if s.strip() not in known] or statements
    if len(statements) > MAX_FIX_LINES:
        statements = statements[: MAX_FIX_LINES - 1] + ["..."]
    return textwrap.dedent("\n".join(statements)).strip("\n")


def logical_lines(text: str) -> list[str]:
    """Python's logical lines of ``text``, each on one line: a statement continued inside brackets (or
    after a backslash) is joined with single spaces, comments inside it dropped (one at its end kept).
    Each keeps its first line's indentation. Text that does not tokenize (prose) gives its non-empty
    lines."""
    lines = text.splitlines()
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return [line.rstrip() for line in lines if line.strip()]
    out, first, cuts, code = [], None, {}, False
    openers, prev = [], None
    for tok in tokens:
        if tok.type in (tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER):
            continue
        if tok.type == tokenize.COMMENT:
            cuts[tok.start[0]] = min(tok.start[1], cuts.get(tok.start[0], tok.start[1]))
        elif tok.type not in (tokenize.NL, tokenize.NEWLINE):
            code = True
            if tok.string in ("(", "[", "{"):
                openers.append(_drops_trailing_comma(tok.string, prev))
            elif tok.string in (")", "]", "}") and openers:
                if openers.pop() and prev is not None and prev.string == "," and prev.start[0] < tok.start[0]:
                    cuts[prev.start[0]] = prev.start[1]  # black's trailing comma, not needed on one line
            prev = tok
        if first is None and tok.type not in (tokenize.NL, tokenize.NEWLINE):
            first = tok.start[0]
        if tok.type == tokenize.NEWLINE or (tok.type == tokenize.NL and first is not None and not code):
            out.append(_join(lines, first, tok.start[0], cuts))  # a statement, or a line of comment only
            first, cuts, code, openers = None, {}, False, []
    if first is not None:
        out.append(_join(lines, first, len(lines), cuts))
    return [line for line in out if line]


def _drops_trailing_comma(opener: str, prev) -> bool:
    """May a trailing comma before this bracket's closer go? In a call's arguments, a list, a dict or a
    set, yes; in ``(x,)`` (a tuple) or ``a[i,]`` (a tuple index), no."""
    after_value = prev is not None and (
        (prev.type == tokenize.NAME and not keyword.iskeyword(prev.string)) or prev.string in (")", "]", "}")
        or prev.type == tokenize.STRING)
    return after_value if opener == "(" else not after_value if opener == "[" else True


def _join(lines: list[str], first: int, last: int, cuts: dict) -> str:
    """Physical lines ``first``..``last`` (1-based) as one line."""
    out = ""
    indent = lines[first - 1][: len(lines[first - 1]) - len(lines[first - 1].lstrip())] if first <= len(lines) else ""
    for row in range(first, min(last, len(lines)) + 1):
        piece = lines[row - 1]
        if row in cuts and row != last:
            piece = piece[: cuts[row]]
        piece = piece.strip()
        if row != last and piece.endswith("\\"):
            piece = piece[:-1].rstrip()
        if not piece:
            continue
        if out and not (out.endswith(("(", "[", "{")) or piece.startswith((")", "]", "}", ",", "."))):
            out += " "
        out += piece
    return indent + out if out else ""


# --- rendering -----------------------------------------------------------------------------------------

def text(notice: Notice, *, color: bool = False, where: str = FULL_REPORT) -> str:
    """Plain text, or ANSI colour (never with ``NO_COLOR``)."""
    if os.environ.get("NO_COLOR"):
        color = False
    if not color:
        lines = [f"nllhint: {notice.severity} {notice.code}  {notice.title}"]
        if notice.fix:
            lines.append(f"  fix: {_hang(notice.fix)}")
        lines.append(f"  {_at(notice)}{where}")
        return "\n".join(lines)
    bold, dim, green, reset = "\x1b[1m", "\x1b[2m", "\x1b[32m", "\x1b[0m"
    sev = "\x1b[1;31m" if notice.severity == "error" else "\x1b[1;33m"
    lines = [f"{bold}\x1b[35mnllhint:{reset} {sev}{notice.severity} {notice.code}{reset}  {bold}{notice.title}{reset}"]
    if notice.fix:
        lines.append(f"  {dim}fix:{reset} {green}{_hang(notice.fix, green, reset)}{reset}")
    lines.append(f"  {dim}{_at(notice)}{where}{reset}")
    return "\n".join(lines)


def html_block(notices: list[Notice], *, where: str = FULL_REPORT) -> str:
    """One warning-styled block for the notices of a cell: severity in colour, the fix set as code."""
    worst = "error" if any(n.severity == "error" for n in notices) else "warning"
    rows = []
    for notice in notices:
        colour, _ = HTML_COLOURS.get(notice.severity, HTML_COLOURS["warning"])
        row = (f'<div><b style="color:#7b1fa2">nllhint</b> '
               f'<b style="color:{colour}">{notice.severity} {html.escape(notice.code)}</b> '
               f'<b>{_code_spans(notice.title)}</b></div>')
        if notice.fix:
            block = ";white-space:pre-wrap;display:inline-block;vertical-align:top" if "\n" in notice.fix else ""
            row += (f'<div style="margin-left:1.5em">fix: <code style="{_CODE}{block}">'
                    f'{html.escape(notice.fix)}</code></div>')
        row += (f'<div style="margin-left:1.5em;color:#555">{html.escape(_at(notice))}'
                f'{_code_spans(where.replace("%%losscheck", "`%%losscheck`"))}</div>')
        rows.append(row)
    return _box(worst, '<div style="height:0.4em"></div>'.join(rows))


def report_html(ansi: str, severity: str) -> str:
    """The ``%%losscheck`` report (rendered with colour) as the same kind of block, colours kept."""
    from rich.console import Console
    from rich.text import Text

    console = Console(record=True, width=200, force_terminal=True, color_system="standard",
                      force_jupyter=False, file=open(os.devnull, "w"))
    console.print(Text.from_ansi(ansi), soft_wrap=True)
    body = console.export_html(inline_styles=True, code_format="{code}", theme=_light_theme())
    return _box(severity, f'<pre style="margin:0;white-space:pre-wrap;font:inherit;background:none">{body}</pre>')


def _light_theme():
    """Terminal colours dark enough to read on the block's light background."""
    from rich.terminal_theme import TerminalTheme

    colours = [(0, 0, 0), (198, 40, 40), (46, 125, 50), (178, 106, 0), (21, 101, 192), (123, 31, 162),
               (0, 131, 143), (66, 66, 66)]
    return TerminalTheme((255, 244, 224), (33, 33, 33), colours, colours)


_CODE = "background:rgba(46,125,50,0.12);color:#1b5e20;padding:1px 4px;border-radius:3px"
_BOX = ("border-left:4px solid {colour};background:{background};color:#212121;padding:6px 10px;margin:6px 0;"
        "font-family:var(--jp-code-font-family,monospace);font-size:var(--jp-code-font-size,13px);"
        "line-height:1.5;white-space:normal")


def _box(severity: str, inner: str) -> str:
    colour, background = HTML_COLOURS.get(severity, HTML_COLOURS["warning"])
    return (f'<div class="nllhint-notice" role="alert" style="{_BOX.format(colour=colour, background=background)}">'
            f"{inner}</div>")


def _code_spans(words: str) -> str:
    """Escape, and set `backticked` names as code."""
    parts = html.escape(words).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def _hang(fix: str, start: str = "", end: str = "") -> str:
    """A fix of several lines, its later lines under the first (after ``  fix: ``)."""
    return f"{end}\n{' ' * 7}{start}".join(fix.splitlines())


def _at(notice: Notice) -> str:
    return f"at {notice.location} · " if notice.location else ""


def in_kernel(shell) -> bool:
    """A Jupyter kernel's shell (JupyterLab, Notebook, VS Code; Colab's shell is a subclass): HTML shows."""
    return any(cls.__name__ == "ZMQInteractiveShell" for cls in type(shell).__mro__)


def display_report(shell, report, *, brief: bool = False) -> bool:
    """In a Jupyter kernel, show a ``%%losscheck`` report as a block (text/plain kept); else False."""
    if not in_kernel(shell):
        return False
    from IPython.display import display

    from .shellhook import KERNEL_WIDTH

    ansi = report.render(color=True, width=KERNEL_WIDTH, brief=brief)
    plain = re.sub(r"\x1b\[[0-9;]*m", "", ansi)  # the text a terminal shows, colours taken out
    findings = report.findings
    severity = "error" if any(f.severity == "error" for f in findings) else "warning"
    if not findings:
        display({"text/plain": plain}, raw=True)  # a clean report is no warning
        return True
    display({"text/plain": plain, "text/html": report_html(ansi, severity)}, raw=True)
    return True
