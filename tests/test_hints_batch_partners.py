"""Fix lines for hints that used to stop at advice: labels of another batch are replaced by the labels the
code unpacks together with the inputs (``for x_batch, y_batch in loader``), annotator counts given to
CrossEntropyLoss become the probabilities the message asks for, and a score vector reduced to one number
(``best = scores.max()``) is passed whole. Where the code does not say which tensor is meant, there is still
no fix line."""

import pytest


@pytest.fixture(autouse=True)
def _new_notebook(ipython):
    ipython.fresh_namespace()
    yield
    ipython.fresh_namespace()


def hint_part(out: str) -> str:
    return out[out.index("\nnllhint "):]


def test_labels_of_the_whole_dataset_in_a_batch_loop(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        from torch.utils.data import DataLoader, TensorDataset

        X, y = torch.randn(100, 20), torch.randint(0, 3, (100,))
        loader = DataLoader(TensorDataset(X, y), batch_size=25)
        model, criterion = nn.Linear(20, 3), nn.CrossEntropyLoss()
        for x_batch, y_batch in loader:
            outputs = model(x_batch)
            loss = criterion(outputs, y)
    ''')
    assert not run.success and "Expected input batch_size (25) to match target batch_size (100)" in run.out
    hint = hint_part(run.out)
    assert "NLH303" in hint and "`y_batch`, unpacked together with the inputs, has 25." in " ".join(hint.split())
    assert "\n  fix\n    loss = criterion(outputs, y_batch)\n" in hint


def test_two_label_tensors_unpacked_with_the_inputs_give_no_fix(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        model = nn.Linear(20, 3)
        X, y = torch.randn(100, 20), torch.randint(0, 3, (100,))
        x_batch, y_batch, y_aux = X[:30], y[:30], y[30:60]
        loss = nn.CrossEntropyLoss()(model(x_batch), y)
    ''')
    hint = hint_part(run.out)
    assert "NLH303" in hint and "\n  fix\n" not in hint


def test_multi_margin_labels_of_another_batch(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        svm = nn.MultiMarginLoss()
        batches = [(torch.randn(5, 10), torch.randint(0, 10, (5,))) for _ in range(3)]
        labels = torch.randint(0, 10, (3,))
        for feats, targets in batches:
            loss = svm(feats, labels)
    ''')
    assert "NLH335" in run.out and "\n  fix\n    loss = svm(feats, targets)\n" in hint_part(run.out)


def test_annotator_counts_become_probabilities(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        model = nn.Linear(12, 3)
        features = torch.randn(6, 12)
        # three annotators per image; each row counts the votes per class
        vote_counts = torch.tensor([[3, 0, 0], [1, 2, 0], [0, 0, 3], [2, 1, 0], [0, 3, 0], [1, 1, 1]])
        loss = nn.CrossEntropyLoss()(model(features), vote_counts)
    ''')
    assert not run.success and "Expected floating point type for target with class probabilities" in run.out
    hint = hint_part(run.out)
    assert "NLH580" in hint
    assert ("loss = nn.CrossEntropyLoss()(model(features), vote_counts.float() / vote_counts.sum(dim=1, "
            "keepdim=True))") in " ".join(hint.split())


def test_integer_rows_that_are_not_counts_keep_no_fix_line(ipython):
    """Rows with negative entries are no counts: which form was meant is not in the data, so no fix line."""
    run = ipython.run('''
        import torch, torch.nn as nn
        scores = torch.randn(4, 3)
        shifts = torch.tensor([[-1, 0, 1], [1, -1, 0], [0, 1, -1], [1, 0, -1]])
        loss = nn.CrossEntropyLoss()(scores, shifts)
    ''')
    hint = hint_part(run.out)
    assert "NLH580" in hint and "\n  fix\n" not in hint


def test_a_score_vector_reduced_to_one_number_is_passed_whole(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn, torch.nn.functional as F
        classifier = nn.Linear(8, 4)
        features, label = torch.randn(8), torch.tensor(3)
        log_probs = F.log_softmax(classifier(features), dim=0)
        top = log_probs.max()
        loss = F.nll_loss(top, label)
    ''')
    assert not run.success and "NLH584" in run.out
    hint = hint_part(run.out)
    assert "It was reduced from `log_probs`." in " ".join(hint.split())
    assert "\n  fix\n    loss = F.nll_loss(log_probs, label)\n" in hint


def test_a_scalar_that_was_not_reduced_from_scores_gets_no_fix_line(ipython):
    run = ipython.run('''
        import torch, torch.nn.functional as F
        confidence = torch.tensor(0.7)
        loss = F.nll_loss(confidence, torch.tensor(1))
    ''')
    hint = hint_part(run.out)
    assert "NLH584" in hint and "\n  fix\n" not in hint
