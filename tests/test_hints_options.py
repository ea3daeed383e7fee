"""bad-option and weight-size hints, as a user meets them in a notebook."""


def test_reduction_typo_in_the_constructor_is_rewritten_there(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        criterion = nn.MSELoss(reduction='avg')
        pred, target = torch.randn(8, 1), torch.randn(8, 1)
        loss = criterion(pred, target)
    ''')
    assert not run.success and "avg is not a valid value for reduction" in run.out
    assert "NLH380" in run.out and "criterion = nn.MSELoss(reduction='mean')" in run.out


def test_reduction_none_object_instead_of_string(ipython):
    run = ipython.run('''
        import torch, torch.nn.functional as F
        per_elem = F.mse_loss(torch.randn(4), torch.randn(4), reduction=None)
    ''')
    assert not run.success
    assert "NLH380" in run.out and "per_elem = F.mse_loss(torch.randn(4), torch.randn(4), reduction='none')" in run.out


def test_batchmean_typo_for_kl_div(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        kd = nn.KLDivLoss(reduction='batch_mean')
        student, teacher = torch.randn(4, 10), torch.randn(4, 10)
        loss = kd(student.log_softmax(1), teacher.softmax(1))
    ''')
    assert not run.success
    assert "NLH380" in run.out and "kd = nn.KLDivLoss(reduction='batchmean')" in run.out


def test_batchmean_outside_kl_div(ipython):
    run = ipython.run('''
        import torch, torch.nn.functional as F
        loss = F.cross_entropy(torch.randn(3, 4), torch.tensor([0, 1, 3]), reduction='batchmean')
    ''')
    assert not run.success
    assert "NLH380" in run.out and "only for KLDivLoss" in run.out and "reduction='mean')" in run.out


def test_unknown_reduction_lists_the_valid_ones_without_guessing(ipython):
    run = ipython.run('''
        import torch, torch.nn.functional as F
        loss = F.l1_loss(torch.randn(3), torch.randn(3), reduction='max')
    ''')
    assert not run.success
    assert "NLH380" in run.out and "'none', 'mean', 'sum'" in run.out
    assert "reduction='mean')" not in run.out


def test_label_smoothing_as_a_percentage(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        criterion = nn.CrossEntropyLoss(label_smoothing=10)
        loss = criterion(torch.randn(8, 5), torch.randint(0, 5, (8,)))
    ''')
    assert not run.success
    assert "NLH381" in run.out and "criterion = nn.CrossEntropyLoss(label_smoothing=0.1)" in run.out


def test_negative_huber_delta(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        criterion = nn.HuberLoss(delta=-1.0)
        loss = criterion(torch.randn(8), torch.randn(8))
    ''')
    assert not run.success
    assert "NLH382" in run.out and "criterion = nn.HuberLoss(delta=1.0)" in run.out


def test_negative_smooth_l1_beta(ipython):
    run = ipython.run('''
        import torch, torch.nn.functional as F
        loss = F.smooth_l1_loss(torch.randn(8), torch.randn(8), beta=-0.5)
    ''')
    assert not run.success
    assert "NLH382" in run.out and "beta=0.5)" in run.out


def test_negative_triplet_margin_in_the_constructor(ipython):
    run = ipython.run('''
        import torch.nn as nn
        triplet = nn.TripletMarginLoss(margin=-0.2, p=2)
    ''')
    assert not run.success
    assert "NLH382" in run.out and "triplet = nn.TripletMarginLoss(margin=0.2, p=2)" in run.out


def test_multi_margin_p_is_not_the_number_of_classes(ipython):
    run = ipython.run('''
        import torch.nn as nn
        criterion = nn.MultiMarginLoss(p=10)
    ''')
    assert not run.success
    assert "NLH383" in run.out and "criterion = nn.MultiMarginLoss(p=1)" in run.out


def test_log_variance_passed_as_variance(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        head = nn.Linear(8, 2)
        mean, log_var = head(torch.randn(64, 8)).unbind(1)
        loss = nn.GaussianNLLLoss()(mean, torch.randn(64), log_var)
    ''')
    assert not run.success
    assert "NLH384" in run.out and "loss = nn.GaussianNLLLoss()(mean, torch.randn(64), log_var.exp())" in run.out


def test_ctc_blank_equal_to_the_number_of_classes(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        model = nn.Sequential(nn.Linear(5, 10))
        log_probs = model(torch.randn(30, 2, 5)).log_softmax(2)
        targets = torch.randint(0, 10, (2, 6))
        loss = nn.CTCLoss(blank=10)(log_probs, targets, torch.full((2,), 30), torch.full((2,), 6))
    ''')
    assert not run.success and "blank must be in label range" in run.out
    assert "NLH385" in run.out and "model[0] = nn.Linear(model[0].in_features, 11)" in run.out


def test_per_sample_weights_as_class_weight(ipython):
    run = ipython.run('''
        import torch, torch.nn.functional as F
        logits = torch.randn(6, 3)
        labels = torch.tensor([0, 2, 1, 1, 0, 2])
        sample_w = torch.tensor([1.0, 0.5, 2.0, 1.0, 1.0, 0.5])
        loss = F.cross_entropy(logits, labels, weight=sample_w)
    ''')
    assert not run.success
    assert "NLH401" in run.out
    assert "loss = (F.cross_entropy(logits, labels, reduction='none') * sample_w).mean()" in run.out


def test_class_weights_from_bincount_miss_a_class(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        train_labels = torch.tensor([0, 1, 1, 0, 1, 1])           # class 2 never seen here
        counts = torch.bincount(train_labels)
        class_weights = counts.sum() / counts.float()
        criterion = nn.CrossEntropyLoss(weight=class_weights)
        loss = criterion(torch.randn(8, 3), torch.tensor([0, 1, 2, 2, 1, 0, 1, 2]))
    ''')
    assert not run.success
    assert "defined either for all 3 classes" in run.out
    assert "NLH402" in run.out and "`class_weights` has 2 entries" in run.out and "minlength=3" in run.out


def test_class_weight_with_an_extra_dimension(ipython):
    run = ipython.run('''
        import numpy as np, torch, torch.nn.functional as F
        w = torch.from_numpy(np.array([[1.0, 2.0, 0.5]], dtype=np.float32))
        loss = F.cross_entropy(torch.randn(4, 3), torch.tensor([0, 1, 2, 1]), weight=w)
    ''')
    assert not run.success
    assert "NLH402" in run.out and "weight=w.flatten())" in run.out


def test_pos_weight_of_the_wrong_length(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        logits, tags = torch.randn(16, 5), torch.randint(0, 2, (16, 5)).float()
        pos_weight = torch.tensor([3.0, 1.0, 2.0])
        loss = nn.BCEWithLogitsLoss(pos_weight=pos_weight)(logits, tags)
    ''')
    assert not run.success
    assert "NLH403" in run.out and "5 entries" in run.out


def test_bce_per_sample_weight_needs_a_column(ipython):
    run = ipython.run('''
        import torch, torch.nn.functional as F
        probs, tags = torch.rand(4, 5), torch.randint(0, 2, (4, 5)).float()
        w = torch.tensor([1.0, 2.0, 1.0, 0.5])
        loss = F.binary_cross_entropy(probs, tags, weight=w)
    ''')
    assert not run.success
    assert "NLH403" in run.out and "loss = F.binary_cross_entropy(probs, tags, weight=w.unsqueeze(1))" in run.out


def test_valid_options_and_an_unrelated_error_show_no_hint(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        criterion = nn.CrossEntropyLoss(weight=torch.tensor([1.0, 2.0, 0.5]), label_smoothing=0.1,
                                        reduction='sum')
        loss = criterion(torch.randn(8, 3, requires_grad=True), torch.randint(0, 3, (8,)))
        loss.backward()
        huber = nn.HuberLoss(delta=0.5)(torch.randn(4), torch.randn(4))
        total = loss / 0 + huber
        steps = int("ten")
    ''')
    assert not run.success and "ValueError: invalid literal" in run.out
    assert "nllhint" not in run.out


def test_per_class_pos_weight_for_segmentation_broadcasts_on_the_width(ipython):
    run = ipython.run('''
        import torch, torch.nn.functional as F
        pred = torch.randn(2, 9, 6, 8, requires_grad=True)      # (N, classes, H, W)
        label = F.one_hot(torch.randint(0, 9, (2, 6, 8)), 9).permute(0, 3, 1, 2).float()
        class_weight = torch.tensor([1, 1, 1, 1, 1, 1, 1, 2, 1], dtype=torch.float)
        loss = F.binary_cross_entropy_with_logits(pred, label, pos_weight=class_weight, reduction="none")
    ''')
    assert "NLH403" in run.out and "[weight-size]" in run.out
    prose = " ".join(run.out[run.out.index("\nnllhint "):].split())
    assert "broadcasts on the last dim" in prose and "(W, size 8)" in prose
    assert ('loss = F.binary_cross_entropy_with_logits(pred, label, pos_weight=class_weight.view(-1, 1, 1), '
            'reduction="none")') in prose
    assert "8 entries" not in prose


def test_per_class_weight_in_the_constructor_for_a_1d_signal(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        w = torch.tensor([1.0, 3.0, 0.5])
        criterion = nn.BCEWithLogitsLoss(weight=w)
        scores = torch.randn(4, 3, 10)            # (N, C, L)
        targets = torch.randint(0, 2, (4, 3, 10)).float()
        loss = criterion(scores, targets)
    ''')
    assert "NLH403" in run.out
    assert "criterion = nn.BCEWithLogitsLoss(weight=w.view(-1, 1))" in run.out


def test_no_hint_for_a_per_class_pos_weight_reshaped_right_then_an_unrelated_error(ipython):
    run = ipython.run('''
        import torch, torch.nn.functional as F
        pred = torch.randn(2, 9, 6, 8)
        label = torch.randint(0, 2, (2, 9, 6, 8)).float()
        class_weight = torch.ones(9)
        loss = F.binary_cross_entropy_with_logits(pred, label, pos_weight=class_weight.view(-1, 1, 1))
        print(f"{loss.item():.3f}", epoch)
    ''')
    assert not run.success and "NameError" in run.out
    assert "nllhint" not in run.out


# --- review: the bincount fix names the user's labels ---------------------------------------------------

def test_short_weight_fix_counts_the_users_own_mask(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        weights = torch.tensor([0.1, 1.0, 1.0])
        logits = torch.randn(2, 4, 8, 8, requires_grad=True)
        mask = torch.randint(0, 4, (2, 8, 8))
        loss = nn.functional.cross_entropy(logits, mask, weight=weights, ignore_index=255)
    """)
    assert "nllhint NLH402" in run.out
    assert "torch.bincount(mask.flatten(), minlength=4)" in run.out
    assert "bincount(labels," not in run.out
