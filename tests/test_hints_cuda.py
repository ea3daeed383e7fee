"""CUDA device-side asserts, exercised on a CPU machine with PyTorch's real message text.

After a device-side assert every CUDA op raises again, so the hint must be built from metadata only:
these tests check that no value is read (the evidence says so) and that the hint says how to confirm.
"""

CUDA_MESSAGE = (
    "CUDA error: device-side assert triggered\n"
    "CUDA kernel errors might be asynchronously reported at some other API call, so the stacktrace "
    "below might be incorrect.\nFor debugging consider passing CUDA_LAUNCH_BLOCKING=1\n"
    "Compile with `TORCH_USE_CUDA_DSA` to enable device-side assertions.\n"
)


def test_device_side_assert_inside_the_loss_is_explained_from_metadata(ipython):
    ipython.shell.user_ns["CUDA_MESSAGE"] = CUDA_MESSAGE
    run = ipython.run("""
        import torch, torch.nn as nn

        class KernelFailsLikeCuda(torch.Tensor):
            # stands in for a CUDA tensor whose kernel hits `t >= 0 && t < n_classes`
            @classmethod
            def __torch_function__(cls, func, types, args=(), kwargs=None):
                if getattr(func, "__name__", "") == "cross_entropy":
                    raise RuntimeError(CUDA_MESSAGE)
                return super().__torch_function__(func, types, args, kwargs or {})

        logits = torch.randn(16, 10).as_subclass(KernelFailsLikeCuda)
        targets = torch.randint(0, 11, (16,))
        loss = nn.CrossEntropyLoss()(logits, targets)
    """)
    assert "RuntimeError: CUDA error: device-side assert triggered" in run.out
    assert "nllhint NLH106" in run.out
    assert "0..9 (C = 10)" in run.out
    assert "targets.min().item()" in run.out
    assert "values unavailable: not read after a CUDA error" in run.out


def test_device_side_assert_reported_at_a_later_line_names_the_loss(ipython):
    ipython.shell.user_ns["CUDA_MESSAGE"] = CUDA_MESSAGE
    run = ipython.run("""
        import torch, torch.nn as nn
        criterion = nn.CrossEntropyLoss()
        logits = torch.randn(16, 10, requires_grad=True)
        labels = torch.randint(0, 10, (16,))
        loss = criterion(logits, labels)
        raise RuntimeError(CUDA_MESSAGE)  # what `loss.item()` raises on CUDA after the assert
    """)
    assert "nllhint NLH106" in run.out
    assert "values unavailable" in run.out


def test_a_cuda_error_with_no_loss_in_sight_gets_no_hint(ipython):
    ipython.shell.user_ns["CUDA_MESSAGE"] = CUDA_MESSAGE
    run = ipython.run("""
        import torch
        emb = torch.nn.Embedding(10, 4)
        raise RuntimeError(CUDA_MESSAGE)
    """)
    assert "CUDA error" in run.out
    assert "nllhint" not in run.out
