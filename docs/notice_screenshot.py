"""Take the default mode's picture: a notice and a %%losscheck report in a notebook, executed in a kernel,
rendered by nbconvert's JupyterLab template and photographed by headless Chromium (as docs/screenshot.py).

    python docs/notice_screenshot.py        # writes docs/notice-jupyterlab.png
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
    "import torch, torch.nn as nn\n"
    "torch.manual_seed(0)\n"
    "model = nn.Linear(20, 5)\n"
    "x, labels = torch.randn(64, 20), torch.randint(0, 5, (64,))\n"
    "for epoch in range(3):\n"
    "    logits = model(x)\n"
    "    loss = nn.NLLLoss()(logits, labels)\n"
    "    print(f'epoch {epoch}: loss {loss.item():.3f}')",
    "%%losscheck\n"
    "probs = torch.softmax(model(x), dim=1)\n"
    "loss = nn.CrossEntropyLoss()(probs, labels)",
]


def main() -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(c) for c in CELLS]
    NotebookClient(nb, kernel_name="python3", allow_errors=True, timeout=120).execute()
    html, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    with tempfile.TemporaryDirectory() as tmp:
        page = pathlib.Path(tmp) / "notice.html"
        page.write_text(html)
        out = HERE / "notice-jupyterlab.png"
        subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                        "--no-first-run", "--disable-background-networking", "--disable-component-update",
                        "--disable-sync", "--hide-scrollbars", f"--user-data-dir={tmp}/profile",
                        "--window-size=1000,760", f"--screenshot={out}", page.as_uri()],
                       check=True, capture_output=True, timeout=120)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
