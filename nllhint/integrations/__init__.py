"""One-line hooks for training frameworks; each module imports its framework, nllhint's core never does.

``nllhint.integrations.lightning.LossCheck`` (a Lightning ``Callback``) and
``nllhint.integrations.huggingface.LossCheckCallback`` (a ``transformers.TrainerCallback``) both run the
training under ``nllhint.watch()`` and print its report when training ends, and turn on exception hints
for scripts (``nllhint.install()``). Install the framework with the extra: ``pip install nllhint[lightning]``
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
        self.report = None  # the last finished run's LossReport

    def begin(self) -> None:
        from ..excepthook import install
        from ..watcher import Watch

        self.end(show=False)  # a run that raised where the framework has no exception hook (transformers)
        install()  # hints for an uncaught loss error in a script; IPython uses its own hook instead
        self.watch = Watch(**self.options)
        self.watch.start()

    def end(self, *, show: bool = True, clean: bool = True) -> None:
        """Stop the watch; print the report if ``show`` (a clean one only if ``clean`` and not ``quiet``)."""
        watch, self.watch = self.watch, None
        if watch is None:
            return
        self.report = watch.stop()
        if show and (self.report.findings or (clean and not self.quiet)):
            print(self.report.render(brief=self.brief), file=self.file or sys.stdout, flush=True)
