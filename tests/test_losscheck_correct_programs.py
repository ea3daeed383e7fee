"""Correct programs, as real projects write them, get no finding under %%losscheck (not even a note,
but the info note NLH841 on deprecated size_average=/reduce=, which says the modern reduction=).

Shapes and idioms from public code and forum threads: HF shifted LM loss, mixup/cutmix, KD, dice+BCE,
focal loss, GaussianNLL, PoissonNLL, pos_weight, segmentation, CTC, metric learning, legacy arguments.
"""

import re

import pytest

HEAD = """%%losscheck
import torch, torch.nn as nn, torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset
torch.manual_seed(0)
"""

PROGRAMS = {
    "hf-shifted-lm-loss": """
V = 500
emb, head = nn.Embedding(V, 32), nn.Linear(32, V)
input_ids = torch.randint(0, V, (4, 24))
labels = input_ids.clone()
labels[:, 18:] = -100
logits = head(emb(input_ids))
shift_logits = logits[..., :-1, :].contiguous()
shift_labels = labels[..., 1:].contiguous()
loss = nn.CrossEntropyLoss()(shift_logits.view(-1, V), shift_labels.view(-1))
loss.backward()
""",
    "mixup-soft-targets": """
model = nn.Linear(20, 10)
x, y = torch.randn(32, 20), torch.randint(0, 10, (32,))
lam = 0.7
perm = torch.randperm(32)
x_mix = lam * x + (1 - lam) * x[perm]
y_soft = lam * F.one_hot(y, 10).float() + (1 - lam) * F.one_hot(y[perm], 10).float()
loss = F.cross_entropy(model(x_mix), y_soft)
loss.backward()
""",
    "mixup-two-criterion-calls": """
model = nn.Linear(20, 10)
criterion = nn.CrossEntropyLoss()
x, y = torch.randn(32, 20), torch.randint(0, 10, (32,))
perm, lam = torch.randperm(32), 0.6
out = model(lam * x + (1 - lam) * x[perm])
loss = lam * criterion(out, y) + (1 - lam) * criterion(out, y[perm])
loss.backward()
""",
    "cutmix-label-smoothing": """
model = nn.Conv2d(3, 8, 3, padding=1)
pool = nn.AdaptiveAvgPool2d(1)
x, y = torch.randn(8, 3, 16, 16), torch.randint(0, 8, (8,))
criterion = nn.CrossEntropyLoss(label_smoothing=0.1)
loss = criterion(pool(model(x)).flatten(1), y)
loss.backward()
""",
    "kd-kl-temperature-batchmean": """
student, teacher = nn.Linear(16, 10), nn.Linear(16, 10)
x = torch.randn(32, 16)
T = 4.0
with torch.no_grad():
    t_logits = teacher(x)
s_logits = student(x)
kd = F.kl_div(F.log_softmax(s_logits / T, dim=1), F.softmax(t_logits / T, dim=1), reduction='batchmean') * T ** 2
kd.backward()
""",
    "kd-legacy-size-average-false": """
student = nn.Linear(16, 10)
x = torch.randn(32, 16)
teacher_logits = torch.randn(32, 10)
T = 2.0
p_s = F.log_softmax(student(x) / T, dim=1)
p_t = F.softmax(teacher_logits / T, dim=1)
loss = F.kl_div(p_s, p_t, size_average=False) * (T ** 2) / x.shape[0]
loss.backward()
""",
    "kd-log-target": """
student = nn.Linear(16, 10)
x = torch.randn(32, 16)
teacher_logp = F.log_softmax(torch.randn(32, 10), dim=-1)
criterion = nn.KLDivLoss(reduction='batchmean', log_target=True)
loss = criterion(F.log_softmax(student(x), dim=-1), teacher_logp)
loss.backward()
""",
    "kd-module-in-init": """
class Distiller(nn.Module):
    def __init__(self, T=3.0):
        super().__init__()
        self.student = nn.Linear(16, 10)
        self.kl = nn.KLDivLoss(reduction='batchmean')
        self.ce = nn.CrossEntropyLoss()
        self.T = T
    def forward(self, x, y, t_logits):
        s = self.student(x)
        soft = self.kl(F.log_softmax(s / self.T, dim=1), F.softmax(t_logits / self.T, dim=1)) * self.T ** 2
        return 0.5 * soft + 0.5 * self.ce(s, y)
d = Distiller()
loss = d(torch.randn(8, 16), torch.randint(0, 10, (8,)), torch.randn(8, 10))
loss.backward()
""",
    "dice-plus-bce": """
net = nn.Conv2d(3, 1, 3, padding=1)
img, mask = torch.randn(4, 3, 32, 32), (torch.rand(4, 1, 32, 32) > 0.5).float()
logits = net(img)
bce = F.binary_cross_entropy_with_logits(logits, mask)
probs = torch.sigmoid(logits)
inter = (probs * mask).sum((2, 3))
dice = 1 - (2 * inter + 1) / (probs.sum((2, 3)) + mask.sum((2, 3)) + 1)
loss = bce + dice.mean()
loss.backward()
""",
    "focal-loss-from-unreduced-ce": """
def focal_loss(logits, target, gamma=2.0):
    ce = F.cross_entropy(logits, target, reduction='none')
    pt = torch.exp(-ce)
    return ((1 - pt) ** gamma * ce).mean()
model = nn.Linear(12, 4)
loss = focal_loss(model(torch.randn(32, 12)), torch.randint(0, 4, (32,)))
loss.backward()
""",
    "binary-focal-with-logits": """
logits = nn.Linear(8, 1)(torch.randn(64, 8))
target = torch.randint(0, 2, (64, 1)).float()
bce = F.binary_cross_entropy_with_logits(logits, target, reduction='none')
p = torch.sigmoid(logits)
p_t = p * target + (1 - p) * (1 - target)
loss = (bce * (1 - p_t) ** 2).mean()
loss.backward()
""",
    "masked-unreduced-mean": """
logits = torch.randn(4, 12, 30, requires_grad=True)
tags = torch.randint(0, 30, (4, 12))
mask = torch.rand(4, 12) > 0.3
per_tok = F.cross_entropy(logits.transpose(1, 2), tags, reduction='none')
loss = (per_tok * mask).sum() / mask.sum()
loss.backward()
""",
    "gaussian-nll-positive-var": """
net = nn.Linear(6, 2)
x, y = torch.randn(64, 6), torch.randn(64, 1)
out = net(x)
mean, var = out[:, :1], F.softplus(out[:, 1:]) + 1e-6
loss = nn.GaussianNLLLoss()(mean, y, var)
loss.backward()
""",
    "poisson-log-input-raw-outputs": """
net = nn.Linear(5, 1)
counts = torch.poisson(torch.full((64, 1), 3.0))
loss = nn.PoissonNLLLoss(log_input=True)(net(torch.randn(64, 5)), counts)
loss.backward()
""",
    "poisson-rate-log-input-false": """
net = nn.Sequential(nn.Linear(5, 1), nn.Softplus())
counts = torch.poisson(torch.full((64, 1), 2.0))
loss = F.poisson_nll_loss(net(torch.randn(64, 5)), counts, log_input=False)
loss.backward()
""",
    "multilabel-pos-weight": """
model = nn.Linear(32, 6)
x = torch.randn(16, 32)
tags = (torch.rand(16, 6) > 0.7).float()
pos_weight = torch.tensor([1.0, 2.0, 3.0, 1.5, 4.0, 2.5])
loss = nn.BCEWithLogitsLoss(pos_weight=pos_weight)(model(x), tags)
loss.backward()
""",
    "multilabel-soft-margin": """
model = nn.Linear(32, 6)
tags = (torch.rand(16, 6) > 0.5).float()
loss = nn.MultiLabelSoftMarginLoss()(model(torch.randn(16, 32)), tags)
loss.backward()
""",
    "multilabel-margin-index-lists": """
scores = nn.Linear(10, 4)(torch.randn(3, 10))
target = torch.tensor([[3, 0, -1, 1], [1, 2, -1, 0], [0, -1, 0, 0]])
loss = nn.MultiLabelMarginLoss()(scores, target)
loss.backward()
""",
    "segmentation-ce-nchw": """
net = nn.Conv2d(3, 5, 3, padding=1)
img, seg = torch.randn(2, 3, 24, 24), torch.randint(0, 5, (2, 24, 24))
seg[:, :2] = 255
weights = torch.tensor([0.5, 1.0, 1.0, 2.0, 2.0])
loss = F.cross_entropy(net(img), seg, weight=weights, ignore_index=255)
loss.backward()
""",
    "segmentation-nll-after-log-softmax": """
class Seg(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)
    def forward(self, x):
        return F.log_softmax(self.conv(x), dim=1)
model = Seg()
loss = nn.NLLLoss()(model(torch.randn(2, 3, 8, 8)), torch.randint(0, 4, (2, 8, 8)))
loss.backward()
""",
    "ctc-permute-from-batch-first": """
rnn = nn.GRU(20, 32, batch_first=True)
fc = nn.Linear(32, 28)
feats = torch.randn(4, 50, 20)
out, _ = rnn(feats)
log_probs = F.log_softmax(fc(out), dim=2).permute(1, 0, 2)
targets = torch.randint(1, 28, (4, 10))
loss = nn.CTCLoss(blank=0, zero_infinity=True)(log_probs, targets, torch.full((4,), 50, dtype=torch.long),
                                              torch.randint(5, 11, (4,)))
loss.backward()
""",
    "ctc-time-first-log-softmax-last-dim": """
T, N, C = 40, 3, 12
scores = torch.randn(T, N, C, requires_grad=True)
targets = torch.randint(1, C, (N, 9))
loss = F.ctc_loss(scores.log_softmax(-1), targets, [T] * N, [9, 7, 5])
loss.backward()
""",
    "ctc-concatenated-targets": """
T, N, C = 30, 2, 8
log_probs = torch.randn(T, N, C).log_softmax(2).detach().requires_grad_()
targets = torch.randint(1, C, (11,))
loss = F.ctc_loss(log_probs, targets, torch.tensor([30, 25]), torch.tensor([6, 5]), reduction='sum')
loss.backward()
""",
    "quantile-huber-pairwise": """
pred = torch.randn(16, 32, requires_grad=True)
target = torch.randn(16, 32)
tau = (torch.arange(32) + 0.5) / 32
td = target.unsqueeze(1) - pred.unsqueeze(2)
huber = F.smooth_l1_loss(pred.unsqueeze(2), target.unsqueeze(1), reduction='none')
loss = (torch.abs(tau.view(1, -1, 1) - (td.detach() < 0).float()) * huber).sum(1).mean()
loss.backward()
""",
    "quantile-huber-named-tensors": """
pred = torch.randn(8, 51, requires_grad=True)
target = torch.randn(8, 51)
p, t = pred[:, :, None], target[:, None, :]
loss = F.huber_loss(p, t, reduction='none', delta=1.0).mean()
loss.backward()
""",
    "regression-dataloader-loop": """
ds = TensorDataset(torch.randn(64, 8), torch.randn(64, 1))
model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.01)
criterion = nn.MSELoss()
for xb, yb in DataLoader(ds, batch_size=16):
    opt.zero_grad()
    loss = criterion(model(xb), yb)
    loss.backward()
    opt.step()
""",
    "smooth-l1-bbox": """
pred_boxes = nn.Linear(16, 4)(torch.randn(10, 16))
gt = torch.rand(10, 4)
loss = F.smooth_l1_loss(pred_boxes, gt, beta=1.0 / 9, reduction='sum') / 10
loss.backward()
""",
    "l1-constant-scalar-target": """
d_out = nn.Linear(8, 1)(torch.randn(16, 8))
loss = F.mse_loss(d_out, torch.tensor(1.0)) + F.l1_loss(d_out, torch.ones_like(d_out))
loss.backward()
""",
    "lsgan-ones-like": """
D = nn.Sequential(nn.Linear(10, 1))
fake, real = torch.randn(8, 10), torch.randn(8, 10)
crit = nn.MSELoss()
d_loss = 0.5 * (crit(D(real), torch.ones_like(D(real))) + crit(D(fake), torch.zeros(8, 1)))
d_loss.backward()
""",
    "gan-bce-real-fake": """
D = nn.Sequential(nn.Linear(10, 1), nn.Sigmoid())
criterion = nn.BCELoss()
real = torch.randn(16, 10)
out = D(real).view(-1)
label = torch.full((16,), 1.0)
errD = criterion(out, label)
errD.backward()
""",
    "cosine-embedding-signs": """
enc = nn.Linear(20, 16)
a, b = enc(torch.randn(12, 20)), enc(torch.randn(12, 20))
y = torch.randint(0, 2, (12,)).float() * 2 - 1
loss = nn.CosineEmbeddingLoss(margin=0.3)(a, b, y)
loss.backward()
""",
    "margin-ranking-pairs": """
scorer = nn.Linear(10, 1)
s1, s2 = scorer(torch.randn(16, 10)).squeeze(1), scorer(torch.randn(16, 10)).squeeze(1)
y = torch.where(torch.rand(16) > 0.5, 1.0, -1.0)
loss = F.margin_ranking_loss(s1, s2, y, margin=0.5)
loss.backward()
""",
    "hinge-embedding-distance": """
enc = nn.Linear(8, 4)
d = F.pairwise_distance(enc(torch.randn(10, 8)), enc(torch.randn(10, 8)))
y = torch.tensor([1, -1] * 5).float()
loss = nn.HingeEmbeddingLoss(margin=2.0)(d, y)
loss.backward()
""",
    "soft-margin-signs": """
scores = nn.Linear(6, 3)(torch.randn(8, 6))
y = torch.randint(0, 2, (8, 3)).float() * 2 - 1
loss = nn.SoftMarginLoss()(scores, y)
loss.backward()
""",
    "triplet-margin": """
enc = nn.Linear(20, 8)
a, p, n = (enc(torch.randn(16, 20)) for _ in range(3))
loss = nn.TripletMarginLoss(margin=1.0, p=2)(a, p, n)
loss = loss + F.triplet_margin_with_distance_loss(a, p, n, distance_function=nn.PairwiseDistance())
loss.backward()
""",
    "multi-margin-svm": """
scores = nn.Linear(10, 5)(torch.randn(32, 10))
loss = nn.MultiMarginLoss(margin=1.0)(scores, torch.randint(0, 5, (32,)))
loss.backward()
""",
    "legacy-reduce-false-mean": """
logits = nn.Linear(10, 3)(torch.randn(20, 10))
y = torch.randint(0, 3, (20,))
per = nn.CrossEntropyLoss(reduce=False)(logits, y)
loss = per.mean() + F.nll_loss(F.log_softmax(logits, 1), y, size_average=True)
loss.backward()
""",
    "nll-after-log-softmax-in-forward": """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(784, 64), nn.Linear(64, 10)
    def forward(self, x):
        return F.log_softmax(self.fc2(F.relu(self.fc1(x))), dim=1)
model = Net()
for step in range(3):
    data, target = torch.randn(32, 784), torch.randint(0, 10, (32,))
    loss = F.nll_loss(model(data), target)
    loss.backward()
""",
    "hand-written-ce-log-softmax": """
logits = nn.Linear(10, 4)(torch.randn(16, 10))
y = torch.randint(0, 4, (16,))
loss = -(F.log_softmax(logits, dim=1) * F.one_hot(y, 4)).sum(1).mean()
loss.backward()
""",
    "hand-written-bce-logsigmoid": """
z = nn.Linear(10, 1)(torch.randn(16, 10))
y = torch.randint(0, 2, (16, 1)).float()
loss = -(y * F.logsigmoid(z) + (1 - y) * F.logsigmoid(-z)).mean()
torch.autograd.backward(loss)
""",
    "hand-written-log-with-eps": """
probs = F.softmax(nn.Linear(10, 4)(torch.randn(16, 10)), dim=1)
onehot = F.one_hot(torch.randint(0, 4, (16,)), 4).float()
loss = -(onehot * torch.log(probs + 1e-8)).sum(1).mean()
entropy = -(probs * torch.log(probs.clamp(min=1e-12))).sum(1).mean()
(loss - 0.01 * entropy).backward()
""",
    "tiny-batch-of-one": """
logits = nn.Linear(10, 3)(torch.randn(1, 10))
loss = F.cross_entropy(logits, torch.tensor([2])) + F.binary_cross_entropy_with_logits(logits[:, :1], torch.ones(1, 1))
loss.backward()
""",
    "unbatched-single-sample": """
logits = nn.Linear(10, 5)(torch.randn(10))
loss = F.cross_entropy(logits, torch.tensor(3))
loss.backward()
""",
    "seq-tagging-transpose": """
emb, lstm, fc = nn.Embedding(100, 16), nn.LSTM(16, 16, batch_first=True), nn.Linear(16, 9)
tokens, tags = torch.randint(0, 100, (4, 9)), torch.randint(0, 9, (4, 9))
out, _ = lstm(emb(tokens))
loss = F.cross_entropy(fc(out).transpose(1, 2), tags)
loss.backward()
""",
    "class-weighted-bce-elementwise": """
logits = nn.Linear(10, 3)(torch.randn(16, 10))
targets = (torch.rand(16, 3) > 0.5).float()
w = torch.ones(16, 3)
loss = F.binary_cross_entropy_with_logits(logits, targets, weight=w)
loss.backward()
""",
    "eval-no-grad-accuracy-loss": """
model = nn.Linear(10, 4)
model.eval()
total = 0.0
with torch.no_grad():
    for _ in range(3):
        out = model(torch.randn(8, 10))
        total += F.cross_entropy(out, torch.randint(0, 4, (8,)), reduction='sum').item()
""",
    "try-except-that-does-not-raise": """
model = nn.Linear(10, 3)
try:
    loss = nn.CrossEntropyLoss()(model(torch.randn(8, 10)), torch.randint(0, 3, (8,)))
except RuntimeError as e:
    print("failed", e)
loss.backward()
""",
    "linear-cross-entropy": """
if hasattr(F, "linear_cross_entropy"):
    h = torch.randn(8, 16, requires_grad=True)
    W = torch.randn(50, 16, requires_grad=True)
    loss = F.linear_cross_entropy(h, W, torch.randint(0, 50, (8,)))
else:
    loss = F.cross_entropy(torch.randn(8, 50, requires_grad=True), torch.randint(0, 50, (8,)))
loss.backward()
""",
    "ensemble-heads-one-target": """
heads = nn.Linear(8, 5)
y = torch.randn(32, 1)
loss = F.mse_loss(heads(torch.randn(32, 8)), y.expand(32, 5)) + F.l1_loss(heads(torch.randn(32, 8)).mean(1, keepdim=True), y)
loss.backward()
""",
    "quantile-regression-unreduced": """
q = torch.tensor([0.1, 0.5, 0.9])
pred = nn.Linear(8, 3)(torch.randn(32, 8))
y = torch.randn(32, 1)
err = F.l1_loss(pred, y.expand_as(pred), reduction='none')
loss = torch.max(q * (y - pred), (q - 1) * (y - pred)).mean() + 0 * err.mean()
loss.backward()
""",
    "best-of-k-unreduced": """
pred = nn.Linear(8, 1)(torch.randn(16, 8))
answers = torch.randn(16, 4)
loss = F.mse_loss(pred, answers, reduction='none').min(1).values.mean()
loss.backward()
""",
    "center-loss-to-batch-mean": """
feats = nn.Linear(8, 4)(torch.randn(16, 8))
loss = F.mse_loss(feats, feats.mean(0, keepdim=True).detach().requires_grad_(False) * 1.0)
loss = loss + F.mse_loss(feats, feats.mean(0, keepdim=True))
loss.backward()
""",
    "self-distillation-identical-sum": """
logits = torch.randn(64, 1000)
s = logits.clone().requires_grad_()
loss = F.kl_div(F.log_softmax(s, -1), F.softmax(logits, -1), reduction='sum')
loss.backward()
""",
    "lstm-classifier-dataloader": """
class LSTMClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(50, 16)
        self.lstm = nn.LSTM(16, 32, batch_first=True)
        self.fc = nn.Linear(32, 1)
        self.crit = nn.BCEWithLogitsLoss()
    def forward(self, x, y):
        out, _ = self.lstm(self.emb(x))
        return self.crit(self.fc(out[:, -1]).squeeze(1), y)
model = LSTMClassifier()
ds = TensorDataset(torch.randint(0, 50, (32, 12)), torch.randint(0, 2, (32,)).float())
for xb, yb in DataLoader(ds, batch_size=8):
    model(xb, yb).backward()
""",
    "multilabel-margin-one-label-each": """
scores = nn.Linear(10, 6)(torch.randn(4, 10))
target = torch.tensor([[2, -1, 0, 0, 0, 0], [5, 1, -1, 0, 0, 0], [0, -1, 3, 3, 3, 3], [4, 3, 2, -1, 1, 1]])
nn.MultiLabelMarginLoss()(scores, target).backward()
""",
    "nll-with-temperature-and-mask-indexing": """
logits = nn.Linear(16, 7)(torch.randn(4, 10, 16))
tags = torch.randint(0, 7, (4, 10))
mask = torch.rand(4, 10) > 0.2
logp = F.log_softmax(logits / 0.7, dim=-1)
loss = F.nll_loss(logp[mask], tags[mask])
loss.backward()
""",
    "vae-bce-sum-plus-kld": """
class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc, self.mu, self.logvar, self.dec = nn.Linear(64, 32), nn.Linear(32, 8), nn.Linear(32, 8), nn.Linear(8, 64)
    def forward(self, x):
        h = F.relu(self.enc(x))
        mu, logvar = self.mu(h), self.logvar(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return torch.sigmoid(self.dec(z)), mu, logvar
vae = VAE()
x = torch.rand(16, 64)
recon, mu, logvar = vae(x)
bce = F.binary_cross_entropy(recon, x, reduction='sum')
kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
(bce + kld).backward()
""",
    "infonce-cross-entropy": """
enc = nn.Linear(32, 16)
a = F.normalize(enc(torch.randn(8, 32)), dim=1)
b = F.normalize(enc(torch.randn(8, 32)), dim=1)
logits = a @ b.t() / 0.07
labels = torch.arange(8)
loss = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels)) / 2
loss.backward()
""",
    "reinforce-log-prob-with-eps": """
policy = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 2), nn.Softmax(dim=-1))
states = torch.randn(10, 4)
probs = policy(states)
actions = torch.multinomial(probs.detach(), 1)
returns = torch.randn(10, 1)
log_probs = torch.log(probs.gather(1, actions) + 1e-8)
(-(log_probs * returns).mean()).backward()
""",
    "distributions-normal-and-categorical": """
net = nn.Linear(6, 4)
out = net(torch.randn(32, 6))
mu, log_std = out[:, :1], out[:, 1:2]
nll = -torch.distributions.Normal(mu, log_std.exp()).log_prob(torch.randn(32, 1)).mean()
cat = torch.distributions.Categorical(probs=F.softmax(out, dim=-1))
ent = cat.entropy().mean()
(nll - 0.01 * ent).backward()
""",
    "seq2seq-nll-ignore-pad": """
PAD = 0
dec = nn.Linear(16, 40)
h = torch.randn(4, 9, 16)
tgt = torch.randint(1, 40, (4, 9))
tgt[:, 6:] = PAD
criterion = nn.NLLLoss(ignore_index=PAD)
logp = F.log_softmax(dec(h), dim=-1)
loss = criterion(logp.view(-1, 40), tgt.view(-1))
loss.backward()
""",
    "label-smoothing-kl-batchmean": """
logits = nn.Linear(12, 6)(torch.randn(20, 12))
y = torch.randint(0, 6, (20,))
eps = 0.1
smooth = torch.full((20, 6), eps / 5).scatter_(1, y.unsqueeze(1), 1 - eps)
loss = F.kl_div(F.log_softmax(logits, dim=-1), smooth, reduction='batchmean')
loss.backward()
""",
    "hand-written-bce-with-clamp": """
p = torch.sigmoid(nn.Linear(10, 1)(torch.randn(32, 10))).clamp(1e-7, 1 - 1e-7)
y = torch.randint(0, 2, (32, 1)).float()
loss = -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()
loss.backward()
""",
    "contrastive-siamese-hand-written": """
enc = nn.Linear(10, 4)
d = F.pairwise_distance(enc(torch.randn(16, 10)), enc(torch.randn(16, 10)))
same = torch.randint(0, 2, (16,)).float()
loss = (same * d.pow(2) + (1 - same) * torch.clamp(1.0 - d, min=0).pow(2)).mean()
loss.backward()
""",
    "ctc-lstm-time-major": """
lstm = nn.LSTM(13, 32)
proj = nn.Linear(32, 20)
feats = torch.randn(60, 3, 13)
out, _ = lstm(feats)
log_probs = proj(out).log_softmax(2)
targets = torch.randint(1, 20, (3, 15))
ctc = nn.CTCLoss(blank=0)
loss = ctc(log_probs, targets, torch.tensor([60, 55, 50]), torch.tensor([15, 12, 10]))
loss.backward()
""",
    "gaussian-nll-teacher-mean-constant-var": """
student = nn.Linear(6, 1)
teacher = nn.Linear(6, 1)
x = torch.randn(32, 6)
loss = F.gaussian_nll_loss(student(x), teacher(x), torch.full((32, 1), 0.5))
loss.backward()
""",
    "ctc-padded-with-blank-beyond-lengths": """
log_probs = torch.randn(50, 3, 12, requires_grad=True).log_softmax(2)
targets = torch.zeros(3, 9, dtype=torch.long)
lengths = torch.tensor([9, 6, 4])
for i, n in enumerate(lengths.tolist()):
    targets[i, :n] = torch.randint(1, 12, (n,))
F.ctc_loss(log_probs, targets, torch.full((3,), 50), lengths).backward()
""",
    "bce-soft-mask-scaled": """
unet = nn.Conv2d(3, 1, 3, padding=1)
mask = (torch.rand(2, 1, 16, 16) > 0.5).float() * 255
nn.BCEWithLogitsLoss()(unet(torch.randn(2, 3, 16, 16)), mask / 255).backward()
""",
    "multilabel-tagging-pos-weight-classes-last": """
tagger = nn.Linear(16, 6)
h = torch.randn(4, 6, 16)
tags = (torch.rand(4, 6, 6) > 0.8).float()
loss = F.binary_cross_entropy_with_logits(tagger(h), tags, pos_weight=torch.full((6,), 3.0))
loss.backward()
""",
    "segmentation-kd-kl-over-channels": """
student, teacher = nn.Conv2d(3, 5, 1), nn.Conv2d(3, 5, 1)
img = torch.randn(2, 3, 8, 8)
with torch.no_grad():
    t_prob = F.softmax(teacher(img), dim=1)
loss = F.kl_div(F.log_softmax(student(img), dim=1), t_prob, reduction='batchmean')
loss.backward()
""",
    "ce-soft-targets-from-numpy-pipeline": """
import numpy as np
logits = nn.Linear(8, 4)(torch.randn(6, 8))
soft = np.full((6, 4), 0.025, dtype=np.float32)
soft[np.arange(6), np.arange(6) % 4] = 0.925
loss = nn.CrossEntropyLoss()(logits, torch.from_numpy(soft))
loss.backward()
""",
    "nll-on-log-softmax-no-grad-eval": """
model = nn.Linear(10, 5)
x, y = torch.randn(16, 10), torch.randint(0, 5, (16,))
with torch.no_grad():
    val_loss = F.nll_loss(F.log_softmax(model(x), dim=1), y)
""",
    "kl-probabilities-through-log-with-eps": """
p = F.softmax(torch.randn(16, 6), dim=1)
q = F.softmax(torch.randn(16, 6), dim=1)
loss = nn.KLDivLoss(reduction='batchmean')(torch.log(p + 1e-8), q)
""",
    "kl-reverse-on-purpose-rlhf-comment": """
# reverse KL on purpose (mode-seeking, as in RLHF): KL(policy || ref)
policy, ref = nn.Linear(16, 10), nn.Linear(16, 10)
x = torch.randn(32, 16)
with torch.no_grad():
    ref_logp = F.log_softmax(ref(x), dim=-1)
policy_p = F.softmax(policy(x), dim=-1)
loss = F.kl_div(ref_logp, policy_p, reduction='batchmean')
loss.backward()
""",
    "kl-uniform-prior-confidence-penalty": """
model = nn.Linear(16, 5)
x, y = torch.randn(32, 16), torch.randint(0, 5, (32,))
logits = model(x)
p = F.softmax(logits, dim=1)
uniform = torch.full_like(p, 1.0 / 5)
# confidence penalty: KL(p || uniform) keeps predictions from collapsing
loss = F.cross_entropy(logits, y) + 0.1 * F.kl_div(uniform.log(), p, reduction='batchmean')
loss.backward()
""",
    "kl-class-prior-matching-expanded": """
model = nn.Linear(16, 5)
x = torch.randn(32, 16)
prior = torch.tensor([0.4, 0.3, 0.1, 0.1, 0.1])
p = F.softmax(model(x), dim=1)
loss = F.kl_div(prior.log().expand_as(p), p, reduction='batchmean')
loss.backward()
""",
    "kl-class-prior-matching-repeated": """
model = nn.Linear(16, 5)
x = torch.randn(32, 16)
prior = torch.tensor([0.4, 0.3, 0.1, 0.1, 0.1]).repeat(32, 1)
p = F.softmax(model(x), dim=1)
loss = F.kl_div(prior.log(), p, reduction='batchmean')
loss.backward()
""",
    "ordinal-grades-regressed-named-grade-class": """
# diabetic retinopathy grades 0..4 regressed on purpose (ordered), thresholds tuned later
model = nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Linear(32, 1))
x = torch.randn(32, 12)
grade_class = torch.randint(0, 5, (32, 1)).float()
loss = F.smooth_l1_loss(model(x), grade_class)
loss.backward()
""",
    "jsd-to-teacher-with-detached-mixture": """
# JS divergence to a teacher: the mixture is a constant (stop-gradient), each side pulled to it
student, teacher = nn.Linear(16, 10), nn.Linear(16, 10)
x = torch.randn(8, 16)
ps = F.softmax(student(x), 1)
with torch.no_grad():
    pt = F.softmax(teacher(x), 1)
m = (0.5 * (ps + pt)).detach().clamp_min(1e-7).log()
jsd = 0.5 * F.kl_div(m, ps, reduction='batchmean') + 0.5 * F.kl_div(m, pt, reduction='batchmean')
jsd.backward()
""",
    "augmix-jsd-consistency": """
net = nn.Linear(16, 10)
x, y = torch.randn(3 * 8, 16), torch.randint(0, 10, (8,))
logits_clean, logits_aug1, logits_aug2 = torch.split(net(x), 8)
loss = F.cross_entropy(logits_clean, y)
p_clean, p_aug1, p_aug2 = F.softmax(logits_clean, dim=1), F.softmax(logits_aug1, dim=1), F.softmax(logits_aug2, dim=1)
p_mixture = torch.clamp((p_clean + p_aug1 + p_aug2) / 3., 1e-7, 1).log()
loss += 12 * (F.kl_div(p_mixture, p_clean, reduction='batchmean') +
              F.kl_div(p_mixture, p_aug1, reduction='batchmean') +
              F.kl_div(p_mixture, p_aug2, reduction='batchmean')) / 3.
loss.backward()
""",
}


LEGACY = re.compile(r"\b(size_average|reduce)=")  # deprecated: worth an info note with reduction=, no more


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_correct_program_gets_no_finding(ipython, name):
    run = ipython.run(HEAD + PROGRAMS[name])
    assert run.success, run.out
    # nllhint's own findings, not torch's UserWarnings (a legacy-argument warning shows its source line,
    # `... emit_warning))`, the first time in a process only: it depends on which test ran first)
    assert not re.search(r"\b(warning|error) NLH\d+", run.out), run.out
    if LEGACY.search(PROGRAMS[name]):
        assert set(re.findall(r"(\w+) (NLH\d+)", run.out)) == {("info", "NLH841")}, run.out
        assert "reduction='" in run.out, run.out
    else:
        assert "no problems found" in run.out or "no loss calls seen" in run.out, run.out
        assert "NLH" not in run.out, run.out


def test_there_are_at_least_forty_programs():
    assert len(PROGRAMS) >= 40
