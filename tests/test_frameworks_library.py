"""A library that computes the loss itself (as Hugging Face models do from ``labels=``): the hint points at
the user's labels and the user's line, not at the library's code. The library here is a real installed-style
package (a ``site-packages`` folder on ``sys.path``), so this runs without transformers."""

from __future__ import annotations

import sys
import textwrap

import pytest

LIBRARY = '''
import torch
import torch.nn as nn
import torch.nn.functional as F


def _returns_dict(forward):
    def wrapper(self, *args, **kwargs):  # as transformers' decorators do: everything passed on by **kwargs
        return forward(self, *args, **kwargs)
    return wrapper


class TextClassifier(nn.Module):
    def __init__(self, num_labels):
        super().__init__()
        self.num_labels = num_labels
        self.head = nn.Linear(6, num_labels)

    @_returns_dict
    def forward(self, features, labels=None):
        logits = self.head(features)
        loss = None
        if labels is not None:
            loss_fct = nn.CrossEntropyLoss()
            loss = loss_fct(logits.view(-1, self.num_labels), labels.view(-1))
        return {"loss": loss, "logits": logits}


def training_step(model, features, targets):
    return F.cross_entropy(model(features)["logits"], targets)
'''


@pytest.fixture
def tinylib(tmp_path, monkeypatch):
    folder = tmp_path / "venv" / "lib" / "site-packages"
    folder.mkdir(parents=True)
    (folder / "nllhint_tinylib.py").write_text(textwrap.dedent(LIBRARY))
    monkeypatch.syspath_prepend(str(folder))
    yield
    sys.modules.pop("nllhint_tinylib", None)


CELL = """
    import torch
    from nllhint_tinylib import TextClassifier, training_step
    model = TextClassifier(num_labels=4)
    features = torch.randn(8, 6)
"""


def hint_part(out: str) -> str:
    return out[out.index("\nnllhint "):]


def test_labels_keyword_is_named_and_fixed_in_the_users_call(ipython, tinylib):
    ipython.run(CELL)
    run = ipython.run("""
        labels = torch.tensor([1, 2, 3, 4, 1, 2, 3, 4])
        out = model(features, labels=labels)
    """)
    assert "nllhint_tinylib.py" in run.out and "loss_fct(logits.view(-1, self.num_labels)" in run.out  # traceback
    hint = hint_part(run.out)
    assert "labels are 1-based: `labels` runs 1..4, but CrossEntropyLoss expects" in hint
    assert "`model(...)` has 4 classes along dim 1" in hint  # the scores the library computed
    assert "out = model(features, labels=labels - 1)" in hint
    assert "at cell [" in hint and ", line 2 · nllhint rules NLH101" in hint
    assert "self.num_labels" not in hint and "nllhint_tinylib" not in hint and "loss_fct" not in hint


def test_positional_argument_of_a_library_function_is_named(ipython, tinylib):
    ipython.run(CELL)
    run = ipython.run("""
        y = torch.tensor([1, 2, 3, 4, 1, 2, 3, 4])
        loss = training_step(model, features, y)
    """)
    hint = hint_part(run.out)
    assert "`y` runs 1..4" in hint
    assert "loss = training_step(model, features, y - 1)" in hint
    assert "nllhint_tinylib" not in hint


def test_a_library_fix_never_rewrites_the_users_call_as_a_loss(ipython, tinylib):
    ipython.run(CELL)
    run = ipython.run("""
        labels = torch.tensor([0, -1, 2, 3, 1, 2, -1, 0])
        out = model(features, labels=labels)
    """)
    hint = hint_part(run.out)
    assert "uses -1 as a padding label" in hint
    assert "ignore_index" in hint and "model.ignore_index" not in hint and "model(features, labels=labels, " not in hint


def test_explain_from_python_points_at_the_callers_line(tinylib):
    import torch

    import nllhint
    from nllhint_tinylib import TextClassifier

    model = TextClassifier(num_labels=4)
    try:
        model(torch.randn(2, 6), labels=torch.tensor([4, 1]))
    except IndexError as exc:
        # the line in this file that called the library, not the library's loss line
        [finding] = nllhint.explain(exc)
    assert finding.location.startswith("test_frameworks_library.py:")


def test_two_views_of_one_batch_are_told_apart(ipython, tinylib):
    ipython.run(CELL.replace("model = TextClassifier(num_labels=4)", "model = TextClassifier(num_labels=4).double()"))
    run = ipython.run("""
        data = torch.cat([torch.randn(8, 6, dtype=torch.float64), torch.tensor([1., 2, 3, 4, 1, 2, 3, 4])[:, None]], 1)
        out = model(data[:, :6], labels=data[:, 6])
    """)
    hint = hint_part(run.out)  # both arguments are views of `data`: only the labels are the loss's target
    assert "`data[:, 6]`" in hint and "`data[:, :6]`" not in hint
