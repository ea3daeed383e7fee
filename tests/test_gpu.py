"""The rows of issue 10 on a real GPU, as a new user meets them. Marked ``cuda``: skipped without CUDA
(CI has no GPU); ``scripts/gpu_check.sh`` runs them on a GPU machine.

A device-side assert leaves the CUDA context unusable for the rest of the process, so every test that
triggers one runs its cells in a fresh process: a real IPython shell in a subprocess, cells run one by
one as a notebook would. The tests share nothing: no test depends on another's process, namespace or
order. ``tests/test_hints_cuda.py`` covers the same forms on the CPU with the real messages.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]

MARK = "@@nllhint-cell@@"
SHELL = f"""
import json, sys
from IPython.testing.globalipapp import start_ipython
shell = start_ipython()
shell.run_line_magic("load_ext", "nllhint")
for cell in json.load(sys.stdin):
    print({MARK!r}, flush=True)
    shell.run_cell(cell, store_history=True)
    sys.stdout.flush(); sys.stderr.flush()
"""


def env() -> dict:
    out = {k: v for k, v in os.environ.items()
           if k not in ("COLUMNS", "FORCE_COLOR", "NLLHINT_DEBUG", "CUDA_LAUNCH_BLOCKING")}
    out["NO_COLOR"] = "1"
    return out


def notebook(*cells: str) -> list[str]:
    """Run ``cells`` in a new IPython process with ``%load_ext nllhint``; what each cell showed, flattened
    (line wrapping undone)."""
    done = subprocess.run([sys.executable, "-c", SHELL], input=json.dumps([textwrap.dedent(c) for c in cells]),
                          capture_output=True, text=True, env=env(), timeout=300)
    parts = (done.stdout + done.stderr).split(MARK)[1:]
    assert len(parts) == len(cells), (done.stdout + done.stderr)[-3000:]
    return [" ".join(p.split()) for p in parts]


def assert_explained(out: str, target: str, classes: int, *, kernel: bool = True) -> None:
    assert "nllhint NLH106 [target-range]" in out, out[-3000:]
    assert f"`{target}`" in out
    assert f"0..{classes - 1} (C = {classes})" in out
    assert ("restart the kernel" if kernel else "restart the program") in out
    assert "CUDA_LAUNCH_BLOCKING=1" in out


# --- row 1: 1-based labels, loss.item() in the same cell ----------------------------------------------------------

def test_one_based_labels_item_in_the_same_cell():
    [out] = notebook("""
        import torch, torch.nn.functional as F
        logits = torch.randn(64, 10, device="cuda", requires_grad=True)
        targets = torch.arange(64, device="cuda") % 10 + 1   # 1..10
        loss = F.cross_entropy(logits, targets)
        loss.item()
    """)
    assert "device-side assert triggered" in out
    assert_explained(out, "targets", 10)
    assert "loss = F.cross_entropy(logits, targets - 1)" in out


# --- row 2: the assert surfaces in the next cell ----------------------------------------------------------------------

LOSS_CELL = """
    import torch, torch.nn as nn
    model = nn.Linear(20, 10).cuda()
    criterion = nn.CrossEntropyLoss()
    x = torch.randn(32, 20, device="cuda")
    targets = torch.arange(32, device="cuda") % 10 + 1
    loss = criterion(model(x), targets)
"""


@pytest.mark.parametrize("later", ["loss.backward()", "loss.item()", "print(loss)"])
def test_assert_surfacing_in_the_next_cell(later):
    first, out = notebook(LOSS_CELL, later)
    assert "Traceback" not in first
    assert "device-side assert triggered" in out
    assert_explained(out, "targets", 10)
    assert "loss = criterion(model(x), targets)" in out


# --- row 3: NLLLoss on (N, C, H, W) with 255 in the mask, failing in backward ----------------------------------------

def test_segmentation_mask_with_255_failing_in_backward():
    first, out = notebook("""
        import torch, torch.nn as nn, torch.nn.functional as F
        net = nn.Conv2d(3, 5, kernel_size=3, padding=1).cuda()
        images = torch.randn(4, 3, 64, 64, device="cuda")
        mask = torch.randint(0, 5, (4, 64, 64), device="cuda")
        mask[:, :8] = 255   # void border
        criterion = nn.NLLLoss()
        loss = criterion(F.log_softmax(net(images), dim=1), mask)
    """, "loss.backward()")
    assert "Traceback" not in first
    assert_explained(out, "mask", 5)
    assert "criterion = nn.NLLLoss(ignore_index=255)" in out


# --- row 4: a script under nllhint run, the assert at float(loss) ----------------------------------------------------

def test_script_under_nllhint_run(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent("""
        import torch, torch.nn as nn
        model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 5)).cuda()
        criterion = nn.CrossEntropyLoss()
        for step in range(3):
            x = torch.randn(8, 10, device="cuda")
            y_batch = torch.arange(8, device="cuda") % 5 + 1
            loss = criterion(model(x), y_batch)
            print(float(loss))
    """))
    done = subprocess.run([sys.executable, "-m", "nllhint", "run", str(script)], capture_output=True, text=True,
                          env=env(), timeout=300)
    out = " ".join(done.stderr.split())
    assert done.returncode == 1
    assert "device-side assert triggered" in out
    assert_explained(out, "y_batch", 5, kernel=False)


# --- row 5: the same 1-based labels under %%losscheck -------------------------------------------------------------------

def test_losscheck_cell_with_one_based_labels():
    [out] = notebook("""
        %%losscheck
        import torch, torch.nn.functional as F
        logits = torch.randn(64, 10, device="cuda", requires_grad=True)
        targets = torch.arange(64, device="cuda") % 10 + 1
        loss = F.cross_entropy(logits, targets)
        loss.item()
    """)
    report = out.partition("Traceback")[0]
    assert "nllhint losscheck:" in report and "no problems found" not in report
    assert "`targets`" in out and "0..9" in out  # the hint: NLH101 when the watch caught it first, else NLH106


# --- F.one_hot: the scatter kernel's assert ---------------------------------------------------------------------------

def test_one_hot_with_a_value_at_num_classes():
    [out] = notebook("""
        import torch, torch.nn.functional as F
        tags = torch.arange(12, device="cuda") % 4
        onehot = F.one_hot(tags, num_classes=3)
        onehot.sum().item()
    """)
    # torch relies on the scatter kernel's assert on CUDA (no sync to check first); a torch that checks
    # first raises "Class values must be smaller than num_classes" (NLH107) instead
    assert ("nllhint NLH106" in out and "num_classes = 3" in out) or "nllhint NLH107" in out
    assert "`tags`" in out


# --- row 6: mistakes that raise without an assert: hints as on the CPU ---------------------------------------------------

def test_labels_class_weight_pos_weight_on_the_cpu_and_float_targets():
    cpu_labels, weight, pos_weight, float_targets = notebook("""
        import torch, torch.nn as nn, torch.nn.functional as F
        device = torch.device("cuda")
        model = nn.Linear(20, 10).to(device)
        criterion = nn.CrossEntropyLoss()
        images, labels = torch.randn(32, 20).to(device), torch.randint(0, 10, (32,))
        loss = criterion(model(images), labels)
    """, """
        counts = torch.tensor([900., 80., 20.])
        weighted = nn.CrossEntropyLoss(weight=counts.sum() / counts)
        y = torch.randint(0, 3, (8,), device=device)
        loss = weighted(torch.randn(8, 3, device=device), y)
    """, """
        loss_fn = nn.BCEWithLogitsLoss(pos_weight=torch.tensor([3.0]))
        loss = loss_fn(torch.randn(10, 1, device=device), torch.zeros(10, 1, device=device))
    """, """
        y_float = torch.randint(0, 10, (32,), device=device).float()
        loss = F.cross_entropy(model(images), y_float)
    """)
    assert "NLH602" in cpu_labels and "`labels` is on cpu" in cpu_labels
    assert "loss = criterion(model(images), labels.to(device))" in cpu_labels
    assert "NLH601" in weight and "`weighted.weight` is on cpu" in weight
    assert "NLH601" in pos_weight and "loss_fn.pos_weight" in pos_weight
    assert "nllhint NLH2" in float_targets and "y_float" in float_targets and "int64" in float_targets
    assert "NLH106" not in cpu_labels + weight + pos_weight + float_targets
