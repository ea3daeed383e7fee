"""A sigmoid or softmax at the end of the user's model, then a loss that applies it again (BCEWithLogitsLoss,
CrossEntropyLoss) or wants log-probabilities (NLLLoss): the fix is the model's own line, rewritten, found from
the input's grad_fn and the model's source (an nn.Sequential entry, or the call in ``forward``). Correct
programs with a softmax or sigmoid somewhere in the model stay silent."""

import re

import pytest

HEAD = "import torch, torch.nn as nn, torch.nn.functional as F\ntorch.manual_seed(0)\n"


def fix_lines(out: str) -> list[str]:
    return [line.split("fix: ", 1)[1] for line in out.splitlines() if "fix: " in line]


# --- nn.Sequential ending in nn.Sigmoid() / nn.Softmax() -------------------------------------------------

def test_gan_discriminator_ending_in_sigmoid_gets_its_sequential_entry_dropped(ipython):
    run = ipython.run(HEAD + """
netD = nn.Sequential(nn.Linear(16, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1), nn.Sigmoid())
criterion = nn.BCEWithLogitsLoss()
real = torch.randn(16, 16)
label = torch.full((16,), 1.0)
errD_real = criterion(netD(real).view(-1), label)
errD_real.backward()
""")
    assert run.success, run.out
    assert "nllhint: warning NLH807" in run.out, run.out
    cell = run.result.execution_count
    assert f"fix: nn.Linear(32, 1), nn.Sigmoid()  ->  nn.Linear(32, 1)   # cell [{cell}], line 4" in run.out, run.out
    assert "remove the final sigmoid" not in run.out, run.out


def test_a_short_sequential_is_shown_whole_without_its_sigmoid(ipython):
    run = ipython.run(HEAD + """
classifier = nn.Sequential(nn.Linear(8, 1), nn.Sigmoid())
x, y = torch.randn(16, 8), torch.randint(0, 2, (16, 1)).float()
loss = F.binary_cross_entropy_with_logits(classifier(x), y)
""")
    assert run.success, run.out
    assert ("fix: classifier = nn.Sequential(nn.Linear(8, 1), nn.Sigmoid())  ->  "
            "classifier = nn.Sequential(nn.Linear(8, 1))   # cell [") in run.out, run.out


def test_a_model_built_in_an_earlier_cell_is_fixed_in_that_cell(ipython):
    built = ipython.run(HEAD + "model = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 5), nn.Softmax(dim=1))\n")
    assert built.success, built.out
    run = ipython.run("""
x, y = torch.randn(64, 20), torch.randint(0, 5, (64,))
criterion = nn.CrossEntropyLoss()
loss = criterion(model(x), y)
""")
    assert run.success, run.out
    assert "nllhint: warning NLH804" in run.out, run.out
    assert (f"fix: nn.Linear(32, 5), nn.Softmax(dim=1)  ->  nn.Linear(32, 5)   "
            f"# cell [{built.result.execution_count}], line 3") in run.out, run.out


def test_lightning_style_backbone_softmax_is_named_in_init(ipython):
    run = ipython.run(HEAD + """
class LitClassifier(nn.Module):
    def __init__(self, num_classes=100):
        super().__init__()
        self.backbone = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 64), nn.ReLU(),
                                      nn.Linear(64, num_classes), nn.Softmax(dim=1))
    def forward(self, x):
        return self.backbone(x)
    def training_step(self, batch, batch_idx):
        x, y = batch
        y_hat = self(x)
        return F.cross_entropy(y_hat, y)

model = LitClassifier()
for step in range(3):
    batch = (torch.randn(32, 3, 8, 8), torch.randint(0, 100, (32,)))
    loss = model.training_step(batch, step)
""")
    assert run.success, run.out
    assert "nllhint: warning NLH804" in run.out, run.out
    assert ("fix: nn.Linear(64, num_classes), nn.Softmax(dim=1)  ->  nn.Linear(64, num_classes)   "
            "# LitClassifier.__init__, line 8") in run.out, run.out


def test_softmax_sequential_into_nll_loss_becomes_log_softmax(ipython):
    run = ipython.run(HEAD + """
model = nn.Sequential(nn.Linear(16, 4), nn.Softmax(dim=1))
loss_fn = nn.NLLLoss()
x, y = torch.randn(8, 16), torch.randint(0, 4, (8,))
loss = loss_fn(model(x), y)
""")
    assert run.success, run.out
    assert "nllhint: warning NLH802" in run.out, run.out
    assert ("fix: model = nn.Sequential(nn.Linear(16, 4), nn.Softmax(dim=1))  ->  "
            "model = nn.Sequential(nn.Linear(16, 4), nn.LogSoftmax(dim=1))   # cell [") in run.out, run.out
    assert "clamp_min" not in run.out, run.out


def test_a_softmax_appended_later_is_named_by_its_index(ipython):
    run = ipython.run(HEAD + """
model = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 5))
model.append(nn.Softmax(dim=1))
x, y = torch.randn(64, 20), torch.randint(0, 5, (64,))
loss = F.cross_entropy(model(x), y)
""")
    assert run.success, run.out
    assert "fix: remove model[3], the final nn.Softmax (the model's last layer)" in run.out, run.out


# --- a call in the model's forward ---------------------------------------------------------------------

def test_vae_decoder_sigmoid_line_in_forward(ipython):
    run = ipython.run(HEAD + """
class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(784, 2 * 10)
        self.dec = nn.Linear(10, 784)
    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        x_hat = torch.sigmoid(self.dec(z))
        return x_hat, mu, logvar

model = VAE()
x = (torch.rand(32, 784) > 0.5).float()
x_hat, mu, logvar = model(x)
recon = F.binary_cross_entropy_with_logits(x_hat, x, reduction='sum')
""")
    assert run.success, run.out
    assert "nllhint: warning NLH807" in run.out, run.out
    assert ("fix: x_hat = torch.sigmoid(self.dec(z))  ->  x_hat = self.dec(z)   # VAE.forward, line 12"
            in run.out), run.out


def test_sigmoid_on_its_own_line_before_return_is_deleted(ipython):
    run = ipython.run(HEAD + """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(10, 16)
        self.fc2 = nn.Linear(16, 1)
    def forward(self, x):
        x = torch.sigmoid(self.fc1(x))   # hidden activation: fine
        x = self.fc2(x)
        x = x.sigmoid()
        return x

net = Net()
criterion = nn.BCEWithLogitsLoss()
x, y = torch.randn(32, 10), torch.randint(0, 2, (32, 1)).float()
loss = criterion(net(x), y)
""")
    assert run.success, run.out
    assert "fix: x = x.sigmoid()  ->  (delete this line)   # Net.forward, line 12" in run.out, run.out


def test_softmax_inside_forward_where_the_loss_is_computed(ipython):
    run = ipython.run(HEAD + """
class NERModel(nn.Module):
    def __init__(self, vocab=200, hidden=32, num_labels=13):
        super().__init__()
        self.emb = nn.Embedding(vocab, hidden)
        self.classifier = nn.Linear(hidden, num_labels)
        self.num_labels = num_labels
    def forward(self, input_ids, labels=None):
        probs = F.softmax(self.classifier(self.emb(input_ids)), dim=-1)
        loss = None
        if labels is not None:
            loss = nn.CrossEntropyLoss()(probs.view(-1, self.num_labels), labels.view(-1))
        return loss, probs

model = NERModel()
loss, _ = model(torch.randint(1, 200, (2, 16)), labels=torch.randint(0, 13, (2, 16)))
""")
    assert run.success, run.out
    assert "nllhint: warning NLH804" in run.out, run.out
    assert ("fix: probs = F.softmax(self.classifier(self.emb(input_ids)), dim=-1)  ->  "
            "probs = self.classifier(self.emb(input_ids))   # NERModel.forward, line 11") in run.out, run.out


def test_softmax_module_attribute_into_nll_loss(ipython):
    run = ipython.run(HEAD + """
class Transformer(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 4)
        self.softmax = nn.Softmax(dim=1)
    def forward(self, x):
        return self.softmax(self.fc(x))

model = Transformer()
loss_fn = nn.NLLLoss()
x, y = torch.randn(8, 16), torch.randint(0, 4, (8,))
y_pred = model(x)
loss = loss_fn(y_pred, y)
""")
    assert run.success, run.out
    assert "nllhint: warning NLH802" in run.out, run.out
    assert ("fix: return self.softmax(self.fc(x))  ->  return self.fc(x).log_softmax(dim=1)   "
            "# Transformer.forward, line 10") in run.out, run.out
    assert "clamp_min" not in run.out, run.out


def test_the_full_report_gives_the_same_line(ipython):
    run = ipython.run("%%losscheck\n" + HEAD + """
class Head(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(10, 3)
    def forward(self, x):
        return F.softmax(self.fc(x), dim=1)

head = Head()
x, y = torch.randn(32, 10), torch.randint(0, 3, (32,))
loss = F.nll_loss(head(x), y)
""")
    assert run.success, run.out
    assert "NLH802 [input-not-logprob]" in run.out, run.out
    fixes = " ".join(fix_lines(run.out))
    assert "return F.softmax(self.fc(x), dim=1)  ->  return F.log_softmax(self.fc(x), dim=1)" in fixes, run.out


def test_two_softmax_returns_give_the_prose_fix_not_a_clamped_log(ipython):
    run = ipython.run(HEAD + """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(10, 3), nn.Linear(10, 3)
        self.use_a = True
    def forward(self, x):
        if self.use_a:
            return F.softmax(self.a(x), dim=1)
        return F.softmax(self.b(x), dim=1)

net = Net()
x, y = torch.randn(32, 10), torch.randint(0, 3, (32,))
loss = F.nll_loss(net(x), y)
""")
    assert run.success, run.out
    assert "nllhint: warning NLH802" in run.out, run.out
    assert "fix: make the model return log_softmax(...) instead of softmax(...)" in run.out, run.out
    assert "clamp_min" not in run.out, run.out


# --- the scores returned next to the probabilities -------------------------------------------------------

SEGNET = HEAD + """
class SegNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 5, 3, padding=1)
    def forward(self, x):
        x_00d = self.conv(x)
        x_softmax = F.softmax(x_00d, dim=1)
        return x_00d, x_softmax

model = SegNet()
criterion = nn.{loss}()
input_tensor = torch.randn(2, 3, 16, 16)
target_tensor = torch.randint(0, 5, (2, 16, 16))
for epoch in range(2):
    predicted_tensor, softmaxed_tensor = model(input_tensor)
    loss = criterion(softmaxed_tensor, target_tensor)
"""


def test_segnet_softmax_output_beside_its_logits_uses_the_logits(ipython):
    run = ipython.run(SEGNET.replace("{loss}", "CrossEntropyLoss"))
    assert run.success, run.out
    assert "nllhint: warning NLH804" in run.out, run.out
    assert fix_lines(run.out) == ["loss = criterion(predicted_tensor, target_tensor)"], run.out


def test_segnet_probabilities_into_nll_loss_take_the_logits_log_softmax(ipython):
    run = ipython.run(SEGNET.replace("{loss}", "NLLLoss"))
    assert run.success, run.out
    assert fix_lines(run.out) == ["loss = criterion(predicted_tensor.log_softmax(dim=1), target_tensor)"], run.out


# --- correct programs: silent ----------------------------------------------------------------------------

@pytest.mark.parametrize("magic", ["", "%%losscheck\n"])
@pytest.mark.parametrize("cell", [
    # sigmoid at the end of the model, with BCELoss (which wants probabilities)
    """
netD = nn.Sequential(nn.Linear(16, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1), nn.Sigmoid())
x, y = torch.randn(16, 16), torch.randint(0, 2, (16, 1)).float()
loss = nn.BCELoss()(netD(x), y)
""",
    # log_softmax at the end of forward, with NLLLoss
    """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 4)
    def forward(self, x):
        return F.log_softmax(self.fc(x), dim=1)
model = Net()
x, y = torch.randn(8, 16), torch.randint(0, 4, (8,))
loss = nn.NLLLoss()(model(x), y)
""",
    # nn.LogSoftmax in a Sequential, with NLLLoss
    """
model = nn.Sequential(nn.Linear(16, 4), nn.LogSoftmax(dim=1))
x, y = torch.randn(8, 16), torch.randint(0, 4, (8,))
loss = F.nll_loss(model(x), y)
""",
    # a softmax in the middle of the model (attention), raw scores at the end
    """
class Attn(nn.Module):
    def __init__(self):
        super().__init__()
        self.q, self.k, self.v = nn.Linear(8, 8), nn.Linear(8, 8), nn.Linear(8, 8)
        self.out = nn.Linear(8, 3)
    def forward(self, x):
        weights = F.softmax(self.q(x) @ self.k(x).transpose(1, 2) / 8 ** 0.5, dim=-1)
        return self.out((weights @ self.v(x)).mean(dim=1))
model = Attn()
x, y = torch.randn(4, 6, 8), torch.randint(0, 3, (4,))
loss = F.cross_entropy(model(x), y)
""",
    # a softmax used only at inference
    """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(10, 3)
    def forward(self, x):
        x = self.fc(x)
        if not self.training:
            return F.softmax(x, dim=1)
        return x
model = Net()
x, y = torch.randn(32, 10), torch.randint(0, 3, (32,))
loss = nn.CrossEntropyLoss()(model(x), y)
""",
])
def test_squashing_in_the_right_place_stays_silent(ipython, magic, cell):
    run = ipython.run(magic + HEAD + cell)
    assert run.success, run.out
    assert not re.search(r"NLH8\d\d", run.out), run.out
    assert "nllhint: warning" not in run.out, run.out


def test_three_calls_through_one_sigmoid_give_one_notice_with_their_lines(ipython):
    run = ipython.run(HEAD + """
netG = nn.Sequential(nn.Linear(8, 16), nn.Tanh())
netD = nn.Sequential(nn.Linear(16, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1), nn.Sigmoid())
criterion = nn.BCEWithLogitsLoss()
real, noise = torch.randn(16, 16), torch.randn(16, 8)
ones, zeros = torch.ones(16), torch.zeros(16)
errD_real = criterion(netD(real).view(-1), ones)
fake = netG(noise)
errD_fake = criterion(netD(fake.detach()).view(-1), zeros)
errG = criterion(netD(fake).view(-1), ones)
""")
    assert run.success, run.out
    assert run.out.count("nllhint: warning NLH807") == 1, run.out
    assert "fix: nn.Linear(32, 1), nn.Sigmoid()  ->  nn.Linear(32, 1)" in run.out, run.out
    assert f"at cell [{run.result.execution_count}], lines 9, 11, 12 · " in run.out, run.out


def test_different_causes_in_one_cell_keep_their_own_notices(ipython):
    run = ipython.run(HEAD + """
d1 = nn.Sequential(nn.Linear(16, 1), nn.Sigmoid())
d2 = nn.Sequential(nn.Linear(16, 1), nn.Sigmoid())
x, y = torch.randn(16, 16), torch.ones(16, 1)
loss1 = F.binary_cross_entropy_with_logits(d1(x), y)
loss2 = F.binary_cross_entropy_with_logits(d2(x), y)
""")
    assert run.success, run.out
    assert run.out.count("nllhint: warning NLH807") == 2, run.out
    assert "d1 = nn.Sequential(nn.Linear(16, 1), nn.Sigmoid())  ->  d1 = nn.Sequential(nn.Linear(16, 1))" in run.out
    assert "d2 = nn.Sequential(nn.Linear(16, 1), nn.Sigmoid())  ->  d2 = nn.Sequential(nn.Linear(16, 1))" in run.out


def test_a_sigmoid_written_in_the_cell_is_not_blamed_on_the_models_own(ipython):
    run = ipython.run(HEAD + """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(10, 1)
    def forward(self, x):
        return torch.sigmoid(self.fc(x))

net = Net()
x, y = torch.randn(64, 10), torch.randint(0, 2, (64, 1)).float()
scores = net(x) * 4 - 2
probs = torch.sigmoid(scores)
loss = F.binary_cross_entropy_with_logits(probs, y)
""")
    assert run.success, run.out
    assert "nllhint: warning NLH807" in run.out, run.out
    assert "Net.forward" not in run.out, run.out
