"""%%losscheck finds a hand-written loss in the user's own function or nn.Module even when the cell never
calls backward(): the loss the cell assigned is walked at the end of the cell (eval cases S21, S26)."""

import textwrap

HEAD = "import torch, torch.nn as nn, torch.nn.functional as F\ntorch.manual_seed(0)\n"


def losscheck(ipython, body: str):
    run = ipython.run("%%losscheck\n" + HEAD + textwrap.dedent(body))
    assert run.success, run.out
    return " ".join(run.out.split())  # the report's lines joined: wrapping depends on the width


def test_bce_module_written_by_hand_is_found_without_backward(ipython):
    out = losscheck(ipython, """
        class BCELossManual(nn.Module):
            def forward(self, logits, target):
                p = torch.sigmoid(logits)
                return -(target * torch.log(p) + (1 - target) * torch.log(1 - p)).mean()

        head = nn.Linear(4, 1)
        x = torch.randn(8, 4) * 30
        t = torch.randint(0, 2, (8, 1)).float()
        loss = BCELossManual()(head(x), t)
        print(loss)
    """)
    assert "tensor(nan" in out
    assert "no loss calls seen" not in out, out
    assert "warning NLH831 [unstable-log]" in out, out
    assert "`torch.log(p)` (cell [" in out and "], line 8)" in out, out  # the log in forward(), by its line
    assert "fix: loss = F.binary_cross_entropy_with_logits(head(x), t)" in out, out
    assert "line 13 BCELossManual()(head(x), t) hand-written loss" in out, out  # the row: the user's line


def test_bce_function_from_an_earlier_cell_is_found(ipython):
    ipython.run(HEAD + textwrap.dedent("""
        def bce_loss(logits, target):
            p = torch.sigmoid(logits)
            return -(target * torch.log(p) + (1 - target) * torch.log(1 - p)).mean()
    """))
    defined_in = ipython.shell.execution_count - 1
    out = losscheck(ipython, """
        head = nn.Linear(4, 1)
        x = torch.randn(8, 4) * 30
        labels = torch.randint(0, 2, (8, 1)).float()
        loss = bce_loss(head(x), target=labels)
    """)
    assert "NLH831" in out and "NLH833" in out, out
    assert f"`torch.log(p)` (cell [{defined_in}], line 6)" in out, out
    assert "fix: loss = F.binary_cross_entropy_with_logits(head(x), labels)" in out, out
    assert "F.logsigmoid(-logits)" in out, out  # the other half, replaced in the function


def test_criterion_instance_of_a_handwritten_module(ipython):
    out = losscheck(ipython, """
        class SigmoidBCE(nn.Module):
            def forward(self, scores, y):
                probs = scores.sigmoid()
                return -(y * probs.log() + (1 - y) * (1 - probs).log()).mean()

        criterion = SigmoidBCE()
        classifier = nn.Linear(6, 1)
        batch, y_true = torch.randn(16, 6), torch.randint(0, 2, (16, 1)).float()
        train_loss = criterion(classifier(batch), y_true)
    """)
    assert "NLH831" in out, out
    assert "fix: train_loss = F.binary_cross_entropy_with_logits(classifier(batch), y_true)" in out, out


def test_cross_entropy_written_with_log_of_softmax_in_a_function(ipython):
    out = losscheck(ipython, """
        def my_cross_entropy(logits, labels):
            onehot = F.one_hot(labels, logits.size(1)).float()
            return -(torch.log(F.softmax(logits, dim=1)) * onehot).sum(1).mean()

        model = nn.Linear(10, 4)
        x, y = torch.randn(16, 10), torch.randint(0, 4, (16,))
        loss = my_cross_entropy(model(x), y)
    """)
    assert "warning NLH830 [unstable-log]" in out, out
    assert "`(no backward() ran)" not in out
    assert "F.log_softmax(logits, dim=1)" in out, out


def test_with_backward_in_the_cell_the_loss_is_reported_once(ipython):
    out = losscheck(ipython, """
        def bce_loss(logits, target):
            p = torch.sigmoid(logits)
            return -(target * torch.log(p) + (1 - target) * torch.log(1 - p)).mean()

        head = nn.Linear(4, 1)
        x, t = torch.randn(8, 4), torch.randint(0, 2, (8, 1)).float()
        loss = bce_loss(head(x), t)
        loss.backward()
    """)
    assert out.count("NLH831") == 1 and out.count("NLH833") == 1, out
    assert "no backward() ran" not in out, out


def test_stable_handwritten_losses_are_clean(ipython):
    out = losscheck(ipython, """
        def bce_loss(logits, target):
            return -(target * F.logsigmoid(logits) + (1 - target) * F.logsigmoid(-logits)).mean()

        class ClampedBCE(nn.Module):
            def forward(self, logits, target):
                p = torch.sigmoid(logits).clamp(1e-7, 1 - 1e-7)
                return -(target * torch.log(p) + (1 - target) * torch.log(1 - p)).mean()

        def my_cross_entropy(logits, labels):
            return -F.log_softmax(logits, dim=1).gather(1, labels[:, None]).mean()

        head, model = nn.Linear(4, 1), nn.Linear(10, 4)
        x, t = torch.randn(8, 4) * 30, torch.randint(0, 2, (8, 1)).float()
        loss_a = bce_loss(head(x), t)
        loss_b = ClampedBCE()(head(x), t)
        loss_c = my_cross_entropy(model(torch.randn(16, 10)), torch.randint(0, 4, (16,)))
        probs = torch.sigmoid(head(x))              # not a loss: not one element
        log_p = torch.log(probs)
        total = (loss_a + loss_b + loss_c).item()   # a float, no graph
    """)
    assert "no loss calls seen" in out, out
    assert "NLH83" not in out, out


def test_losscheck_on_walks_every_cell_it_watches(ipython):
    ipython.run("%losscheck on")
    try:
        run = ipython.run(HEAD + textwrap.dedent("""
            def bce_loss(logits, target):
                p = torch.sigmoid(logits)
                return -(target * torch.log(p) + (1 - target) * torch.log(1 - p)).mean()

            head = nn.Linear(4, 1)
            x, t = torch.randn(8, 4) * 30, torch.randint(0, 2, (8, 1)).float()
            loss = bce_loss(head(x), t)
        """))
        clean = ipython.run("w = torch.randn(3, requires_grad=True)\nreg = (w ** 2).sum()")
    finally:
        ipython.run("%losscheck off")
    out = " ".join(run.out.split())
    assert "NLH831" in out and "fix: loss = F.binary_cross_entropy_with_logits(head(x), t)" in out, out
    assert "nllhint" not in clean.out, clean.out  # no loss, no log: a cell without losses stays silent
