"""target-shape, class-dim and shape-revealed wrong-loss hints, as a notebook user sees them."""

from nllhint.messages import classify


def families(message):
    return [m.family for m in classify(message)]


# --- target-shape: one-hot ------------------------------------------------------------------------------

def test_int_one_hot_into_cross_entropy(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn, torch.nn.functional as F
        criterion = nn.CrossEntropyLoss()
        outputs = torch.randn(8, 4, requires_grad=True)
        labels = F.one_hot(torch.tensor([0, 3, 1, 2, 2, 0, 1, 3]), num_classes=4)
        loss = criterion(outputs, labels)
    ''')
    assert not run.success
    assert "nllhint NLH201 [target-shape]" in run.out
    assert "loss = criterion(outputs, labels.argmax(dim=1))" in run.out
    assert "labels.float()" in run.out  # CE alternative: probabilities


def test_bool_one_hot_into_cross_entropy(ipython):
    run = ipython.run('''
        import torch, torch.nn.functional as F
        logits = torch.randn(4, 3)
        hot = F.one_hot(torch.tensor([0, 1, 2, 0]), 3).bool()
        loss = F.cross_entropy(logits, hot)
    ''')
    assert "got Bool" in run.out
    assert "NLH201" in run.out and "loss = F.cross_entropy(logits, hot.long().argmax(dim=1))" in run.out


def test_float_one_hot_into_nll_loss(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn, torch.nn.functional as F
        model = nn.Sequential(nn.Linear(6, 3), nn.LogSoftmax(dim=1))
        x = torch.randn(5, 6)
        y = torch.eye(3)[torch.tensor([0, 1, 2, 2, 1])]
        loss = nn.NLLLoss()(model(x), y)
    ''')
    assert "NLH201" in run.out and "loss = nn.NLLLoss()(model(x), y.argmax(dim=1))" in run.out
    assert "labels.float()" not in run.out and "y.float()" not in run.out  # NLLLoss takes no probabilities


def test_one_hot_segmentation_masks_into_nll(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn, torch.nn.functional as F
        log_probs = F.log_softmax(torch.randn(2, 3, 8, 8), dim=1)
        masks = F.one_hot(torch.randint(0, 3, (2, 8, 8)), 3).permute(0, 3, 1, 2).float()
        loss = F.nll_loss(log_probs, masks)
    ''')
    assert "NLH201" in run.out and "loss = F.nll_loss(log_probs, masks.argmax(dim=1))" in run.out


# --- target-shape: column, channel axis ----------------------------------------------------------------

def test_column_target(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        model = nn.Linear(10, 3)
        x = torch.randn(16, 10)
        y = torch.randint(0, 3, (16, 1))
        loss = nn.CrossEntropyLoss()(model(x), y)
    ''')
    assert "NLH202" in run.out and "loss = nn.CrossEntropyLoss()(model(x), y.squeeze(1))" in run.out


def test_float_column_target_gets_squeeze_and_long(ipython):
    run = ipython.run('''
        import torch, torch.nn.functional as F
        logits = torch.randn(4, 3)
        labels = torch.tensor([[0.], [2.], [1.], [1.]])
        loss = F.cross_entropy(logits, labels)
    ''')
    assert "NLH202" in run.out and "loss = F.cross_entropy(logits, labels.squeeze(1).long())" in run.out


def test_mask_with_channel_axis(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        criterion = nn.CrossEntropyLoss()
        logits = torch.randn(2, 5, 16, 16, requires_grad=True)
        masks = torch.randint(0, 5, (2, 1, 16, 16))
        loss = criterion(logits, masks)
    ''')
    assert "NLH203" in run.out and "loss = criterion(logits, masks.squeeze(1))" in run.out


def test_channel_last_mask_and_float_mask(ipython):
    run = ipython.run('''
        import torch, torch.nn.functional as F
        pred = torch.randn(2, 3, 4, 4)
        mask = torch.randint(0, 3, (2, 4, 4, 1)).float()
        loss = F.cross_entropy(pred, mask)
    ''')
    assert "NLH203" in run.out and "loss = F.cross_entropy(pred, mask.squeeze(-1).long())" in run.out


def test_sequence_target_with_extra_axis(ipython):
    run = ipython.run('''
        import torch, torch.nn.functional as F
        scores = torch.randn(2, 3, 5)
        tags = torch.randint(0, 3, (2, 1, 5))
        loss = F.cross_entropy(scores, tags)
    ''')
    assert "NLH203" in run.out and "tags.squeeze(1)" in run.out


# --- wrong-loss: multi-hot, single output -----------------------------------------------------------------

def test_multi_hot_into_cross_entropy(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        criterion = nn.CrossEntropyLoss()
        scores = torch.randn(4, 5, requires_grad=True)
        tags = torch.tensor([[1, 0, 1, 0, 0], [0, 1, 1, 1, 0], [1, 0, 0, 0, 0], [0, 0, 0, 1, 1]])
        loss = criterion(scores, tags)
    ''')
    assert "NLH204 [wrong-loss]" in run.out
    assert "criterion = nn.BCEWithLogitsLoss()" in run.out and "loss = criterion(scores, tags.float())" in run.out


def test_multi_hot_into_nll_after_log_softmax(ipython):
    run = ipython.run('''
        import torch, torch.nn.functional as F
        logits = torch.randn(3, 4)
        y = torch.tensor([[1., 1., 0., 0.], [0., 1., 0., 1.], [1., 0., 1., 1.]])
        loss = F.nll_loss(F.log_softmax(logits, dim=1), y)
    ''')
    assert "NLH204" in run.out
    assert "loss = F.binary_cross_entropy_with_logits(logits, y)" in run.out


def test_single_output_binary_into_cross_entropy(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1))
        x = torch.randn(10, 8)
        y = torch.randint(0, 2, (10, 1))
        loss = nn.CrossEntropyLoss()(model(x), y)
    ''')
    assert "NLH205 [wrong-loss]" in run.out and "loss = nn.BCEWithLogitsLoss()(model(x), y.float())" in run.out


def test_soft_targets_into_nll(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn, torch.nn.functional as F
        criterion = nn.NLLLoss()
        log_probs = F.log_softmax(torch.randn(4, 3), dim=1)
        smoothed = torch.full((4, 3), 0.1).scatter(1, torch.tensor([[0], [2], [1], [0]]), 0.8)
        loss = criterion(log_probs, smoothed)
    ''')
    assert "NLH206" in run.out and "criterion = nn.CrossEntropyLoss()" in run.out
    assert "loss = criterion(log_probs, smoothed)" in run.out


def test_flattened_one_hot_labels(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        loss_fct = nn.CrossEntropyLoss(reduction="none")
        logits = nn.Linear(24, 4)(torch.randn(8, 24))
        label_ids = torch.eye(4, dtype=torch.long)[torch.tensor([1, 2, 1, 3, 0, 1, 0, 1])]
        per_sample = loss_fct(logits, label_ids.view(-1))
    ''')
    assert "NLH207 [target-shape]" in run.out
    assert "per_sample = loss_fct(logits, label_ids.argmax(dim=1))" in run.out


def test_flattened_labels_that_are_not_one_hot_get_no_target_shape_hint(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        logits = torch.randn(4, 3)
        pairs = torch.tensor([[0, 1, 1], [1, 1, 0], [0, 0, 1], [1, 0, 1]])   # multi-hot, not one-hot
        loss = nn.CrossEntropyLoss()(logits, pairs.view(-1))
    ''')
    assert not run.success and "NLH207" not in run.out


def test_mask_squeezed_with_its_batch_of_one(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        net = nn.Conv2d(1, 5, 3, padding=1)
        image = torch.rand(1, 1, 32, 32)
        target = torch.randint(0, 5, (1, 32, 32)).squeeze()
        loss = nn.CrossEntropyLoss()(net(image), target)
    ''')
    assert "NLH208 [target-shape]" in run.out
    assert "loss = nn.CrossEntropyLoss()(net(image), target.unsqueeze(0))" in run.out


def test_colour_coded_mask(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn, torch.nn.functional as F
        outputs = torch.randn(2, 7, 16, 16)
        palette = torch.tensor([[0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255]])
        labels = palette[torch.randint(0, 4, (2, 16, 16))]
        loss = nn.NLLLoss()(F.log_softmax(outputs, dim=1), labels)
    ''')
    assert "NLH209 [target-shape]" in run.out and "RGB" in run.out
    assert "torch.unique(labels.reshape(-1, 3), dim=0, return_inverse=True)" in run.out
    assert "loss = nn.NLLLoss()(F.log_softmax(outputs, dim=1), labels_idx)" in run.out


def test_colour_coded_mask_channels_first(ipython):
    run = ipython.run('''
        import torch, torch.nn.functional as F
        logits = torch.randn(2, 5, 8, 8)
        rgb = torch.randint(0, 2, (2, 3, 8, 8)) * 255
        loss = F.cross_entropy(logits, rgb)
    ''')
    assert "NLH209" in run.out and "rgb.permute(0, 2, 3, 1).reshape(-1, 3)" in run.out


# --- class-dim -------------------------------------------------------------------------------------------

def test_batch_first_sequence_classes_last(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        lstm = nn.LSTM(8, 16, batch_first=True)
        head = nn.Linear(16, 6)
        x = torch.randn(4, 12, 8)
        tags = torch.randint(0, 6, (4, 12))
        out, _ = lstm(x)
        loss = nn.CrossEntropyLoss()(head(out), tags)
    ''')
    assert "NLH210 [class-dim]" in run.out
    assert "loss = nn.CrossEntropyLoss()(head(out).permute(0, 2, 1), tags)" in run.out
    assert "transpose(1, 2)" in run.out


def test_nhwc_segmentation_output(ipython):
    run = ipython.run('''
        import torch, torch.nn.functional as F
        pred = torch.randn(2, 32, 32, 4, requires_grad=True)
        mask = torch.randint(0, 4, (2, 32, 32))
        loss = F.nll_loss(F.log_softmax(pred, dim=-1), mask)
    ''')
    assert "NLH210" in run.out
    assert "loss = F.nll_loss(F.log_softmax(pred, dim=-1).permute(0, 3, 1, 2), mask)" in run.out


def test_classes_last_with_float_tags_adds_long(ipython):
    run = ipython.run('''
        import torch, torch.nn.functional as F
        logits = torch.randn(2, 5, 7)
        tags = torch.randint(0, 7, (2, 5)).float()
        loss = F.cross_entropy(logits, tags)
    ''')
    assert "NLH210" in run.out and "loss = F.cross_entropy(logits.permute(0, 2, 1), tags.long())" in run.out


def test_caption_scores_classes_last_and_lengths_differ(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        vocab_size = 30
        decoder_out = nn.Linear(20, vocab_size)
        scores = decoder_out(torch.randn(4, 6, 20))
        targets = torch.randint(0, vocab_size, (4, 11))
        loss = nn.CrossEntropyLoss()(scores, targets)
    ''')
    assert "NLH210 [class-dim]" in run.out
    assert "scores.permute(0, 2, 1)" in run.out and "6 vs 11 steps" in run.out


def test_sequence_one_step_short_is_not_a_class_dim_problem(ipython):
    run = ipython.run('''
        import torch, torch.nn.functional as F
        logits = torch.randn(4, 30, 7)       # (N, V, T): the right layout
        question = torch.randint(0, 30, (4, 8))
        loss = F.cross_entropy(logits, question)
    ''')
    assert not run.success and "class-dim" not in run.out


def test_sequence_first_rnn_output(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        rnn = nn.GRU(10, 20)
        fc = nn.Linear(20, 5)
        x = torch.randn(7, 3, 10)
        y = torch.randint(0, 5, (3, 7))
        h, _ = rnn(x)
        loss = nn.CrossEntropyLoss()(fc(h), y)
    ''')
    assert "NLH211 [class-dim]" in run.out and "fc(h).permute(1, 2, 0)" in run.out


# --- messages: older wordings --------------------------------------------------------------------------------

def test_older_wordings_are_recognised():
    assert "multi-target" in families("multi-target not supported at /pytorch/aten/src/THNN/generic/ClassNLLCriterion.c:20")
    assert "multi-target" in families("1D target tensor expected, multi-target not supported")
    assert "spatial-target-dim" in families(
        "only batches of spatial targets supported (non-empty 3D tensors) but got targets of size: : [1, 1, 256, 256]")
    assert "target-size" in families("Expected target size (2, 7), got torch.Size([2, 5])")
    assert "spatial-size" in families(
        "input and target batch or spatial sizes don't match: target [2 x 4 x 4], input [2 x 4 x 4 x 3] at "
        "/pytorch/aten/src/THCUNN/generic/SpatialClassNLLCriterion.cu:23")


# --- hard negatives: correct losses get no hint ------------------------------------------------------------

def test_soft_probability_targets_are_fine(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        logits = torch.randn(4, 3, requires_grad=True)
        soft = torch.softmax(torch.randn(4, 3), dim=1)
        loss = nn.CrossEntropyLoss()(logits, soft)
        loss.backward()
        undefined_name_after_the_loss
    ''')
    assert not run.success and "NameError" in run.out
    assert "nllhint" not in run.out


def test_float_one_hot_into_cross_entropy_is_fine(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn, torch.nn.functional as F
        logits = torch.randn(4, 3, requires_grad=True)
        onehot = F.one_hot(torch.tensor([0, 1, 2, 0]), 3).float()
        loss = F.cross_entropy(logits, onehot)
        raise ValueError("stop here")
    ''')
    assert not run.success and "nllhint" not in run.out


def test_nll_on_segmentation_is_fine(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn, torch.nn.functional as F
        out = F.log_softmax(torch.randn(2, 4, 8, 8, requires_grad=True), dim=1)
        mask = torch.randint(0, 4, (2, 8, 8))
        loss = nn.NLLLoss()(out, mask)
        loss.backward()
        print(loss.itme())
    ''')
    assert not run.success and "AttributeError" in run.out
    assert "nllhint" not in run.out


def test_sequence_loss_done_right_then_model_error(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        logits = torch.randn(4, 6, 12, requires_grad=True)   # (N, C, T)
        tags = torch.randint(0, 6, (4, 12))
        tags[:, -3:] = -100
        loss = nn.CrossEntropyLoss(ignore_index=-100)(logits, tags)
        nn.Linear(5, 2)(torch.randn(3, 4))
    ''')
    assert not run.success and "mat1 and mat2" in run.out
    assert "nllhint" not in run.out


def test_shape_error_that_is_not_a_target_shape_gets_no_shape_hint(ipython):
    run = ipython.run('''
        import torch, torch.nn.functional as F
        logits = torch.randn(4, 3)
        y = torch.tensor([[0, 1], [1, 2], [2, 0], [0, 0]])   # two label columns: nothing to guess
        loss = F.cross_entropy(logits, y)
    ''')
    assert not run.success
    assert "NLH2" not in run.out
