"""nllhint.recent: the user's class-index loss calls, read from code only (for hints after a CUDA error)."""

from types import SimpleNamespace

import torch.nn as nn

from nllhint.recent import constructors, history, loss_lines

CELL = """
criterion = nn.CrossEntropyLoss(ignore_index=255)
for images, masks in loader:
    out = model(images)
    loss = criterion(out, masks.long()) + 0.1 * aux
    onehot = F.one_hot(tags, num_classes=5)
    pred = model(images, masks)   # a model with two arguments is not a loss
    z = torch.nn.functional.nll_loss(F.log_softmax(out, 1), masks)
"""


def test_loss_calls_are_named_as_written_without_running_anything():
    lines = loss_lines(CELL, lambda name: None)
    found = [(line.label, line.arg("input") or line.arg("tensor"), line.arg("target"), line.assigned)
             for line in lines]
    assert found == [
        ("CrossEntropyLoss", "out", "masks.long()", ("loss",)),
        ("F.one_hot", "tags", None, ("onehot",)),
        ("F.nll_loss", "F.log_softmax(out, 1)", "masks", ("z",)),
    ]
    assert lines[0].constructor == "nn.CrossEntropyLoss(ignore_index=255)"
    assert lines[1].arg("num_classes") == "5"


def test_a_loss_module_is_recognised_by_what_the_name_is_bound_to():
    bound = {"loss_fn": nn.NLLLoss(), "net": nn.Linear(3, 2)}
    lines = loss_lines("a = loss_fn(net(x), y)\nb = net(x)", bound.get)
    assert [(line.label, line.arg("target")) for line in lines] == [("NLLLoss", "y")]


def test_constructors_from_earlier_cells_and_lines_up_to_the_failing_one():
    built = constructors(["crit = nn.MultiMarginLoss()", "x = 1"])
    assert built == {"crit": "nn.MultiMarginLoss()"}
    lines = loss_lines("l1 = crit(a, b)\nl2 = crit(c, d)", lambda name: None, built, upto=1)
    assert [line.arg("target") for line in lines] == ["b"]


def test_history_gives_the_cells_before_newest_first_with_magic_lines_blanked():
    raw = ["", "a = 1", "%%losscheck\nloss = F.cross_entropy(x, y)", "!ls\nz = 2", "raise"]
    shell = SimpleNamespace(history_manager=SimpleNamespace(input_hist_raw=raw))
    assert history(shell, 4) == [(3, "\nz = 2"), (2, "\nloss = F.cross_entropy(x, y)"), (1, "a = 1")]
    assert history(shell, 4, cells=1) == [(3, "\nz = 2")]
    assert history(SimpleNamespace(), 4) == []


def test_code_that_does_not_parse_gives_nothing():
    assert loss_lines("loss = F.cross_entropy(x, y", lambda name: None) == []
    assert loss_lines("x" * 30_000, lambda name: None) == []
