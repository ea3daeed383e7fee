"""bce-range, nan-inf and BCE-on-class-indices (wrong-loss) hints, as a user meets them in a notebook."""

import pytest

from nllhint.messages import classify

pytestmark = pytest.mark.filterwarnings("ignore:Error detected in:UserWarning")


def families(message):
    return [m.family for m in classify(message)]


# --- bce-range: the input ---------------------------------------------------------------------------------

def test_logits_into_bce_module_in_a_training_loop(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 1))
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        criterion = nn.BCELoss(reduction='sum')
        X, Y = torch.randn(64, 20), torch.randint(0, 2, (64, 1)).float()
        for epoch in range(2):
            optimizer.zero_grad()
            logits = model(X)
            loss = criterion(logits, Y)
            loss.backward()
            optimizer.step()
    """)
    assert not run.success
    assert "all elements of input should be between 0 and 1" in run.out
    assert "NLH501" in run.out and "[bce-range]" in run.out
    assert "criterion = nn.BCEWithLogitsLoss(reduction='sum')" in run.out  # the user's own constructor
    assert "loss = criterion(logits, Y)" in run.out
    assert "from a Linear layer" in run.out


def test_logits_into_functional_bce(ipython):
    run = ipython.run("""
        import torch
        import torch.nn.functional as F
        head = torch.nn.Linear(16, 5)
        emb = torch.randn(8, 16)
        tags = torch.randint(0, 2, (8, 5)).float()
        loss = F.binary_cross_entropy(head(emb), tags)
    """)
    assert "NLH501" in run.out
    assert "loss = F.binary_cross_entropy_with_logits(head(emb), tags)" in run.out


def test_logits_into_inline_bce_module(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        scores = nn.Linear(8, 1)(torch.randn(64, 8)) * 10
        y = torch.randint(0, 2, (64, 1)).float()
        loss = nn.BCELoss()(scores, y)
    """)
    assert "NLH501" in run.out
    assert "loss = nn.BCEWithLogitsLoss()(scores, y)" in run.out


def test_relu_output_into_bce(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1), nn.ReLU())
        with torch.no_grad():
            model[2].bias.fill_(5.0)
        criterion = nn.BCELoss()
        x, y = torch.randn(6, 4), torch.randint(0, 2, (6, 1)).float()
        loss = criterion(model(x), y)
    """)
    assert "NLH501" in run.out
    assert "ReLU" in run.out and "BCEWithLogitsLoss" in run.out


def test_tanh_output_into_bce(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        class Disc(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(10, 1)
            def forward(self, x):
                return torch.tanh(self.fc(x))
        D = Disc()
        real = torch.randn(64, 10)
        d_out = D(real)
        loss = nn.BCELoss()(d_out, torch.ones_like(d_out))
    """)
    assert "NLH503" in run.out
    assert "loss = nn.BCELoss()((d_out + 1) / 2, torch.ones_like(d_out))" in run.out


def test_probabilities_a_rounding_error_outside(ipython):
    run = ipython.run("""
        import torch, torch.nn.functional as F
        p = torch.tensor([0.3, 1.0, 0.5])
        avg = (p + p + p) / 3 * 1.0000005   # e.g. averaging an ensemble, then calibrating
        y = torch.tensor([0., 1., 1.])
        loss = F.binary_cross_entropy(avg, y)
    """)
    assert "NLH502" in run.out
    assert "loss = F.binary_cross_entropy(avg.clamp(0, 1), y)" in run.out


def test_nan_input_from_nan_in_the_data(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        model = nn.Sequential(nn.Linear(3, 1), nn.Sigmoid())
        criterion = nn.BCELoss()
        features = torch.tensor([[0.1, 0.2, 0.3], [float('nan'), 1.0, 0.0], [0.5, 0.5, 0.5]])
        target = torch.tensor([[1.], [0.], [1.]])
        loss = criterion(model(features), target)
    """)
    assert "NLH510" in run.out and "[nan-inf]" in run.out
    assert "`features` itself contains NaN" in run.out
    assert "assert torch.isfinite(features).all()" in run.out
    assert "NLH501" not in run.out


def test_nan_input_from_a_diverged_model(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        net = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 1), nn.Sigmoid())
        with torch.no_grad():
            net[0].weight[0, 0] = float('nan')   # what a too-large learning rate leaves behind
        opt = torch.optim.SGD(net.parameters(), lr=10.0)
        xb, yb = torch.randn(8, 4), torch.randint(0, 2, (8, 1)).float()
        opt.zero_grad()
        loss = nn.functional.binary_cross_entropy(net(xb), yb)
    """)
    assert "NLH510" in run.out
    assert "weights of `net` already contain NaN" in run.out
    assert "clip_grad_norm_(net.parameters(), 1.0)" in run.out


# --- bce-range: the target --------------------------------------------------------------------------------

def test_nan_labels(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        probs = torch.sigmoid(torch.randn(4, 3))
        multi = torch.tensor([[1., 0., float('nan')], [0., 1., 1.], [1., 1., 0.], [0., 0., 1.]])
        loss = nn.BCELoss()(probs, multi)
    """)
    assert "NLH511" in run.out
    assert "keep = ~torch.isnan(multi)" in run.out
    assert "loss = nn.BCELoss()(probs[keep], multi[keep])" in run.out


def test_png_mask_with_0_and_255(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        unet = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 1, 1), nn.Sigmoid())
        optimizer = torch.optim.Adam(unet.parameters())
        criterion = nn.BCELoss()
        img = torch.rand(2, 3, 16, 16)
        mask = torch.zeros(2, 1, 16, 16)
        mask[:, :, 4:12, 4:12] = 255.0
        optimizer.zero_grad()
        pred = unet(img)
        loss = criterion(pred, mask)
    """)
    assert "NLH520" in run.out
    assert "loss = criterion(pred, mask / 255)" in run.out
    assert "loss = criterion(pred, (mask > 0).float())" in run.out


def test_resized_mask_with_values_between_0_and_255(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn, torch.nn.functional as F
        mask = torch.zeros(1, 1, 8, 8)
        mask[..., 2:6, 2:6] = 255.0
        mask = F.interpolate(mask, size=(12, 12), mode='bilinear').round()
        pred = torch.rand(1, 1, 12, 12)
        loss = F.binary_cross_entropy(pred, mask)
    """)
    assert "NLH520" in run.out
    assert "interpolation" in run.out
    assert "(mask > 127).float()" in run.out


def test_minus_one_one_labels(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        clf = nn.Sequential(nn.Linear(2, 1), nn.Sigmoid())
        pts = torch.randn(10, 2)
        sign = torch.where(pts[:, :1] > 0, 1.0, -1.0)
        loss = nn.BCELoss()(clf(pts), sign)
    """)
    assert "NLH522" in run.out
    assert "loss = nn.BCELoss()(clf(pts), (sign + 1) / 2)" in run.out


def test_bce_with_class_indices_is_the_wrong_loss(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1), nn.Sigmoid())
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
        criterion = nn.BCELoss()
        x = torch.randn(10, 8)
        digit = torch.tensor([0., 3., 9., 1., 2., 2., 5., 7., 8., 4.]).view(-1, 1)
        optimizer.zero_grad()
        loss = criterion(model(x), digit)
    """)
    assert "NLH530" in run.out and "[wrong-loss]" in run.out
    assert "10-class task" in run.out
    assert "model.2 = nn.Linear" not in run.out
    assert "criterion = nn.CrossEntropyLoss()" in run.out
    assert "loss = criterion(model(x), digit.squeeze(1).long())" in run.out


def test_real_valued_targets(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        price = torch.tensor([12.5, 3.2, 8.75])
        pred = torch.sigmoid(torch.randn(3))
        loss = nn.BCELoss()(pred, price)
    """)
    assert "NLH523" in run.out
    assert "`price`" in run.out and "MSELoss" in run.out


# --- nan-inf: anomaly mode ---------------------------------------------------------------------------------

def test_anomaly_mode_names_nllloss_backward_with_an_infinite_class_weight(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        torch.autograd.set_detect_anomaly(True)
        labels = torch.tensor([0, 0, 2, 2, 0, 2])
        counts = torch.bincount(labels, minlength=3).float()
        weights = 1.0 / counts   # class 1 never occurs
        criterion = nn.CrossEntropyLoss(weight=weights)
        model = nn.Linear(4, 3)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        optimizer.zero_grad()
        labels[1] = 1
        loss = criterion(model(torch.randn(6, 4)), labels)
        loss.backward()
    """)
    assert "returned nan values" in run.out
    assert "NLH512" in run.out and "NllLossBackward0" in run.out
    assert "class weight of `criterion` contains Inf" in run.out


def test_anomaly_mode_in_log_softmax_after_nan_inputs(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        torch.autograd.set_detect_anomaly(True)
        model = nn.Linear(3, 4)
        inputs = torch.tensor([[1.0, float('inf'), 0.0], [0.5, 0.5, 0.5]])
        targets = torch.tensor([1, 3])
        loss = nn.functional.cross_entropy(model(inputs), targets)
        loss.backward()
    """)
    assert "LogSoftmaxBackward0" in run.out
    assert "NLH512" in run.out
    assert "`inputs` itself contains Inf" in run.out


def test_anomaly_mode_nan_made_by_the_forward_pass(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        torch.autograd.set_detect_anomaly(True)
        w = torch.randn(3, 2, requires_grad=True)
        x = torch.randn(4, 3)
        logits = torch.log(x @ w - 100)   # log of a negative number
        loss = nn.functional.cross_entropy(logits, torch.tensor([0, 1, 1, 0]))
        loss.backward()
    """)
    assert "NLH512" in run.out
    assert "`logits` already contains NaN" in run.out and "inside the model's forward pass" in run.out
    assert "assert torch.isfinite(logits).all()" in run.out


def test_anomaly_mode_rmse_at_zero(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        torch.autograd.set_detect_anomaly(True)
        mse = nn.MSELoss()
        pred = torch.zeros(4, requires_grad=True)
        true = torch.zeros(4)
        rmse = mse(pred, true) ** 0.5
        rmse.backward()
    """)
    assert "NLH513" in run.out
    assert "rmse = (mse(pred, true) + 1e-8) ** 0.5" in run.out


def test_anomaly_family_older_wording():
    assert families("Function 'NllLossBackward' returned nan values in its 0th output.") == ["anomaly-nan"]
    assert "bce-input-range" in families("all elements of input should be between 0 and 1")
    assert "bce-target-range" in families("all elements of target should be between 0 and 1")


# --- hard negatives ---------------------------------------------------------------------------------------

def test_no_hint_for_correct_bce_with_logits_and_pos_weight(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        model = nn.Linear(12, 3)
        optimizer = torch.optim.Adam(model.parameters())
        criterion = nn.BCEWithLogitsLoss(pos_weight=torch.tensor([1.0, 4.0, 2.5]))
        x, y = torch.randn(9, 12), torch.randint(0, 2, (9, 3)).float()
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        print(f"loss {loss.item():.3f}, acc {undefined_accuracy_fn(model(x), y)}")
    """)
    assert not run.success and "NameError" in run.out
    assert "nllhint" not in run.out


def test_no_hint_for_a_nan_error_unrelated_to_losses(ipython):
    run = ipython.run("""
        import torch
        torch.autograd.set_detect_anomaly(True)
        x = torch.tensor([-1.0, 4.0], requires_grad=True)
        y = x.sqrt().sum()
        y.backward()
    """)
    assert not run.success and "SqrtBackward0" in run.out
    assert "nllhint" not in run.out


def test_no_hint_for_nan_made_inside_the_model_on_the_way_to_a_loss(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        torch.autograd.set_detect_anomaly(True)
        w = torch.ones(2, 2, requires_grad=True)
        x = torch.tensor([[-4.0, 1.0]])
        hidden = (x @ w).sqrt()         # NaN for negative activations: a model bug, not a loss one
        loss = nn.functional.mse_loss(torch.nan_to_num(hidden), torch.zeros(1, 2))
        loss.backward()
    """)
    assert not run.success
    assert "nllhint" not in run.out


def test_no_hint_for_sampling_from_nan_probabilities(ipython):
    run = ipython.run("""
        import torch
        probs = torch.tensor([0.5, float('nan'), 0.5])
        torch.multinomial(probs, 1)
    """)
    assert not run.success
    assert "nllhint" not in run.out


def test_no_hint_for_an_error_after_a_correct_bce(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        probs = torch.sigmoid(torch.randn(5, 1))
        y = torch.randint(0, 2, (5, 1)).float()
        loss = nn.BCELoss()(probs, y)
        preds = (probs > 0.5).float()
        acc = (preds == y).float().mean()
        report = {"loss": loss.item(), "acc": acc.item()}
        report["f1"]
    """)
    assert not run.success and "KeyError" in run.out
    assert "nllhint" not in run.out


# --- BCE targets {0, 1, k}: ignore label or more classes (NLH541) ------------------------------------------

def _prose(out: str) -> str:
    return " ".join(out[out.index("\nnllhint "):].split())


def test_edge_map_with_an_uncertain_label_is_masked_not_turned_into_cross_entropy(ipython):
    run = ipython.run("""
        import torch, torch.nn.functional as F
        side_output = torch.rand(1, 1, 16, 16, requires_grad=True)   # sigmoid edge map
        label = torch.zeros(1, 1, 16, 16)
        label[..., 5, :] = 1.0     # edges
        label[..., 6, :] = 2.0     # uncertain pixels
        loss = F.binary_cross_entropy(side_output, label, reduction="sum")
    """)
    assert "NLH541" in run.out and "[bce-range]" in run.out
    assert "keep = label != 2" in run.out
    assert 'loss = F.binary_cross_entropy(side_output[keep], label[keep], reduction="sum")' in run.out
    prose = _prose(run.out)
    assert "If 2 marks pixels to ignore" in prose and "3 classes" in prose and "per pixel" in prose
    assert "CrossEntropyLoss()(side_output" not in run.out and "nn.Linear(in_features" not in run.out


def test_three_labels_per_sample_are_hedged_too(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        model = nn.Sequential(nn.Linear(6, 1), nn.Sigmoid())
        criterion = nn.BCELoss()
        x = torch.randn(9, 6)
        y = torch.tensor([0., 1., 2., 1., 0., 2., 1., 1., 0.]).unsqueeze(1)
        loss = criterion(model(x), y)
    """)
    assert "NLH541" in run.out
    assert "keep = y != 2" in run.out and "loss = criterion(model(x)[keep], y[keep])" in run.out
    assert "per sample" in _prose(run.out)


def test_four_or_more_class_labels_keep_the_cross_entropy_advice(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1), nn.Sigmoid())
        criterion = nn.BCELoss()
        x = torch.randn(8, 8)
        grade = torch.tensor([0., 1., 2., 3., 3., 1., 0., 2.]).view(-1, 1)
        loss = criterion(model(x), grade)
    """)
    assert "NLH530" in run.out and "NLH541" not in run.out
    assert "loss = criterion(model(x), grade.squeeze(1).long())" in run.out


def test_no_hint_for_an_edge_map_masked_right_then_an_unrelated_error(ipython):
    run = ipython.run("""
        import torch, torch.nn.functional as F
        side_output = torch.rand(1, 1, 8, 8, requires_grad=True)
        label = torch.zeros(1, 1, 8, 8)
        label[..., 2, :] = 1.0
        label[..., 3, :] = 2.0
        keep = label != 2
        loss = F.binary_cross_entropy(side_output[keep], label[keep], reduction="sum")
        loss.backward()
        print(totl_loss)
    """)
    assert not run.success and "NameError" in run.out
    assert "nllhint" not in run.out


# --- unstable-log: log of softmax/sigmoid outputs that are exactly 0 (NLH540) ---------------------------------

def test_log_of_softmax_that_underflows_under_anomaly_mode(ipython):
    run = ipython.run("""
        import torch
        logits = (torch.randn(4, 5, generator=torch.Generator().manual_seed(0)) * 60).requires_grad_()
        targets = torch.nn.functional.one_hot(torch.tensor([0, 3, 1, 4]), 5).float()
        with torch.autograd.detect_anomaly():
            probs = torch.softmax(logits, dim=1)
            loss = -(targets * torch.log(probs)).sum(1).mean()
            loss.backward()
    """)
    assert "Function 'LogBackward0' returned nan values" in run.out
    assert "NLH540" in run.out and "[unstable-log]" in run.out
    assert "loss = -(targets * torch.log_softmax(logits, dim=1)).sum(1).mean()" in run.out
    prose = _prose(run.out)
    assert "`probs` (from softmax) has entries that are exactly 0" in prose
    assert "smallest value exactly 0" in prose


def test_log_of_softmax_inline_into_nll_loss(ipython):
    run = ipython.run("""
        import torch, torch.nn.functional as F
        x = torch.tensor([[80.0, -30.0, 5.0], [-20.0, 90.0, 0.0]], requires_grad=True)
        y = torch.tensor([0, 1])
        torch.autograd.set_detect_anomaly(True)
        loss = F.nll_loss(torch.log(F.softmax(x, dim=1)), y)
        loss.backward()
    """)
    assert "NLH540" in run.out
    assert "loss = F.nll_loss(F.log_softmax(x, dim=1), y)" in run.out


def test_hand_written_bce_with_a_saturated_sigmoid(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        import torch.nn.functional as F
        model = nn.Linear(3, 1)
        with torch.no_grad():
            model.weight.fill_(10.0)
        x = torch.tensor([[3.0, 2.0, 1.0], [-1.0, -2.0, -3.0]])
        y = torch.tensor([[1.0], [0.0]])
        torch.autograd.set_detect_anomaly(True)
        p = torch.sigmoid(model(x))
        loss = -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()
        loss.backward()
    """)
    assert "NLH540" in run.out and "log(1 - sigmoid(...))" in run.out
    assert "loss = -(y * F.logsigmoid(model(x)) + (1 - y) * F.logsigmoid(-model(x))).mean()" in run.out
    assert "`p` (from sigmoid) has entries that are exactly 1" in _prose(run.out)


def test_no_unstable_log_hint_when_the_nan_comes_from_the_data(ipython):
    run = ipython.run("""
        import torch
        logits = torch.randn(4, 5, requires_grad=True)
        noise = torch.randn(4, 5)
        noise[0, 0] = float('nan')
        targets = torch.nn.functional.one_hot(torch.tensor([0, 3, 1, 4]), 5).float()
        with torch.autograd.detect_anomaly():
            probs = torch.softmax(logits + noise, dim=1)
            loss = -(targets * torch.log(probs)).sum(1).mean()
            loss.backward()
    """)
    assert "returned nan values" in run.out
    assert "NLH540" not in run.out and "log_softmax" not in run.out


def test_no_hint_for_log_softmax_done_right_then_an_unrelated_error(ipython):
    run = ipython.run("""
        import torch
        logits = (torch.randn(4, 5) * 60).requires_grad_()
        targets = torch.nn.functional.one_hot(torch.tensor([0, 3, 1, 4]), 5).float()
        with torch.autograd.detect_anomaly():
            loss = -(targets * torch.log_softmax(logits, dim=1)).sum(1).mean()
            loss.backward()
        print(los.item())
    """)
    assert not run.success and "NameError" in run.out
    assert "nllhint" not in run.out


# --- review: BCELoss given non-negative values that are not logits --------------------------------------

def test_bce_on_summed_probabilities_is_not_called_logits(ipython):
    # two sigmoid outputs added (an ensemble without / 2): sigmoid on top would never go below 0.5
    run = ipython.run("""
        import torch, torch.nn as nn
        torch.manual_seed(0)
        m1 = nn.Sequential(nn.Linear(6, 1), nn.Sigmoid()); m2 = nn.Sequential(nn.Linear(6, 1), nn.Sigmoid())
        x = torch.randn(64, 6) * 3; y = torch.randint(0, 2, (64, 1)).float()
        probs = m1(x) + m2(x)
        loss = nn.BCELoss()(probs, y)
    """)
    assert not run.success
    assert "BCEWithLogitsLoss()(probs, y)" not in run.out
    assert "holds logits" not in run.out


def test_bce_on_scaled_sigmoid_is_not_called_logits(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        torch.manual_seed(0)
        net = nn.Linear(6, 1)
        x = torch.randn(64, 6) * 3; y = torch.randint(0, 2, (64, 1)).float()
        p = torch.sigmoid(net(x)) * 1.1
        loss = nn.BCELoss()(p, y)
    """)
    assert not run.success
    assert "torch.sigmoid(p)" not in run.out and "holds logits" not in run.out


def test_bce_on_a_final_relu_still_says_logits(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        torch.manual_seed(1)
        net = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 1), nn.ReLU())
        x = torch.randn(64, 6) * 3; y = torch.randint(0, 2, (64, 1)).float()
        loss = nn.BCELoss()(net(x), y)
    """)
    assert "nllhint NLH501" in run.out and "Drop the final ReLU" in run.out
