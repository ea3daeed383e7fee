"""Take README's picture: a real hint in a notebook, executed in a kernel, rendered by nbconvert's
JupyterLab template and photographed by headless Chromium (Debian's `chromium` package).

    python docs/screenshot.py        # writes docs/hint-jupyterlab.png
"""

from __future__ import annotations

import pathlib
import subprocess
import tempfile

import nbformat
from nbclient import NotebookClient
from nbconvert import HTMLExporter

HERE = pathlib.Path(__file__).parent
CELLS = [
    "%load_ext nllhint",
    "import torch\n"
    "import torch.nn.functional as F\n"
    "torch.manual_seed(0)\n\n"
    "logits = torch.randn(6, 4, requires_grad=True)   # 4 classes\n"
    "labels = torch.tensor([1, 4, 2, 3, 4, 1])          # numbered from 1\n"
    "loss = F.cross_entropy(logits, labels)",
]


def photograph(cells: list[str], name: str, height: int) -> pathlib.Path:
    """Execute `cells` in a fresh kernel, render them with JupyterLab's template and save the page as
    docs/<name>-jupyterlab.png, 1000 pixels wide and `height` tall (docs/notice_screenshot.py uses it too)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    NotebookClient(nb, kernel_name="python3", allow_errors=True, timeout=120).execute()
    html, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    out = HERE / f"{name}-jupyterlab.png"
    with tempfile.TemporaryDirectory() as tmp:
        page = pathlib.Path(tmp) / f"{name}.html"
        page.write_text(html)
        subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                        "--no-first-run", "--disable-background-networking", "--disable-component-update",
                        "--disable-sync", "--hide-scrollbars", f"--user-data-dir={tmp}/profile",
                        f"--window-size=1000,{height}", f"--screenshot={out}", page.as_uri()],
                       check=True, capture_output=True, timeout=120)
    return out


def main() -> None:
    print(f"wrote {photograph(CELLS, 'hint', 980)}")


if __name__ == "__main__":
    main()
