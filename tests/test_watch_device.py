"""The watch's accelerator path: no host-device synchronisation between examinations (one in-place
kernel per call folds NaN/Inf into a device flag), and class indices checked before the loss kernel on
examined calls, so a bad label is an ordinary exception with the hint instead of a device-side assert.

Without a GPU the path is forced on CPU tensors (``watcher._FORCE_DEVICE_PATH``, for tests only);
tests marked ``cuda`` run the same on a real GPU and skip cleanly without one.
"""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode

import nllhint
from nllhint import watcher


@pytest.fixture
def device_path(monkeypatch):
    monkeypatch.setattr(watcher, "_FORCE_DEVICE_PATH", True)


class CountOps(TorchDispatchMode):
    """Every aten op that runs (one per kernel launch on a device), by name."""

    def __init__(self):
        super().__init__()
        self.ops: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops.append(func.__name__)
        return func(*args, **(kwargs or {}))


def ops_of(fn) -> list[str]:
    with CountOps() as counter:
        fn()
    return counter.ops


VIEWS = {"detach.default", "view.default", "alias.default", "_reshape_alias.default"}  # no kernel


def kernels(ops: list[str]) -> list[str]:
    return [op for op in ops if op not in VIEWS]


def extra_ops(step, warmup: int = 10) -> list[str]:
    """The ops the watch adds to one call of ``step`` after ``warmup`` calls at the same site."""
    plain = ops_of(step)
    with nllhint.watch():
        for _ in range(warmup):  # calls 1-3 are examined; later ones fold into the flag
            step()
        watched = ops_of(step)
    extra = kernels(watched)
    for op in kernels(plain):
        extra.remove(op)
    return extra


def test_between_examinations_a_call_adds_one_in_place_op_and_no_read(device_path):
    logits, labels = torch.randn(32, 10), torch.randint(0, 10, (32,))
    criterion = nn.CrossEntropyLoss()
    assert extra_ops(lambda: criterion(logits, labels)) == ["add_.Tensor"]


def test_the_old_per_call_check_cost_more(device_path):
    """For the record: isfinite(loss).all().logical_not() folded with logical_or, as the watch did before."""
    loss, flag = torch.tensor(1.0), torch.tensor(False)
    old = kernels(ops_of(lambda: flag.logical_or(torch.isfinite(loss).all().logical_not())))
    assert len(old) >= 4


def test_a_loss_with_several_values_costs_three_ops_and_overflow_is_not_nan(device_path):
    big, small = torch.full((4,), 5e18), torch.full((4,), -5e18)  # each loss 1e38: finite; their sum is not
    assert extra_ops(lambda: F.mse_loss(big, small, reduction="none")) == ["mul.Tensor", "sum.default", "add_.Tensor"]
    with nllhint.watch() as report:
        for _ in range(30):
            F.mse_loss(big, small, reduction="none")  # finite values whose sum overflows to inf
    assert report.findings == []


def test_the_first_nan_is_reported_within_the_examination_interval(device_path):
    model, criterion = nn.Linear(4, 3), nn.CrossEntropyLoss()
    with nllhint.watch() as report:
        for step in range(1, 101):
            x = torch.randn(8, 4)
            if step >= 40:
                x[0, 0] = float("nan")
            criterion(model(x), torch.randint(0, 3, (8,)))
    (finding,) = report.findings
    assert finding.code == "NLH902"
    assert "between calls 17 and 63" in finding.message  # read at the examination of call 64


def test_a_nan_after_the_last_examination_is_read_when_the_watch_ends(device_path):
    with nllhint.watch() as report:
        for step in range(1, 31):
            value = float("inf") if step == 25 else 1.0
            F.mse_loss(torch.tensor([value]), torch.tensor([0.0]))
    (finding,) = report.findings
    assert "between calls 17 and 30" in finding.message


def test_default_mode_reads_the_flag_at_the_end_of_the_cell(ipython, device_path):
    run = ipython.run("""
        import torch, torch.nn as nn
        model, criterion = nn.Linear(4, 3), nn.CrossEntropyLoss()
        for step in range(50):
            x = torch.randn(8, 4)
            if step == 30:
                x[0, 0] = float('inf')
            loss = criterion(model(x), torch.randint(0, 3, (8,)))
    """)
    assert run.out.count("NLH902") == 1, run.out


def test_one_based_labels_raise_before_the_kernel_with_the_hint(ipython, device_path):
    run = ipython.run("""
        import torch, torch.nn.functional as F
        logits = torch.randn(6, 4)
        targets = torch.tensor([1, 4, 2, 3, 4, 1])
        loss = F.cross_entropy(logits, targets)
    """)
    assert not run.success
    assert "IndexError: Target 4 is out of bounds." in run.out
    last_frame = run.out.split("IndexError: Target")[-2]
    assert "def cross_entropy(" in last_frame and "cross_entropy_loss(" not in last_frame  # stopped before the kernel
    assert "nllhint NLH101" in run.out and "targets - 1" in run.out, run.out
    assert ipython.run("print(F.cross_entropy(logits, targets - 1).shape)").out == "torch.Size([])\n"


def test_segmentation_padding_255_in_nll_loss_nd(ipython, device_path):
    run = ipython.run("""
        import torch, torch.nn as nn, torch.nn.functional as F
        scores = F.log_softmax(torch.randn(2, 5, 8, 8), dim=1)
        mask = torch.randint(0, 5, (2, 8, 8))
        mask[:, :2] = 255
        loss = nn.NLLLoss()(scores, mask)
    """)
    assert not run.success and "IndexError: Target 255 is out of bounds." in run.out
    assert "nllhint NLH" in run.out
    fine = ipython.run("loss = nn.NLLLoss(ignore_index=255)(scores, mask)")
    assert fine.success and fine.out == ""


def test_the_range_check_is_one_reduction_and_one_read(device_path):
    logits, labels = torch.randn(16, 5), torch.randint(0, 5, (16,))
    with nllhint.watch():
        ops = ops_of(lambda: F.cross_entropy(logits, labels))  # call 1: examined
    check = kernels(ops[:ops.index("aminmax.default") + 2])
    assert check == ["eq.Scalar", "masked_fill.Scalar", "aminmax.default", "stack.default"], ops


def test_class_probabilities_and_meta_tensors_are_not_range_checked(device_path):
    with nllhint.watch():
        probs = torch.softmax(torch.randn(4, 3), dim=1)
        logits = torch.randn(4, 3)
        ops = ops_of(lambda: F.cross_entropy(logits, probs))
        assert "aminmax.default" not in ops[:ops.index("_log_softmax.default")]
        F.cross_entropy(torch.randn(4, 3, device="meta"), torch.zeros(4, dtype=torch.long, device="meta"))


cuda = pytest.mark.cuda


def _gpu():
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    return torch.device("cuda")


@cuda
def test_cuda_training_loop_has_no_sync_between_examinations():
    """Steps 5-15 (after the sampled examinations 1-3 and the flag's creation at 4, before the examination
    at 16) synchronise exactly as often as the same steps without the watch."""
    import contextlib
    import warnings

    device = _gpu()

    def syncs(context) -> int:
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 10)).to(device)
        optimizer = torch.optim.Adam(model.parameters())
        x, y = torch.randn(512, 784, device=device), torch.randint(0, 10, (512,), device=device)

        def step():
            optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(model(x), y).backward()
            optimizer.step()

        with context:
            for _ in range(4):
                step()
            torch.cuda.synchronize()
            with warnings.catch_warnings(record=True) as seen:
                warnings.simplefilter("always")
                torch.cuda.set_sync_debug_mode("warn")
                try:
                    for _ in range(11):
                        step()
                finally:
                    torch.cuda.set_sync_debug_mode(0)
        return sum("synchroniz" in str(w.message) for w in seen)

    assert syncs(nllhint.watch()) == syncs(contextlib.nullcontext())


@cuda
def test_cuda_one_based_labels_raise_an_ordinary_error_and_the_context_survives():
    device = _gpu()
    logits, targets = torch.randn(6, 4, device=device), torch.tensor([1, 4, 2, 3, 4, 1], device=device)
    with nllhint.watch():
        with pytest.raises(IndexError, match="Target 4 is out of bounds"):
            F.cross_entropy(logits, targets)
    assert torch.ones(2, device=device).sum().item() == 2.0  # no device-side assert happened


def test_one_hot_out_of_range_raises_the_cpu_error_with_the_hint(ipython, device_path):
    run = ipython.run("""
        import torch, torch.nn.functional as F
        labels = torch.tensor([1, 2, 3, 3])
        encoded = F.one_hot(labels, num_classes=3)
    """)
    assert not run.success
    assert run.out.count("RuntimeError: Class values must be smaller than num_classes.") == 1
    assert "----> 3 encoded = F.one_hot(labels, num_classes=3)" in run.out
    assert "nllhint NLH" in run.out, run.out
    assert ipython.run("print(F.one_hot(labels - 1, num_classes=3).shape)").out == "torch.Size([4, 3])\n"


def test_one_hot_is_scripted_and_compiled_as_the_builtin_under_the_watch():
    def encode(x: torch.Tensor):
        return F.one_hot(x, 3)

    with nllhint.watch():
        scripted = torch.jit.script(encode)
        compiled = torch.compile(encode, backend="eager", fullgraph=True)
        x = torch.tensor([0, 2, 1])
        assert torch.equal(scripted(x), compiled(x)) and torch.equal(scripted(x), F.one_hot(x, 3))
    assert F.one_hot is torch._C._nn.one_hot


def test_a_poisoned_context_at_the_end_keeps_the_sites_of_the_report(device_path, monkeypatch):
    """After a device-side assert every CUDA op raises, the flag read at the end included: the report
    still lists the calls it saw (and never reads the other flags)."""
    reads = []

    def poisoned(self, site, upto):
        reads.append(site)
        raise RuntimeError("CUDA error: device-side assert triggered")

    monkeypatch.setattr(watcher.Watch, "_read_flag", poisoned)
    with nllhint.watch() as report:
        for _ in range(20):
            F.mse_loss(torch.ones(3), torch.zeros(3))
            F.l1_loss(torch.ones(3), torch.zeros(3))
        reads.clear()  # examinations read too; count the reads at the end of the watch
    assert report.calls == 40
    assert len(report.sites) == 2
    assert len(reads) == 1
