"""target-dtype, input-dtype and weight dtype hints, as a notebook user sees them."""

from nllhint.messages import classify


def families(message):
    return [m.family for m in classify(message)]


# --- input-dtype: predictions instead of scores -------------------------------------------------------------

def test_argmax_into_cross_entropy_is_an_input_problem_not_target_shape(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        model = nn.Linear(12, 4)
        criterion = nn.CrossEntropyLoss()
        x = torch.randn(8, 12)
        labels = torch.randint(0, 4, (8,))
        outputs = model(x)
        loss = criterion(outputs.argmax(dim=1), labels)
    ''')
    assert "Expected floating point type for target with class probabilities, got Long" in run.out
    assert "nllhint NLH260 [input-dtype]" in run.out and "target-shape" not in run.out
    assert "loss = criterion(outputs, labels)" in run.out


def test_torch_max_indices_into_nll(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        model = nn.Sequential(nn.Linear(12, 4), nn.LogSoftmax(dim=1))
        x = torch.randn(8, 12)
        labels = torch.randint(0, 4, (8,))
        log_probs = model(x)
        _, preds = torch.max(log_probs, 1)
        loss = nn.NLLLoss()(preds, labels)
    ''')
    assert "NLH260" in run.out and "loss = nn.NLLLoss()(log_probs, labels)" in run.out


def test_argmax_segmentation_into_cross_entropy(ipython):
    run = ipython.run('''
        import torch, torch.nn.functional as F
        logits = torch.randn(2, 3, 8, 8, requires_grad=True)
        mask = torch.randint(0, 3, (2, 8, 8))
        pred = torch.argmax(logits, dim=1)
        loss = F.cross_entropy(pred, mask)
    ''')
    assert "NLH260" in run.out and "loss = F.cross_entropy(logits, mask)" in run.out


def test_argmax_sequence_into_nll(ipython):
    run = ipython.run('''
        import torch, torch.nn.functional as F
        log_probs = torch.randn(2, 3, 5).log_softmax(1)
        tags = torch.randint(0, 3, (2, 5))
        loss = F.nll_loss(log_probs.argmax(1), tags)
    ''')
    assert "multi-target" in run.out
    assert "NLH260" in run.out and "loss = F.nll_loss(log_probs, tags)" in run.out


def test_predictions_without_visible_origin_get_a_hedged_hint(ipython):
    ipython.run('''
        import torch
        preds_from_elsewhere = torch.tensor([0, 2, 1, 1])
    ''')
    run = ipython.run('''
        import torch.nn as nn
        loss = nn.CrossEntropyLoss()(preds_from_elsewhere, torch.tensor([0, 2, 2, 1]))
    ''')
    assert "NLH260" in run.out and "looks like predicted classes" in run.out


def test_stray_long_on_scores(ipython):
    run = ipython.run('''
        import torch, torch.nn.functional as F
        scores = torch.randn(6, 3, requires_grad=True)
        y = torch.tensor([0, 2, 1, 1, 0, 2])
        loss = F.cross_entropy(scores.long(), y)
    ''')
    assert "NLH261" in run.out and "loss = F.cross_entropy(scores, y)" in run.out


def test_integer_scores_into_nll(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        votes = torch.tensor([[3, 0, 1], [0, 4, 0], [1, 1, 2]])
        loss = nn.NLLLoss()(votes, torch.tensor([0, 1, 2]))
    ''')
    assert "nll_loss_out_frame" in run.out
    assert "NLH261" in run.out and "votes.float()" in run.out and "carries no" in run.out


def test_swapped_arguments(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        criterion = nn.NLLLoss()
        log_probs = torch.randn(5, 4).log_softmax(dim=1)
        labels = torch.tensor([0, 3, 1, 1, 2])
        loss = criterion(labels, log_probs)
    ''')
    assert "NLH262" in run.out and "loss = criterion(log_probs, labels)" in run.out


def test_integer_input_into_mse(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        criterion = nn.MSELoss()
        counts_pred = torch.tensor([3, 1, 4, 1])
        counts = torch.tensor([2, 1, 5, 0])
        loss = criterion(counts_pred, counts)
    ''')
    assert "NLH264" in run.out and "loss = criterion(counts_pred.float(), counts.float())" in run.out


def test_integer_input_into_l1(ipython):
    run = ipython.run('''
        import torch, torch.nn.functional as F
        a = torch.tensor([3, 1, 4])
        b = torch.tensor([2, 1, 5])
        err = F.l1_loss(a, b)
    ''')
    assert "could not infer output dtype" in run.out
    assert "NLH264" in run.out and "err = F.l1_loss(a.float(), b.float())" in run.out


def test_thresholded_predictions_into_bce(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        probs = torch.sigmoid(torch.randn(6, requires_grad=True))
        y = torch.tensor([0., 1., 1., 0., 1., 0.])
        loss = nn.BCELoss()((probs > 0.5).long(), y)
    ''')
    assert "NLH264" in run.out and "loss = nn.BCELoss()(probs, y)" in run.out


def test_float64_target_into_bce(ipython):
    run = ipython.run('''
        import numpy as np, torch, torch.nn as nn
        probs = torch.sigmoid(torch.randn(5, requires_grad=True))
        y = torch.from_numpy(np.array([0., 1., 1., 0., 1.]))
        loss = nn.BCELoss()(probs, y)
    ''')
    assert "Found dtype Double but expected Float" in run.out
    assert "NLH263 [input-dtype]" in run.out and "loss = nn.BCELoss()(probs, y.float())" in run.out


def test_float64_input_into_bce(ipython):
    run = ipython.run('''
        import numpy as np, torch, torch.nn.functional as F
        p = torch.from_numpy(np.array([0.2, 0.9, 0.6]))
        t = torch.tensor([0., 1., 1.])
        loss = F.binary_cross_entropy(p, t)
    ''')
    assert "NLH263" in run.out and "loss = F.binary_cross_entropy(p.float(), t)" in run.out


def test_argmax_positions_into_bce_point_to_cross_entropy(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        start_logits = torch.randn(4, 10, requires_grad=True)
        start = torch.argmax(start_logits, dim=1)
        label = torch.tensor([2, 0, 4, 1])
        loss = nn.BCEWithLogitsLoss()(start, label)
    ''')
    assert "NLH264" in run.out
    assert "criterion" not in run.out and "loss = nn.CrossEntropyLoss()(start_logits, label)" in run.out


# --- weight dtype -------------------------------------------------------------------------------------------

def test_numpy_class_weight_in_constructor(ipython):
    run = ipython.run('''
        import numpy as np, torch, torch.nn as nn
        counts = np.array([500, 120, 30])
        class_weights = torch.from_numpy(counts.sum() / counts)
        criterion = nn.CrossEntropyLoss(weight=class_weights)
        logits = torch.randn(4, 3, requires_grad=True)
        loss = criterion(logits, torch.tensor([0, 1, 2, 1]))
    ''')
    assert "expected scalar type Float but found Double" in run.out
    assert "NLH270 [weight-size]" in run.out
    assert "criterion = nn.CrossEntropyLoss(weight=class_weights.float())" in run.out


def test_class_weight_built_in_an_earlier_cell(ipython):
    ipython.run('''
        import torch, torch.nn as nn
        crit = nn.NLLLoss(torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64))
    ''')
    run = ipython.run('''
        loss = crit(torch.randn(3, 3).log_softmax(1), torch.tensor([0, 1, 2]))
    ''')
    assert "NLH270" in run.out and "crit.weight = crit.weight.float()" in run.out


def test_inline_weight_in_criterion_call(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        w = torch.tensor([1.0, 3.0]).double()
        loss = nn.CrossEntropyLoss(weight=w)(torch.randn(4, 2), torch.tensor([0, 1, 1, 0]))
    ''')
    assert "NLH270" in run.out
    assert "loss = nn.CrossEntropyLoss(weight=w.float())(torch.randn(4, 2), torch.tensor([0, 1, 1, 0]))" in run.out


def test_integer_class_weight_functional(ipython):
    run = ipython.run('''
        import torch, torch.nn.functional as F
        w = torch.tensor([1, 5, 10])
        logits = torch.randn(3, 3)
        loss = F.cross_entropy(logits, torch.tensor([0, 1, 2]), weight=w)
    ''')
    assert "NLH270" in run.out and "weight=w.float()" in run.out


# --- target-dtype for NLL/CE --------------------------------------------------------------------------------

def test_float_labels_from_torch_Tensor(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        criterion = nn.CrossEntropyLoss()
        outputs = torch.randn(6, 3, requires_grad=True)
        targets = torch.Tensor([0, 2, 1, 1, 0, 2])
        loss = criterion(outputs, targets)
    ''')
    assert "NLH250 [target-dtype]" in run.out and "loss = criterion(outputs, targets.long())" in run.out


def test_float64_labels_into_nll_expression(ipython):
    run = ipython.run('''
        import numpy as np, torch, torch.nn.functional as F
        y = np.array([1., 0., 2.])
        loss = F.nll_loss(torch.randn(3, 3).log_softmax(1), torch.from_numpy(y) * 1)
    ''')
    assert "NLH250" in run.out and "(torch.from_numpy(y) * 1).long()" in run.out


def test_int32_labels_from_numpy(ipython):
    run = ipython.run('''
        import numpy as np, torch, torch.nn as nn
        y_np = np.array([0, 2, 1, 1], dtype=np.int32)
        y = torch.from_numpy(y_np)
        logits = torch.randn(4, 3, requires_grad=True)
        loss = nn.CrossEntropyLoss()(logits, y)
    ''')
    assert "NLH251" in run.out and "loss = nn.CrossEntropyLoss()(logits, y.long())" in run.out


def test_bool_labels_into_cross_entropy(ipython):
    run = ipython.run('''
        import torch, torch.nn.functional as F
        logits = torch.randn(4, 2)
        is_cat = torch.tensor([True, False, True, True])
        loss = F.cross_entropy(logits, is_cat)
    ''')
    assert "NLH251" in run.out and "loss = F.cross_entropy(logits, is_cat.long())" in run.out


def test_regression_targets_into_cross_entropy(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        model = nn.Linear(4, 1)
        criterion = nn.CrossEntropyLoss()
        x = torch.randn(5, 4)
        price = torch.tensor([1.25, 0.5, 3.75, 2.1, 0.9])
        loss = criterion(model(x), price)
    ''')
    assert "NLH252 [wrong-loss]" in run.out
    assert "criterion = nn.MSELoss()" in run.out and "loss = criterion(model(x).squeeze(1), price)" in run.out


def test_regression_targets_with_many_outputs_are_hedged(ipython):
    run = ipython.run('''
        import torch, torch.nn.functional as F
        out = torch.randn(4, 3)
        score = torch.tensor([0.3, 0.7, 0.1, 0.95])
        loss = F.cross_entropy(out, score)
    ''')
    assert "NLH252" in run.out and "nn.Linear(..., 1)" in run.out and ".long()" in run.out


def test_single_output_with_float_binary_labels(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        model = nn.Linear(5, 1)
        x = torch.randn(8, 5)
        is_spam = torch.tensor([0., 1., 1., 0., 0., 1., 0., 1.])
        loss = nn.CrossEntropyLoss()(model(x), is_spam)
    ''')
    assert "NLH253 [wrong-loss]" in run.out
    assert "loss = nn.BCEWithLogitsLoss()(model(x).squeeze(1), is_spam)" in run.out


# --- target-dtype for BCE and margin losses -----------------------------------------------------------------

def test_long_labels_into_bce_with_logits(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        criterion = nn.BCEWithLogitsLoss()
        logits = torch.randn(8, requires_grad=True)
        labels = torch.randint(0, 2, (8,))
        loss = criterion(logits, labels)
    ''')
    assert "can't be cast to the desired output type Long" in run.out
    assert "NLH255 [target-dtype]" in run.out and "loss = criterion(logits, labels.float())" in run.out


def test_long_labels_into_bce(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        model = nn.Sequential(nn.Linear(3, 1), nn.Sigmoid())
        x = torch.randn(4, 3)
        y = torch.tensor([[0], [1], [1], [0]])
        loss = nn.BCELoss()(model(x), y)
    ''')
    assert "Found dtype Long but expected Float" in run.out
    assert "NLH255" in run.out and "loss = nn.BCELoss()(model(x), y.float())" in run.out


def test_bool_labels_into_bce_with_logits(ipython):
    run = ipython.run('''
        import torch, torch.nn.functional as F
        logits = torch.randn(6)
        hit = torch.tensor([1, 0, 1, 1, 0, 0]).bool()
        loss = F.binary_cross_entropy_with_logits(logits, hit)
    ''')
    assert "NLH255" in run.out and "loss = F.binary_cross_entropy_with_logits(logits, hit.float())" in run.out


def test_class_indices_into_bce(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        criterion = nn.BCEWithLogitsLoss()
        out = torch.randn(6, requires_grad=True)
        species = torch.tensor([0, 2, 1, 2, 0, 1])
        loss = criterion(out, species)
    ''')
    assert "NLH256 [wrong-loss]" in run.out and "species.float()" not in run.out
    assert "criterion = nn.CrossEntropyLoss()" in run.out


def test_float_labels_into_multi_margin(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        criterion = nn.MultiMarginLoss()
        scores = torch.randn(4, 3, requires_grad=True)
        y = torch.tensor([0., 2., 1., 0.])
        loss = criterion(scores, y)
    ''')
    assert "expected scalar type Long but found Float" in run.out
    assert "NLH257" in run.out and "loss = criterion(scores, y.long())" in run.out


def test_multi_hot_into_multilabel_margin(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        scores = torch.randn(3, 4, requires_grad=True)
        tags = torch.tensor([[1., 0., 1., 0.], [0., 1., 1., 1.], [1., 0., 0., 0.]])
        loss = nn.MultiLabelMarginLoss()(scores, tags)
    ''')
    assert "NLH258" in run.out and "tags.long()" not in run.out
    assert "loss = nn.MultiLabelSoftMarginLoss()(scores, tags)" in run.out


# --- messages: older wordings --------------------------------------------------------------------------------

def test_older_wordings_are_recognised():
    assert "scalar-type" in families("expected scalar type Long but found Float")
    assert "target-dtype" in families(
        "Expected object of scalar type Long but got scalar type Float for argument #2 'target' in call to "
        "_thnn_nll_loss_forward")
    assert "scalar-type" in families("Expected object of scalar type Float but got scalar type Long for argument #2 'target'")
    assert "not-implemented-dtype" in families("\"host_softmax\" not implemented for 'torch.LongTensor'") or \
        "not-implemented-dtype" in families("\"host_softmax\" not implemented for 'Long'")
    assert "unbatched-target-size" in families("For 1D input, 1D target must have size 1, but got target size: 8")


# --- hard negatives -------------------------------------------------------------------------------------------

def test_class_index_int64_target_then_unrelated_error(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        criterion = nn.CrossEntropyLoss(weight=torch.tensor([1.0, 2.0, 0.5]), label_smoothing=0.1)
        logits = torch.randn(4, 3, requires_grad=True)
        labels = torch.tensor([0, 2, 1, 1])
        loss = criterion(logits, labels)
        loss.backward()
        accuracy = (logits.argmax(dim=1) == labels).float().mean()
        print(undefined_name)
    ''')
    assert not run.success and "NameError" in run.out and "nllhint" not in run.out


def test_dtype_error_outside_any_loss_gets_no_hint(ipython):
    run = ipython.run('''
        import numpy as np, torch, torch.nn as nn
        model = nn.Linear(3, 2)
        x = torch.from_numpy(np.random.rand(4, 3))   # float64 into a float32 model: not a loss problem
        logits = model(x)
    ''')
    assert not run.success and "nllhint" not in run.out


def test_correct_bce_and_uint8_masks_get_no_hint(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn, torch.nn.functional as F
        logits = torch.randn(2, 3, 4, 4, requires_grad=True)
        masks = torch.randint(0, 3, (2, 4, 4), dtype=torch.uint8)
        loss = F.cross_entropy(logits, masks) + nn.BCEWithLogitsLoss()(logits, torch.rand(2, 3, 4, 4))
        loss.backward()
        raise RuntimeError("expected scalar type Long but found Float")   # the user's own error text
    ''')
    assert not run.success and "nllhint" not in run.out


def test_argmax_in_an_unrelated_function_is_not_taken_as_the_origin(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        def accuracy(out, y):
            preds = out.argmax(1)
            return (preds == y).float().mean()
        preds = torch.tensor([0, 2, 1, 1])
        loss = nn.CrossEntropyLoss()(preds, torch.tensor([0, 2, 2, 1]))
    ''')
    assert "NLH260" in run.out and "looks like predicted classes" in run.out
    assert "(out, " not in run.out
