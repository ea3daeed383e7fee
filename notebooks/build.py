"""Build and execute ``01_errors.ipynb`` from the rules' own examples (the demo gallery).

    python notebooks/build.py          # rewrites notebooks/01_errors.ipynb with fresh outputs

The notebook is committed with its outputs, as a reader should see it; tests/test_notebooks.py
re-executes it and fails when a committed hint no longer matches what nllhint prints.
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
    nb = execute(build())
    path = HERE / "01_errors.ipynb"
    nbformat.write(nb, path)
    print(f"wrote {path} ({len(nb.cells)} cells)")


if __name__ == "__main__":
    main()
