"""rich's traceback and nllhint together, as people load them: ``%load_ext rich`` in IPython (either
order, each unloaded again) and ``rich.traceback.install()`` in a script with ``nllhint.install()``.
rich draws the traceback, then the hint comes once, as a panel that matches it. Each run is a fresh
process: rich's extension changes the shell for good (it has no unload)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

import pytest

DRIVER = """
import sys
from IPython.testing.globalipapp import start_ipython
ip = start_ipython()
for cell in sys.argv[1].split("\\n#--\\n"):
    print("=== " + cell.splitlines()[0], flush=True)
    ip.run_cell(cell)
    sys.stdout.flush(); sys.stderr.flush()
"""

DATA = """import torch, torch.nn as nn
criterion = nn.CrossEntropyLoss()
outputs = torch.randn(8, 5)
labels = torch.tensor([1, 2, 3, 4, 5, 1, 2, 3])"""
LOSS = "loss = criterion(outputs, labels)"
FIX = "loss = criterion(outputs, labels - 1)"
RICH_BOX = "Traceback (most recent call last)"
PANEL = re.compile(r"^╭─ nllhint ─+", re.M)


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "COLUMNS")}
    env["COLUMNS"] = "100"
    return env


def run_cells(*cells: str) -> dict[str, str]:
    """Run cells in a fresh real IPython shell; what each showed (stdout and stderr, in order), by its
    position."""
    out = _proc_merged([sys.executable, "-u", "-c", DRIVER, "\n#--\n".join(cells)], stdin=subprocess.DEVNULL)
    out = re.sub(r"\x1b\][^\x07]*\x07|\x1b\[[0-9;?]*[a-zA-Z]", "", out)  # IPython 7 sets the title
    parts = re.split(r"^=== .*\n", out, flags=re.M)[1:]
    assert len(parts) == len(cells), out[-3000:]
    return dict(zip(range(len(cells)), parts))


def _proc_merged(args, **kwargs) -> str:
    proc = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env(),
                          timeout=180, **kwargs)
    return proc.stdout


def assert_rich_then_panel(out: str) -> None:
    """rich's traceback, its exception line, then one nllhint panel with the user's own fix."""
    assert RICH_BOX in out, out
    assert "IndexError: Target 5 is out of bounds." in out
    assert out.count("nllhint NLH101") == 1, out
    panel = PANEL.search(out)
    assert panel, out
    assert out.index(RICH_BOX) < out.index("IndexError: Target 5") < panel.start()
    assert FIX in out[panel.start():]
    assert "---------------------------------------------------------------------------" not in out  # IPython's


@pytest.mark.parametrize("first,second", [("rich", "nllhint"), ("nllhint", "rich")])
def test_rich_and_nllhint_in_either_order_and_unloading_nllhint_leaves_rich(first, second):
    out = run_cells(f"%load_ext {first}", f"%load_ext {second}", DATA, LOSS, "1 / 0",
                    "%unload_ext nllhint", LOSS, "%load_ext nllhint", LOSS)
    assert_rich_then_panel(out[3])
    assert "ZeroDivisionError" in out[4] and "nllhint" not in out[4]  # not a loss error: rich's alone
    assert RICH_BOX in out[6] and "IndexError: Target 5" in out[6] and "nllhint" not in out[6]
    assert_rich_then_panel(out[8])


def test_rich_cannot_be_unloaded_and_the_hint_stays_under_its_traceback():
    out = run_cells("%load_ext nllhint", "%load_ext rich", DATA, "%unload_ext rich", LOSS)
    assert "doesn't define how to unload" in out[3] or "unload" in out[3].lower()
    assert_rich_then_panel(out[4])


def test_without_rich_there_is_no_panel(ipython):
    run = ipython.run(DATA + "\n" + LOSS)
    assert "nllhint NLH101" in run.out and FIX in run.out
    assert not PANEL.search(run.out) and "│" not in run.out


SCRIPT = """
import nllhint, rich.traceback
{first}
{second}
""" + DATA + "\n" + LOSS + "\n"


@pytest.mark.parametrize("order", ["rich-first", "nllhint-first"])
def test_scripts_with_rich_traceback_install_in_either_order(tmp_path, order):
    calls = ["rich.traceback.install()", "nllhint.install()"]
    if order == "nllhint-first":
        calls.reverse()
    script = tmp_path / "train.py"
    script.write_text(SCRIPT.format(first=calls[0], second=calls[1]))
    out = _proc_merged([sys.executable, str(script)], cwd=tmp_path)
    assert_rich_then_panel(out)
    assert "at train.py:" in out


def test_a_script_that_catches_its_error_gets_no_hint_at_exit(tmp_path):
    script = tmp_path / "ok.py"
    script.write_text(textwrap.dedent("""
        import nllhint, rich.traceback
        nllhint.install()
        rich.traceback.install()
        """) + DATA + "\ntry:\n    " + LOSS + "\nexcept IndexError:\n    print('handled')\n")
    out = _proc_merged([sys.executable, str(script)], cwd=tmp_path)
    assert out.strip() == "handled"
