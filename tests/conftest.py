"""A real IPython shell, shared by the session, and helpers to run cells the way a user types them.

The whole session (and every process it starts) sees a private home, temp directory, IPython profile
and Jupyter directories: CI runs on a shared busy machine, so no test may read a user's IPython config,
a user-level "python3" kernelspec, or a /tmp that other processes write to.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

PRIVATE = {  # variable -> directory under the private root
    "HOME": "home", "TMPDIR": "tmp", "IPYTHONDIR": "home/.ipython", "JUPYTER_CONFIG_DIR": "home/.jupyter",
    "JUPYTER_DATA_DIR": "home/.local/share/jupyter", "JUPYTER_RUNTIME_DIR": "home/.local/share/jupyter/runtime",
    "XDG_CACHE_HOME": "home/.cache", "XDG_CONFIG_HOME": "home/.config", "XDG_DATA_HOME": "home/.local/share",
}
# Variables of the caller's environment that change what nllhint shows (colour, width, the default watch's
# mode, re-raising, a torchrun rank's labels): unset for the session, so CI's environment is not the test's.
# Tests that want one set it themselves (monkeypatch.setenv, or the env of the process they start).
UNSET = ("NO_COLOR", "FORCE_COLOR", "COLUMNS", "LINES", "NLLHINT_DEFAULT", "NLLHINT_DEBUG", "RANK", "LOCAL_RANK",
         "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
_saved: dict = {}


def pytest_configure(config):
    """Before collection: everything machine-wide that tests could touch points into a private root."""
    root = Path(tempfile.mkdtemp(prefix="nllhint-tests-"))
    _saved.update({name: os.environ.get(name) for name in (*PRIVATE, *UNSET)}, _root=root)
    for name in UNSET:
        os.environ.pop(name, None)
    for name, sub in PRIVATE.items():
        (root / sub).mkdir(parents=True, exist_ok=True)
        os.environ[name] = str(root / sub)
    tempfile.tempdir = None  # recomputed from TMPDIR
    # Removed at exit, after the shell's own atexit (registered later, so run earlier) closes its history.
    atexit.register(shutil.rmtree, root, ignore_errors=True)


def pytest_unconfigure(config):
    _saved.pop("_root", None)
    for name, value in _saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    tempfile.tempdir = None


@pytest.fixture(scope="session")
def private_root() -> Path:
    return Path(os.environ["HOME"]).parent


@pytest.fixture(scope="session")
def shell():
    from IPython.testing.globalipapp import start_ipython

    ip = start_ipython()
    if ip is None:  # already started in this process
        from IPython import get_ipython

        ip = get_ipython()
    return ip


@dataclass
class CellRun:
    result: object  # IPython's ExecutionResult
    out: str  # everything the user saw (stdout + stderr)

    @property
    def success(self) -> bool:
        return self.result.success


@pytest.fixture
def ipython(shell, capsys):
    """``ipython.run(cell)`` runs a cell in a real shell with ``%load_ext nllhint`` loaded."""

    class Runner:
        def __init__(self):
            self.shell = shell

        def run(self, cell: str) -> CellRun:
            capsys.readouterr()
            result = shell.run_cell(textwrap.dedent(cell), store_history=True)
            captured = capsys.readouterr()
            return CellRun(result, captured.out + captured.err)

        def magic(self, line: str) -> CellRun:
            return self.run(line)

        def fresh_namespace(self) -> None:
            """Forget the user's variables, as a new notebook would (cheaper than %reset -f)."""
            hidden = shell.user_ns_hidden
            for name in [n for n in shell.user_ns if n not in hidden and not n.startswith("_")]:
                del shell.user_ns[name]
            shell.user_ns["torch"] = __import__("torch")

    runner = Runner()
    runner.fresh_namespace()  # every test is a new notebook: nothing left by an earlier test, whatever the order
    __import__("torch").manual_seed(0)  # and the same random tensors, whatever ran before
    shell.run_line_magic("load_ext", "nllhint")
    try:
        yield runner
    finally:
        shell.run_line_magic("unload_ext", "nllhint")
        shell.user_ns.pop("_nllhint_test", None)
        torch = __import__("torch")  # global autograd modes a cell may leave on (examples of no-grad/anomaly)
        torch.set_grad_enabled(True)
        torch.autograd.set_detect_anomaly(False)
