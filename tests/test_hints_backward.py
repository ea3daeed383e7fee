"""backward-nonscalar and no-grad hints: errors raised by `loss.backward()`, as met in a notebook."""

from nllhint.messages import classify


def test_backward_messages_are_their_families():
    assert [m.family for m in classify("grad can be implicitly created only for scalar outputs")] == \
        ["backward-nonscalar"]
    assert [m.family for m in classify(
        "element 0 of tensors does not require grad and does not have a grad_fn")] == ["no-grad"]


# --- backward-nonscalar -----------------------------------------------------------------------------------

def test_reduction_none_in_a_training_loop(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 4))
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        criterion = nn.CrossEntropyLoss(reduction="none")
        for step in range(3):
            x, y = torch.randn(8, 10), torch.randint(0, 4, (8,))
            optimizer.zero_grad()
            per_sample = criterion(model(x), y)
            per_sample.backward()
            optimizer.step()
    """)
    assert "grad can be implicitly created only for scalar outputs" in run.out
    assert "NLH701" in run.out and "[backward-nonscalar]" in run.out
    assert "per_sample.mean().backward()" in run.out
    assert "(8,)" in run.out and "line 4" in run.out


def test_masked_per_token_loss(ipython):
    run = ipython.run("""
        import torch, torch.nn.functional as F
        logits = torch.randn(2, 5, 7, requires_grad=True)      # (N, C, T)
        tokens = torch.randint(0, 5, (2, 7))
        mask = (torch.arange(7) < 5).float().expand(2, 7)
        token_loss = F.cross_entropy(logits, tokens, reduction='none') * mask
        token_loss.backward()
    """)
    assert "NLH701" in run.out
    assert "mask.sum()" in run.out
    assert "token_loss.mean().backward()" in run.out


def test_elementwise_bce_with_logits_without_reduction(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        head = nn.Linear(6, 3)
        bce = nn.BCEWithLogitsLoss(reduction='none')
        feats, tags = torch.randn(4, 6), torch.randint(0, 2, (4, 3)).float()
        bce(head(feats), tags).backward()
    """)
    assert "NLH701" in run.out and "BCEWithLogitsLoss" in run.out
    assert "bce(head(feats), tags).mean().backward()" in run.out


def test_hand_written_squared_error(ipython):
    run = ipython.run("""
        import torch
        w = torch.randn(2, requires_grad=True)
        b = torch.zeros(1, requires_grad=True)
        X, y = torch.randn(30, 2), torch.randn(30)
        loss = (X @ w + b - y).abs()
        loss.backward()
    """)
    assert "NLH702" in run.out
    assert "loss.mean().backward()" in run.out


# --- no-grad ----------------------------------------------------------------------------------------------

def test_backward_in_an_evaluation_loop_under_no_grad(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
        criterion = nn.NLLLoss()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        val_loader = [(torch.randn(5, 4), torch.randint(0, 3, (5,)))]
        model.eval()
        with torch.no_grad():
            for inputs, targets in val_loader:
                log_probs = torch.log_softmax(model(inputs), dim=1)
                val_loss = criterion(log_probs, targets)
                val_loss.backward()
    """)
    assert "element 0 of tensors does not require grad" in run.out
    assert "NLH711" in run.out and "[no-grad]" in run.out
    assert "line 7" in run.out and "line 9" in run.out
    assert "remove `val_loss.backward()`" in run.out
    assert "model.eval() does not do this" in run.out


def test_forward_wrapped_in_no_grad_by_mistake(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        net = nn.Linear(3, 2)
        opt = torch.optim.SGD(net.parameters(), lr=0.1)
        xs, ys = torch.randn(6, 3), torch.tensor([0, 1, 0, 1, 1, 0])
        with torch.no_grad():
            scores = net(xs)
        loss = nn.functional.cross_entropy(scores, ys)
        opt.zero_grad()
        loss.backward()
    """)
    assert "NLH711" in run.out
    assert "`scores` was computed inside `with torch.no_grad()`" in run.out
    assert "# move out of `with torch.no_grad()` (line 6):" in run.out
    assert "scores = net(xs)\n    loss = nn.functional.cross_entropy(scores, ys)\n    loss.backward()" in run.out


def test_prediction_under_no_grad_while_the_target_rightly_is(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        policy_net, target_net = nn.Linear(4, 2), nn.Linear(4, 2)
        target_net.eval()
        state, next_state = torch.randn(8, 4), torch.randn(8, 4)
        action, reward = torch.randint(0, 2, (8, 1)), torch.randn(8)
        with torch.no_grad():
            q_values = policy_net(state).gather(1, action).squeeze(1)
            next_q = target_net(next_state).max(1)[0]
            expected_q = reward + 0.99 * next_q
        loss = nn.functional.smooth_l1_loss(q_values, expected_q)
        loss.backward()
    """)
    hint = run.out[run.out.index("nllhint NLH711"):]
    prose = " ".join(hint.split())
    assert "`q_values` was computed inside `with torch.no_grad()` (line 6), so `loss` has no grad_fn" in prose
    assert "(lines 8, 9) compute the target" in prose
    assert ("# move out of `with torch.no_grad()` (line 7):\n    q_values = policy_net(state).gather(1, action)"
            ".squeeze(1)\n    loss = nn.functional.smooth_l1_loss(q_values, expected_q)\n    loss.backward()") in hint
    assert "`loss` was computed inside" not in hint and "<- remove" not in hint and "next_q = " not in hint


def test_train_step_decorated_with_no_grad(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        model = nn.Linear(3, 3)
        criterion = nn.CrossEntropyLoss()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)

        @torch.no_grad()
        def train_step(x, y):
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
            return loss.item()

        train_step(torch.randn(4, 3), torch.tensor([0, 1, 2, 0]))
    """)
    assert "NLH711" in run.out
    assert "@torch.no_grad()" in run.out
    assert "def train_step(x, y):   # without @torch.no_grad()" in run.out


def test_inference_mode_features(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        encoder = nn.Linear(8, 4)
        with torch.inference_mode():
            z = encoder(torch.randn(2, 8))
        loss = nn.MSELoss()(z, torch.zeros(2, 4))
        loss.backward()
    """)
    assert "NLH711" in run.out and "torch.inference_mode()" in run.out


def test_grad_left_off_for_the_session(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        torch.set_grad_enabled(False)
        clf = nn.Linear(5, 2)
        loss = nn.CrossEntropyLoss()(clf(torch.randn(3, 5)), torch.tensor([1, 0, 1]))
        loss.backward()
    """)
    assert "NLH710" in run.out
    assert "torch.set_grad_enabled(True)" in run.out


def test_all_parameters_frozen(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        class Classifier(nn.Module):
            def __init__(self):
                super().__init__()
                self.body = nn.Linear(10, 10)
                self.head = nn.Linear(10, 3)
            def forward(self, x):
                return self.head(torch.relu(self.body(x)))
        clf = Classifier()
        clf.requires_grad_(False)          # froze everything, head included
        x, y = torch.randn(4, 10), torch.tensor([0, 2, 1, 1])
        loss = nn.functional.cross_entropy(clf(x), y)
        loss.backward()
    """)
    assert "NLH712" in run.out
    assert "all 4 parameters of `clf` are frozen" in run.out
    assert "line 10" in run.out
    assert "for p in clf.head.parameters():" in run.out


def test_loss_on_argmax_predictions(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 4))
        criterion = nn.CrossEntropyLoss()
        optimizer = torch.optim.Adam(model.parameters())
        x, y = torch.randn(12, 6), torch.randint(0, 4, (12,))
        optimizer.zero_grad()
        outputs = model(x)
        _, predicted = torch.max(outputs, 1)
        loss = nn.functional.l1_loss(predicted.float(), y.float())
        loss.backward()
    """)
    assert "NLH713" in run.out
    assert "most likely line 8" in run.out
    assert "loss = nn.CrossEntropyLoss()(outputs, y)" in run.out


def test_loss_on_thresholded_predictions(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        model = nn.Linear(10, 1)
        criterion = nn.BCELoss()
        x, y = torch.randn(8, 10), torch.randint(0, 2, (8, 1)).float()
        out = model(x)
        pred = (torch.sigmoid(out) > 0.5).float()
        loss = criterion(pred, y)
        loss.backward()
    """)
    assert "NLH713" in run.out and "line 6" in run.out
    assert "loss = nn.BCEWithLogitsLoss()(out, y)" in run.out


def test_item_then_rewrapped(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        model = nn.Linear(5, 2)
        criterion = nn.CrossEntropyLoss()
        running = 0.0
        for xb, yb in [(torch.randn(4, 5), torch.tensor([0, 1, 1, 0]))] * 2:
            running += criterion(model(xb), yb).item()
        loss = torch.tensor(running / 2)
        loss.backward()
    """)
    assert "NLH713" in run.out
    assert "line 6" in run.out and "line 7" in run.out
    assert "running += criterion(model(xb), yb)\n" in run.out


def test_detach_in_the_cell(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        gen = nn.Linear(4, 4)
        target = torch.randn(3, 4)
        fake = gen(torch.randn(3, 4)).detach()
        loss = nn.functional.mse_loss(fake, target)
        loss.backward()
    """)
    assert "NLH713" in run.out and "line 4" in run.out
    assert "fake = gen(torch.randn(3, 4))   # tensors stay in the graph" in run.out


def test_cut_inside_a_custom_loss_function(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        def dice_loss(probs, mask):
            hard = (probs.detach() > 0.5).float()
            inter = (hard * mask).sum()
            return 1 - 2 * inter / (hard.sum() + mask.sum() + 1e-6)
        seg = nn.Conv2d(1, 1, 3, padding=1)
        img, mask = torch.randn(1, 1, 8, 8), (torch.rand(1, 1, 8, 8) > 0.5).float()
        loss = dice_loss(torch.sigmoid(seg(img)), mask)
        loss.backward()
    """)
    assert "NLH713" in run.out
    assert "dice_loss()" in run.out and "possibly" in run.out.lower() or "probably" in run.out


# --- hard negatives ---------------------------------------------------------------------------------------

def test_no_hint_for_a_correct_mean_loss_and_an_unrelated_error(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        model = nn.Linear(4, 3)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        criterion = nn.CrossEntropyLoss()
        model.eval()                       # not a graph cut
        x, y = torch.randn(5, 4), torch.randint(0, 3, (5,))
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        undefined_lr_scheduler.step()
    """)
    assert not run.success and "NameError" in run.out
    assert "nllhint" not in run.out


def test_no_hint_for_masked_per_sample_loss_done_right(ipython):
    run = ipython.run("""
        import torch, torch.nn.functional as F
        logits = torch.randn(6, 3, requires_grad=True)
        y = torch.randint(0, 3, (6,))
        keep = torch.tensor([1., 1., 0., 1., 0., 1.])
        loss = (F.cross_entropy(logits, y, reduction='none') * keep).sum() / keep.sum()
        loss.backward()
        print(logits.grad.shape, undefined_metric_value)
    """)
    assert not run.success and "NameError" in run.out
    assert "nllhint" not in run.out


def test_no_hint_for_backward_on_model_outputs(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        net = nn.Linear(3, 2)
        outputs = net(torch.randn(4, 3))
        outputs.backward()
    """)
    assert not run.success and "scalar outputs" in run.out
    assert "nllhint" not in run.out


def test_no_hint_when_only_the_labels_are_cast(ipython):
    run = ipython.run("""
        import torch
        x = torch.randn(5, 3)               # nothing here requires grad: no cut to point at
        w = torch.randn(3)
        y = torch.tensor([1., 0., 1., 1., 0.])
        loss = ((x @ w) - y.long().float()).pow(2).mean()
        loss.backward()
    """)
    assert not run.success and "does not require grad" in run.out
    assert "nllhint" not in run.out


def test_no_hint_for_a_non_tensor_backward_error(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        model = nn.Linear(2, 1)
        loss = nn.functional.mse_loss(model(torch.randn(3, 2)), torch.zeros(3, 1))
        loss.backward()
        loss.backward()      # twice: another autograd error, not these rules
    """)
    assert not run.success and "backward through the graph a second time" in run.out
    assert "nllhint" not in run.out


def test_argmax_over_bins_against_real_coordinates_gets_a_soft_argmax_not_long(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        head = nn.Conv2d(8, 64, 1)                      # 64 coordinate bins per pixel
        feat = torch.randn(1, 8, 6, 6)
        output_coor_x = head(feat).squeeze()
        pred_x = torch.argmax(output_coor_x, dim=0).float() / 63.0 * 2 - 1
        gt_x = torch.rand(6, 6) * 2 - 1
        loss = nn.functional.l1_loss(pred_x, gt_x)
        loss.backward()
    """)
    assert "NLH713" in run.out and "most likely line 5" in run.out
    assert "gt_x.long()" not in run.out and "CrossEntropyLoss()(output_coor_x" not in run.out
    assert ("pred_x = (torch.softmax(output_coor_x, dim=0) * torch.arange(64.0).view(-1, 1, 1)).sum(0) / 63.0 "
            "* 2 - 1") in " ".join(run.out.split())
    assert "binned into int64 indices 0..63" in run.out


def test_argmax_against_labels_of_another_shape_gets_no_cross_entropy_rewrite(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        model = nn.Linear(6, 4)
        x = torch.randn(5, 6)
        scores = torch.rand(5, 4)
        loss = nn.functional.mse_loss(model(x).argmax(1).float(), scores.sum(1))
        loss.backward()
    """)
    assert "NLH713" in run.out
    assert "CrossEntropyLoss()(" not in run.out
    assert "soft-argmax" in run.out
