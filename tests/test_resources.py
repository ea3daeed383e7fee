"""Long-lived notebooks: nllhint keeps no tensor alive, copies no big tensor, and leaves the RNG, autograd
modes, threads and open files as it found them.

Memory is compared with the same steps *without* the extension (IPython itself keeps the failing frames
through ``sys.last_*``, ``shell.last_execution_result`` and ``shell.InteractiveTB.tb``; nllhint must
not add a fourth holder). Peak memory of a hint on a 2*10^8-element tensor is measured in a subprocess
from ``/proc/self/status`` (``VmHWM`` after resetting it through ``/proc/self/clear_refs``): torch's
allocations are invisible to tracemalloc.
"""

from __future__ import annotations

import gc
import json
import os
import random
import subprocess
import sys
import textwrap
import threading
import warnings

import pytest
import torch

import nllhint

STEP = """
import torch, torch.nn as nn, weakref
def step():
    big = torch.randn(1000, 5)
    labels = torch.arange(1000) % 5 + 1
    global probe
    probe = weakref.ref(big)
    return nn.CrossEntropyLoss()(big, labels)
"""


def _clear_ipython_holders(shell) -> None:
    sys.last_traceback = sys.last_value = sys.last_type = None
    if hasattr(sys, "last_exc"):
        sys.last_exc = None
    shell.last_execution_result = None
    shell.InteractiveTB.tb = None


def _lifetime(shell, capsys) -> tuple[bool, bool, bool, str]:
    """Is the failing frame's tensor alive after the cell, after IPython lets go (no gc), after gc?"""
    shell.run_cell(STEP)
    capsys.readouterr()
    gc.collect()
    gc.disable()  # only reference counting decides, as at the prompt between two collections
    try:
        shell.run_cell("step()")
        out = capsys.readouterr().out
        ref = shell.user_ns["probe"]
        after_cell = ref() is not None
        _clear_ipython_holders(shell)
        after_release = ref() is not None
    finally:
        gc.enable()
    gc.collect()
    return after_cell, after_release, ref() is not None, out


def test_the_failing_frames_tensor_is_freed_exactly_when_it_is_without_the_extension(shell, capsys):
    without = _lifetime(shell, capsys)
    shell.run_line_magic("load_ext", "nllhint")
    try:
        with_ext = _lifetime(shell, capsys)
    finally:
        shell.run_line_magic("unload_ext", "nllhint")
    assert "nllhint NLH101" in with_ext[3] and "nllhint" not in without[3]
    assert with_ext[:3] == without[:3]
    assert with_ext[2] is False


def test_a_watched_cell_keeps_no_tensor_alive(shell, capsys):
    def lifetime(magic: str) -> tuple[bool, bool]:
        shell.run_cell(textwrap.dedent(f"""
            {magic}
            import torch, torch.nn as nn, weakref
            x = torch.randn(500, 5)
            y = torch.randint(0, 5, (500,))
            loss = nn.CrossEntropyLoss()(x.softmax(1), y)   # a finding: softmax before CrossEntropyLoss
            probe = weakref.ref(x)
        """).strip())
        out = capsys.readouterr().out
        gc.disable()
        try:
            shell.run_cell("del x, y, loss")
            freed_by_refcount = shell.user_ns["probe"]() is None
        finally:
            gc.enable()
        gc.collect()
        return freed_by_refcount, shell.user_ns["probe"]() is None, out

    without = lifetime("")
    shell.run_line_magic("load_ext", "nllhint")
    try:
        watched = lifetime("%%losscheck")
    finally:
        shell.run_line_magic("unload_ext", "nllhint")
    assert "NLH804" in watched[2]
    assert watched[:2] == without[:2] == (True, True)


# --- no copy of a big tensor ------------------------------------------------------------------------------

PEAK_SCRIPT = r"""
import json, sys, torch, torch.nn as nn, torch.nn.functional as F
import nllhint

def status():
    out = {}
    for line in open("/proc/self/status"):
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            out[key] = int(value.split()[0]) * 1024
    return out

def growth(fn):
    open("/proc/self/clear_refs", "w").write("5")  # VmHWM := VmRSS
    before = status()["VmRSS"]
    fn()
    return status()["VmHWM"] - before

def failing(x, y):
    try:
        nn.CrossEntropyLoss()(x, y)
    except Exception as exc:
        return exc

small = failing(torch.randn(8, 5), torch.arange(8) % 5 + 1)
nllhint.explain(small)  # imports and caches: not what is measured
with nllhint.watch():
    F.mse_loss(torch.randn(4), torch.randn(4))

N, C = 1_000_000, 200  # 2*10^8 float32 elements: 800 MB
x = torch.full((N, C), 0.5)
x[:, 0] = 3.0
labels = torch.arange(N) % C + 1  # labels 1..C: target-range, read from the 8 MB labels and the input
exc = failing(x, labels)
found = []
explain_growth = growth(lambda: found.extend(nllhint.explain(exc)))

a, b = x.view(-1)[: 50_000_000], torch.zeros(50_000_000)  # 200 MB each
def watched():
    with nllhint.watch():
        F.mse_loss(a, b)
plain_growth = growth(lambda: F.mse_loss(a, b))
watch_growth = growth(watched)
print(json.dumps({"codes": [f.code for f in found], "explain": explain_growth,
                  "plain": plain_growth, "watch": watch_growth}))
"""


def _available_bytes() -> int:
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="needs Linux /proc peak-RSS reset")
@pytest.mark.skipif(_available_bytes() < 4 * 2 ** 30, reason="needs about 3 GB of free memory")
def test_a_hint_on_a_big_tensor_allocates_no_copy_of_it():
    proc = subprocess.run([sys.executable, "-c", PEAK_SCRIPT], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    mb = 2 ** 20
    assert result["codes"] == ["NLH101"]  # the big tensors were really examined
    assert result["explain"] < 32 * mb, result  # a copy of the input would be 800 MB
    assert result["watch"] - result["plain"] < 32 * mb, result  # the watch adds no copy to the loss's own


# --- global state ---------------------------------------------------------------------------------------------

def _failing_calls():
    """Errors through several losses and rules (values read, grad_fn walked, source parsed)."""
    import torch.nn as nn
    import torch.nn.functional as F

    x = torch.randn(8, 5, requires_grad=True)
    cases = [
        lambda: nn.CrossEntropyLoss()(x, torch.tensor([1, 2, 3, 4, 5, 1, 2, 3])),
        lambda: nn.NLLLoss()(x.log_softmax(1), torch.randn(8)),
        lambda: F.binary_cross_entropy(x.sigmoid(), torch.randint(0, 2, (8, 5))),
        lambda: F.cross_entropy(x, torch.randint(0, 5, (7,))),
        lambda: F.one_hot(torch.tensor([0, 3, 1]), num_classes=3),
        lambda: F.ctc_loss(torch.randn(6, 2, 4).log_softmax(2), torch.tensor([[1, 2], [1, 3]]), [6, 6], [3, 2]),
        lambda: nn.CrossEntropyLoss(reduction="none")(x, torch.randint(0, 5, (8,))).backward(),
    ]
    errors = []
    for case in cases:
        try:
            case()
        except Exception as exc:
            errors.append(exc)
    assert len(errors) == len(cases)
    return errors


def _global_state():
    import numpy as np

    return (torch.get_rng_state(), random.getstate(), np.random.get_state()[1].copy(), torch.is_grad_enabled(),
            torch.is_inference_mode_enabled(), torch.is_anomaly_enabled(), torch.get_default_dtype(),
            torch.are_deterministic_algorithms_enabled(), torch.get_num_threads(),
            torch._C._is_torch_function_enabled())


def _assert_same_state(before, after) -> None:
    assert torch.equal(before[0], after[0]), "torch RNG"
    assert before[1] == after[1], "Python random"
    assert (before[2] == after[2]).all(), "NumPy random"
    assert before[3:] == after[3:]


@pytest.mark.parametrize("grad_mode", [True, False])
def test_explain_and_the_watch_leave_rng_and_autograd_modes_alone(grad_mode):
    errors = _failing_calls()
    with torch.set_grad_enabled(grad_mode):
        before = _global_state()
        found = [nllhint.explain(exc) for exc in errors]
        assert sum(bool(f) for f in found) >= 5
        _assert_same_state(before, _global_state())

    def block():  # the user's own draws happen between the watched calls
        x = torch.randn(16, 4)
        torch.nn.CrossEntropyLoss()(x.softmax(1), torch.tensor([0, 1, 2, 3] * 4))
        torch.nn.functional.mse_loss(torch.randn(16, 1), torch.randn(16))
        return torch.randn(3)

    with torch.random.fork_rng(devices=[]), torch.set_grad_enabled(grad_mode), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.manual_seed(0)
        plain = block(), torch.get_rng_state()
        torch.manual_seed(0)
        with nllhint.watch() as report:
            watched = block(), torch.get_rng_state()
        assert torch.is_grad_enabled() == grad_mode
    assert [f.code for f in report.findings] == ["NLH804", "NLH901"]
    assert torch.equal(plain[0], watched[0]) and torch.equal(plain[1], watched[1])


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_no_thread_or_open_file_is_left_behind(ipython):
    errors = _failing_calls()
    ipython.run("%%losscheck\nimport torch\ntorch.nn.functional.mse_loss(torch.randn(4, 1), torch.randn(4))")
    ipython.run("import torch; torch.nn.CrossEntropyLoss()(torch.randn(4, 3), torch.tensor([1, 2, 3, 1]))")
    gc.collect()
    threads, fds = set(threading.enumerate()), _open_fds()
    for exc in errors:
        nllhint.explain(exc)
    with nllhint.watch():
        torch.nn.CrossEntropyLoss()(torch.randn(8, 5).softmax(1), torch.randint(0, 5, (8,)))
    run = ipython.run("torch.nn.CrossEntropyLoss()(torch.randn(4, 3), torch.tensor([1, 2, 3, 1]))")
    assert "nllhint NLH101" in run.out
    ipython.run("%%losscheck\ntorch.nn.functional.mse_loss(torch.randn(4, 1), torch.randn(4))")
    gc.collect()
    assert set(threading.enumerate()) == threads
    assert _open_fds() == fds
