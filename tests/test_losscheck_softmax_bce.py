"""Softmax probabilities into BCELoss with multi-label (multi-hot) targets: a softmax makes the labels
compete, so a sample with several labels can never get them all. Sigmoid per label is the fix."""

HEAD = """%%losscheck
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
"""


def _prose(out: str) -> str:
    return " ".join(out.split())


def test_softmax_probabilities_with_multi_hot_tags(ipython):
    run = ipython.run(HEAD + """
head = nn.Linear(16, 6)
x = torch.randn(8, 16)
genres = torch.tensor([[1, 0, 1, 0, 0, 1], [0, 1, 1, 0, 0, 0]] * 4).float()
probs = F.softmax(head(x), dim=1)
loss = nn.BCELoss()(probs, genres)
""")
    prose = _prose(run.out)
    assert "NLH847" in prose and "[wrong-loss]" in prose and "the labels compete" in prose
    assert "up to 3 ones" in prose and "sigmoid per label" in prose
    assert "fix: loss = nn.BCEWithLogitsLoss()(head(x), genres)" in prose


def test_functional_call_with_the_softmax_written_in_it(ipython):
    run = ipython.run(HEAD + """
encoder = nn.Sequential(nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 5))
feats = torch.randn(10, 32)
labels = (torch.arange(50).view(10, 5) % 3 == 0).float()
loss = F.binary_cross_entropy(encoder(feats).softmax(dim=-1), labels)
""")
    assert "NLH847" in run.out
    assert "loss = F.binary_cross_entropy_with_logits(encoder(feats), labels)" in _prose(run.out)


def test_named_criterion_gets_the_with_logits_module_and_the_call(ipython):
    run = ipython.run("""
import torch, torch.nn as nn, torch.nn.functional as F
classifier = nn.Linear(12, 4)
criterion = nn.BCELoss()
images = torch.randn(6, 12)
targets = torch.tensor([[1., 1., 0., 0.], [0., 1., 1., 1.], [1., 0., 0., 1.]] * 2)
scores = classifier(images)
loss = criterion(torch.softmax(scores, dim=1), targets)
""")
    assert run.success and "NLH847" in run.out
    prose = _prose(run.out)
    assert "criterion = nn.BCEWithLogitsLoss() loss = criterion(scores, targets)" in prose


def test_sigmoid_per_label_is_clean(ipython):
    run = ipython.run(HEAD + """
head = nn.Linear(16, 6)
x = torch.randn(8, 16)
tags = torch.tensor([[1, 0, 1, 0, 0, 1], [0, 1, 1, 0, 0, 0]] * 4).float()
loss = nn.BCELoss()(torch.sigmoid(head(x)), tags) + nn.BCEWithLogitsLoss()(head(x), tags)
loss.backward()
""")
    assert run.success and "no problems found" in run.out and "NLH8" not in run.out, run.out


def test_softmax_with_one_hot_targets_is_not_called_multi_label(ipython):
    run = ipython.run(HEAD + """
head = nn.Linear(16, 4)
x = torch.randn(8, 16)
one_hot = F.one_hot(torch.arange(8) % 4, 4).float()
loss = F.binary_cross_entropy(F.softmax(head(x), dim=1), one_hot)
""")
    assert "NLH847" not in run.out, run.out
