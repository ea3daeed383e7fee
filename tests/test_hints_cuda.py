"""CUDA device-side asserts, exercised on a CPU machine: PyTorch's real exception classes and message text,
``meta`` tensors for values that cannot be read, and the autograd metadata a loss keeps.

On a GPU an out-of-range label asserts inside the loss kernel and surfaces later: at ``loss.item()`` in the
same cell, at ``loss.backward()`` in the next one, as a cuDNN error in backward, at ``float(loss)`` in a
script. Here each cell computes the loss on ``meta`` tensors (shapes, dtypes and grad_fn as on CUDA, no
values) and then raises what CUDA raises at that point. The hint must name the user's target, C and the
restart advice, from metadata and code only. ``tests/test_gpu.py`` runs the same rows on a real GPU.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

# torch 2.11, CUDA 13 (H200): what `loss.item()` raises after the assert (torch.AcceleratorError)
ASSERT_MESSAGE = (
    "CUDA error: device-side assert triggered\n"
    "Search for `cudaErrorAssert' in https://docs.nvidia.com/cuda/cuda-runtime-api/group__CUDART__TYPES.html "
    "for more information.\n"
    "CUDA kernel errors might be asynchronously reported at some other API call, so the stacktrace below "
    "might be incorrect.\nFor debugging consider passing CUDA_LAUNCH_BLOCKING=1\n"
    "Compile with `TORCH_USE_CUDA_DSA` to enable device-side assertions.\n"
)
# older releases: a plain RuntimeError with the same first line
OLD_MESSAGE = (
    "CUDA error: device-side assert triggered\n"
    "CUDA kernel errors might be asynchronously reported at some other API call, so the stacktrace below "
    "might be incorrect.\nFor debugging consider passing CUDA_LAUNCH_BLOCKING=1.\n"
)
CUDNN_MESSAGE = "cuDNN error: CUDNN_STATUS_INTERNAL_ERROR"
CUBLAS_MESSAGE = ("CUDA error: CUBLAS_STATUS_EXECUTION_FAILED when calling `cublasSgemm( handle, opa, opb, m, "
                  "n, k, &alpha, a, lda, b, ldb, &beta, c, ldc)`")
ILLEGAL_MESSAGE = ("CUDA error: an illegal memory access was encountered\nCUDA kernel errors might be "
                   "asynchronously reported at some other API call, so the stacktrace below might be incorrect.")


class Flat:
    """A cell's output with line wrapping undone (hints wrap at the terminal width)."""

    def __init__(self, run):
        self.raw = run.out
        self.out = " ".join(run.out.split())


@pytest.fixture
def cuda(ipython):
    """The shell with a fresh namespace and the messages bound, as a new notebook on a GPU machine."""
    ipython.fresh_namespace()
    ipython.shell.user_ns.update(ASSERT_MESSAGE=ASSERT_MESSAGE, OLD_MESSAGE=OLD_MESSAGE,
                                 CUDNN_MESSAGE=CUDNN_MESSAGE, CUBLAS_MESSAGE=CUBLAS_MESSAGE,
                                 ILLEGAL_MESSAGE=ILLEGAL_MESSAGE)

    class Runner:
        shell = ipython.shell

        def run(self, cell: str) -> Flat:
            return Flat(ipython.run(cell))

    return Runner()


def assert_explained(out: str, target: str, classes: int, *, kernel: bool = True) -> None:
    """What every form must show: the user's target, C, the restart advice, and that no value was read."""
    assert "nllhint NLH106 [target-range]" in out
    assert f"`{target}`" in out
    assert f"0..{classes - 1} (C = {classes})" in out
    assert ("restart the kernel (the CUDA context cannot recover)" if kernel else "restart the program") in out
    assert "CUDA_LAUNCH_BLOCKING=1" in out
    assert "`labels`" not in out or target == "labels"


# --- the same cell ---------------------------------------------------------------------------------------------

def test_one_based_labels_then_item_in_the_same_cell(cuda):
    run = cuda.run("""
        import torch, torch.nn.functional as F
        logits = torch.randn(16, 10, device="meta", requires_grad=True)
        targets = torch.randint(0, 10, (16,), device="meta") + 1   # classes numbered 1..10
        loss = F.cross_entropy(logits, targets)
        raise torch.AcceleratorError(ASSERT_MESSAGE)   # what loss.item() raises on CUDA
    """)
    assert "AcceleratorError: CUDA error: device-side assert triggered" in run.out
    assert_explained(run.out, "targets", 10)
    assert "most likely a label in `targets` outside 0..9 (C = 10)" in run.out
    assert "1-based" in run.out
    assert "loss = F.cross_entropy(logits, targets - 1)" in run.out
    assert "print(targets.min().item(), targets.max().item())" in run.out
    assert "values not read after a CUDA error" in run.out


def test_the_older_runtime_error_form_gets_the_same_hint(cuda):
    run = cuda.run("""
        import torch, torch.nn as nn
        criterion = nn.CrossEntropyLoss()
        scores = torch.randn(8, 4, device="meta", requires_grad=True)
        y = torch.randint(0, 5, (8,), device="meta")
        loss = criterion(scores, y)
        raise RuntimeError(OLD_MESSAGE)
    """)
    assert "RuntimeError: CUDA error: device-side assert triggered" in run.out
    assert_explained(run.out, "y", 4)
    assert "CrossEntropyLoss" in run.out


def test_assert_raised_inside_the_loss_call_itself(cuda):
    """With CUDA_LAUNCH_BLOCKING=1 the assert is raised by the loss call; the call's frame names everything."""
    run = cuda.run("""
        import torch, torch.nn as nn

        class KernelAssertsLikeCuda(torch.Tensor):
            # stands in for a CUDA tensor whose kernel hits `t >= 0 && t < n_classes`
            @classmethod
            def __torch_function__(cls, func, types, args=(), kwargs=None):
                if getattr(func, "__name__", "") == "cross_entropy":
                    raise torch.AcceleratorError(ASSERT_MESSAGE)
                return super().__torch_function__(func, types, args, kwargs or {})

        logits = torch.randn(16, 10, device="meta").as_subclass(KernelAssertsLikeCuda)
        batch_labels = torch.randint(0, 11, (16,), device="meta")
        loss = nn.CrossEntropyLoss()(logits, batch_labels)
    """)
    assert_explained(run.out, "batch_labels", 10)
    assert "values not read after a CUDA error" in run.out
    assert "at a later call" not in run.out  # raised at the loss itself


def test_a_training_loop_moving_each_batch_to_the_device(cuda):
    run = cuda.run("""
        import torch, torch.nn as nn
        device = "meta"   # "cuda" on a GPU machine
        model = nn.Linear(20, 5).to(device)
        criterion = nn.CrossEntropyLoss()
        loader = [(torch.randn(8, 20), torch.randint(1, 6, (8,))) for _ in range(2)]
        for x, y in loader:
            out = model(x.to(device))
            loss = criterion(out, y.to(device))
            raise torch.AcceleratorError(ASSERT_MESSAGE)   # loss.backward() on CUDA
    """)
    assert_explained(run.out, "y.to(device)", 5)
    assert "print(y.min().item(), y.max().item())" in run.out  # after a restart y is on the CPU, readable


# --- a later cell ----------------------------------------------------------------------------------------------

def test_backward_in_the_next_cell_names_the_loss_of_the_earlier_cell(cuda):
    cuda.run("""
        import torch, torch.nn as nn
        model = nn.Linear(20, 10).to("meta")
        criterion = nn.CrossEntropyLoss()
        x = torch.randn(32, 20, device="meta")
        targets = torch.randint(1, 11, (32,), device="meta")
        out = model(x)
        loss = criterion(out, targets)
    """)
    first = cuda.shell.execution_count - 1
    run = cuda.run("""
        def kernel_assert(grad):   # stands in for the backward kernel meeting the broken context
            raise torch.AcceleratorError(ASSERT_MESSAGE)
        out.register_hook(kernel_assert)
        loss.backward()
    """)
    assert "torch.AcceleratorError" in run.out
    assert_explained(run.out, "targets", 10)
    assert f"`loss = criterion(out, targets)` (cell [{first}], line 8)" in run.out
    assert "1-based" in run.out and "criterion(out, targets - 1)" in run.out
    assert "NllLossBackward0 in its autograd history, ignore_index=-100" in run.out


def test_item_in_a_later_cell_that_only_names_the_loss(cuda):
    cuda.run("""
        import torch, torch.nn.functional as F
        features = torch.randn(64, 128, device="meta")
        head = torch.nn.Linear(128, 7).to("meta")
        y_train = torch.randint(0, 8, (64,), device="meta")
        train_loss = F.cross_entropy(head(features), y_train, label_smoothing=0.1)
    """)
    run = cuda.run("""
        history = [train_loss]
        raise torch.AcceleratorError(ASSERT_MESSAGE)   # what history[-1].item() raises on CUDA
    """)
    assert_explained(run.out, "y_train", 7)
    assert "F.cross_entropy(head(features), y_train, label_smoothing=0.1)" in run.out


def test_a_later_cell_without_the_loss_name_falls_back_to_the_last_loss_cell(cuda):
    cuda.run("""
        import torch, torch.nn as nn
        lin = nn.Linear(16, 3).to("meta")
        xb = torch.randn(8, 16, device="meta")
        yb = torch.randint(0, 4, (8,), device="meta")
        nn.CrossEntropyLoss()(lin(xb), yb)
    """)
    run = cuda.run("acc = 0.5\nraise RuntimeError(OLD_MESSAGE)   # (lin(xb).argmax(1) == yb).float().mean().item()")
    assert_explained(run.out, "yb", 3)


# --- follow-on errors ------------------------------------------------------------------------------------------

def test_segmentation_with_255_surfacing_as_cudnn_error_in_backward(cuda):
    cuda.run("""
        import torch, torch.nn as nn, torch.nn.functional as F
        net = nn.Conv2d(3, 5, kernel_size=3, padding=1).to("meta")
        images = torch.randn(2, 3, 32, 32, device="meta")
        mask = torch.randint(0, 5, (2, 32, 32), device="meta")
        mask[:, :4] = 255   # void border, as in VOC
        criterion = nn.NLLLoss()
        logits = net(images)
        loss = criterion(F.log_softmax(logits, dim=1), mask)
    """)
    run = cuda.run("""
        def cudnn_fails(grad):   # the convolution's backward on a broken context
            raise RuntimeError(CUDNN_MESSAGE)
        logits.register_hook(cudnn_fails)
        loss.backward()
    """)
    assert "RuntimeError: cuDNN error: CUDNN_STATUS_INTERNAL_ERROR" in run.out
    assert "cuDNN error after a device-side assert in NLLLoss" in run.out
    assert_explained(run.out, "mask", 5)
    assert "ignore_index" in run.out and "criterion = nn.NLLLoss(ignore_index=255)" in run.out
    assert "NllLoss2DBackward0" in run.out


@pytest.mark.parametrize("message, form", [
    ("CUBLAS_MESSAGE", "cuBLAS error"),
    ("ILLEGAL_MESSAGE", "illegal memory access error"),
])
def test_cublas_and_illegal_memory_access_after_the_loss(cuda, message, form):
    run = cuda.run(f"""
        import torch, torch.nn.functional as F
        emb = torch.randn(12, 6, device="meta", requires_grad=True)
        cls = torch.randint(0, 7, (12,), device="meta")
        loss = F.nll_loss(F.log_softmax(emb, dim=1), cls)
        raise RuntimeError({message})   # the next matmul
    """)
    assert form in run.out
    assert_explained(run.out, "cls", 6)


def test_one_hot_on_cuda(cuda):
    run = cuda.run("""
        import torch, torch.nn.functional as F
        tags = torch.randint(0, 4, (10,), device="meta")
        onehot = F.one_hot(tags, num_classes=3)
        raise torch.AcceleratorError(ASSERT_MESSAGE)   # onehot.sum().item()
    """)
    assert "in F.one_hot: most likely a value of `tags` outside 0..2 (num_classes = 3)" in run.out
    assert "restart the kernel" in run.out


# --- the variant, from the code and the metadata -------------------------------------------------------------------

def test_padding_minus_one_in_token_labels_gets_ignore_index(cuda):
    run = cuda.run("""
        import torch, torch.nn.functional as F
        scores = torch.randn(4, 12, 9, device="meta", requires_grad=True)
        tags = torch.randint(0, 9, (4, 12), device="meta")
        tags[:, 10:] = -1   # padding after each sentence
        loss = F.cross_entropy(scores.view(-1, 9), tags.view(-1))
        raise torch.AcceleratorError(ASSERT_MESSAGE)
    """)
    assert_explained(run.out, "tags.view(-1)", 9)
    assert "The code puts -1 into `tags`" in run.out
    assert "loss = F.cross_entropy(scores.view(-1, 9), tags.view(-1), ignore_index=-1)" in run.out


def test_a_loss_that_already_ignores_255_is_not_told_to(cuda):
    run = cuda.run("""
        import torch, torch.nn as nn
        criterion = nn.CrossEntropyLoss(ignore_index=255)
        seg = torch.randn(2, 3, 8, 8, device="meta", requires_grad=True)
        gt = torch.randint(0, 3, (2, 8, 8), device="meta")
        gt[:, 0] = 255
        loss = criterion(seg, gt)
        raise RuntimeError(OLD_MESSAGE)
    """)
    assert_explained(run.out, "gt", 3)
    assert "ignore_index=255" in run.out  # read back from the autograd node
    assert "does not ignore it" not in run.out


def test_a_class_count_larger_than_the_model_output(cuda):
    run = cuda.run("""
        import torch, torch.nn as nn
        num_classes = 12
        model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 10)).to("meta")
        x = torch.randn(16, 20, device="meta")
        y = torch.randint(0, num_classes, (16,), device="meta")
        loss = nn.CrossEntropyLoss()(model(x), y)
        raise torch.AcceleratorError(ASSERT_MESSAGE)
    """)
    assert_explained(run.out, "y", 10)
    assert "`num_classes` is 12 but `model(x)` has only 10 outputs" in run.out


def test_an_embedding_in_the_loss_history_is_named_as_the_other_suspect(cuda):
    run = cuda.run("""
        import torch, torch.nn as nn, torch.nn.functional as F
        emb = nn.Embedding(100, 16).to("meta")
        head = nn.Linear(16, 4).to("meta")
        tokens = torch.randint(0, 100, (8, 12), device="meta")
        label_ids = torch.randint(0, 4, (8,), device="meta")
        loss = F.cross_entropy(head(emb(tokens).mean(1)), label_ids)
        raise torch.AcceleratorError(ASSERT_MESSAGE)
    """)
    assert_explained(run.out, "label_ids", 4)
    assert "An nn.Embedding lookup feeds this loss too: a token id >= num_embeddings" in run.out


# --- where the hint must stay quiet ------------------------------------------------------------------------------

def test_a_cuda_error_with_no_loss_in_sight_gets_no_hint(cuda):
    run = cuda.run("""
        import torch
        emb = torch.nn.Embedding(10, 4)
        raise torch.AcceleratorError(ASSERT_MESSAGE)
    """)
    assert "CUDA error" in run.out
    assert "nllhint" not in run.out


def test_a_loss_computed_on_the_cpu_is_not_blamed(cuda):
    run = cuda.run("""
        import torch, torch.nn.functional as F
        logits = torch.randn(4, 3, requires_grad=True)
        labels = torch.tensor([0, 1, 2, 1])
        loss = F.cross_entropy(logits, labels)
        raise torch.AcceleratorError(ASSERT_MESSAGE)   # from something else, on the GPU
    """)
    assert "CUDA error" in run.out and "nllhint" not in run.out


def test_a_cudnn_error_on_the_loss_line_itself_is_not_called_an_assert(cuda):
    """A cuDNN failure in the model's forward, before the loss ran, is not explained as the loss's assert."""
    run = cuda.run("""
        import torch, torch.nn as nn
        def model(x):
            raise RuntimeError(CUDNN_MESSAGE)
        x = torch.randn(2, 3, device="meta")
        y = torch.randint(0, 3, (2,), device="meta")
        loss = nn.CrossEntropyLoss()(model(x), y)
    """)
    assert "cuDNN error" in run.out and "nllhint" not in run.out


# --- %%losscheck ---------------------------------------------------------------------------------------------------

def test_losscheck_report_does_not_say_no_problems_above_an_assert(cuda):
    run = cuda.run("""
        %%losscheck
        import torch, torch.nn.functional as F
        logits = torch.randn(16, 10, device="meta", requires_grad=True)
        targets = torch.randint(1, 11, (16,), device="meta")
        loss = F.cross_entropy(logits, targets)
        raise torch.AcceleratorError(ASSERT_MESSAGE)   # loss.item()
    """)
    report, _, rest = run.out.partition("Traceback")
    assert "nllhint losscheck: 1 loss call at 1 site" in report
    assert "no problems found" not in report
    assert "CUDA error" in report  # the report says the cell stopped at it
    assert_explained(rest or run.out, "targets", 10)


# --- nllhint run --------------------------------------------------------------------------------------------------

def test_script_under_nllhint_run_with_the_assert_at_float_loss(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(f"""
        import torch, torch.nn as nn

        ASSERT_MESSAGE = {ASSERT_MESSAGE!r}
        model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 5)).to("meta")
        criterion = nn.CrossEntropyLoss()

        def train():
            for step in range(3):
                x = torch.randn(8, 10, device="meta")
                labels_gpu = torch.randint(1, 6, (8,), device="meta")
                loss = criterion(model(x), labels_gpu)
                raise torch.AcceleratorError(ASSERT_MESSAGE)   # float(loss) on CUDA

        train()
    """))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "FORCE_COLOR", "NLLHINT_DEBUG")}
    env["NO_COLOR"] = "1"
    done = subprocess.run([sys.executable, "-m", "nllhint", "run", str(script)], capture_output=True, text=True,
                          env=env, timeout=300)
    assert done.returncode == 1
    assert "torch.AcceleratorError: CUDA error: device-side assert triggered" in done.stderr
    assert_explained(done.stderr, "labels_gpu", 5, kernel=False)
    assert "train.py:12" in done.stderr
