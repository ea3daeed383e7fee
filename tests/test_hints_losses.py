"""Hints for the losses beyond CE/NLL/BCE, as users meet them: metric learning (triplet, cosine, ranking,
hinge), GaussianNLLLoss's var, the margin losses, AdaptiveLogSoftmaxWithLoss and F.linear_cross_entropy.

Cells are written the way the bug reports show them: losses built in a model's ``__init__``, training loops
over a DataLoader, keyword and positional calls. Correct code and errors that are not the loss's get nothing.
"""

import pytest


@pytest.fixture(autouse=True)
def _new_notebook(ipython):
    """Each test is its own notebook: no DataLoader or model of another test is in sight (or left behind)."""
    ipython.fresh_namespace()
    yield
    ipython.fresh_namespace()


SIAMESE = '''
    import torch, torch.nn as nn
    from torch.utils.data import DataLoader, TensorDataset

    class EmbeddingNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 16))
        def forward(self, x):
            return self.body(x)

    net = EmbeddingNet()
    criterion = nn.TripletMarginLoss(margin=0.3)
    triplets = TensorDataset(torch.randn(40, 32), torch.randn(40, 32), torch.randn(40, 32))
    loader = DataLoader(triplets, batch_size=8)
'''


def test_triplet_negative_never_embedded(ipython):
    run = ipython.run(SIAMESE + '''
    for anchor, positive, negative in loader:
        loss = criterion(net(anchor), net(positive), negative)
    ''')
    assert not run.success and "must match the size of tensor b" in run.out
    assert "NLH320" in run.out and "`negative` has 32 features" in run.out
    assert "loss = criterion(net(anchor), net(positive), net(negative))" in run.out


def test_triplet_keyword_call_with_a_projection_of_another_width(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn, torch.nn.functional as F
        proj_a, proj_b = nn.Linear(64, 128), nn.Linear(64, 96)
        x_a, x_p, x_n = torch.randn(4, 64), torch.randn(4, 64), torch.randn(4, 64)
        loss = F.triplet_margin_loss(anchor=proj_a(x_a), positive=proj_b(x_p), negative=proj_a(x_n), margin=1.0)
    ''')
    assert not run.success
    assert "NLH320" in run.out and "`proj_b(x_p)` has 96 features" in run.out and "128" in run.out


def test_triplet_with_distance_function_names_the_users_lambda(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn, torch.nn.functional as F
        cosine_distance = lambda a, b: 1.0 - F.cosine_similarity(a, b)
        criterion = nn.TripletMarginWithDistanceLoss(distance_function=cosine_distance, margin=0.2)
        text, image, other = torch.randn(8, 256), torch.randn(8, 512), torch.randn(8, 256)
        loss = criterion(text, image, other)
    ''')
    assert not run.success
    assert "NLH320" in run.out and "`image` has 512 features" in run.out and "<lambda>" in run.out


def test_distance_function_given_as_the_class(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        criterion = nn.TripletMarginWithDistanceLoss(distance_function=nn.PairwiseDistance, margin=1.0)
        a, p, n = torch.randn(8, 16), torch.randn(8, 16), torch.randn(8, 16)
        loss = criterion(a, p, n)
    ''')
    assert not run.success and "PairwiseDistance" in run.out
    assert "NLH323" in run.out and "distance_function=nn.PairwiseDistance()" in run.out


def test_triplet_batches_of_different_sizes(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        emb = torch.randn(20, 8)
        anchors, positives, negatives = emb[:10], emb[10:20], emb[:7]
        loss = nn.TripletMarginLoss()(anchors, positives, negatives)
    ''')
    assert not run.success
    assert "NLH321" in run.out and "`negatives` has 7 rows" in run.out


def test_several_negatives_per_anchor(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        anchor, positive = torch.randn(8, 32), torch.randn(8, 32)
        hard_negatives = torch.randn(8, 4, 32)
        loss = nn.TripletMarginLoss()(anchor, positive, hard_negatives)
    ''')
    assert not run.success and "same number of dimensions" in run.out
    assert "NLH322" in run.out
    assert "nn.TripletMarginLoss()(anchor.unsqueeze(1), positive.unsqueeze(1), hard_negatives)" in run.out


def test_torch_refs_triplet_gets_the_same_hint(ipython):
    run = ipython.run('''
        import torch
        import torch._refs.nn.functional as refs
        anchor, positive, negative = torch.randn(3, 4), torch.randn(3, 5), torch.randn(3, 4)
        loss = refs.triplet_margin_loss(anchor, positive, negative)
    ''')
    assert not run.success
    assert "NLH320" in run.out and "`positive` has 5 features" in run.out


def test_cosine_embedding_target_as_a_column(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        criterion = nn.CosineEmbeddingLoss(margin=0.5)
        q, d = torch.randn(16, 128), torch.randn(16, 128)
        labels = (torch.rand(16, 1) > 0.5).float() * 2 - 1
        loss = criterion(q, d, labels)
    ''')
    assert not run.success and "multi-target not supported" in run.out
    assert "NLH324" in run.out and "loss = criterion(q, d, labels.squeeze(1))" in run.out


def test_cosine_embedding_target_built_for_a_full_batch(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        from torch.utils.data import DataLoader, TensorDataset
        loader = DataLoader(TensorDataset(torch.randn(50, 64), torch.randn(50, 64)), batch_size=16)
        target = torch.ones(16)
        criterion = nn.CosineEmbeddingLoss()
        for a, b in loader:
            loss = criterion(a, b, target)
    ''')
    assert not run.success
    assert "NLH327" in run.out and "loss = criterion(a, b, torch.ones(a.size(0)))" in run.out


def test_cosine_embedding_on_token_sequences(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        enc = nn.GRU(16, 32, batch_first=True)
        out_a, _ = enc(torch.randn(4, 9, 16))
        out_b, _ = enc(torch.randn(4, 9, 16))
        loss = nn.CosineEmbeddingLoss()(out_a, out_b, torch.ones(4))
    ''')
    assert not run.success
    assert "NLH325" in run.out and "out_a.mean(1)" in run.out and "(4, 9, 32)" in run.out


def test_margin_ranking_single_target_against_score_columns(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        class Ranker(nn.Module):
            def __init__(self):
                super().__init__()
                self.score = nn.Linear(10, 1)
                self.loss_func = nn.MarginRankingLoss(margin=1.0)
            def forward(self, pos, neg):
                p_score, n_score = self.score(pos), self.score(neg)
                y = torch.Tensor([1])
                return self.loss_func(p_score, n_score, y)
        loss = Ranker()(torch.randn(32, 10), torch.randn(32, 10))
    ''')
    assert not run.success and "should have same dimension" in run.out
    assert "NLH328" in run.out and "self.loss_func(p_score, n_score, torch.ones_like(p_score))" in run.out


def test_hinge_embedding_on_a_difference_of_embeddings(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        e1, e2 = torch.randn(8, 4), torch.randn(8, 4)
        y = torch.tensor([1., -1., 1., 1., -1., -1., 1., -1.])
        loss = nn.HingeEmbeddingLoss()(e1 - e2, y)
    ''')
    assert not run.success
    assert "NLH329" in run.out and "F.pairwise_distance(e1, e2)" in run.out


@pytest.mark.parametrize("var_expr,expect", [
    ("torch.full((3,), 0.5)", "noise.unsqueeze(0)"),              # one variance per output dimension
    ("torch.rand(3, 32) + 0.1", "noise.reshape(mean.shape)"),     # per prediction, transposed
    ("torch.rand(1, 1) + 0.1", "noise.expand_as(mean)"),          # one for all
    ("torch.rand(32 * 3) + 0.1", "noise.reshape(mean.shape)"),    # per prediction, flattened
])
def test_gaussian_var_shapes_say_which_form_was_meant(ipython, var_expr, expect):
    run = ipython.run(f'''
        import torch, torch.nn as nn
        criterion = nn.GaussianNLLLoss()
        mean, target = torch.randn(32, 3), torch.randn(32, 3)
        noise = {var_expr}
        loss = criterion(mean, target, noise)
    ''')
    assert not run.success and "var is of incorrect size" in run.out
    assert "NLH550" in run.out and expect in run.out
    assert "(32, 3), (32, 1), (32,) or a float" in run.out


def test_gaussian_var_column_for_a_1d_mean(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        head = nn.Linear(8, 2)
        out = head(torch.randn(16, 8))
        mu, var = out[:, 0], nn.functional.softplus(out[:, 1:])
        loss = nn.GaussianNLLLoss()(mu, torch.randn(16), var)
    ''')
    assert not run.success
    assert "NLH550" in run.out and "var.reshape(mu.shape)" in run.out


def test_gaussian_var_as_an_int(ipython):
    run = ipython.run('''
        import torch, torch.nn.functional as F
        loss = F.gaussian_nll_loss(torch.randn(10, 2), torch.randn(10, 2), var=1)
    ''')
    assert not run.success
    assert "NLH551" in run.out and "var=1.0)" in run.out


def test_multilabel_margin_single_labels_are_padded(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        scores = torch.randn(6, 5, requires_grad=True)
        y = torch.tensor([0, 3, 1, 4, 2, 2])
        loss = nn.MultiLabelMarginLoss()(scores, y)
    ''')
    assert not run.success
    assert "NLH332" in run.out and "F.pad(y.unsqueeze(1), (0, 4), value=-1)" in run.out


def test_multilabel_margin_given_multi_hot_rows(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        scores = torch.randn(4, 6)
        tags = torch.tensor([[1, 0, 1, 0, 0, 0], [0, 1, 1, 1, 0, 0], [1, 0, 0, 0, 0, 1], [0, 0, 0, 1, 1, 0]]).float()
        loss = nn.MultiLabelMarginLoss()(scores, tags)
    ''')
    assert not run.success
    assert "NLH258" in run.out and "multi-hot" in run.out


def test_multi_margin_one_hot_target(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn, torch.nn.functional as F
        criterion = nn.MultiMarginLoss(margin=1.0)
        scores, y = torch.randn(8, 4), torch.randint(0, 4, (8,))
        loss = criterion(scores, F.one_hot(y, 4))
    ''')
    assert not run.success
    assert "NLH330" in run.out and "criterion(scores, F.one_hot(y, 4).argmax(dim=1))" in run.out


def test_adaptive_softmax_cutoffs_include_n_classes(ipython):
    run = ipython.run('''
        import torch.nn as nn
        n_tokens = 20000
        class LM(nn.Module):
            def __init__(self):
                super().__init__()
                self.rnn = nn.LSTM(128, 256, batch_first=True)
                self.asm = nn.AdaptiveLogSoftmaxWithLoss(256, n_tokens, cutoffs=[2000, 10000, n_tokens])
        model = LM()
    ''')
    assert not run.success and "cutoffs should be" in run.out
    assert "NLH560" in run.out and "cutoffs=[2000, 10000]" in run.out


def test_adaptive_softmax_in_a_language_model_loop(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        emb, rnn = nn.Embedding(500, 32), nn.LSTM(32, 64, batch_first=True)
        asm = nn.AdaptiveLogSoftmaxWithLoss(64, 500, cutoffs=[50, 200])
        batches = [torch.randint(0, 500, (4, 13)) for _ in range(2)]
        for tokens in batches:
            hidden, _ = rnn(emb(tokens[:, :-1]))
            out = asm(hidden, tokens[:, 1:])
            out.loss.backward()
    ''')
    assert not run.success
    assert "NLH561" in run.out and "asm(hidden.reshape(-1, 64), tokens[:, 1:].reshape(-1))" in run.out


def test_linear_cross_entropy_in_cross_entropy_order(ipython):
    import torch.nn.functional as F

    if not hasattr(F, "linear_cross_entropy"):
        pytest.skip("this torch has no F.linear_cross_entropy")
    run = ipython.run('''
        import torch, torch.nn as nn, torch.nn.functional as F
        lm_head = nn.Linear(32, 100, bias=False)
        hidden, labels = torch.randn(16, 32), torch.randint(0, 100, (16,))
        loss = F.linear_cross_entropy(hidden, labels, lm_head.weight)
    ''')
    assert not run.success
    assert "NLH566" in run.out and "F.linear_cross_entropy(hidden, lm_head.weight, labels)" in run.out


def test_regression_weight_per_sample(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn, torch.nn.functional as F
        model = nn.Linear(5, 2)
        x, y, w = torch.randn(10, 5), torch.randn(10, 2), torch.rand(10)
        loss = F.l1_loss(model(x), y, weight=w)
    ''')
    assert not run.success and "Weights and input must have the same size" in run.out
    assert "NLH554" in run.out and "weight=w.unsqueeze(1).expand_as(model(x))" in run.out


# --- no hint where the loss is not the problem --------------------------------------------------------

def test_a_bug_inside_the_users_distance_function_gets_no_hint(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        scale = torch.ones(5)
        def weighted_distance(x, y):
            return ((x - y) ** 2 * scale).sum(1)      # scale has the wrong length: the user's own bug
        criterion = nn.TripletMarginWithDistanceLoss(distance_function=weighted_distance)
        a, p, n = torch.randn(4, 8), torch.randn(4, 8), torch.randn(4, 8)
        loss = criterion(a, p, n)
    ''')
    assert not run.success and "must match the size of tensor b" in run.out
    assert "nllhint" not in run.out


def test_a_name_error_inside_the_distance_function_gets_no_hint(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        criterion = nn.TripletMarginWithDistanceLoss(distance_function=lambda x, y: undefined_helper(x, y))
        a, p, n = torch.randn(4, 8), torch.randn(4, 8), torch.randn(4, 8)
        loss = criterion(a, p, n)
    ''')
    assert not run.success and "NameError" in run.out
    assert "nllhint" not in run.out


def test_correct_calls_of_these_losses_raise_nothing(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn, torch.nn.functional as F
        a, p, n = torch.randn(8, 16), torch.randn(8, 16), torch.randn(8, 16)
        nn.TripletMarginLoss()(a, p, n)
        nn.TripletMarginLoss()(a.unsqueeze(1), p.unsqueeze(1), torch.randn(8, 4, 16))
        nn.TripletMarginWithDistanceLoss(distance_function=nn.PairwiseDistance())(a, p, n)
        nn.CosineEmbeddingLoss()(a, p, torch.ones(8))
        nn.MarginRankingLoss()(a[:, 0], p[:, 0], -torch.ones(8))
        nn.GaussianNLLLoss()(a, p, torch.ones(8, 1))
        nn.GaussianNLLLoss()(a, p, torch.ones(8))
        nn.GaussianNLLLoss()(a, p, 0.5)
        nn.MultiLabelMarginLoss()(a[:, :4], torch.tensor([[3, 0, -1, 1]] * 8))
        nn.AdaptiveLogSoftmaxWithLoss(16, 30, cutoffs=[10, 20])(a, torch.randint(0, 30, (8,)))
    ''')
    assert run.success, run.out
    assert "nllhint" not in run.out


def test_cosine_embedding_on_per_token_features_with_one_target(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        cosine = nn.CosineEmbeddingLoss()
        output = {"s_l": torch.randn(46, 16, 50), "c_l": torch.randn(46, 16, 50)}
        sim = cosine(output["s_l"], output["c_l"], torch.tensor([-1])).mean(0)
    ''')
    assert not run.success and "1D target tensor expects 2D input tensors" in run.out
    assert "NLH325" in run.out
    assert 'output["s_l"].reshape(-1, 50), output["c_l"].reshape(-1, 50)' in run.out


def test_gaussian_var_shared_over_spatial_axes(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        loss_fn = nn.GaussianNLLLoss()
        pred, target = torch.randn(4, 3, 8, 8), torch.randn(4, 3, 8, 8)
        var = torch.rand(4, 3, 1, 1) + 0.1     # one variance per image and channel
        loss = loss_fn(pred, target, var)
    ''')
    assert not run.success and "var is of incorrect size" in run.out
    assert "NLH550" in run.out and "loss_fn(pred, target, var.expand_as(pred))" in run.out


@pytest.mark.parametrize("loss,args", [("CrossEntropyLoss", "logits, labels"), ("MSELoss", "pred, target"),
                                       ("TripletMarginLoss", "anchor, positive, negative")])
def test_tensors_given_to_the_constructor(ipython, loss, args):
    run = ipython.run(f'''
        import torch, torch.nn as nn
        logits, labels = torch.randn(8, 5), torch.randint(0, 5, (8,))
        pred, target = torch.randn(8, 5), torch.randn(8, 5)
        anchor, positive, negative = torch.randn(8, 5), torch.randn(8, 5), torch.randn(8, 5)
        for step in range(2):
            loss = nn.{loss}({args})
    ''')
    assert not run.success and "value of Tensor with more than one value is ambiguous" in run.out
    assert "NLH590" in run.out and f"loss = nn.{loss}()({args})" in run.out


def test_multi_margin_padding_label_is_not_given_an_ignore_index(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        svm_loss = nn.MultiMarginLoss(margin=1.0)
        scores = torch.randn(6, 4)
        labels = torch.tensor([0, -1, 2, 3, -1, 1])     # -1: unlabeled samples
        loss = svm_loss(scores, labels)
    ''')
    assert not run.success and "target out of range" in run.out
    assert "NLH102" in run.out and "has no" in run.out and "ignore_index" in run.out
    assert "loss = svm_loss(scores[keep], labels[keep])" in run.out
    assert "MultiMarginLoss(ignore_index" not in run.out


def test_packed_triplets_in_a_batch_not_divisible_by_3(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        from torch.utils.data import DataLoader, TensorDataset
        net = nn.Linear(10, 4)
        loader = DataLoader(TensorDataset(torch.randn(100, 10)), batch_size=32)
        criterion = nn.TripletMarginLoss()
        for (x,) in loader:
            emb = net(x)
            loss = criterion(emb[0::3], emb[1::3], emb[2::3])
    ''')
    assert not run.success
    assert "NLH321" in run.out and "not a multiple of 3" in run.out and "drop_last=True" in run.out


def test_adaptive_softmax_flat_features_with_2d_targets(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        asm = nn.AdaptiveLogSoftmaxWithLoss(32, 300, cutoffs=[30, 100])
        hidden = torch.randn(6, 10, 32).view(-1, 32)
        targets = torch.randint(0, 300, (6, 10))
        out = asm(hidden, targets)
    ''')
    assert not run.success
    assert "NLH561" in run.out and "out = asm(hidden, targets.reshape(-1))" in run.out


def test_dataset_item_label_without_a_dataloader(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        from torch.utils.data import TensorDataset
        data = TensorDataset(torch.randn(20, 6), torch.randint(0, 3, (20,)))
        model, criterion = nn.Linear(6, 3), nn.CrossEntropyLoss()
        x, y = data[0]
        loss = criterion(model(x.unsqueeze(0)), y.item())
    ''')
    assert not run.success and "must be Tensor, not int" in run.out
    assert "NLH591" in run.out and "torch.tensor([y.item()])" in run.out


def test_numpy_labels_for_cross_entropy(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn, numpy as np
        logits = torch.randn(4, 3)
        labels = np.array([0, 2, 1, 1])
        loss = nn.CrossEntropyLoss()(logits, labels)
    ''')
    assert not run.success
    assert "NLH591" in run.out and "torch.as_tensor(labels).long()" in run.out


def test_reduction_passed_to_the_call_inside_a_training_step(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        class Trainer:
            def __init__(self):
                self.model = nn.Linear(6, 3)
                self.criterion = nn.CrossEntropyLoss()
            def step(self, x, y):
                losses = self.criterion(self.model(x), y, reduction='none')
                return losses.mean()
        Trainer().step(torch.randn(5, 6), torch.randint(0, 3, (5,)))
    ''')
    assert not run.success and "unexpected keyword argument 'reduction'" in run.out
    assert "NLH592" in run.out and "self.criterion = nn.CrossEntropyLoss(reduction='none')" in run.out
    assert "losses = self.criterion(self.model(x), y)" in run.out


def test_an_unrelated_type_error_stays_untouched(ipython):
    run = ipython.run('''
        def accuracy(pred, target):
            return (pred == target).float().mean()
        accuracy(1, 2, 3)
    ''')
    assert not run.success and "takes 2 positional arguments but 3 were given" in run.out
    assert "nllhint" not in run.out


def test_every_torch_loss_module_has_a_documented_example():
    """docs/rules.md shows each rule's first example: every loss class torch.nn ships appears in one, as a
    module or in its functional form (the deprecated NLLLoss2d aside)."""
    import re
    from pathlib import Path

    import torch.nn as nn

    from nllhint.contracts import by_module

    page = (Path(__file__).resolve().parent.parent / "docs" / "rules.md").read_text()
    examples = "\n".join(re.findall(r"### Example\n\n```python\n(.*?)```", page, re.S))
    losses = [name for name in dir(nn) if name.endswith("Loss") and isinstance(getattr(nn, name), type)]
    missing = [name for name in losses if f"nn.{name}(" not in examples
               and not (by_module(name) and f"F.{by_module(name).name}(" in examples)]
    assert len(losses) >= 20 and not missing, missing
