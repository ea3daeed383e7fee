"""target-range variants, told apart by the data: each cell is what a user would write."""


def test_sequence_padding_minus_one_is_padding_not_a_shift(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        torch.manual_seed(0)
        tagger = nn.Linear(16, 4)
        tokens = torch.randn(3, 6, 16)
        tags = torch.tensor([[0, 1, 2, -1, -1, -1], [1, 1, 0, 2, -1, -1], [2, 0, 1, 1, 0, 2]])
        loss = nn.CrossEntropyLoss()(tagger(tokens).permute(0, 2, 1), tags)
    """)
    assert "nllhint NLH102" in run.out
    assert "ignore_index=-1" in run.out
    assert "+ 1" not in run.out[run.out.index("nllhint NLH102"):]


def test_one_based_labels_through_a_cast_in_one_hot(ipython):
    run = ipython.run("""
        import torch, torch.nn.functional as F
        gt_classes = torch.tensor([1., 3., 4., 2., 4.])
        cls_target = F.one_hot(gt_classes.to(torch.int64), 4)
    """)
    assert "nllhint NLH107" in run.out
    assert "F.one_hot(gt_classes.to(torch.int64) - 1, 4)" in run.out


def test_too_few_outputs_names_the_models_last_layer(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        class Classifier(nn.Module):
            def __init__(self):
                super().__init__()
                self.body = nn.Linear(20, 32)
                self.fc = nn.Linear(32, 10)
            def forward(self, x):
                return self.fc(torch.relu(self.body(x)))
        model = Classifier()
        x, y = torch.randn(64, 20), torch.arange(64) % 12
        loss = nn.CrossEntropyLoss()(model(x), y)
    """)
    assert "nllhint NLH103" in run.out
    assert "model.fc" in run.out and "12" in run.out


def test_voc_style_boundary_label_in_a_21_class_mask(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        torch.manual_seed(0)
        target = torch.randint(0, 21, (2, 10, 10))
        target[:, 4, :] = 255
        outputs = torch.randn(2, 21, 10, 10)
        loss = nn.CrossEntropyLoss()(outputs, target)
    """)
    assert "nllhint NLH102" in run.out
    assert "ignore_index=255" in run.out


def test_correct_ignore_index_and_an_unrelated_error_get_no_hint(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        target = torch.randint(0, 21, (2, 10, 10))
        target[:, 4, :] = 255
        loss = nn.CrossEntropyLoss(ignore_index=255)(torch.randn(2, 21, 10, 10), target)
        print(loss.item() > 0)
        raise KeyError("epoch")
    """)
    assert "KeyError" in run.out
    assert "nllhint" not in run.out


def test_too_few_outputs_names_the_users_own_setting(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        class SentimentHead(nn.Module):
            def __init__(self, hidden=16, num_labels=2):
                super().__init__()
                self.classifier = nn.Linear(hidden, num_labels)
            def forward(self, pooled):
                return self.classifier(pooled)
        head = SentimentHead()
        polarity = torch.tensor([0, 2, 1, 1, 0, 2, 2, 1])
        loss = nn.functional.cross_entropy(head(torch.randn(8, 16)), polarity)
    """)
    assert "NLH103" in run.out
    prose = " ".join(run.out.split())
    assert "(or set num_labels=3)" in prose and "num_classes" not in prose


def test_too_few_outputs_without_a_class_count_setting_does_not_invent_one(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 10))
        y = torch.arange(32) % 12
        loss = nn.CrossEntropyLoss()(model(torch.randn(32, 20)), y)
    """)
    assert "NLH103" in run.out
    assert "or set" not in run.out and "num_classes" not in run.out


# --- review: the padding fix keeps the user's loss object and its options -----------------------------

def test_padding_fix_uses_the_users_loss_name_and_keeps_its_options(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        PAD = 0
        class_w = torch.ones(30)
        logits = torch.randn(3, 6, 30)
        labels = torch.randint(1, 30, (3, 6))
        labels[:, 4:] = -100
        loss_fn = nn.CrossEntropyLoss(weight=class_w, ignore_index=PAD, label_smoothing=0.1)
        loss = loss_fn(logits.reshape(-1, 30), labels.reshape(-1))
    """)
    assert "nllhint NLH102" in run.out
    hint = run.out[run.out.index("nllhint NLH102"):]
    assert "criterion = " not in hint   # the user's object is `loss_fn`
    assert "weight=class_w" in hint and "label_smoothing=0.1" in hint and "ignore_index=-100" in hint
    assert "ignore_index=PAD" not in hint


def test_padding_fix_inline_module_keeps_its_weight(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        w = torch.tensor([1.0, 2.0, 0.5, 1.0])
        logits = torch.randn(2, 4, 8, 8)
        mask = torch.randint(0, 4, (2, 8, 8)); mask[:, :2] = 255
        loss = nn.CrossEntropyLoss(weight=w)(logits, mask)
    """)
    assert "nllhint NLH102" in run.out
    assert "loss = nn.CrossEntropyLoss(weight=w, ignore_index=255)(logits, mask)" in run.out


def test_padding_fix_for_a_loss_built_in_another_method_sets_the_attribute(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        class Trainer:
            def __init__(self):
                self.criterion = nn.NLLLoss(reduction="sum")
            def step(self, logp, tgt):
                return self.criterion(logp, tgt)
        trainer = Trainer()
        logp = torch.randn(10, 5).log_softmax(1)
        tgt = torch.tensor([0, 1, 2, 3, 4, -1, -1, 1, 2, 3])
        loss = trainer.step(logp, tgt)
    """)
    assert "nllhint NLH102" in run.out
    assert "self.criterion.ignore_index = -1" in run.out
    assert "criterion = nn.NLLLoss(ignore_index=-1)" not in run.out   # would drop reduction="sum"


def test_one_output_head_with_value_targets_gets_no_relabel_or_drop_hint(ipython):
    # CrossEntropyLoss on a 1-output regression head: re-indexing the values (NLH104) or keeping only
    # label 0 (NLH105) would both be wrong advice
    run = ipython.run("""
        import torch, torch.nn as nn
        torch.manual_seed(0)
        model = nn.Linear(3, 1)
        x = torch.randn(16, 3); price = (torch.rand(16) * 40).long()
        loss = nn.CrossEntropyLoss()(model(x), price)
    """)
    assert not run.success
    assert "torch.unique" not in run.out
    assert "keep = (price >= 0) & (price < 1)" not in run.out
