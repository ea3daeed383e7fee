"""What a Jupyter frontend receives from a real kernel (JupyterLab, VS Code, Google Colab: Colab runs
ipykernel 5.5.6 with IPython 7.34 and renders the same messages): the hint inside the error output,
under the exception message; the %%losscheck report as an output of its cell; with rich's extension,
rich's traceback then the hint as a panel."""

from __future__ import annotations

import re

import nbformat
import pytest
from nbclient import NotebookClient

ANSI = re.compile(r"\x1b\[[0-9;]*m")
DATA = """import torch, torch.nn as nn, torch.nn.functional as F
criterion = nn.CrossEntropyLoss()
outputs = torch.randn(8, 5)
labels = torch.tensor([1, 2, 3, 4, 5, 1, 2, 3])"""
LOSS = "loss = criterion(outputs, labels)"
FIX = "loss = criterion(outputs, labels - 1)"


def run(*cells: str) -> list:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(cell) for cell in cells]
    NotebookClient(nb, kernel_name="python3", allow_errors=True, timeout=300, startup_timeout=300).execute()
    return [cell.outputs for cell in nb.cells]


def text_of(output) -> str:
    """Everything a frontend could show for one output, as plain text."""
    if output.output_type == "error":
        return ANSI.sub("", "\n".join(output.traceback))
    if output.output_type == "stream":
        return ANSI.sub("", output.text)
    data = output.get("data", {})
    return ANSI.sub("", data.get("text/plain", "") + "\n" + re.sub(r"<[^>]+>", "", data.get("text/html", "")))


@pytest.fixture(scope="module")
def plain():
    return run("%load_ext nllhint", DATA, LOSS,
               "%%losscheck\nloss = criterion(F.softmax(outputs, dim=1), labels - 1)", "1 / 0", "import IPython, "
               "ipykernel; print(IPython.__version__, ipykernel.__version__)")


def test_the_hint_is_inside_the_error_output_under_the_message(plain):
    outputs = plain[2]
    assert [o.output_type for o in outputs] == ["error"], "one error output: no stray print of the hint"
    error = outputs[0]
    assert (error.ename, error.evalue) == ("IndexError", "Target 5 is out of bounds.")
    text = text_of(error)
    assert text.count("IndexError: Target 5 is out of bounds.") == 1
    assert text.index("IndexError: Target 5") < text.index("nllhint NLH101") < text.index(FIX)
    assert "labels" in text[text.index("nllhint NLH101"):].split("\n")[0]  # the user's name, not `target`


def test_the_losscheck_report_is_the_cells_output(plain):
    shown = "\n".join(text_of(o) for o in plain[3])
    assert "NLH804" in shown and "double-softmax" in shown
    assert not [o for o in plain[3] if o.output_type == "error"]


def test_an_error_that_is_not_a_loss_error_is_left_alone(plain):
    (error,) = plain[4]
    assert error.ename == "ZeroDivisionError" and "nllhint" not in text_of(error)
    print("kernel:", text_of(plain[5][0]).strip())


def test_with_rich_in_the_kernel_the_hint_is_a_panel_after_richs_traceback():
    outputs = run("%load_ext rich", "%load_ext nllhint", DATA, LOSS)[3]
    texts = [text_of(o) for o in outputs]
    tb = next(i for i, t in enumerate(texts) if "Traceback" in t and "IndexError" in t)
    panel = next(i for i, t in enumerate(texts) if "nllhint NLH101" in t)
    assert tb < panel
    assert FIX in texts[panel] and "╭─ nllhint" in texts[panel]
    assert sum("nllhint NLH101" in t for t in texts) == 1
