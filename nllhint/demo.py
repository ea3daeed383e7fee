"""``nllhint demo``: the classic mistakes, one per category, run as cells in a real IPython shell.

The gallery is made of the rules' own examples, so everything it shows is also a test.
"""

from __future__ import annotations

import sys


def gallery() -> list[tuple[str, str, str]]:
    """(code, category, cell) for the first example of each category, in registry order."""
    from .rules import RULES

    seen: set[str] = set()
    cells = []
    for rule in RULES:
        if rule.category in seen or not rule.examples:
            continue
        seen.add(rule.category)
        cells.append((rule.code, rule.category, rule.examples[0].code))
    return cells


def run_gallery(*, xmode: str = "Minimal", color: bool = False) -> int:
    from IPython.terminal.interactiveshell import TerminalInteractiveShell

    shell = TerminalInteractiveShell.instance(colors="linux" if color else "nocolor")
    shell.run_line_magic("xmode", xmode)
    shell.run_line_magic("load_ext", "nllhint")
    cells = gallery()
    shown = 0
    for number, (code, category, cell) in enumerate(cells, 1):
        print(f"\n{'=' * 30} {number}/{len(cells)}  {category} {'=' * 30}")
        for i, line in enumerate(cell.splitlines(), 1):
            print(f"In [{number}] {i:>2}| {line}" if i == 1 else f"        {i:>2}| {line}")
        print()
        sys.stdout.flush()
        result = shell.run_cell(cell, store_history=False)
        shown += not result.success
        sys.stdout.flush()
    print(f"\n{shown} of {len(cells)} cells raised; each error above is followed by its nllhint hint.")
    return 0 if shown == len(cells) else 1
