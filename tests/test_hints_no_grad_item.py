"""no-grad: a loss rebuilt with torch.tensor(...) from numbers the user collected with .item() / float()
(eval case R25): the hint says where the graph was cut and keeps the loss tensors with torch.stack."""

NO_GRAD = "element 0 of tensors does not require grad and does not have a grad_fn"


def test_losses_collected_with_item_then_averaged(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn, torch.nn.functional as F
        model = nn.Linear(4, 1)
        losses = []
        for i in range(3):
            x, y = torch.randn(5, 4), torch.randn(5, 1)
            losses.append(F.mse_loss(model(x), y).item())
        total = torch.tensor(losses, requires_grad=False).mean()
        total.backward()
    """)
    assert NO_GRAD in run.out  # the original error, unchanged
    assert "NLH714 [no-grad]" in run.out, run.out
    assert "`losses` holds Python numbers (.item() at line 6)" in " ".join(run.out.split()), run.out
    assert "losses  a list of 3 Python numbers" in run.out
    assert "    losses.append(F.mse_loss(model(x), y))   # keep the tensor\n" in run.out, run.out
    assert "    total = torch.stack(losses).mean()\n    total.backward()" in run.out, run.out


def test_float_of_each_batch_loss_then_backward_on_the_rebuilt_sum(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        net = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 3))
        criterion = nn.CrossEntropyLoss()
        batch_losses = []
        for xb, yb in [(torch.randn(4, 8), torch.randint(0, 3, (4,))) for _ in range(2)]:
            batch_loss = criterion(net(xb), yb)
            batch_losses += [float(batch_loss)]
        torch.FloatTensor(batch_losses).sum().backward()
    """)
    assert "NLH714" in run.out, run.out
    assert "float()" in run.out
    assert "batch_losses += [batch_loss]   # keep the tensor" in run.out, run.out
    assert "torch.stack(batch_losses).sum().backward()" in run.out, run.out


def test_numpy_mean_round_trip(ipython):
    run = ipython.run("""
        import numpy as np
        import torch, torch.nn as nn, torch.nn.functional as F
        head = nn.Linear(6, 2)
        epoch_losses = [F.cross_entropy(head(torch.randn(4, 6)), torch.randint(0, 2, (4,))).item()
                        for _ in range(3)]
        mean_loss = np.mean(epoch_losses)
        loss = torch.as_tensor(mean_loss)
        loss.backward()
    """)
    assert "NLH714" in run.out, run.out
    assert "mean_loss = torch.stack(epoch_losses).mean()" in run.out, run.out
    assert "loss = mean_loss\n" in run.out, run.out


def test_logged_numbers_beside_a_real_loss_are_not_blamed(ipython):
    """Correct program: .item() only for logging, the loss tensor itself goes to backward()."""
    run = ipython.run("""
        import torch, torch.nn as nn, torch.nn.functional as F
        model = nn.Linear(4, 1)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        history = []
        for i in range(3):
            x, y = torch.randn(5, 4), torch.randn(5, 1)
            loss = F.mse_loss(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            history.append(loss.item())
        print(f"mean loss {torch.tensor(history).mean():.3f}")
    """)
    assert run.success, run.out
    assert "nllhint" not in run.out, run.out


def test_a_detached_model_output_is_still_the_graph_cut_rule(ipython):
    """Numbers collected from tensors without grad are not this mistake: another no-grad rule answers."""
    run = ipython.run("""
        import torch, torch.nn as nn
        net = nn.Linear(4, 1)
        xb, yb = torch.randn(8, 4), torch.randn(8, 1)
        pred = net(xb).detach()
        loss = nn.functional.mse_loss(pred, yb)
        loss.backward()
    """)
    assert NO_GRAD in run.out
    assert "NLH714" not in run.out and "NLH713" in run.out, run.out


def test_loss_value_taken_first_then_collected(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        model = nn.Linear(3, 1)
        step_losses = []
        for _ in range(4):
            loss = ((model(torch.randn(6, 3)) - 1) ** 2).mean()
            value = loss.item()
            step_losses.append(value)
        torch.tensor(step_losses).mean().backward()
    """)
    assert "NLH714" in run.out, run.out
    assert "value = loss   # keep the tensor" in run.out, run.out
    assert "torch.stack(step_losses).mean().backward()" in run.out, run.out



def test_per_sample_losses_extended_with_tolist_then_numpy_mean(ipython):
    run = ipython.run("""
        import numpy as np
        import torch, torch.nn as nn, torch.nn.functional as F
        regressor = nn.Linear(3, 1)
        sample_losses = []
        for _ in range(2):
            xb, yb = torch.randn(4, 3), torch.randn(4, 1)
            sample_losses.extend(F.mse_loss(regressor(xb), yb, reduction="none").view(-1).tolist())
        objective = torch.tensor(np.mean(sample_losses))
        objective.backward()
    """)
    assert "NLH714" in run.out, run.out
    assert ".tolist()" in run.out
    flat = " ".join(run.out.split())  # the fix line is long: the terminal wraps it
    assert 'sample_losses.extend(F.mse_loss(regressor(xb), yb, reduction="none").view(-1)) # keep the tensor' \
        in flat, run.out
    assert "objective = torch.stack(sample_losses).mean()" in run.out, run.out
