"""Default mode in a real Jupyter kernel: the notice is a warning-styled HTML block (with the same words
as text/plain) in the outputs of the cell that made the call, after the cell's own prints."""

import nbformat
from nbclient import NotebookClient

CELLS = [
    "%load_ext nllhint",
    "print('training')\n"
    "import torch, torch.nn as nn\n"
    "model = nn.Linear(8, 4)\n"
    "x, labels = torch.randn(16, 8), torch.randint(0, 4, (16,))\n"
    "logits = model(x)\n"
    "loss = nn.NLLLoss()(logits, labels)\n"
    "print('done')",
    "for step in range(20):\n    loss = nn.NLLLoss()(logits.log_softmax(dim=1), labels)",
    "%%losscheck\n"
    "probs = torch.softmax(model(x), dim=1)\n"
    "loss = nn.CrossEntropyLoss()(probs, labels)",
]


def test_the_notice_is_an_html_block_in_the_output_of_the_cell_that_made_the_call():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in CELLS]
    NotebookClient(nb, kernel_name="python3", timeout=300, startup_timeout=300).execute()
    call, clean, report = nb.cells[1], nb.cells[2], nb.cells[3]

    kinds = [out.output_type for out in call.outputs]
    assert kinds[-1] == "display_data" and "stream" in kinds  # the cell's prints, then the notice
    assert "".join(o.text for o in call.outputs if o.output_type == "stream") == "training\ndone\n"
    notice = call.outputs[-1].data
    assert "nllhint: warning NLH801" in notice["text/plain"]
    assert "fix: loss = nn.NLLLoss()(logits.log_softmax(dim=1), labels)" in notice["text/plain"]
    html = notice["text/html"]
    assert 'class="nllhint-notice"' in html and "border-left" in html  # a block apart from the output
    assert "<code" in html and "logits.log_softmax(dim=1)" in html  # the fix set as code
    assert "#b26a00" in html and "warning NLH801" in html  # the severity in its colour
    assert "<code>%%losscheck</code>" in html

    assert clean.outputs == []  # a correct cell: nothing at all

    (block,) = [o for o in report.outputs if o.output_type == "display_data"]
    assert "nllhint losscheck: 1 loss call at 1 site" in block.data["text/plain"]
    assert 'class="nllhint-notice"' in block.data["text/html"] and "NLH804" in block.data["text/html"]
