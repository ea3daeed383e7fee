"""Hints that name the problem and give the corrected line in the user's own expressions, as a user meets
them in a notebook: weight sizes, margin and ranking losses, batches of different sizes, resized labels."""


def _prose(out: str) -> str:
    """The hint's text with the terminal's line wrapping undone."""
    return " ".join(out[out.index("\nnllhint "):].split())


def test_pos_weight_with_as_many_entries_as_the_batch_is_not_called_per_sample_weights(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        head = nn.Linear(12, 6)
        class_pos_weight = torch.tensor([2.0, 5.0, 1.0, 3.0])     # from an older label set
        criterion = nn.BCEWithLogitsLoss(pos_weight=class_pos_weight)
        tags = torch.randint(0, 2, (4, 6)).float()
        loss = criterion(head(torch.randn(4, 12)), tags)
    ''')
    assert not run.success and "NLH403" in run.out
    prose = _prose(run.out)
    assert "6 entries" in prose and "if they are per-sample weights" in prose
    assert "It has one entry per sample" not in prose
    assert "class_pos_weight = (1 - tags).sum(0) / tags.sum(0).clamp(min=1)" in prose
    assert "criterion = nn.BCEWithLogitsLoss(pos_weight=class_pos_weight)" in prose


def test_pos_weight_of_another_label_set_inline_gets_a_counted_one(ipython):
    run = ipython.run('''
        import torch, torch.nn.functional as F
        logits = torch.randn(5, 6, requires_grad=True)
        labels = torch.randint(0, 2, (5, 6)).float()
        loss = F.binary_cross_entropy_with_logits(logits, labels, pos_weight=torch.tensor([2.0, 5.0, 1.0, 3.0]))
    ''')
    assert not run.success and "NLH403" in run.out
    prose = _prose(run.out)
    assert "per-sample" not in prose and "another set of labels (4), not these 6" in prose
    assert ("loss = F.binary_cross_entropy_with_logits(logits, labels, "
            "pos_weight=(1 - labels).sum(0) / labels.sum(0).clamp(min=1))") in prose


def test_class_weight_longer_than_the_model_keeps_one_weight_per_predicted_class(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        sentiment_head = nn.Linear(8, 2)
        criterion = nn.CrossEntropyLoss(weight=torch.tensor([1.0, 2.5, 4.0]))
        feats, labels = torch.randn(6, 8), torch.tensor([0, 1, 1, 0, 1, 0])
        loss = criterion(sentiment_head(feats), labels)
    ''')
    assert not run.success and "NLH402" in run.out
    prose = _prose(run.out)
    assert "within the model's 2 classes" in prose
    assert "criterion = nn.CrossEntropyLoss(weight=torch.tensor([1.0, 2.5]))" in prose
    assert "sentiment_head = nn.Linear(sentiment_head.in_features, 3)" in prose


def test_class_weight_longer_than_the_model_with_labels_past_it_rebuilds_the_layer(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn, torch.nn.functional as F
        model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
        class_weights = torch.tensor([1.0, 1.0, 2.0, 3.0])
        x, y = torch.randn(8, 8), torch.tensor([0, 1, 2, 3, 3, 2, 1, 0])
        loss = F.cross_entropy(model(x), y, weight=class_weights)
    ''')
    assert not run.success and "NLH402" in run.out
    prose = _prose(run.out)
    assert "run up to 3: the data has more classes than the model predicts" in prose
    assert "model[2] = nn.Linear(model[2].in_features, 4)" in prose


def test_whole_label_tensor_inside_a_range_loop_takes_the_loops_rows(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn, torch.nn.functional as F
        clf = nn.Linear(32, 10)
        y_all = torch.randint(0, 10, (100,))
        batch_size = 20
        for i in range(0, 100, batch_size):
            emb = torch.randn(batch_size, 32)
            loss = F.cross_entropy(clf(emb), y_all)
    ''')
    assert not run.success and "NLH303" in run.out
    assert "loss = F.cross_entropy(clf(emb), y_all[i:i + batch_size])" in _prose(run.out)


def test_whole_label_tensor_with_the_inputs_sliced_takes_the_same_slice(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        model = nn.Linear(6, 3)
        X, Y = torch.randn(90, 6), torch.randint(0, 3, (90,))
        criterion = nn.CrossEntropyLoss()
        for step in range(3):
            xb = X[step * 30:(step + 1) * 30]
            out = model(xb)
            loss = criterion(out, Y)
    ''')
    assert not run.success and "NLH303" in run.out
    assert "loss = criterion(out, Y[step * 30:(step + 1) * 30])" in _prose(run.out)


def test_one_label_row_too_many_keeps_the_first_rows_and_says_when_that_is_right(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        scores = torch.randn(2, 3, requires_grad=True)
        tags = torch.tensor([[1, 0, 1], [0, 1, 1], [0, 1, 1]])
        loss = nn.MultiLabelSoftMarginLoss()(scores, tags)
    ''')
    assert not run.success and "NLH303" in run.out
    prose = _prose(run.out)
    assert "# only if the first 2 rows of tags belong to scores" in prose
    assert "loss = nn.MultiLabelSoftMarginLoss()(scores, tags[:2])" in prose


def test_multi_margin_labels_of_another_batch(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        svm = nn.Linear(5, 8)
        feats = torch.randn(8, 5)
        classes = torch.randint(0, 8, (7,))
        hinge = nn.MultiMarginLoss()
        loss = hinge(svm(feats), classes)
    ''')
    assert not run.success and "NLH335" in run.out
    assert "loss = hinge(svm(feats)[:7], classes)" in _prose(run.out)


def test_a_multiple_of_the_batch_gets_no_first_rows_guess(ipython):
    run = ipython.run('''
        import torch, torch.nn.functional as F
        logits = torch.randn(8, 4, requires_grad=True)
        labels = torch.randint(0, 4, (16,))
        loss = F.cross_entropy(logits, labels)
    ''')
    assert not run.success and "NLH303" in run.out
    assert "labels[:8]" not in run.out and "only if the first" not in run.out


def test_ranking_scores_as_a_column_and_one_target_for_all_pairs(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        scorer = nn.Linear(10, 1)
        rank_loss = nn.MarginRankingLoss(margin=1.0)
        good = scorer(torch.randn(50, 10))                 # (50, 1)
        bad = scorer(torch.randn(50, 10)).squeeze(1)       # (50,)
        y = torch.tensor([1.0])
        loss = rank_loss(good, bad, y)
    ''')
    assert not run.success and "NLH328" in run.out
    assert "loss = rank_loss(good.squeeze(1), bad, y.expand_as(bad))" in _prose(run.out)


def test_segmentation_logits_at_a_lower_resolution_than_the_masks_are_upsampled(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn, torch.nn.functional as F
        backbone = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(8, 4, 1))
        images = torch.randn(2, 3, 32, 32)
        masks = torch.randint(0, 4, (2, 32, 32))
        criterion = nn.CrossEntropyLoss()
        loss = criterion(backbone(images), masks)
    ''')
    assert not run.success and "NLH585" in run.out
    assert ("loss = criterion(F.interpolate(backbone(images), size=masks.shape[-2:], mode='bilinear', "
            "align_corners=False), masks)") in _prose(run.out)


def test_log_probabilities_at_another_resolution_resize_the_labels_instead(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        head = nn.Conv2d(8, 5, 1)
        seg_labels = torch.randint(0, 5, (2, 16, 16))
        log_p = torch.log_softmax(head(torch.randn(2, 8, 8, 8)), dim=1)
        loss = nn.NLLLoss()(log_p, seg_labels)
    ''')
    assert not run.success and "NLH585" in run.out
    assert ("loss = nn.NLLLoss()(log_p, torch.nn.functional.interpolate(seg_labels.unsqueeze(1).float(), "
            "size=log_p.shape[-2:], mode='nearest').squeeze(1).long())") in _prose(run.out)


def test_sequence_tags_of_another_length_get_no_resize(ipython):
    run = ipython.run('''
        import torch, torch.nn.functional as F
        logits = torch.randn(2, 3, 5)
        tags = torch.randint(0, 3, (2, 4))
        loss = F.cross_entropy(logits, tags)
    ''')
    assert not run.success and "NLH585" in run.out and "interpolate" not in run.out


def test_one_logit_head_with_cross_entropy_offers_the_binary_loss_and_says_1_class(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        spam_model = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 1))
        loss_fn = nn.CrossEntropyLoss()
        emails, is_spam = torch.randn(8, 10), torch.tensor([0, 1, 1, 0, 1, 0, 0, 1])
        loss = loss_fn(spam_model(emails), is_spam)
    ''')
    assert not run.success and "NLH103" in run.out
    prose = _prose(run.out)
    assert "the model predicts 1 class," in prose and "has 1 column," in prose and "1 classes" not in prose
    assert "loss_fn = nn.BCEWithLogitsLoss() loss = loss_fn(spam_model(emails).squeeze(1), is_spam.float())" in prose
    assert "# or 2 outputs: spam_model[2] = nn.Linear(spam_model[2].in_features, 2)" in prose


def test_three_labels_for_a_one_logit_head_get_no_binary_advice(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        head = nn.Linear(10, 1)
        loss = nn.CrossEntropyLoss()(head(torch.randn(6, 10)), torch.tensor([0, 1, 2, 2, 1, 0]))
    ''')
    assert not run.success and "NLH103" in run.out
    assert "BCEWithLogitsLoss" not in run.out and "head = nn.Linear(head.in_features, 3)" in run.out


LOSSCHECK = """%%losscheck
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
"""


def test_ctc_softmax_assigned_above_the_call_gets_a_log_softmax_line(ipython):
    run = ipython.run(LOSSCHECK + """
T, N, C = 20, 2, 7
proj = nn.Linear(16, C)
frames = torch.randn(T, N, 16)
probs = proj(frames).softmax(dim=-1)
targets = torch.randint(1, C, (N, 4))
ctc = nn.CTCLoss()
loss = ctc(probs, targets, torch.full((N,), T), torch.full((N,), 4))
""")
    prose = " ".join(run.out.split())
    assert "NLH814" in prose
    assert "fix: loss = ctc(proj(frames).log_softmax(dim=2), targets, torch.full((N,), T), torch.full((N,), 4))" in prose


def test_poisson_rate_from_a_softplus_head_is_named_as_the_user_wrote_it(ipython):
    run = ipython.run(LOSSCHECK + """
count_head = nn.Sequential(nn.Linear(5, 1), nn.Softplus())
poisson = nn.PoissonNLLLoss()
x = torch.randn(16, 5)
visits = torch.poisson(torch.full((16, 1), 3.0))
loss = poisson(count_head(x), visits)
""")
    prose = " ".join(run.out.split())
    assert "NLH836" in prose and "`count_head(x)` is a rate (softplus output)" in prose
    assert "Its grad_fn says softplus produced `count_head(x)`" in prose and "0 ops" not in prose
    assert "fix: poisson = nn.PoissonNLLLoss(log_input=False)" in prose
