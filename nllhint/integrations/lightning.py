"""``Trainer(callbacks=[LossCheck()])``: the silent loss mistakes of a Lightning ``fit``, reported at its end.

    import lightning as L
    from nllhint.integrations.lightning import LossCheck

    trainer = L.Trainer(max_epochs=3, callbacks=[LossCheck()])
    trainer.fit(model, loader)      # prints "nllhint losscheck: ..." when fit ends (or fails)

The same as ``with nllhint.watch() as report: trainer.fit(...)`` followed by ``print(report)``, covering
``training_step``, ``validation_step`` and anything else ``fit`` runs. An exception raised through a loss
gets its hint from ``%load_ext nllhint`` in a notebook, and in a script from the excepthook this callback
installs for the fit (``nllhint.install()``; removed again when the fit ends without an error). Under DDP each rank prints its own report, labelled ``[rankN]:``.
``LossCheck().report`` is the last fit's ``LossReport``. Works with ``lightning`` and, when that is not
installed, ``pytorch_lightning``.
"""

from __future__ import annotations

try:
    from lightning.pytorch.callbacks import Callback
except ImportError:  # the older package name
    from pytorch_lightning.callbacks import Callback

from . import _Session

__all__ = ["LossCheck"]


class LossCheck(Callback):
    """Watch every loss call of ``trainer.fit`` and print the report when it ends.

    ``sample``, ``values`` and ``min_severity`` are ``nllhint.watch()``'s; ``brief`` prints titles and
    fixes only; ``quiet`` prints nothing for a clean run; ``file`` defaults to ``sys.stdout``.
    """

    def __init__(self, *, sample: int = 3, values: bool = True, min_severity: str = "info", brief: bool = False,
                 quiet: bool = False, file=None):
        super().__init__()
        self._session = _Session(sample=sample, values=values, min_severity=min_severity, brief=brief,
                                 quiet=quiet, file=file)

    @property
    def report(self):
        return self._session.report

    def on_fit_start(self, trainer, pl_module) -> None:
        self._session.begin()

    def on_fit_end(self, trainer, pl_module) -> None:
        self._session.end()

    def on_exception(self, trainer, pl_module, exception) -> None:
        self._session.end(clean=False, failed=True)  # what was found before the crash; its hint comes after
