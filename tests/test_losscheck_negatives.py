"""Hard negatives: correct loss code under %%losscheck gets no finding at all, only the clean line."""

import pytest

HEAD = """%%losscheck
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
"""


def assert_clean(ipython, cell: str, calls: int | None = None):
    run = ipython.run(HEAD + cell)
    assert run.success, run.out
    assert "no problems found" in run.out, run.out
    assert "NLH8" not in run.out and "NLH9" not in run.out, run.out
    if calls is not None:
        assert f"{calls} loss call" in run.out, run.out
    return run


def test_language_model_with_ignore_index_padding(ipython):
    assert_clean(ipython, """
V = 1000
emb, head = nn.Embedding(V, 32), nn.Linear(32, V)
tokens = torch.randint(0, V, (4, 20))
labels = tokens.clone()
for i, n in enumerate([20, 14, 9, 17]):
    labels[i, n:] = -100
logits = head(emb(tokens))
loss = F.cross_entropy(logits.view(-1, V), labels.view(-1))
loss2 = F.cross_entropy(logits.transpose(1, 2), labels, ignore_index=-100)
loss.backward()
""", calls=2)


def test_padding_id_that_is_the_ignore_index(ipython):
    assert_clean(ipython, """
V, pad = 1000, 0
logits = torch.randn(4, 20, V, requires_grad=True)
labels = torch.randint(1, V, (4, 20))
for i, n in enumerate([20, 14, 9, 17]):
    labels[i, n:] = pad
criterion = nn.CrossEntropyLoss(ignore_index=pad)
loss = criterion(logits.permute(0, 2, 1), labels)
""")


def test_soft_probability_targets(ipython):
    assert_clean(ipython, """
model = nn.Linear(10, 4)
x = torch.randn(16, 10)
soft = F.softmax(torch.randn(16, 4), dim=1)
one_hot = F.one_hot(torch.randint(0, 4, (16,)), 4).float()
mixed = 0.7 * one_hot + 0.3 * one_hot.flip(0)
loss = F.cross_entropy(model(x), soft) + F.cross_entropy(model(x), one_hot) + F.cross_entropy(model(x), mixed)
""", calls=3)


def test_label_smoothing_and_class_weight(ipython):
    assert_clean(ipython, """
model = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 3))
x, y = torch.randn(32, 10), torch.randint(0, 3, (32,))
criterion = nn.CrossEntropyLoss(weight=torch.tensor([1.0, 2.0, 0.5]), label_smoothing=0.1)
for _ in range(10):
    loss = criterion(model(x), y)
""", calls=10)


def test_knowledge_distillation(ipython):
    assert_clean(ipython, """
student, teacher = nn.Linear(10, 5), nn.Linear(10, 5)
x, y = torch.randn(32, 10), torch.randint(0, 5, (32,))
T = 4.0
kd = nn.KLDivLoss(reduction="batchmean")
with torch.no_grad():
    t_logits = teacher(x)
s_logits = student(x)
loss = kd(F.log_softmax(s_logits / T, dim=1), F.softmax(t_logits / T, dim=1)) * T * T \\
    + F.cross_entropy(s_logits, y)
""", calls=2)


def test_kl_with_log_target(ipython):
    assert_clean(ipython, """
p = F.log_softmax(torch.randn(8, 6, requires_grad=True), dim=1)
q = F.log_softmax(torch.randn(8, 6), dim=1)
loss = F.kl_div(p, q, reduction="batchmean", log_target=True)
loss2 = nn.KLDivLoss(reduction="batchmean", log_target=True)(p, q)
""")


def test_pos_weight_and_multi_label_bce_with_logits(ipython):
    assert_clean(ipython, """
model = nn.Linear(10, 6)
x = torch.randn(32, 10)
tags = (torch.rand(32, 6) > 0.6).float()
criterion = nn.BCEWithLogitsLoss(pos_weight=torch.full((6,), 3.0))
loss = criterion(model(x), tags) + F.binary_cross_entropy_with_logits(model(x), tags)
""")


def test_ctc_on_time_major_log_softmax(ipython):
    assert_clean(ipython, """
T, N, C = 50, 4, 20
rnn = nn.GRU(8, 16)
head = nn.Linear(16, C)
out, _ = rnn(torch.randn(T, N, 8))
log_probs = head(out).log_softmax(2)
targets = torch.randint(1, C, (N, 10))
ctc = nn.CTCLoss(blank=0)
loss = ctc(log_probs, targets, torch.full((N,), T), torch.randint(5, 11, (N,)))
loss.backward()
""")


def test_nll_on_segmentation_after_log_softmax(ipython):
    assert_clean(ipython, """
net = nn.Conv2d(3, 5, 3, padding=1)
images = torch.randn(2, 3, 16, 16)
masks = torch.randint(0, 5, (2, 16, 16))
masks[:, :2] = 255
criterion = nn.NLLLoss(ignore_index=255)
loss = criterion(F.log_softmax(net(images), dim=1), masks)
""")


def test_unreduced_loss_masked_then_averaged(ipython):
    assert_clean(ipython, """
logits = torch.randn(4, 7, 10, requires_grad=True)
labels = torch.randint(0, 10, (4, 7))
mask = torch.rand(4, 7) > 0.3
per_token = F.cross_entropy(logits.transpose(1, 2), labels, reduction="none")
loss = (per_token * mask).sum() / mask.sum()
""")


def test_focal_loss_module_built_on_cross_entropy(ipython):
    assert_clean(ipython, """
class FocalLoss(nn.Module):
    def __init__(self, gamma=2.0):
        super().__init__()
        self.gamma = gamma

    def forward(self, logits, target):
        ce = F.cross_entropy(logits, target, reduction="none")
        pt = torch.exp(-ce)
        return ((1 - pt) ** self.gamma * ce).mean()

model = nn.Linear(10, 4)
focal = FocalLoss()
for _ in range(5):
    loss = focal(model(torch.randn(16, 10)), torch.randint(0, 4, (16,)))
    loss.backward()
""", calls=5)


def test_nll_after_log_softmax_in_the_models_forward(ipython):
    assert_clean(ipython, """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(20, 32), nn.Linear(32, 10)

    def forward(self, x):
        return F.log_softmax(self.fc2(F.relu(self.fc1(x))), dim=1)

model = Net()
optimizer = torch.optim.Adam(model.parameters())
for _ in range(5):
    x, y = torch.randn(64, 20), torch.randint(0, 10, (64,))
    optimizer.zero_grad()
    loss = F.nll_loss(model(x), y)
    loss.backward()
    optimizer.step()
model.eval()
with torch.no_grad():
    val = F.nll_loss(model(torch.randn(64, 20)), torch.randint(0, 10, (64,)))
""", calls=6)


@pytest.mark.parametrize("loss_line", [
    "F.cross_entropy(model(x), torch.tensor([2]))",
    "F.binary_cross_entropy_with_logits(model(x)[:, :1], torch.ones(1, 1))",
    "F.binary_cross_entropy(torch.sigmoid(model(x)[:, :1]), torch.ones(1, 1))",
    "F.mse_loss(model(x)[:, 0], torch.randn(1))",
    "F.nll_loss(F.log_softmax(model(x), dim=1), torch.tensor([0]))",
])
def test_single_sample_batches(ipython, loss_line):
    assert_clean(ipython, f"""
model = nn.Linear(4, 3)
x = torch.randn(1, 4)
loss = {loss_line}
""", calls=1)


def test_eval_loop_under_no_grad_with_correct_losses(ipython):
    assert_clean(ipython, """
model = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 5))
criterion = nn.CrossEntropyLoss()
model.eval()
total = 0.0
with torch.no_grad():
    for _ in range(20):
        x, y = torch.randn(64, 20), torch.randint(0, 5, (64,))
        out = model(x)
        total += criterion(out, y).item()
        probs = out.softmax(dim=1)
""", calls=20)


def test_regression_and_binary_classification(ipython):
    assert_clean(ipython, """
reg, clf = nn.Linear(8, 1), nn.Linear(8, 1)
x = torch.randn(32, 8)
y_reg, y_clf = torch.randn(32, 1), torch.randint(0, 2, (32,)).float()
loss = (F.mse_loss(reg(x), y_reg) + F.l1_loss(reg(x).squeeze(1), y_reg.squeeze(1))
        + F.smooth_l1_loss(reg(x), y_reg) + nn.HuberLoss()(reg(x), y_reg)
        + F.binary_cross_entropy(torch.sigmoid(clf(x)).squeeze(1), y_clf)
        + F.binary_cross_entropy_with_logits(clf(x).squeeze(1), y_clf))
""", calls=6)


def test_sequence_tagging_with_classes_moved_to_dim_1(ipython):
    assert_clean(ipython, """
emb, head = nn.Embedding(100, 16), nn.Linear(16, 12)
tokens, tags = torch.randint(0, 100, (4, 12)), torch.randint(0, 12, (4, 12))
loss = F.cross_entropy(head(emb(tokens)).permute(0, 2, 1), tags)
loss2 = F.nll_loss(head(emb(tokens)).log_softmax(dim=-1).transpose(1, 2), tags)
""")


def test_conv1d_scores_with_as_many_classes_as_positions(ipython):
    assert_clean(ipython, """
conv = nn.Conv1d(8, 12, 3, padding=1)           # (N, C=12, L=12): channels are the classes, at dim 1
signal, tags = torch.randn(4, 8, 12), torch.randint(0, 12, (4, 12))
loss = F.cross_entropy(conv(signal), tags)
""")


def test_nll_on_class_log_densities_with_positive_values(ipython):
    assert_clean(ipython, """
means = torch.randn(3, 2, requires_grad=True)
x, y = torch.randn(16, 2) * 0.05, torch.randint(0, 3, (16,))
log_density = -((x[:, None, :] - means[None]) ** 2).sum(-1) / (2 * 0.01) - torch.log(torch.tensor(2 * 3.1416 * 0.01))
loss = F.nll_loss(log_density, y)   # log-likelihoods of a Gaussian classifier: may exceed 0
""")


def test_pointer_network_scores_from_bmm_with_as_many_targets_as_steps(ipython):
    # bmm(enc, dec^T) is (N, C=T_enc, T_dec): the classes are already at dim 1 (not a Linear layer's output)
    assert_clean(ipython, """
N, T, D = 4, 10, 16
encoder, decoder = nn.Linear(8, D), nn.Linear(8, D)
enc, dec = encoder(torch.randn(N, T, 8)), decoder(torch.randn(N, T, 8))
scores = torch.bmm(enc, dec.transpose(1, 2))
order = torch.stack([torch.randperm(T) for _ in range(N)])
loss = F.cross_entropy(scores, order)
loss.backward()
""")


def test_mixture_of_experts_probabilities_combined_with_bmm_into_bce(ipython):
    assert_clean(ipython, """
gate_net, experts = nn.Linear(10, 3), nn.Linear(10, 3)
x, y = torch.randn(16, 10), (torch.rand(16) > 0.5).float()
gate = F.softmax(gate_net(x), dim=1)
expert_p = torch.sigmoid(experts(x)).unsqueeze(2)
p = torch.bmm(gate.unsqueeze(1), expert_p).view(16)   # a convex mix of probabilities
loss = F.binary_cross_entropy(p, y)
loss.backward()
""")


def test_lm_padding_masked_after_an_unreduced_loss(ipython):
    assert_clean(ipython, """
V, pad = 1000, 0
emb, head = nn.Embedding(V, 32), nn.Linear(32, V)
tokens = torch.randint(1, V, (4, 20))
for i, n in enumerate([20, 14, 9, 17]):
    tokens[i, n:] = pad
inputs, labels = tokens[:, :-1], tokens[:, 1:]
mask = (labels != pad).float()
per_token = F.cross_entropy(head(emb(inputs)).transpose(1, 2), labels, reduction="none")
loss = (per_token * mask).sum() / mask.sum()
loss.backward()
""")


def test_eval_of_a_timid_model_whose_logits_all_lie_near_half(ipython):
    assert_clean(ipython, """
model = nn.Linear(4, 1)
with torch.no_grad():
    model.weight.mul_(0.01); model.bias.fill_(0.5)
    x, y = torch.randn(128, 4), torch.ones(128, 1)
    val_loss = F.binary_cross_entropy_with_logits(model(x), y)
""")
