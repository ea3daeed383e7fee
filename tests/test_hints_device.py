"""device-mismatch hints. This machine has no GPU: the meta device stands in for CUDA (torch raises
"Tensor on device meta is not on the expected device cpu!"), and the real CUDA messages are checked
against the message families directly."""

import pytest

from nllhint.messages import classify

CUDA_MESSAGES = [
    # torch 2.x, elementwise losses (TensorIterator)
    ("Expected all tensors to be on the same device, but found at least two devices, cuda:0 and cpu!",
     {"a": "cuda:0", "b": "cpu"}),
    # torch 1.x/2.x wrapper check, with the argument named
    ("Expected all tensors to be on the same device, but found at least two devices, cuda:0 and cpu! "
     "(when checking argument for argument target in method wrapper_CUDA_nll_loss_forward)",
     {"a": "cuda:0", "b": "cpu", "arg": "target"}),
    # torch 2.13 wrapper check (adaption.cpp)
    ("Expected all tensors to be on the same device, but got weight is on cpu, different from other tensors "
     "on cuda:0 (when checking argument in method wrapper_CUDA_nll_loss_forward)",
     {"a": "cuda:0", "b": "cpu", "arg": "weight"}),
    # torch <= 1.4
    ("Expected object of device type cuda but got device type cpu for argument #2 'target' in call to "
     "_thnn_nll_loss_forward", {"a": "cuda", "b": "cpu", "arg": "target"}),
    ("Expected object of backend CUDA but got backend CPU for argument #2 'target'",
     {"a": "CUDA", "b": "CPU", "arg": "target"}),
    # meta / fake tensors
    ("Tensor on device meta is not on the expected device cpu!", {"a": "meta", "b": "cpu"}),
]


@pytest.mark.parametrize("message,groups", CUDA_MESSAGES)
def test_device_messages_are_one_family(message, groups):
    matches = [m for m in classify(message) if m.family == "device"]
    assert matches, message
    assert {k: matches[0].groups.get(k) for k in groups} == groups


def test_labels_left_on_the_cpu_in_a_training_loop(ipython):
    ipython.fresh_namespace()  # the session's shell is shared: nothing another test bound may be looked up
    run = ipython.run("""
        import torch, torch.nn as nn
        device = torch.device("meta")   # "cuda" on a GPU machine
        model = nn.Sequential(nn.Linear(28 * 28, 128), nn.ReLU(), nn.Linear(128, 10)).to(device)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
        criterion = nn.CrossEntropyLoss()
        loader = [(torch.randn(32, 1, 28, 28), torch.randint(0, 10, (32,)))]
        for images, labels in loader:
            images = images.view(images.size(0), -1).to(device)
            optimizer.zero_grad()
            loss = criterion(model(images), labels)
            loss.backward()
            optimizer.step()
    """)
    assert "Tensor on device" in run.out
    assert "NLH602" in run.out and "[device-mismatch]" in run.out
    assert "`labels` is on cpu, but `model(images)` is on meta" in run.out
    assert "loss = criterion(model(images), labels.to(device))" in run.out


def test_class_weight_of_a_loss_built_before_to_device(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        device = "meta"
        counts = torch.tensor([900., 80., 20.])
        criterion = nn.CrossEntropyLoss(weight=counts.sum() / counts)
        model = nn.Linear(16, 3).to(device)
        x = torch.randn(8, 16, device=device)
        y = torch.randint(0, 3, (8,), device=device)
        loss = criterion(model(x), y)
    """)
    assert "NLH601" in run.out
    assert "`criterion.weight` is on cpu" in run.out
    assert "criterion = criterion.to(device)" in run.out


def test_pos_weight_of_bce_with_logits_module(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        loss_fn = nn.BCEWithLogitsLoss(pos_weight=torch.tensor([3.0]))
        logits = torch.randn(10, 1, device="meta")
        targets = torch.zeros(10, 1, device="meta")
        loss = loss_fn(logits, targets)
    """)
    assert "NLH601" in run.out
    assert "loss_fn.pos_weight" in run.out
    assert "loss_fn = loss_fn.to(" in run.out and "loss = loss_fn(logits, targets)" in run.out


def test_functional_weight_on_the_cpu(ipython):
    run = ipython.run("""
        import torch
        import torch.nn.functional as F
        out = torch.randn(4, 5, device="meta")
        tgt = torch.randint(0, 5, (4,), device="meta")
        cls_w = torch.rand(5)
        loss = F.nll_loss(F.log_softmax(out, dim=1), tgt, weight=cls_w)
    """)
    assert "NLH601" in run.out
    assert "weight=cls_w.to(" in run.out


def test_model_never_moved_but_labels_were(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        DEVICE = torch.device("meta")
        net = nn.Sequential(nn.Linear(3, 2))
        criterion = nn.CrossEntropyLoss()
        batch = torch.randn(4, 3)
        target = torch.tensor([0, 1, 0, 1]).to(DEVICE)
        preds = net(batch)
        loss = criterion(preds, target)
    """)
    assert "NLH603" in run.out
    assert "net = net.to(DEVICE)" in run.out and "batch = batch.to(DEVICE)" in run.out


def test_gaussian_nll_variance_on_the_cpu(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        mu = torch.randn(5, 1, device="meta")
        obs = torch.randn(5, 1, device="meta")
        var = torch.full((5, 1), 0.5)
        loss = nn.GaussianNLLLoss()(mu, obs, var)
    """)
    assert "NLH604" in run.out
    assert "loss = nn.GaussianNLLLoss()(mu, obs, var.to(mu.device))" in run.out


# --- hard negatives ---------------------------------------------------------------------------------------

def test_no_hint_when_the_model_and_its_input_disagree(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        model = nn.Linear(4, 2).to("meta")
        x = torch.randn(3, 4)            # the model's forward fails, not a loss
        loss = nn.CrossEntropyLoss()(model(x), torch.tensor([0, 1, 1]))
    """)
    assert not run.success and "Tensor on device" in run.out
    assert "nllhint" not in run.out


def test_no_hint_for_an_unrelated_error_next_to_a_correct_loss_on_one_device(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        device = "meta"
        criterion = nn.CrossEntropyLoss(weight=torch.ones(3)).to(device)
        out = torch.randn(4, 3, device=device)
        y = torch.randint(0, 3, (4,), device=device)
        loss = criterion(out, y)
        undefined_history_list.append(loss)
    """)
    assert not run.success and "NameError" in run.out
    assert "nllhint" not in run.out
