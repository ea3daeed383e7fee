"""The demo notebooks, run top to bottom in a real Jupyter kernel, as JupyterLab or VS Code would.

They are committed with their outputs (what a reader sees on a code-hosting site). Each test
re-executes one and fails when a hint or report it shows is no longer what nllhint prints.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def nllhint_blocks(cell) -> list[str]:
    """What nllhint added to a cell's outputs: each hint (from the traceback) and each audit report."""
    blocks = []
    for out in cell.get("outputs", []):
        if out["output_type"] == "error":
            text = ANSI.sub("", "\n".join(out["traceback"]))
            if "\nnllhint " in text:
                blocks.append(text[text.index("\nnllhint ") + 1:].rstrip())
        elif out["output_type"] == "stream" and out["name"] == "stdout" and "nllhint losscheck" in out["text"]:
            text = ANSI.sub("", out["text"])
            blocks.append(text[text.index("nllhint losscheck"):].rstrip())
        elif out["output_type"] == "display_data" and "nllhint losscheck" in out["data"].get("text/plain", ""):
            text = out["data"]["text/plain"]  # in a kernel the report is an HTML block with this text/plain
            blocks.append(text[text.index("nllhint losscheck"):].rstrip())
    return blocks


@pytest.fixture(scope="module", params=NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def executed(request):
    committed = nbformat.read(request.param, as_version=4)
    fresh = copy.deepcopy(committed)
    NotebookClient(fresh, kernel_name="python3", allow_errors=True, timeout=300, startup_timeout=300,
                   resources={"metadata": {"path": str(request.param.parent)}}).execute()
    return committed, fresh


def test_committed_outputs_are_what_nllhint_prints_today(executed):
    committed, fresh = executed
    pairs = [(c, f) for c, f in zip(committed.cells, fresh.cells) if c.cell_type == "code"]
    assert all(c.get("execution_count") for c, _ in pairs), "commit the notebook executed (notebooks/build.py)"
    for number, (old, new) in enumerate(pairs, 1):
        assert nllhint_blocks(old) == nllhint_blocks(new), f"code cell {number} of the notebook is stale"


def test_every_error_keeps_its_red_error_output_with_the_hint_inside(executed):
    _, fresh = executed
    errors = [out for cell in fresh.cells if cell.cell_type == "code"
              for out in cell.outputs if out.output_type == "error"]
    for out in errors:
        assert out.ename and out.evalue, "the error reply keeps the exception name and message"
        text = ANSI.sub("", "\n".join(out.traceback))
        message_line = f"{out.ename}: {out.evalue.splitlines()[0]}"
        assert text.count(message_line) == 1, "the original traceback is shown once"
        if "\nnllhint " in text:
            assert text.index(message_line) < text.index("\nnllhint "), "the hint comes after the message"


def test_the_error_notebook_gives_a_hint_for_every_failing_cell():
    path = next((p for p in NOTEBOOKS if p.name.startswith("01")), None)
    if path is None:
        pytest.skip("no 01 notebook")
    nb = nbformat.read(path, as_version=4)
    failing = [c for c in nb.cells if c.cell_type == "code"
               and any(o.output_type == "error" for o in c.get("outputs", []))]
    assert len(failing) >= 15
    for cell in failing:
        blocks = nllhint_blocks(cell)
        assert blocks and re.match(r"nllhint NLH\d{3} \[[a-z-]+\] ", blocks[0]), cell.source
