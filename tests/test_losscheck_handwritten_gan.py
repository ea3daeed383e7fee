"""A GAN loss written by hand in a helper from an earlier cell (eval round 3, S12): %%losscheck names the
log in the user's function, the sigmoid at the end of the discriminator, and a with-logits line in the
caller's names; the log(sigmoid) and log(1 - sigmoid) halves of one BCE are one finding."""

import textwrap

import pytest

HEAD = "import torch, torch.nn as nn, torch.nn.functional as F\ntorch.manual_seed(0)\n"

HELPERS = """
def d_loss_fn(D_real, D_fake):
    return -(torch.mean(torch.log(D_real)) + torch.mean(torch.log(1 - D_fake)))
def g_loss_fn(D_fake):
    return -torch.mean(torch.log(D_fake))
"""

MODELS = """
G = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 20), nn.Sigmoid())
D = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 1), nn.Sigmoid())
D_solver = torch.optim.Adam(D.parameters(), lr=1e-3)
X = torch.rand(16, 20)
z = torch.randn(16, 10)
"""

D_FIX = ("D_loss = F.binary_cross_entropy_with_logits(D_real, torch.ones_like(D_real)) + "
         "F.binary_cross_entropy_with_logits(D_fake, torch.zeros_like(D_fake))")


def helpers(ipython, code: str = HELPERS) -> int:
    """Run the helpers' cell; its number, as the report shows it."""
    run = ipython.run(HEAD + code)
    assert run.success, run.out
    return ipython.shell.execution_count - 1


def losscheck(ipython, body: str, models: str = "") -> str:
    run = ipython.run("%%losscheck\n" + HEAD + models + textwrap.dedent(body))
    assert run.success, run.out
    return " ".join(run.out.split())  # the report's lines joined: wrapping depends on the width


def test_discriminator_loss_from_an_earlier_cell(ipython):
    cell = helpers(ipython)
    out = losscheck(ipython, """
        D_real = D(X)
        D_fake = D(G(z))
        D_loss = d_loss_fn(D_real, D_fake)
        D_loss.backward()
        D_solver.step()
    """, MODELS)
    assert "D_loss.backward() hand-written loss" in out, out
    # one finding for the one BCE, naming both logs in d_loss_fn by cell and line
    assert out.count("warning NLH83") == 1 and "NLH833" not in out, out
    assert (f"hand-written BCE in `d_loss_fn` takes log(sigmoid(...)) and log(1 - sigmoid(...)): "
            f"`torch.log(D_real)` and `torch.log(1 - D_fake)` (cell [{cell}], line 5)") in out, out
    assert "The sigmoid is `D[3]` (nn.Sigmoid(), the last layer of D)" in out, out
    assert f"fix: {D_FIX} # after removing `D[3]`" in out, out
    assert "no backward() ran" not in out, out  # the same loss is not reported again at the end of the cell


def test_the_suggested_line_is_the_same_loss_on_raw_scores(ipython):
    helpers(ipython)
    run = ipython.run(HEAD + MODELS + f"""
D_logits = D[:3]                              # D without its final nn.Sigmoid()
before = d_loss_fn(D(X), D(G(z)))
D_real, D_fake = D_logits(X), D_logits(G(z))
{D_FIX}
print(torch.allclose(before, D_loss, atol=1e-6))
G_loss = -F.logsigmoid(D_logits(G(z))).mean()
print(torch.allclose(g_loss_fn(D(G(z))), G_loss, atol=1e-6))
""")
    assert run.success and run.out.split() == ["True", "True"], run.out


def test_generator_loss_on_an_expression_gets_logsigmoid(ipython):
    cell = helpers(ipython)
    out = losscheck(ipython, """
        G_loss = g_loss_fn(D(G(z)))
        G_loss.backward()
    """, MODELS)
    assert f"`torch.log(D_fake)` (cell [{cell}], line 7)" in out, out
    # D(G(z)) appears once: F.binary_cross_entropy_with_logits(x, torch.ones_like(x)) would run D twice
    assert "fix: G_loss = -F.logsigmoid(D(G(z))).mean() # after removing `D[3]`" in out, out


def test_sigmoid_applied_in_the_cell_gives_the_raw_scores_directly(ipython):
    helpers(ipython)
    out = losscheck(ipython, """
        D = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 1))
        real_scores, fake_scores = D(torch.rand(16, 20)), D(torch.rand(16, 20))
        D_real = torch.sigmoid(real_scores)
        D_fake = torch.sigmoid(fake_scores)
        D_loss = d_loss_fn(D_real, D_fake)
        D_loss.backward()
    """)
    assert ("fix: D_loss = F.binary_cross_entropy_with_logits(real_scores, torch.ones_like(real_scores)) + "
            "F.binary_cross_entropy_with_logits(fake_scores, torch.zeros_like(fake_scores))") in out, out
    assert "after removing" not in out and "The sigmoid is" not in out, out


def test_discriminator_class_with_sigmoid_in_forward_inside_a_training_function(ipython):
    cell = helpers(ipython)
    out = losscheck(ipython, """
        class Discriminator(nn.Module):
            def __init__(self):
                super().__init__()
                self.hidden, self.out = nn.Linear(20, 32), nn.Linear(32, 1)
            def forward(self, x):
                h = F.leaky_relu(self.hidden(x), 0.2)
                return torch.sigmoid(self.out(h))

        netD = Discriminator()
        def train_step(real, fake):
            d_real = netD(real)
            d_fake = netD(fake)
            errD = d_loss_fn(d_real, d_fake)
            errD.backward()
            return errD.item()

        for _ in range(2):
            train_step(torch.rand(8, 20), torch.rand(8, 20))
    """)
    assert f"`torch.log(D_real)` and `torch.log(1 - D_fake)` (cell [{cell}], line 5)" in out, out
    assert "The sigmoid is `torch.sigmoid(self.out(h))` in Discriminator.forward (cell [" in out, out
    assert ("fix: errD = F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real)) + "
            "F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake))") in out, out


def test_bce_with_labels_keeps_its_two_findings_and_its_fix(ipython):
    helpers(ipython, """
def bce(p, y):
    return -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()
""")
    out = losscheck(ipython, """
        head = nn.Linear(10, 1)
        logits = head(torch.randn(16, 10))
        p = torch.sigmoid(logits)
        loss = bce(p, torch.randint(0, 2, (16, 1)).float())
        loss.backward()
    """)
    assert "NLH831" in out and "NLH833" in out, out
    assert "hand-written BCE in" not in out, out


def test_stable_gan_losses_are_clean(ipython):
    helpers(ipython, """
def d_loss_logits(real_logits, fake_logits):
    return (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))
def d_loss_eps(D_real, D_fake, eps=1e-8):
    return -(torch.mean(torch.log(D_real + eps)) + torch.mean(torch.log(1 - D_fake + eps)))
def g_loss_logsigmoid(fake_logits):
    return -F.logsigmoid(fake_logits).mean()
""")
    out = losscheck(ipython, """
        D = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 1))
        X, fake = torch.rand(16, 20), torch.rand(16, 20)
        loss_a = d_loss_logits(D(X), D(fake))
        loss_a.backward()
        loss_b = d_loss_eps(torch.sigmoid(D(X)), torch.sigmoid(D(fake)))
        loss_b.backward()
        loss_c = g_loss_logsigmoid(D(fake))
        loss_c.backward()
    """)
    assert "NLH83" not in out, out


SPY = """
LOG = []
class Logged(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        LOG.append("Logged.__torch_function__")
        return super().__torch_function__(func, types, args, kwargs or {})
class Disc(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(20, 1), nn.Sigmoid())
    @property
    def depth(self):
        LOG.append("Disc.depth")
        return 2
    def __getattr__(self, name):
        LOG.append(f"Disc.__getattr__({name})")
        return super().__getattr__(name)
    def forward(self, x):
        return self.net(x)
D = Disc()
"""


@pytest.mark.parametrize("wrap, backward", [("", "D_loss.backward()"),
                                             (".as_subclass(Logged)", "torch.autograd.backward(D_loss)")],
                         ids=["module-with-property", "tensor-subclass"])
def test_the_walk_runs_no_user_code(ipython, wrap, backward):
    """Names are looked up, never called: a property or __getattr__ of the discriminator and a tensor
    subclass's __torch_function__ see the same accesses with %%losscheck as without."""
    helpers(ipython)
    cell = SPY + textwrap.dedent(f"""
        D_real = D(torch.rand(8, 20)){wrap}
        D_fake = D(torch.rand(8, 20))
        D_loss = d_loss_fn(D_real, D_fake)
        {backward}
    """)
    watched = ipython.run("%%losscheck\n" + HEAD + cell)
    log_watched = list(ipython.shell.user_ns["LOG"])
    plain = ipython.run(HEAD + cell)
    assert watched.success and plain.success, watched.out + plain.out
    assert log_watched == list(ipython.shell.user_ns["LOG"])
    assert "NLH83" in watched.out, watched.out  # the walk did run
    if not wrap:
        assert "The sigmoid is `D.net[1]`" in " ".join(watched.out.split()), watched.out


def test_loss_computed_in_an_earlier_cell_backward_in_the_next(ipython):
    cell = helpers(ipython)
    ipython.run(HEAD + MODELS + "D_real, D_fake = D(X), D(G(z))\nD_loss = d_loss_fn(D_real, D_fake)\nprint(D_loss)")
    out = losscheck(ipython, """
        D_loss.backward()
        D_solver.step()
    """)
    assert f"`torch.log(D_real)` and `torch.log(1 - D_fake)` (cell [{cell}], line 5)" in out, out
    assert f"fix: {D_FIX} # after removing `D[3]`" in out, out


def test_no_with_logits_line_when_one_term_is_not_a_sigmoid(ipython):
    helpers(ipython)
    out = losscheck(ipython, """
        D = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 1), nn.Sigmoid())
        D_real = D(torch.rand(16, 20))
        D_fake = F.softmax(torch.randn(16, 2, requires_grad=True), dim=1)[:, :1]   # not a sigmoid output
        D_loss = d_loss_fn(D_real, D_fake)
        D_loss.backward()
    """)
    assert "NLH831" in out and "`torch.log(D_real)`" in out, out
    assert "binary_cross_entropy_with_logits(D_fake" not in out and "hand-written BCE in" not in out, out


def test_without_backward_the_end_of_the_cell_gives_the_same_finding(ipython):
    cell = helpers(ipython)
    out = losscheck(ipython, """
        D_real, D_fake = D(X), D(G(z))
        D_loss = d_loss_fn(D_real, D_fake)
        print(D_loss.item())
    """, MODELS)
    assert "d_loss_fn(D_real, D_fake) hand-written loss" in out and "(no backward() ran)" in out, out
    assert f"`torch.log(D_real)` and `torch.log(1 - D_fake)` (cell [{cell}], line 5)" in out, out
    assert f"fix: {D_FIX} # after removing `D[3]`" in out and "NLH833" not in out, out


def test_lightning_style_module_with_the_loss_as_a_method(ipython):
    out = losscheck(ipython, """
        class LitGAN(nn.Module):
            def __init__(self):
                super().__init__()
                self.generator = nn.Sequential(nn.Linear(10, 20), nn.Tanh())
                self.discriminator = nn.Sequential(nn.Linear(20, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1), nn.Sigmoid())
            def d_loss(self, real_scores, fake_scores):
                return -(torch.log(real_scores).mean() + torch.log(1 - fake_scores).mean())
            def training_step(self, batch, batch_idx):
                real_scores = self.discriminator(batch)
                fake_scores = self.discriminator(self.generator(torch.randn(batch.size(0), 10)).detach())
                loss = self.d_loss(real_scores, fake_scores)
                loss.backward()
                return loss

        model = LitGAN()
        for step in range(2):
            model.training_step(torch.rand(8, 20), step)
    """)
    assert "hand-written BCE in `d_loss`" in out and "`torch.log(real_scores)` and `torch.log(1 - fake_scores)`" in out, out
    assert "The sigmoid is `self.discriminator[3]` (nn.Sigmoid(), the last layer of self.discriminator)" in out, out
    assert ("fix: loss = F.binary_cross_entropy_with_logits(real_scores, torch.ones_like(real_scores)) + "
            "F.binary_cross_entropy_with_logits(fake_scores, torch.zeros_like(fake_scores))") in out, out
