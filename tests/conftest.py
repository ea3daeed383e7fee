"""A real IPython shell, shared by the session, and helpers to run cells the way a user types them."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

import pytest


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

    shell.run_line_magic("load_ext", "nllhint")
    shell.user_ns.setdefault("torch", __import__("torch"))
    try:
        yield Runner()
    finally:
        shell.run_line_magic("unload_ext", "nllhint")
        shell.user_ns.pop("_nllhint_test", None)
        torch = __import__("torch")  # global autograd modes a cell may leave on (examples of no-grad/anomaly)
        torch.set_grad_enabled(True)
        torch.autograd.set_detect_anomaly(False)
