"""Take the default mode's picture: a notice and a %%losscheck report in a notebook, executed in a kernel,
rendered by nbconvert's JupyterLab template and photographed by headless Chromium (as docs/screenshot.py).

    python docs/notice_screenshot.py        # writes docs/notice-jupyterlab.png
"""

from __future__ import annotations

from screenshot import photograph  # docs/screenshot.py: this script's folder is first on sys.path

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
    print(f"wrote {photograph(CELLS, 'notice', 760)}")


if __name__ == "__main__":
    main()
