"""What must hold for the exception hints in a real IPython shell, whatever the rules say."""

from __future__ import annotations

import gc
import re
import subprocess
import sys
import textwrap
import weakref

import pytest

LOSS_ERROR = """
import torch, torch.nn as nn
criterion = nn.CrossEntropyLoss()
outputs = torch.randn(8, 5, requires_grad=True)
labels = torch.tensor([1, 2, 3, 4, 5, 1, 2, 3])
loss = criterion(outputs, labels)
"""


def _normalise(text: str) -> str:
    """Cell numbers differ between two runs of the same cell; nothing else may."""
    text = re.sub(r"In\[\d+\]", "In[N]", text)
    return re.sub(r"<ipython-input-\d+-[0-9a-f]+>", "<ipython-input-N>", text)


NON_LOSS_CELLS = [
    "1 / 0",
    "import torch\ntorch.randn(2, 3) @ torch.randn(2, 3)",
    "import torch\ndef f(x):\n    return x.view(7)\nf(torch.randn(3))",
    "undefined_name + 1",
    "def broken(:\n    pass",
    "import torch, torch.nn as nn\nloss = nn.MSELoss()(torch.randn(3), torch.randn(3))\nloss.item() + 'a'",
]


@pytest.mark.parametrize("cell", NON_LOSS_CELLS)
def test_errors_not_from_a_loss_look_exactly_as_without_the_extension(shell, capsys, cell):
    capsys.readouterr()
    shell.run_cell(cell)
    without = capsys.readouterr().out
    shell.run_line_magic("load_ext", "nllhint")
    try:
        shell.run_cell(cell)
        with_ext = capsys.readouterr().out
    finally:
        shell.run_line_magic("unload_ext", "nllhint")
    assert _normalise(with_ext) == _normalise(without)
    assert "nllhint" not in with_ext


def test_loss_error_shows_the_traceback_once_then_the_hint(ipython):
    run = ipython.run(LOSS_ERROR)
    assert run.out.count("IndexError: Target 5 is out of bounds.") == 1
    assert run.out.count("Traceback") <= 1
    assert run.out.index("IndexError: Target 5") < run.out.index("nllhint NLH101")
    assert isinstance(run.result.error_in_exec, IndexError)


def test_the_hint_names_the_users_variables_not_the_losss_parameters(ipython):
    """IPython 7.34 (Colab) does not bring ``executing``, which finds the user's call: without it the hint
    said `target` and `input`. nllhint declares it."""
    from importlib.metadata import requires

    run = ipython.run(LOSS_ERROR)
    hint = run.out[run.out.index("nllhint NLH101"):]
    assert "`labels`" in hint and "`outputs`" in hint
    assert "`target`" not in hint and "`input`" not in hint
    assert any(r.replace(" ", "").startswith("executing") for r in requires("nllhint"))


def test_sys_last_and_tb_magic_see_the_loss_error(ipython):
    ipython.run(LOSS_ERROR)
    assert isinstance(sys.last_value, IndexError)
    again = ipython.run("%tb")
    assert "IndexError: Target 5 is out of bounds." in again.out


def test_pdb_is_still_called_after_the_hint(ipython, monkeypatch):
    calls = []
    monkeypatch.setattr(ipython.shell, "debugger", lambda force=False: calls.append(force))
    ipython.shell.call_pdb = True
    try:
        run = ipython.run(LOSS_ERROR)
    finally:
        ipython.shell.call_pdb = False
    assert "nllhint NLH101" in run.out
    assert calls, "IPython's %pdb hook must still run"


def test_xmode_minimal_keeps_the_hint(ipython):
    ipython.run("%xmode Minimal")
    try:
        run = ipython.run(LOSS_ERROR)
    finally:
        ipython.run("%xmode Context")
    assert "IndexError: Target 5 is out of bounds." in run.out
    assert "nllhint NLH101" in run.out
    assert "functional.py" not in run.out


def test_errors_inside_run_script_get_hints(ipython, tmp_path):
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(LOSS_ERROR))
    run = ipython.run(f"%run {script}")
    assert "IndexError: Target 5 is out of bounds." in run.out
    assert "nllhint NLH101" in run.out
    assert "loss = criterion(outputs, labels - 1)" in run.out


def _other_handler(self, etype, value, tb, tb_offset=None):
    print("OTHER EXTENSION SAW", etype.__name__)
    self.showtraceback((etype, value, tb), tb_offset=tb_offset)


@pytest.mark.parametrize("order", ["other-first", "nllhint-first"])
def test_coexists_with_an_extension_using_the_custom_exception_slot(shell, capsys, order):
    saved = (shell.custom_exceptions, shell.CustomTB)
    try:
        if order == "other-first":
            shell.set_custom_exc((BaseException,), _other_handler)
            shell.run_line_magic("load_ext", "nllhint")
        else:
            shell.run_line_magic("load_ext", "nllhint")
            shell.set_custom_exc((BaseException,), _other_handler)
        capsys.readouterr()
        shell.run_cell(textwrap.dedent(LOSS_ERROR))
        out = capsys.readouterr().out
        assert "OTHER EXTENSION SAW IndexError" in out
        assert out.count("IndexError: Target 5 is out of bounds.") == 1
        assert "nllhint NLH101" in out
    finally:
        shell.run_line_magic("unload_ext", "nllhint")
        shell.custom_exceptions, shell.CustomTB = saved


def test_unload_restores_the_shell_and_reload_works(shell, capsys):
    before = dict(shell.__dict__)
    line_magics = set(shell.magics_manager.magics["line"])
    cell_magics = set(shell.magics_manager.magics["cell"])
    callbacks = {name: list(cbs) for name, cbs in shell.events.callbacks.items()}
    shell.run_line_magic("load_ext", "nllhint")
    shell.run_line_magic("losscheck", "on")
    shell.run_line_magic("unload_ext", "nllhint")
    assert shell.__dict__.get("_showtraceback") == before.get("_showtraceback")
    assert set(shell.magics_manager.magics["line"]) == line_magics
    assert set(shell.magics_manager.magics["cell"]) == cell_magics
    assert {name: list(cbs) for name, cbs in shell.events.callbacks.items()} == callbacks
    import torch.nn.functional as F

    assert not hasattr(F.cross_entropy, "__wrapped__"), "the losses are torch's own again"
    assert set(shell.__dict__) == set(before)
    shell.run_line_magic("load_ext", "nllhint")
    shell.run_line_magic("reload_ext", "nllhint")
    try:
        capsys.readouterr()
        shell.run_cell(textwrap.dedent(LOSS_ERROR))
        out = capsys.readouterr().out
        assert out.count("nllhint NLH101") == 1
    finally:
        shell.run_line_magic("unload_ext", "nllhint")
    capsys.readouterr()
    shell.run_cell(textwrap.dedent(LOSS_ERROR))
    assert "nllhint" not in capsys.readouterr().out


def test_a_failing_hint_costs_one_line_never_the_traceback(ipython, monkeypatch):
    import nllhint.render

    def broken(*args, **kwargs):
        raise RuntimeError("renderer exploded")

    monkeypatch.setattr(nllhint.render, "render", broken)
    run = ipython.run(LOSS_ERROR)
    assert "IndexError: Target 5 is out of bounds." in run.out
    nllhint_lines = [line for line in run.out.splitlines() if "nllhint" in line]
    assert nllhint_lines == ["nllhint: could not build a hint (RuntimeError: renderer exploded)"]


def test_interrupt_during_the_hint_keeps_the_traceback(ipython, monkeypatch):
    core = sys.modules["nllhint.explain"]  # the module; nllhint.explain is the function

    def interrupted(exc):
        raise KeyboardInterrupt

    monkeypatch.setattr(core, "explain", interrupted)
    run = ipython.run(LOSS_ERROR)
    assert "IndexError: Target 5 is out of bounds." in run.out
    assert "nllhint: hint interrupted" in run.out


def test_nllhint_magic_switches_and_reports(ipython):
    assert "hints off" in ipython.run("%nllhint off").out
    assert "nllhint" not in ipython.run(LOSS_ERROR).out.replace("%nllhint", "")
    ipython.run("%nllhint on")
    ipython.run("%nllhint brief")
    brief = ipython.run(LOSS_ERROR).out
    assert "nllhint NLH101" in brief and "labels - 1" in brief and "evidence" not in brief
    ipython.run("%nllhint full")
    last = ipython.run("%nllhint last").out
    assert "NLH101" in last and "evidence" in last
    rules = ipython.run("%nllhint rules").out
    assert "NLH101  target-range" in rules
    bad = ipython.run("%nllhint sideways")
    assert "usage: %nllhint" in bad.out


def test_no_colour_with_nocolor_scheme_and_colour_otherwise(ipython, monkeypatch):
    plain = ipython.run(LOSS_ERROR).out
    hint = plain[plain.index("nllhint NLH101"):]
    assert "\x1b[" not in hint
    monkeypatch.delenv("NO_COLOR", raising=False)
    old = ipython.shell.colors
    ipython.shell.colors = "linux"
    try:
        coloured = ipython.run(LOSS_ERROR).out
        monkeypatch.setenv("NO_COLOR", "1")
        no_color_env = ipython.run(LOSS_ERROR).out
    finally:
        ipython.shell.colors = old
    assert "\x1b[" in coloured[coloured.index("NLH101") - 40:]
    tail = no_color_env[no_color_env.index("NLH101") - 20:]
    assert "\x1b[" not in tail


def test_hint_keeps_no_tensor_alive(ipython):
    ipython.run("""
        import torch, torch.nn as nn, weakref
        def step():
            big = torch.randn(1000, 5)
            labels = torch.arange(1000) % 5 + 1
            global probe
            probe = weakref.ref(big)
            return nn.CrossEntropyLoss()(big, labels)
    """)
    run = ipython.run("step()")
    assert "nllhint NLH101" in run.out
    del run  # the test's own handle on the ExecutionResult
    shell = ipython.shell
    ref = shell.user_ns["probe"]
    # IPython's own holders of the failing frames (see design.md section 4)
    sys.last_traceback = sys.last_value = sys.last_type = None
    if hasattr(sys, "last_exc"):
        sys.last_exc = None
    shell.last_execution_result = None
    shell.InteractiveTB.tb = None
    gc.collect()
    assert ref() is None


def test_hint_leaves_rng_and_grad_mode_alone(ipython):
    import torch

    grad = torch.is_grad_enabled()
    ipython.run(LOSS_ERROR)
    ipython.run("import torch; _state = torch.get_rng_state()")
    run = ipython.run("loss = criterion(outputs, labels)")
    assert "nllhint NLH101" in run.out
    assert torch.equal(ipython.shell.user_ns["_state"], torch.get_rng_state())
    assert torch.is_grad_enabled() == grad


def _run_python(code: str, *, env_extra=None) -> subprocess.CompletedProcess:
    import os

    env = dict(os.environ, **(env_extra or {}))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)


def test_load_ext_does_not_import_torch():
    proc = _run_python(
        "from IPython.testing.globalipapp import start_ipython\n"
        "ip = start_ipython()\n"
        "ip.run_line_magic('load_ext', 'nllhint')\n"
        "import sys\n"
        "print('torch imported:', 'torch' in sys.modules)\n"
    )
    assert "torch imported: False" in proc.stdout, proc.stderr


def test_without_torch_it_loads_says_so_once_and_stays_quiet():
    proc = _run_python(
        "import sys\n"
        "sys.modules['torch'] = None  # as if torch were not installed\n"
        "from IPython.testing.globalipapp import start_ipython\n"
        "ip = start_ipython()\n"
        "ip.run_line_magic('load_ext', 'nllhint')\n"
        "ip.run_line_magic('load_ext', 'nllhint')\n"
        "ip.run_cell('1/0')\n"
    )
    out = re.sub(r"\x1b\][^\x07]*\x07|\x1b\[[0-9;?]*[a-zA-Z]", "", proc.stdout)  # IPython 7 sets the title
    assert out.count("torch is not installed") == 1
    assert "ZeroDivisionError" in out
    assert [line for line in out.splitlines() if line.startswith("nllhint")] == [
        "nllhint: torch is not installed, so there is nothing to explain; staying quiet."]


def test_install_gives_hints_to_plain_scripts(tmp_path):
    script = tmp_path / "train.py"
    script.write_text("import nllhint\nnllhint.install()\n" + textwrap.dedent(LOSS_ERROR))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    assert "IndexError: Target 5 is out of bounds." in proc.stderr
    assert "nllhint NLH101" in proc.stderr
    assert "loss = criterion(outputs, labels - 1)" in proc.stderr


def test_uninstall_restores_the_previous_excepthook():
    import nllhint

    before = sys.excepthook
    nllhint.install()
    assert sys.excepthook is not before
    nllhint.uninstall()
    assert sys.excepthook is before
