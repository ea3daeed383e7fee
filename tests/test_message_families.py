"""PyTorch's older wordings of the loss errors, as released, map to the same families and hints.

The strings are exact copies from PyTorch's release history (1.x THNN/ATen messages); the end-to-end
tests raise them from inside a real loss call, through a tensor subclass whose ``__torch_function__``
plays the old release, and check that the hint is the one today's wording gets.
"""

import pytest

from nllhint.messages import classify

OLD_WORDINGS = [
    # (release, exact message, family)
    ("1.0-1.4 CPU", "Assertion `cur_target >= 0 && cur_target < n_classes' failed.  at "
     "/pytorch/aten/src/THNN/generic/ClassNLLCriterion.c:97", "target-out-of-bounds"),
    ("1.5+", "Target 5 is out of bounds.", "target-out-of-bounds"),
    ("CUDA", "CUDA error: device-side assert triggered", "cuda-assert"),
    ("CUDA kernel", "/pytorch/aten/src/ATen/native/cuda/Loss.cu:242: nll_loss_forward_reduce_cuda_kernel_2d: "
     "block: [0,0,0], thread: [5,0,0] Assertion `t >= 0 && t < n_classes` failed.", "cuda-assert"),
    ("1.0-1.4", "multi-target not supported at /pytorch/aten/src/THNN/generic/ClassNLLCriterion.c:22",
     "multi-target"),
    ("1.5+", "1D target tensor expected, multi-target not supported", "multi-target"),
    ("2.x", "0D or 1D target tensor expected, multi-target not supported", "multi-target"),
    ("1.5-1.8", "1only batches of spatial targets supported (3D tensors) but got targets of dimension: 4",
     "spatial-target-dim"),
    ("1.x", "only batches of spatial targets supported (non-empty 3D tensors) but got targets of size: "
     ": [4, 1, 32, 32]", "spatial-target-dim"),
    ("1.0-1.4", "Expected object of scalar type Long but got scalar type Float for argument #2 'target' "
     "in call to _thnn_nll_loss_forward", "target-dtype"),
    ("1.5-1.12", "expected scalar type Long but found Float", "scalar-type"),
    ("2.x", "expected target dtype to be Long or Byte, but got Float", "target-dtype"),
    ("1.0-1.4", "Expected object of scalar type Float but got scalar type Long for argument #2 'target'",
     "scalar-type"),
    ("1.7+", "Found dtype Long but expected Float", "found-dtype"),
    ("1.x", "Expected input batch_size (32) to match target batch_size (8).", "batch-size"),
    ("1.x", "Expected target size (2, 7), got torch.Size([2, 5])", "target-size"),
    ("2.x", "Expected target size [2, 7], got [2, 5]", "target-size"),
    ("1.x", "Target size (torch.Size([16])) must be the same as input size (torch.Size([16, 1]))", "bce-size"),
    ("1.x", "Expected tensor to have size at least 30 at dimension 1, but got size 29 for argument #2 "
     "'targets' (while checking arguments for ctc_loss_cpu)", "ctc-lengths"),
    ("1.x", "Expected object of device type cuda but got device type cpu for argument #2 'target' in "
     "call to _thnn_nll_loss_forward", "device"),
    ("1.x", "weight tensor should be defined either for all 10 classes or no classes but got weight "
     "tensor of shape: [5]", "weight-classes"),
]


@pytest.mark.parametrize("release,message,family", OLD_WORDINGS, ids=[f"{r}: {m[:40]}" for r, m, _ in OLD_WORDINGS])
def test_each_wording_is_in_its_family(release, message, family):
    assert family in [m.family for m in classify(message)]


PLAYS_OLD_RELEASE = '''
import torch, torch.nn as nn

class OldTorch(torch.Tensor):
    """A tensor that makes the loss fail with an older release's wording."""
    message = ""

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if getattr(func, "__name__", "") in ("nll_loss", "cross_entropy", "binary_cross_entropy"):
            raise RuntimeError(cls.message)
        return super().__torch_function__(func, types, args, kwargs or {})
'''

END_TO_END = [
    ("Assertion `cur_target >= 0 && cur_target < n_classes' failed.  at "
     "/pytorch/aten/src/THNN/generic/ClassNLLCriterion.c:97",
     "outputs = torch.randn(8, 5).as_subclass(OldTorch)\nlabels = torch.tensor([1, 2, 3, 4, 5, 1, 2, 3])\n"
     "loss = nn.CrossEntropyLoss()(outputs, labels)", "NLH101", "labels - 1"),
    ("multi-target not supported at /pytorch/aten/src/THNN/generic/ClassNLLCriterion.c:22",
     "outputs = torch.randn(4, 3).log_softmax(1).as_subclass(OldTorch)\n"
     "onehot = torch.eye(3, dtype=torch.long)[torch.tensor([0, 2, 1, 0])]\n"
     "loss = nn.NLLLoss()(outputs, onehot)", "NLH201", "onehot.argmax(dim=1)"),
    ("Expected object of scalar type Long but got scalar type Float for argument #2 'target' in call to "
     "_thnn_nll_loss_forward",
     "outputs = torch.randn(6, 3).as_subclass(OldTorch)\ntargets = torch.Tensor([0, 2, 1, 1, 0, 2])\n"
     "loss = nn.CrossEntropyLoss()(outputs, targets)", "NLH250", "targets.long()"),
]


@pytest.mark.parametrize("message,cell,code,fix", END_TO_END, ids=[c for _, _, c, _ in END_TO_END])
def test_an_old_wording_raised_in_a_loss_gets_todays_hint(ipython, message, cell, code, fix):
    ipython.run(PLAYS_OLD_RELEASE)
    ipython.shell.user_ns["OldTorch"].message = message
    run = ipython.run(cell)
    assert message.splitlines()[0][:40] in run.out
    assert f"nllhint {code} " in run.out
    assert fix in run.out
