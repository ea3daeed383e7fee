"""One-line hooks for training frameworks; each module imports its framework, nllhint's core never does.

``nllhint.integrations.lightning.LossCheck`` (a Lightning ``Callback``) and
``nllhint.integrations.huggingface.LossCheckCallback`` (a ``transformers.TrainerCallback``) both run the
training under ``nllhint.watch()`` and print its report when training ends, and in a script turn on
exception hints (``nllhint.install()``) until training ends without an error. Install the framework with the extra: ``pip install nllhint[lightning]``
or ``nllhint[hf]``.
"""

from __future__ import annotations

import sys


class _Session:
    """The watch of one ``fit``/``train``: started at the beginning, stopped and printed at the end."""

    def __init__(self, *, sample: int, values: bool, min_severity: str, brief: bool, quiet: bool, file):
        from ..watcher import Watch

        Watch(sample=sample, values=values, min_severity=min_severity)  # validate the options now, not mid-fit
        self.options = dict(sample=sample, values=values, min_severity=min_severity)
        self.brief, self.quiet, self.file = brief, quiet, file
        self.watch = None
        self.installed = False  # did begin() install the excepthook
        self.report = None  # the last finished run's LossReport

    def begin(self) -> None:
        from ..excepthook import install
        from ..watcher import Watch

        self.end(show=False)  # a run that raised where the framework has no exception hook (transformers)
        if not _in_ipython() and sys.excepthook is not _hook():
            install()  # hints for an uncaught loss error in a script (IPython has %load_ext nllhint)
            self.installed = True
        self.watch = Watch(**self.options)
        self.watch.start()

    def end(self, *, show: bool = True, clean: bool = True, failed: bool = False) -> None:
        """Stop the watch; print the report if ``show`` (a clean one only if ``clean`` and not ``quiet``).
        The excepthook installed by ``begin`` stays for a run that ``failed``: it prints that error's hint."""
        if self.installed and not failed:
            from ..excepthook import uninstall

            uninstall()
            self.installed = False
        watch, self.watch = self.watch, None
        if watch is None:
            return
        self.report = watch.stop()
        if show and (self.report.findings or (clean and not self.quiet)):
            from ..distributed import emit

            emit(self.report.render(brief=self.brief), self.file or sys.stdout)


def _in_ipython() -> bool:
    ipython = sys.modules.get("IPython")
    try:
        return ipython is not None and ipython.get_ipython() is not None
    except Exception:
        return False


def _hook():
    from ..excepthook import _hook as hook

    return hook
