"""``nllhint demo``: the whole product on classic mistakes, run as cells in a real IPython shell.

Three parts: errors followed by their hints; silent mistakes (no error at all) found by ``%%losscheck``;
and, where the default light watch exists, a silent mistake noticed with no magic at all. Every cell is a
rule's or an audit's own example (so everything shown is also a test), chosen by code: a curated tour,
one per kind of mistake, none needing more than torch. The demo is a showcase, so Python warnings from
the cells (anomaly mode, torch's broadcast warning, a missing NumPy) are not shown.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import sys
import warnings
from dataclasses import dataclass

# Exceptions: the classic mistakes first, one per category.
ERRORS = ("NLH101", "NLH201", "NLH210", "NLH301", "NLH250", "NLH204", "NLH260", "NLH501", "NLH313", "NLH602",
          "NLH701", "NLH711", "NLH350", "NLH370", "NLH402", "NLH380", "NLH552", "NLH510")
# Mistakes that raise nothing: the cell runs under %%losscheck.
SILENT = ("NLH804", "NLH801", "NLH901", "NLH902")
# The default light watch: no magic, a short notice under the cell (nllhint.default_watch).
NOTICES = ("NLH807",)


@dataclass(frozen=True)
class Part:
    title: str
    intro: str
    kind: str  # "error", "losscheck" or "notice": what each cell must show
    cells: list  # (code, category, cell source)


def gallery() -> list[tuple[str, str, str]]:
    """(code, category, cell) for the exception part, in tour order (notebooks/build.py builds on it)."""
    return [_example(code) for code in ERRORS if _example(code)]


def parts() -> list[Part]:
    out = [Part("Errors, explained", "Each cell raises; the hint comes right under the exception message.",
                "error", gallery()),
           Part("Silent mistakes, found by %%losscheck",
                "These cells raise nothing and train badly. %%losscheck runs the cell unchanged and reports.",
                "losscheck", [(c, cat, "%%losscheck\n" + cell) for c, cat, cell in _examples(SILENT)])]
    if importlib.util.find_spec("nllhint.default_watch") is not None:
        out.append(Part("No magic at all: the default watch",
                        "After %load_ext nllhint the first call at each loss call site is checked; a sure "
                        "finding becomes a short notice under the cell.", "notice", _examples(NOTICES)))
    return [part for part in out if part.cells]


def _examples(codes) -> list[tuple[str, str, str]]:
    return [e for e in (_example(code) for code in codes) if e]


def _example(code: str):
    from .codes import find_rule

    rule = find_rule(code)
    if rule is None or not rule.examples:
        return None
    return code, rule.category, rule.examples[0].code


def run_gallery(*, xmode: str = "Minimal", color: bool = False) -> int:
    """Run every part; 0 when each cell showed what its part promises (a hint, a report, a notice)."""
    warnings.simplefilter("ignore")  # the cells' own warnings are not the point of a showcase
    from IPython.terminal.interactiveshell import TerminalInteractiveShell

    from traitlets.config import Config

    config = Config()
    config.HistoryManager.enabled = False  # numbered cells, nothing written to ~/.ipython
    shell = TerminalInteractiveShell.instance(colors="linux" if color else "nocolor", config=config)
    with contextlib.redirect_stdout(io.StringIO()):  # "Exception reporting mode: ..."
        shell.run_line_magic("xmode", xmode)
    shell.run_line_magic("load_ext", "nllhint")
    counts, missed = {}, []
    all_parts = parts()
    for index, part in enumerate(all_parts, 1):
        print(f"\n{'#' * 100}\n# Part {index} of {len(all_parts)}: {part.title}\n# {part.intro}\n{'#' * 100}")
        for code, category, cell in part.cells:
            number = shell.execution_count
            print(f"\n{'=' * 30} {number}  {category} {'=' * 30}")
            for i, line in enumerate(cell.splitlines(), 1):
                print(f"In [{number}] {i:>2}| {line}" if i == 1 else f"        {i:>2}| {line}")
            print()
            sys.stdout.flush()
            shown = _run(shell, cell)
            ok = code in shown and (_failed(shell) == (part.kind == "error"))
            counts[part.kind] = counts.get(part.kind, 0) + ok
            if not ok:
                missed.append(code)
    print(_summary(all_parts, counts, missed))
    return 0 if not missed else 1


def _run(shell, cell: str) -> str:
    """Run a cell as the user would see it, and return what it printed (also shown as it is printed)."""
    import torch

    torch.manual_seed(0)  # the examples draw random tensors: seeded as in docs/rules.md, so the tour is repeatable
    tee = _Tee(sys.stdout)
    with contextlib.redirect_stdout(tee), contextlib.redirect_stderr(tee):
        shell.run_cell(cell, store_history=True)
    sys.stdout.flush()
    return tee.seen.getvalue()


def _failed(shell) -> bool:
    result = getattr(shell, "last_execution_result", None)
    return bool(result is not None and not result.success)


class _Tee(io.TextIOBase):
    def __init__(self, out):
        self.out, self.seen = out, io.StringIO()

    def write(self, text: str) -> int:
        self.seen.write(text)
        return self.out.write(text)

    def flush(self) -> None:
        self.out.flush()

    def isatty(self) -> bool:
        return bool(getattr(self.out, "isatty", lambda: False)())


def _summary(all_parts: list[Part], counts: dict, missed: list) -> str:
    said = {"error": "{} of {} cells raised; each error above is followed by its nllhint hint.",
            "losscheck": "{} of {} silent mistakes were reported by %%losscheck.",
            "notice": "{} of {} silent mistakes got a notice from the default watch, with no magic."}
    lines = [said[p.kind].format(counts.get(p.kind, 0), len(p.cells)) for p in all_parts]
    if missed:
        lines.append("not as expected: " + ", ".join(missed))
    return "\n" + "\n".join(lines)
