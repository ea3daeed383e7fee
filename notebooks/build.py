"""Build and execute the demo notebooks, so they are committed as a reader should see them.

    python notebooks/build.py

``01_errors.ipynb`` is generated from the rules' own examples (the demo gallery); every other notebook
keeps its cells and gets fresh outputs. tests/test_notebooks.py re-executes them and fails when a
committed hint or report no longer matches what nllhint prints.
"""

from __future__ import annotations

import pathlib

import nbformat
from nbclient import NotebookClient

from nllhint.demo import gallery
from nllhint.rules import by_code

HERE = pathlib.Path(__file__).parent
INTRO = """# Loss errors, explained

Each cell below makes one classic mistake with a PyTorch loss. With `%load_ext nllhint` loaded, the
error is followed, inside the same error output, by a hint: what is wrong, the evidence read from the
tensors, and the failing line rewritten. The values are seeded, so the hints are the same on every run."""


def build() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    cells = [nbformat.v4.new_markdown_cell(INTRO),
             nbformat.v4.new_code_cell("%load_ext nllhint\nimport torch\ntorch.manual_seed(0);")]
    for code, category, cell in gallery():
        rule = by_code(code)
        cells.append(nbformat.v4.new_markdown_cell(f"## `{category}`: {rule.summary}\n\n{rule.doc}"))
        cells.append(nbformat.v4.new_code_cell(cell))
    nb.cells = cells
    return nb


def execute(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    NotebookClient(nb, kernel_name="python3", allow_errors=True, timeout=300,
                   resources={"metadata": {"path": str(HERE)}}).execute()
    return nb


def main() -> None:
    path = HERE / "01_errors.ipynb"
    nbformat.write(execute(build()), path)
    print(f"wrote {path}")
    for other in sorted(HERE.glob("*.ipynb")):
        if other != path:
            nbformat.write(execute(nbformat.read(other, as_version=4)), other)
            print(f"re-executed {other}")


if __name__ == "__main__":
    main()
