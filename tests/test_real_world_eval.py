"""Cases from the blind evaluation on real users' reports (each test names its report): the hint a user
sees for them, and torch's own warnings from a watched loss naming the user's line."""

from __future__ import annotations

import warnings

import pytest


def _hint(out: str) -> str:
    """The hint's text (from its first line on), with the line wrapping undone."""
    return " ".join(out[out.index("nllhint "):].split()) if "nllhint " in out else ""


# --- torch's warnings from inside a watched loss name the user's line ------------------------------------

BROADCAST_CELL = """\
import torch, warnings
import torch.nn.functional as F
warnings.warn("marker")
pred, y = torch.randn(8, 1), torch.randn(8)
for step in range(3):
    loss = F.mse_loss(pred, y)
"""


def _warnings_of(ipython, cell: str):
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("default")
        run = ipython.run(cell)
    assert run.success, run.out
    return [w for w in seen if w.category is UserWarning]


@pytest.mark.parametrize("prefix", ["", "%%losscheck\n"], ids=["default-mode", "losscheck"])
def test_mse_broadcast_warning_names_the_cell_line_once(ipython, prefix):
    seen = _warnings_of(ipython, prefix + BROADCAST_CELL)
    marker = next(w for w in seen if str(w.message) == "marker")
    loss_warnings = [w for w in seen if "target size" in str(w.message)]
    assert len(loss_warnings) == 1, [warnings.formatwarning(w.message, w.category, w.filename, w.lineno)
                                     for w in loss_warnings]
    shown = loss_warnings[0]
    assert (shown.filename, shown.lineno) == (marker.filename, marker.lineno + 3)
    assert "nllhint" not in shown.filename
    assert str(shown.message) == ("Using a target size (torch.Size([8])) that is different to the input size "
                                  "(torch.Size([8, 1])). This will likely lead to incorrect results due to "
                                  "broadcasting. Please ensure they have the same size.")


def test_always_filter_still_shows_every_call_at_the_cell_line(ipython):
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        run = ipython.run("%%losscheck\n" + BROADCAST_CELL)
    assert run.success, run.out
    marker = next(w for w in seen if str(w.message) == "marker")
    shown = [(w.filename, w.lineno) for w in seen if "target size" in str(w.message)]
    assert shown == [(marker.filename, marker.lineno + 3)] * 3


def test_error_filter_raises_at_the_cell_line(ipython):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run = ipython.run(BROADCAST_CELL.replace('warnings.warn("marker")\n', ""))
    assert not run.success and "UserWarning: Using a target size" in run.out
    assert "nllhint/watcher.py" not in run.out


def test_warnings_from_several_threads_each_name_their_line():
    import threading

    import torch
    import torch.nn.functional as F

    import nllhint

    hook = warnings._showwarnmsg
    pred, y = torch.randn(8, 1), torch.randn(8)

    def training_thread():
        for step in range(50):
            F.mse_loss(pred, y)

    def logging_thread():
        for step in range(50):
            warnings.warn("progress")

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with nllhint.watch():
            threads = [threading.Thread(target=training_thread) for _ in range(3)]
            threads.append(threading.Thread(target=logging_thread))
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        assert warnings._showwarnmsg is hook  # nothing of nllhint's left in the warnings module
    lines = {(w.filename, w.lineno) for w in seen if "target size" in str(w.message)}
    code = training_thread.__code__
    assert lines == {(code.co_filename, code.co_firstlineno + 2)}
    assert sum("target size" in str(w.message) for w in seen) == 150
    assert sum(str(w.message) == "progress" for w in seen) == 50


def test_kldiv_mean_warning_names_the_cell_line(ipython):
    seen = _warnings_of(ipython, """\
        import torch, warnings
        import torch.nn as nn
        warnings.warn("marker")
        log_p, q = torch.randn(4, 5).log_softmax(-1), torch.randn(4, 5).softmax(-1)
        for step in range(2):
            loss = nn.KLDivLoss()(log_p, q)
        """)
    marker = next(w for w in seen if str(w.message) == "marker")
    shown = [w for w in seen if "batchmean" in str(w.message)]
    assert len(shown) == 1
    # as without nllhint: the frame that called F.kl_div, i.e. torch's KLDivLoss.forward, never nllhint's
    assert "nllhint" not in shown[0].filename and shown[0].filename.endswith("loss.py")
    assert marker.filename != shown[0].filename


def test_a_second_line_with_the_same_warning_is_shown_at_its_own_line(ipython):
    seen = _warnings_of(ipython, "%%losscheck\n" + BROADCAST_CELL + "loss = F.mse_loss(pred, y)\n")
    marker = next(w for w in seen if str(w.message) == "marker")
    lines = [w.lineno - marker.lineno for w in seen if "target size" in str(w.message)]
    assert lines == [3, 4]


# --- exception hints ---------------------------------------------------------------------------------------

def test_backward_on_an_unreduced_ranking_loss_call(ipython):
    """github.com/dillondavis/RecurrentAttentionConvolutionalNeuralNetwork/issues/4"""
    run = ipython.run("""\
        import torch, torch.nn as nn
        criterion_rank = nn.MarginRankingLoss(margin=0.05, reduction='none')
        scores1 = torch.rand(32, requires_grad=True)
        scores2 = torch.rand(32, requires_grad=True)
        label = -torch.ones(32)
        criterion_rank(scores1, scores2, label).backward()
        """)
    hint = _hint(run.out)
    assert "[backward-nonscalar]" in hint and "MarginRankingLoss" in hint
    assert "criterion_rank(scores1, scores2, label).mean().backward()" in hint


def test_backward_on_a_named_unreduced_ranking_loss(ipython):
    run = ipython.run("""\
        import torch, torch.nn as nn
        criterion_rank = nn.MarginRankingLoss(margin=0.05, reduction='none')
        scores1, scores2 = torch.rand(32, requires_grad=True), torch.rand(32, requires_grad=True)
        loss = criterion_rank(scores1, scores2, -torch.ones(32))
        loss.backward()
        """)
    hint = _hint(run.out)
    assert "MarginRankingLoss without reduction" in hint and "loss.mean().backward()" in hint


def test_decoder_one_step_short_is_not_called_another_batch(ipython):
    """github.com/gauthierdmn/question_generation/issues/4"""
    run = ipython.run("""\
        import torch, torch.nn as nn
        vocab, B, T = 12, 4, 5
        pred = torch.randn(B, T - 1, vocab).log_softmax(-1)   # decoder skips the first token
        question = torch.randint(0, vocab, (B, T))
        criterion = nn.NLLLoss()
        loss = criterion(pred.view(-1, pred.size(2)), question.view(-1))
        """)
    hint = _hint(run.out)
    assert "[batch-mismatch]" in hint and "one step short" in hint
    assert "not come from the same batch" not in hint
    assert "question[:, 1:].reshape(-1)" in hint and "16 = 4 x 4" in hint


def test_predictions_one_step_longer_than_the_labels(ipython):
    run = ipython.run("""\
        import torch, torch.nn as nn
        with torch.no_grad():
            pred = torch.randn(4, 6, 12)
        question = torch.randint(0, 12, (4, 5))
        loss = nn.CrossEntropyLoss()(pred.reshape(-1, 12), question.reshape(-1))
        """)
    hint = _hint(run.out)
    assert "one step too many" in hint and "pred[:, :-1].reshape(-1, pred.size(-1))" in hint


def test_gaussian_nll_evidence_says_real_values_and_fixes_var(ipython):
    """github.com/pytorch/pytorch/issues/147521"""
    run = ipython.run("""\
        import torch, torch.nn as nn
        loss = nn.GaussianNLLLoss()
        mu = torch.randn(4, 3, 8)
        target = torch.randn(4, 3, 8)
        var = torch.rand(4, 8) + 0.1
        l = loss(mu, target, var)
        """)
    hint = _hint(run.out)
    assert "[shape-mismatch]" in hint and "logits" not in hint
    assert "mu float32[4, 3, 8] real values" in hint
    assert "l = loss(mu, target, var.unsqueeze(1).expand_as(mu))" in hint


def test_mse_on_vectors_calls_them_real_values_not_logits(ipython):
    run = ipython.run("""\
        import torch, torch.nn as nn
        pred, y = torch.randn(16, 4), torch.randn(16, 3)
        loss = nn.MSELoss()(pred, y)
        """)
    hint = _hint(run.out)
    assert hint and "logits" not in hint and "real values" in hint


def test_cosine_embedding_evidence_names_embeddings_and_sign_labels(ipython):
    run = ipython.run("""\
        import torch, torch.nn as nn
        img_emb, rec_emb = torch.randn(8, 16), torch.randn(8, 16)
        y = torch.ones(6)
        loss = nn.CosineEmbeddingLoss()(img_emb, rec_emb, y)
        """)
    hint = _hint(run.out)
    assert hint and "logits" not in hint and "multi-hot" not in hint


def test_fixed_batch_size_argument_in_the_models_reshape(ipython):
    """github.com/xinge008/Cylinder3D/issues/58"""
    run = ipython.run("""\
        import torch, torch.nn as nn, torch.nn.functional as F
        class SegModel(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 20)
            def forward(self, pt_fea, batch_size):
                return self.fc(pt_fea).view(batch_size, -1, 20).permute(0, 2, 1)
        my_model = SegModel()
        train_batch_size = 6
        val_pt_fea = torch.randn(2 * 6 * 10, 4)          # last batch: 2 scenes, 60 points each
        val_label_tensor = torch.randint(0, 20, (2, 60))
        predict_labels = my_model(val_pt_fea, train_batch_size)
        loss = F.cross_entropy(predict_labels, val_label_tensor)
        """)
    hint = _hint(run.out)
    assert "[batch-mismatch]" in hint and "fixed batch size (batch_size = 6)" in hint
    assert "predict_labels = my_model(val_pt_fea, val_label_tensor.shape[0])" in hint
    assert "drop_last=True" in hint and "view(-1, k)" not in hint


def test_fixed_batch_size_attribute_in_the_models_reshape(ipython):
    run = ipython.run("""\
        import torch, torch.nn as nn, torch.nn.functional as F
        class SegModel(nn.Module):
            def __init__(self, batch_size):
                super().__init__()
                self.batch_size = batch_size
                self.fc = nn.Linear(4, 20)
            def forward(self, pt_fea):
                x = self.fc(pt_fea)
                return x.view(self.batch_size, -1, 20).permute(0, 2, 1)
        model = SegModel(batch_size=6)
        pts, labels = torch.randn(120, 4), torch.randint(0, 20, (2, 60))
        loss = F.cross_entropy(model(pts), labels)
        """)
    hint = _hint(run.out)
    assert "fixed batch size (self.batch_size = 6)" in hint
    assert "x.view(x.size(0), -1, 20)" in hint and "drop_last=True" in hint


def test_int64_class_id_given_to_a_per_frame_bce(ipython):
    """github.com/dxli94/WLASL/issues/18"""
    run = ipython.run("""\
        import torch, torch.nn.functional as F
        per_frame_logits = torch.randn(1, 100, 75, requires_grad=True)
        labels = torch.tensor([42])
        loc_loss = F.binary_cross_entropy_with_logits(per_frame_logits, labels)
        """)
    hint = _hint(run.out)
    assert "[shape-mismatch]" in hint and "`labels` holds class id 42 (int64)" in hint
    assert ("F.one_hot(labels, num_classes=100).float().unsqueeze(-1).expand_as(per_frame_logits)" in hint)
    assert "F.cross_entropy(per_frame_logits, labels.view(-1, 1).expand(-1, 75))" in hint


def test_class_ids_given_to_mse(ipython):
    run = ipython.run("""\
        import torch, torch.nn as nn
        model = nn.Linear(20, 10)
        x, labels = torch.randn(16, 20), torch.randint(0, 10, (16,))
        loss = nn.MSELoss()(model(x), labels)
        """)
    hint = _hint(run.out)
    assert "`labels` holds class indices" in hint
    assert "nn.CrossEntropyLoss()(model(x), labels.long())" in hint
    assert "F.one_hot(labels, num_classes=10).float()" in hint


def test_matching_per_frame_one_hot_targets_get_no_hint(ipython):
    run = ipython.run("""\
        import torch, torch.nn.functional as F
        per_frame_logits = torch.randn(1, 100, 75, requires_grad=True)
        labels = torch.tensor([42])
        target = F.one_hot(labels, num_classes=100).float().unsqueeze(-1).expand_as(per_frame_logits)
        loc_loss = F.binary_cross_entropy_with_logits(per_frame_logits, target)
        print(loc_loss.item() > 0, undefined_name)
        """)
    assert "NameError" in run.out and "nllhint" not in run.out


def test_decoder_one_step_short_flattened_on_earlier_lines_without_grad(ipython):
    run = ipython.run("""\
        import torch, torch.nn as nn
        vocab, B, T = 12, 4, 5
        with torch.no_grad():
            out = torch.randn(B, T - 1, vocab)
            logits = out.reshape(-1, vocab)
        question = torch.randint(0, vocab, (B, T))
        targets = question.contiguous().view(-1)
        loss = nn.CrossEntropyLoss()(logits, targets)
        """)
    hint = _hint(run.out)
    assert "one step short" in hint and "loss = nn.CrossEntropyLoss()(logits, question[:, 1:].reshape(-1))" in hint


def test_backward_on_a_custom_unreduced_loss_module(ipython):
    run = ipython.run("""\
        import torch, torch.nn as nn, torch.nn.functional as F
        class FocalLoss(nn.Module):
            def __init__(self, gamma=2.0, reduction='none'):
                super().__init__()
                self.gamma, self.reduction = gamma, reduction
            def forward(self, logits, target):
                ce = F.cross_entropy(logits, target, reduction='none')
                return (1 - torch.exp(-ce)) ** self.gamma * ce
        focal = FocalLoss()
        logits = torch.randn(8, 3, requires_grad=True)
        focal(logits, torch.randint(0, 3, (8,))).backward()
        """)
    hint = _hint(run.out)
    assert "[backward-nonscalar]" in hint
    assert "focal(logits, torch.randint(0, 3, (8,))).mean().backward()" in hint
