"""Each loss contract broken as users break it (from public bug reports and forum threads): found, with
the right category and a fix in the user's own expressions."""

import pytest

HEAD = """%%losscheck
import torch, torch.nn as nn, torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset
torch.manual_seed(0)
"""

CASES = {
    "log-softmax-over-batch-before-nll": ("""
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(20, 5)
    def forward(self, x):
        return F.log_softmax(self.fc(x), dim=0)
model = Net()
ds = TensorDataset(torch.randn(64, 20), torch.randint(0, 5, (64,)))
for xb, yb in DataLoader(ds, batch_size=16):
    loss = F.nll_loss(model(xb), yb)
    loss.backward()
""", "NLH820", "input-not-logprob", "over the batch (dim 0)"),
    "kl-keywords-on-probabilities": ("""
student, teacher = nn.Linear(16, 10), nn.Linear(16, 10)
x = torch.randn(32, 16)
p_s = F.softmax(student(x), dim=1)
with torch.no_grad():
    p_t = F.softmax(teacher(x), dim=1)
loss = F.kl_div(input=p_s, target=p_t, reduction='batchmean')
""", "NLH803", "input-not-logprob", "log_softmax"),
    "kl-module-arguments-swapped": ("""
kl = nn.KLDivLoss(reduction='batchmean')
student = nn.Linear(16, 10)
x = torch.randn(32, 16)
teacher_probs = F.softmax(torch.randn(32, 10), dim=1)
loss = kl(teacher_probs, F.log_softmax(student(x), dim=1))
""", "NLH810", "kl-format", "loss = kl(F.log_softmax(student(x), dim=1), teacher_probs)"),
    "kl-softmax-over-batch": ("""
s, t = torch.randn(8, 100, requires_grad=True), torch.randn(8, 100)
loss = F.kl_div(F.log_softmax(s, 0), F.softmax(t, 1), reduction='batchmean')
""", "NLH821", "kl-format", "log_softmax(dim=1)"),
    "hand-written-ce-log-of-softmax": ("""
model = nn.Linear(10, 4)
x, y = torch.randn(16, 10), torch.randint(0, 4, (16,))
onehot = F.one_hot(y, 4).float()
loss = -(torch.log(F.softmax(model(x), 1)) * onehot).sum(1).mean()
loss.backward()
""", "NLH830", "unstable-log", "F.log_softmax(model(x), dim=1)"),
    "hand-written-bce-log-sigmoid": ("""
def bce(p, y):
    return -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()
head = nn.Linear(10, 1)
logits = head(torch.randn(16, 10))
p = torch.sigmoid(logits)
loss = bce(p, torch.randint(0, 2, (16, 1)).float())
loss.backward()
""", "NLH833", "unstable-log", "F.logsigmoid(-logits)"),
    "log-of-probabilities-that-reach-zero": ("""
w = torch.randn(16, 4, requires_grad=True)
scores = torch.relu(w)
probs = scores / scores.sum(1, keepdim=True).clamp_min(1e-6)
loss = -torch.log(probs[:, 0]).mean()
loss.backward()
""", "NLH832", "unstable-log", "clamp"),
    "ce-on-softmax-from-attention-pooling": ("""
class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.q, self.k, self.out = nn.Linear(16, 16), nn.Linear(16, 16), nn.Linear(16, 5)
    def forward(self, x):
        attn = torch.softmax(self.q(x) @ self.k(x).transpose(1, 2) / 4, dim=-1)
        return torch.softmax(self.out(attn @ x), dim=-1).mean(1)
model = Classifier()
criterion = nn.CrossEntropyLoss()
loss = criterion(model(torch.randn(8, 10, 16)), torch.randint(0, 5, (8,)))
""", "NLH804", "double-softmax", "softmax"),
    "mse-b1-against-11": ("""
model = nn.Linear(8, 1)
x = torch.randn(32, 8)
y = torch.tensor([[0.7]])
loss = nn.MSELoss()(model(x), y)
""", "NLH901", "shape-mismatch", "(32, 1)"),
    "mse-64x1-against-64x4": ("""
model = nn.Linear(8, 1)
x, y = torch.randn(64, 8), torch.randn(64, 4)
loss = F.mse_loss(model(x), y)
""", "NLH901", "shape-mismatch", "(64, 4)"),
    "ctc-raw-scores-negative": ("""
T, N, C = 30, 4, 6
rnn_out = torch.randn(T, N, C, requires_grad=True) * 2 + 3
ctc = nn.CTCLoss()
loss = ctc(rnn_out, torch.randint(1, C, (N, 8)), torch.full((N,), T), torch.full((N,), 8))
""", "NLH906", "ctc-format", "negative"),
    "ctc-log-softmax-over-time-then-permute": ("""
feats = torch.randn(4, 50, 12, requires_grad=True)
log_probs = F.log_softmax(feats, dim=1).permute(1, 0, 2)
loss = F.ctc_loss(log_probs, torch.randint(1, 12, (4, 10)), torch.full((4,), 50), torch.full((4,), 10))
""", "NLH822", "ctc-format", "dim=2"),
    "ce-on-1d-output-with-float-labels": ("""
model = nn.Linear(10, 1)
x = torch.randn(32, 10)
labels = torch.randint(0, 2, (32,)).float()
out = model(x).squeeze()
loss = F.cross_entropy(out, labels)
""", "NLH825", "wrong-loss", "F.binary_cross_entropy_with_logits(out, labels)"),
    "hinge-embedding-zero-one-labels": ("""
enc = nn.Linear(8, 4)
d = F.pairwise_distance(enc(torch.randn(10, 8)), enc(torch.randn(10, 8)))
same = torch.tensor([1, 0] * 5).float()
loss = nn.HingeEmbeddingLoss()(d, same)
""", "NLH823", "target-range", "same * 2 - 1"),
    "margin-ranking-zero-one-labels": ("""
scorer = nn.Linear(10, 1)
a, b = scorer(torch.randn(16, 10)).squeeze(1), scorer(torch.randn(16, 10)).squeeze(1)
better = (torch.rand(16) > 0.5).float()
loss = F.margin_ranking_loss(a, b, better, margin=0.1)
""", "NLH823", "target-range", "better * 2 - 1"),
    "soft-margin-zero-one-labels": ("""
criterion = nn.SoftMarginLoss()
scores = nn.Linear(6, 3)(torch.randn(8, 6))
loss = criterion(scores, torch.randint(0, 2, (8, 3)).float())
""", "NLH823", "target-range", "* 2 - 1"),
    "multilabel-margin-multi-hot": ("""
class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 6)
        self.loss = nn.MultiLabelMarginLoss()
    def forward(self, x, tags):
        return self.loss(self.fc(x), tags)
tags = (torch.rand(8, 6) > 0.5).long()
loss = Tagger()(torch.randn(8, 16), tags)
""", "NLH824", "target-shape", "MultiLabelSoftMarginLoss"),
    "nll-on-raw-scores-negative": ("""
w = torch.randn(10, 4, requires_grad=True)
scores = torch.randn(16, 10) @ w * 2 + 1
loss = F.nll_loss(scores, torch.randint(0, 4, (16,)))
""", "NLH904", "input-not-logprob", "log_softmax(dim=1)"),
    "bce-arguments-swapped": ("""
model = nn.Sequential(nn.Linear(10, 1), nn.Sigmoid())
criterion = nn.BCELoss()
labels = torch.randint(0, 2, (32, 1)).float()
preds = model(torch.randn(32, 10))
loss = criterion(labels, preds)
""", "NLH826", "bce-range", "loss = criterion(preds, labels)"),
    "multilabel-soft-margin-given-index-lists": ("""
criterion = nn.MultiLabelSoftMarginLoss()
model = nn.Linear(16, 5)
labels = torch.tensor([[3, 0, -1, -1, -1], [1, -1, -1, -1, -1], [4, 2, 1, -1, -1], [0, -1, -1, -1, -1]])
loss = criterion(model(torch.randn(4, 16)), labels)
""", "NLH828", "target-shape", "F.one_hot(labels.long() + 1, 5 + 1)"),
    "bce-class-weight-on-width": ("""
seg = nn.Conv2d(3, 3, 1)
img = torch.randn(2, 3, 16, 3)
masks = (torch.rand(2, 3, 16, 3) > 0.5).float()
criterion = nn.BCEWithLogitsLoss(weight=torch.tensor([0.2, 1.0, 3.0]))
loss = criterion(seg(img), masks)
""", "NLH829", "weight-size", "view(-1, 1, 1)"),
    "gaussian-nll-var-before-target": ("""
class Head(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 2)
        self.nll = nn.GaussianNLLLoss()
    def forward(self, x, y):
        mu, raw = self.fc(x).chunk(2, dim=-1)
        return self.nll(mu, F.softplus(raw) + 1e-6, y)
loss = Head()(torch.randn(64, 6), torch.rand(64, 1) + 2)
""", "NLH835", "wrong-loss", "self.nll(mu, y, F.softplus(raw) + 1e-6)"),
    "poisson-exp-rate-with-default-log-input": ("""
model = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 1))
x, counts = torch.randn(64, 5), torch.poisson(torch.full((64, 1), 4.0))
rate = model(x).exp()
loss = F.poisson_nll_loss(rate, counts)
""", "NLH836", "input-not-logprob", "log_input=False"),
    "soft-labels-swapped-keywords": ("""
model = nn.Linear(8, 5)
x = torch.randn(16, 8)
soft = F.softmax(torch.randn(16, 5), dim=1)
loss = F.cross_entropy(target=model(x), input=soft)
""", "NLH827", "wrong-loss", "F.cross_entropy(target=soft, input=model(x))"),
    "kd-kl-on-raw-student-scores": ("""
student = torch.randn(32, 10, requires_grad=True)
scores = student * 2 + 1
teacher = F.softmax(torch.randn(32, 10) / 2.0, dim=1)
loss = nn.KLDivLoss(reduction='batchmean')(scores, teacher)
""", "NLH905", "kl-format", "negative"),
    "ce-after-log-softmax-over-batch": ("""
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 6), nn.LogSoftmax(dim=0))
    def forward(self, x):
        return self.body(x)
net, criterion = Net(), nn.CrossEntropyLoss()
for step in range(2):
    loss = criterion(net(torch.randn(16, 20)), torch.randint(0, 6, (16,)))
""", "NLH837", "double-softmax", "log_softmax over the batch"),
    "ce-on-single-output-head": ("""
class Regressor(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 1))
        self.criterion = nn.CrossEntropyLoss()
    def forward(self, x, y):
        return self.criterion(self.net(x), y)
loss = Regressor()(torch.randn(32, 10), torch.randint(0, 2, (32, 1)).float())
""", "NLH838", "wrong-loss", "always exactly 0"),
    "ctc-letters-start-at-zero": ("""
alphabet = "abcdefghij"
words = ["abc", "jab", "ace"]
targets = torch.tensor([[alphabet.index(ch) for ch in w] for w in words])
log_probs = torch.randn(40, 3, len(alphabet) + 1, requires_grad=True).log_softmax(2)
loss = nn.CTCLoss()(log_probs, targets, torch.full((3,), 40), torch.full((3,), 3))
""", "NLH839", "ctc-format", "targets + 1"),
    "bce-with-logits-on-0-255-masks": ("""
unet = nn.Conv2d(3, 1, 3, padding=1)
img = torch.randn(2, 3, 16, 16)
mask = (torch.rand(2, 1, 16, 16) > 0.5).float() * 255
loss = nn.BCEWithLogitsLoss()(unet(img), mask)
""", "NLH818", "bce-range", "mask / 255"),
    "kl-on-mean-of-probabilities-1d": ("""
mean_anchor_probs = F.softmax(torch.randn(1, 16), dim=1).mean(dim=0)
power_dist = torch.arange(1, 17).float() ** -0.25
power_dist = power_dist / power_dist.sum()
loss = F.kl_div(input=mean_anchor_probs, target=power_dist, reduction="sum")
""", "NLH803", "input-not-logprob", "input=mean_anchor_probs.clamp_min(1e-8).log()"),
    "kl-module-on-probabilities-no-grad": ("""
kl_loss_fn = nn.KLDivLoss(reduction='batchmean')
post_pr = F.softmax(torch.randn(16, 6), dim=1)
prior_pr = F.softmax(torch.randn(16, 6), dim=1)
kl_loss = kl_loss_fn(post_pr, prior_pr)
""", "NLH803", "input-not-logprob", "kl_loss = kl_loss_fn(post_pr.clamp_min(1e-8).log(), prior_pr)"),
    "kl-on-softmax-assigned-above": ("""
student = nn.Linear(16, 10)
x = torch.randn(32, 16)
logits = student(x)
probs = F.softmax(logits, dim=1)
loss = F.kl_div(probs, F.softmax(torch.randn(32, 10), dim=1), reduction='batchmean')
""", "NLH803", "input-not-logprob", "F.kl_div(F.log_softmax(logits, dim=1), "),
    "nll-on-softmax-assigned-above": ("""
model = nn.Linear(20, 5)
out = model(torch.randn(16, 20))
probs = torch.softmax(out, dim=1)
loss = nn.NLLLoss()(probs, torch.randint(0, 5, (16,)))
""", "NLH802", "input-not-logprob", "nn.NLLLoss()(F.log_softmax(out, dim=1), "),
    "poisson-rates-from-linear-log-input-false": ("""
rate_head = nn.Linear(6, 1)
counts = torch.poisson(torch.full((12, 1), 3.0))
feats = torch.randn(12, 6)
criterion = nn.PoissonNLLLoss(log_input=False)
loss = criterion(rate_head(feats), counts)
print(loss)
""", "NLH902", "nan-inf", "F.softplus(rate_head(feats))"),
    "nll-after-log-softmax-over-batch-no-grad": ("""
output = torch.randn(8, 5) * 3
target = torch.randint(0, 5, (8,))
logpt = F.log_softmax(output, 0)         # normalised over the batch
loss = F.nll_loss(logpt, target)
""", "NLH820", "input-not-logprob", "logpt = F.log_softmax(output, dim=1)"),
    "ce-on-hand-written-one-hot-probabilities": ("""
probs = torch.tensor([[0., 0., 0., 1.], [0., 1., 0., 0.]])
target = torch.tensor([3, 1])
criterion = nn.CrossEntropyLoss()
loss = criterion(probs, target)
""", "NLH804", "double-softmax", "one-hot rows"),
    "kl-target-rows-not-summing-to-one": ("""
loss = nn.KLDivLoss()
output = torch.tensor([[0.1132, 0.5477, 0.3390]])
target = torch.tensor([[0.1541, 0.0511, 0.0947]])
print(loss(output.log(), target))
""", "NLH840", "kl-format", "print(loss(output.log(), target / target.sum(dim=-1, keepdim=True)))"),
    "triplet-deprecated-reduce-false": ("""
criterion = nn.TripletMarginLoss(margin=0.3, p=2.0, reduce=False)
feat = torch.randn(2, 8, 3, 4)
feat_recon_pos = feat + 0.1 * torch.randn_like(feat)
feat_recon_neg = torch.randn_like(feat)
per_pos = criterion(feat, feat_recon_pos, feat_recon_neg)
print(per_pos.shape)
""", "NLH841", "bad-option", "criterion = nn.TripletMarginLoss(margin=0.3, p=2.0, reduction='none')"),
    "mse-deprecated-size-average-in-class": ("""
class Trainer:
    def __init__(self):
        self.model = nn.Linear(4, 1)
        self.criterion = nn.MSELoss(size_average=False)
    def step(self, x, y):
        return self.criterion(self.model(x), y)
loss = Trainer().step(torch.randn(8, 4), torch.randn(8, 1))
""", "NLH841", "bad-option", "self.criterion = nn.MSELoss(reduction='sum')"),
    "mse-on-log-of-raw-predictions": ("""
head = nn.Linear(4, 1)
x, y = torch.randn(16, 4), torch.randn(16, 1)
loss = F.mse_loss(torch.log(head(x)), y)
""", "NLH902", "nan-inf", "Clamp what goes into the log"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_contract_violation_is_found(ipython, name):
    cell, code, category, fix = CASES[name]
    run = ipython.run(HEAD + cell)
    assert f"{code} [{category}]" in run.out, run.out
    assert fix in run.out, run.out


DEFAULT_HEAD = "import torch, torch.nn as nn, torch.nn.functional as F\ntorch.manual_seed(0)\n"
SURE_IN_DEFAULT_MODE = {  # certain evidence: a notice under the cell without %%losscheck
    "ctc-on-raw-scores-negative-loss": ("""
ctcloss = nn.CTCLoss(reduction='mean')
out = torch.randn(30, 2, 28, requires_grad=True)     # (T, N, C) raw scores
targets = torch.randint(1, 28, (2, 8))
input_lengths = torch.full((2,), 30, dtype=torch.long)
target_lengths = torch.full((2,), 8, dtype=torch.long)
loss = ctcloss(out, targets, input_lengths, target_lengths)
print(loss)
""", "NLH814", "out.log_softmax(dim=2)"),
    "ce-on-hand-written-one-hot-probabilities": (CASES["ce-on-hand-written-one-hot-probabilities"][0],
                                                 "NLH804", "`probs`"),
    "kl-target-rows-not-summing-to-one": (CASES["kl-target-rows-not-summing-to-one"][0], "NLH840", "target.sum"),
    "kl-on-mean-of-probabilities-1d": (CASES["kl-on-mean-of-probabilities-1d"][0], "NLH803", "clamp_min(1e-8).log()"),
    "kl-module-on-probabilities-no-grad": (CASES["kl-module-on-probabilities-no-grad"][0], "NLH803",
                                           "post_pr.clamp_min(1e-8).log()"),
    "poisson-rates-from-linear-log-input-false": (CASES["poisson-rates-from-linear-log-input-false"][0],
                                                  "NLH902", "F.softplus(rate_head(feats))"),
    "kd-teacher-log-probabilities-without-log-target": ("""
student_logits = torch.randn(8, 10, requires_grad=True)
teacher_logits = torch.randn(8, 10)
T = 4.0
kd_loss = F.kl_div(F.log_softmax(student_logits / T, dim=1),
                   F.log_softmax(teacher_logits / T, dim=1), reduction='batchmean') * T * T
""", "NLH811", "log_target=True"),
}


@pytest.mark.parametrize("name", sorted(SURE_IN_DEFAULT_MODE))
def test_certain_violation_gets_a_default_mode_notice(ipython, name):
    cell, code, fix = SURE_IN_DEFAULT_MODE[name]
    run = ipython.run(DEFAULT_HEAD + cell)
    assert f"nllhint: " in run.out and code in run.out, run.out
    assert fix in run.out, run.out


def test_caught_exception_is_explained(ipython):
    run = ipython.run(HEAD + """
model = nn.Linear(10, 3)
x, y = torch.randn(8, 10), torch.randint(0, 3, (8, 1))
try:
    loss = nn.CrossEntropyLoss()(model(x), y)
except RuntimeError as e:
    print("error:", e)
""")
    assert run.success, run.out
    assert "raised and caught at line" in run.out, run.out
    assert "NLH" in run.out and "squeeze(1)" in run.out, run.out


def test_uncaught_exception_is_left_to_the_exception_hook(ipython):
    run = ipython.run(HEAD + """
model = nn.Linear(10, 3)
loss = nn.CrossEntropyLoss()(model(torch.randn(8, 10)), torch.randint(0, 3, (8, 1)))
""")
    assert not run.success
    assert "raised and caught" not in run.out, run.out


def test_caught_backward_error_is_explained(ipython):
    run = ipython.run(HEAD + """
def train_step(model, x, y):
    per_sample = F.cross_entropy(model(x), y, reduction='none')
    try:
        per_sample.backward()
    except RuntimeError as err:
        print("skipped a batch:", err)
train_step(nn.Linear(10, 3), torch.randn(8, 10), torch.randint(0, 3, (8,)))
""")
    assert run.success, run.out
    assert "NLH701 [backward-nonscalar] raised and caught at line" in run.out, run.out
    assert "per_sample.mean().backward()" in run.out, run.out
