"""``Trainer(..., callbacks=[LossCheckCallback()])``: the silent loss mistakes of a Hugging Face training run.

    from transformers import Trainer
    from nllhint.integrations.huggingface import LossCheckCallback

    trainer = Trainer(model=model, args=args, train_dataset=data, callbacks=[LossCheckCallback()])
    trainer.train()                 # prints "nllhint losscheck: ..." when training ends

The same as ``with nllhint.watch() as report: trainer.train()`` followed by ``print(report)``: it sees the
losses of a ``compute_loss`` override and those a model computes from ``labels=``. An exception raised
through a loss gets its hint from ``%load_ext nllhint`` in a notebook, and in a script from the excepthook
this callback installs for the run (``nllhint.install()``; removed again when training ends normally). ``transformers`` calls no callback when training raises,
so the watch of a failed run is stopped, unprinted, by the next ``train()`` or by ``close()``; the
``with nllhint.watch():`` form has no such gap. ``LossCheckCallback().report`` is the last run's report.
"""

from __future__ import annotations

from transformers import TrainerCallback

from . import _Session

__all__ = ["LossCheckCallback"]


class LossCheckCallback(TrainerCallback):
    """Watch every loss call of ``trainer.train()`` and print the report when it ends.

    ``sample``, ``values`` and ``min_severity`` are ``nllhint.watch()``'s; ``brief`` prints titles and
    fixes only; ``quiet`` prints nothing for a clean run; ``file`` defaults to ``sys.stdout``.
    """

    def __init__(self, *, sample: int = 3, values: bool = True, min_severity: str = "info", brief: bool = False,
                 quiet: bool = False, file=None):
        self._session = _Session(sample=sample, values=values, min_severity=min_severity, brief=brief,
                                 quiet=quiet, file=file)

    @property
    def report(self):
        return self._session.report

    def on_train_begin(self, args, state, control, **kwargs):
        self._session.begin()  # under DDP every rank watches its own losses; reports are labelled [rankN]:

    def on_train_end(self, args, state, control, **kwargs):
        self._session.end()

    def close(self) -> None:
        """Stop a watch left running by a ``train()`` that raised."""
        self._session.end(show=False)
