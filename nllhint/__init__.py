"""nllhint: plain-language hints for PyTorch loss mistakes, from the user's own tensors and code.

``%load_ext nllhint`` in IPython or Jupyter; ``nllhint.explain(exc)`` from Python. Importing this
package does not import torch.
"""

from __future__ import annotations

from .explain import explain
from .finding import Finding
from .pytest_plugin import pytest_exception_interact  # noqa: F401  (``pytest -p nllhint``)

__version__ = "0.1.0"
__all__ = ["Finding", "explain", "watch", "install", "uninstall", "load_ipython_extension", "unload_ipython_extension"]


def install() -> None:
    """Hints for plain ``python script.py``: wrap ``sys.excepthook``, chaining the previous hook."""
    from .default_watch import install_script
    from .excepthook import install as _install

    _install()
    install_script()  # the light watch: notices on stderr (NLLHINT_DEFAULT=off: none)


def uninstall() -> None:
    from .default_watch import uninstall_script
    from .excepthook import uninstall as _uninstall

    _uninstall()
    uninstall_script()


def load_ipython_extension(ipython) -> None:
    from .ipython import load

    load(ipython)


def unload_ipython_extension(ipython) -> None:
    from .ipython import unload

    unload(ipython)


def __getattr__(name: str):
    """``nllhint.watch`` is imported on first use: loading the extension stays cheap."""
    if name == "watch":
        from .watcher import watch

        return watch
    raise AttributeError(f"module 'nllhint' has no attribute {name!r}")
