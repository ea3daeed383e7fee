"""Scores flattened to (rows, C) in the wrong order before a class-index loss: channels-first (N, C, T)
reshaped without a permute, sequence-first (T, B, C) against batch-first (B, T) labels. Found under
%%losscheck and in default mode; the correct layouts (and the ambiguous T == B) get nothing."""

import pytest

HEAD = """import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
"""

FOUND = {
    "conv1d-tagger-reshaped-without-permute": ("""
N, C, T = 4, 5, 6
tagger = nn.Conv1d(8, C, 3, padding=1)
feats = torch.randn(N, 8, T)
tags = torch.randint(0, C, (N, T))
out = tagger(feats)                           # (N, C, T)
loss = F.cross_entropy(out.reshape(-1, C), tags.reshape(-1))
""", "NLH842 [class-dim]", ("loss = F.cross_entropy(out, tags)",
                            "F.cross_entropy(out.permute(0, 2, 1).reshape(-1, C), tags.reshape(-1))")),
    "segmentation-logits-viewed-as-pixels": ("""
class Seg(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Conv2d(3, 16, 3, padding=1)
        self.head = nn.Conv2d(16, 4, 1)
    def forward(self, x):
        return self.head(F.relu(self.body(x)))
model = Seg()
criterion = nn.CrossEntropyLoss()
images, masks = torch.randn(2, 3, 8, 8), torch.randint(0, 4, (2, 8, 8))
preds = model(images)
loss = criterion(preds.view(-1, 4), masks.view(-1))
""", "NLH842 [class-dim]", ("loss = criterion(preds, masks)",
                            "preds.permute(0, 2, 3, 1).reshape(-1, 4)")),
    "seq-first-lstm-against-batch-first-targets": ("""
V, T, B = 12, 5, 4
rnn = nn.LSTM(8, 16)                    # seq-first (batch_first=False)
decoder = nn.Linear(16, V)
emb = torch.randn(T, B, 8)
targets = torch.randint(0, V, (B, T))    # batch-first targets from the DataLoader
output, _ = rnn(emb)
logits = decoder(output)                 # (T, B, V)
loss = F.cross_entropy(logits.view(-1, V), targets.view(-1))
""", "NLH843 [class-dim]", ("loss = F.cross_entropy(logits.transpose(0, 1).reshape(-1, V), targets.view(-1))",
                            "batch_first=True")),
    "gru-language-model-module-loss-flatten": ("""
vocab, steps, batch = 20, 7, 3
gru = nn.GRU(10, 32)
proj = nn.Linear(32, vocab)
criterion = nn.CrossEntropyLoss()
x = torch.randn(steps, batch, 10)
y = torch.randint(0, vocab, (batch, steps))
h, _ = gru(x)
scores = proj(h)
loss = criterion(scores.reshape(-1, vocab), y.flatten())
""", "NLH843 [class-dim]", ("loss = criterion(scores.transpose(0, 1).reshape(-1, vocab), y.flatten())",)),
}


@pytest.mark.parametrize("name", sorted(FOUND))
def test_scrambled_layout_is_found(ipython, name):
    cell, code, fixes = FOUND[name]
    run = ipython.run("%%losscheck\n" + HEAD + cell)
    assert run.success, run.out
    assert code in run.out, run.out
    for fix in fixes:
        assert fix in run.out, run.out


@pytest.mark.parametrize("name", sorted(FOUND))
def test_scrambled_layout_gets_a_default_mode_notice(ipython, name):
    cell, code, fixes = FOUND[name]
    run = ipython.run(HEAD + cell)
    assert run.success, run.out
    assert "nllhint: error " + code.split()[0] in run.out, run.out
    assert fixes[0] in run.out, run.out


CORRECT = {
    "batch-first-lstm-flattened": """
V, T, B = 12, 5, 4
rnn = nn.LSTM(8, 16, batch_first=True)
decoder = nn.Linear(16, V)
emb = torch.randn(B, T, 8)
targets = torch.randint(0, V, (B, T))
output, _ = rnn(emb)
logits = decoder(output)                 # (B, T, V)
loss = F.cross_entropy(logits.view(-1, V), targets.view(-1))
""",
    "ntc-reshaped-with-nt-targets": """
N, T, C = 4, 6, 5
head = nn.Linear(16, C)
h = torch.randn(N, T, 16)
y = torch.randint(0, C, (N, T))
loss = nn.CrossEntropyLoss()(head(h).reshape(-1, C), y.reshape(-1))
""",
    "seq-first-transposed-before-flattening": """
V, T, B = 12, 5, 4
rnn = nn.LSTM(8, 16)
decoder = nn.Linear(16, V)
output, _ = rnn(torch.randn(T, B, 8))
targets = torch.randint(0, V, (B, T))
logits = decoder(output)
loss = F.cross_entropy(logits.transpose(0, 1).reshape(-1, V), targets.reshape(-1))
""",
    "seq-first-with-seq-first-targets": """
V, T, B = 12, 5, 4
rnn = nn.GRU(8, 16)
decoder = nn.Linear(16, V)
output, _ = rnn(torch.randn(T, B, 8))
targets = torch.randint(0, V, (T, B))
loss = F.cross_entropy(decoder(output).view(-1, V), targets.view(-1))
""",
    "seq-first-with-time-equal-to-batch": """
V, T, B = 12, 4, 4
rnn = nn.LSTM(8, 16)
decoder = nn.Linear(16, V)
output, _ = rnn(torch.randn(T, B, 8))
targets = torch.randint(0, V, (B, T))
loss = F.cross_entropy(decoder(output).view(-1, V), targets.view(-1))
""",
    "conv-permuted-then-flattened": """
N, C, T = 4, 5, 6
tagger = nn.Conv1d(8, C, 3, padding=1)
tags = torch.randint(0, C, (N, T))
out = tagger(torch.randn(N, 8, T))
loss = F.cross_entropy(out.permute(0, 2, 1).reshape(-1, C), tags.reshape(-1))
loss2 = F.cross_entropy(out.transpose(1, 2).contiguous().view(-1, C), tags.view(-1))
""",
    "conv-scores-unflattened": """
seg = nn.Conv2d(3, 4, 1)
masks = torch.randint(0, 4, (2, 8, 8))
loss = nn.CrossEntropyLoss()(seg(torch.randn(2, 3, 8, 8)), masks)
""",
    "pooled-conv-features-viewed": """
net = nn.Sequential(nn.Conv2d(3, 10, 3), nn.AdaptiveAvgPool2d(1))
y = torch.randint(0, 10, (8,))
loss = F.cross_entropy(net(torch.randn(8, 3, 16, 16)).view(-1, 10), y)
""",
    "conv-with-length-equal-to-classes": """
N, C, T = 4, 5, 5
tagger = nn.Conv1d(8, C, 3, padding=1)
tags = torch.randint(0, C, (N, T))
out = tagger(torch.randn(N, 8, T))
loss = F.cross_entropy(out.permute(0, 2, 1).reshape(-1, C), tags.reshape(-1))
""",
}


@pytest.mark.parametrize("name", sorted(CORRECT))
def test_correct_layout_gets_no_finding(ipython, name):
    run = ipython.run("%%losscheck\n" + HEAD + CORRECT[name])
    assert run.success, run.out
    assert "no problems found" in run.out, run.out


@pytest.mark.parametrize("name", sorted(CORRECT))
def test_correct_layout_prints_nothing_in_default_mode(ipython, name):
    run = ipython.run(HEAD + CORRECT[name])
    assert run.success, run.out
    assert "nllhint" not in run.out, run.out


def test_linear_outputs_transposed_to_channels_first_then_flattened(ipython):
    run = ipython.run("%%losscheck\n" + HEAD + """
N, T, C = 4, 6, 5
head = nn.Linear(16, C)
y = torch.randint(0, C, (N, T))
scores = head(torch.randn(N, T, 16)).transpose(1, 2)     # (N, C, T) for CrossEntropyLoss
loss = F.cross_entropy(scores.reshape(-1, C), y.reshape(-1))
""")
    assert "NLH842 [class-dim]" in run.out, run.out
    assert "loss = F.cross_entropy(scores, y)" in run.out, run.out


def test_flat_layer_output_viewed_in_groups_gets_nothing(ipython):
    # (N, C*K) from one Linear viewed as (N, C, K) and then (-1, C): an arrangement the layer learns
    run = ipython.run("%%losscheck\n" + HEAD + """
N, C, K = 8, 5, 7
head = nn.Linear(16, C * K)
y = torch.randint(0, C, (N, K))
out = head(torch.randn(N, 16)).view(N, C, K)
loss = F.cross_entropy(out.view(-1, C), y.view(-1))
""")
    assert "no problems found" in run.out, run.out


def test_seq_first_scores_against_transposed_labels_copied_by_reshape(ipython):
    run = ipython.run("%%losscheck\n" + HEAD + """
V, T, B = 12, 5, 4
rnn = nn.GRU(8, 16)
out_layer = nn.Linear(16, V)
labels_tb = torch.randint(0, V, (T, B))
labels = labels_tb.t()                 # (B, T), not contiguous: reshape(-1) copies
h, _ = rnn(torch.randn(T, B, 8))
logits = out_layer(h)
loss = F.cross_entropy(logits.reshape(-1, V), labels.reshape(-1))
""")
    assert "NLH843 [class-dim]" in run.out, run.out
    assert "logits.transpose(0, 1).reshape(-1, V)" in run.out, run.out


def test_seq_first_scores_against_seq_first_labels_given_transposed_twice_get_nothing(ipython):
    run = ipython.run("%%losscheck\n" + HEAD + """
V, T, B = 12, 5, 4
rnn = nn.GRU(8, 16)
out_layer = nn.Linear(16, V)
labels = torch.randint(0, V, (B, T))
h, _ = rnn(torch.randn(T, B, 8))
logits = out_layer(h)
loss = F.cross_entropy(logits.reshape(-1, V), labels.t().reshape(-1))
""")
    assert "no problems found" in run.out, run.out
