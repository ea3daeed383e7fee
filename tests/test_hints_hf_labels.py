"""Labels above the model's ``num_labels``, the way Hugging Face notebooks meet it: a classifier built with
``from_pretrained(..., num_labels=2)`` (or from a config) on data with five classes raises ``Target 4 is out of
bounds`` inside the model's forward. The fix is the user's own ``num_labels=`` line with the class count the
labels need, not a new last layer. The library is an installed-style package (a ``site-packages`` folder on
``sys.path``) built like transformers' models, so this runs without transformers.
"""

from __future__ import annotations

import re
import sys
import textwrap

import pytest

LIBRARY = '''
import torch
import torch.nn as nn


class TinyConfig:
    def __init__(self, hidden_size=8, num_labels=2, **kwargs):
        self.hidden_size, self.num_labels = hidden_size, num_labels


class TinyForSequenceClassification(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.num_labels = config.num_labels
        self.embed = nn.Embedding(100, config.hidden_size)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)

    def forward(self, input_ids=None, labels=None, **kwargs):
        logits = self.classifier(self.embed(input_ids).mean(dim=1))
        loss = None
        if labels is not None:
            loss_fct = nn.CrossEntropyLoss()
            loss = loss_fct(logits.view(-1, self.num_labels), labels.view(-1))
        return {"loss": loss, "logits": logits}


class AutoModelForSequenceClassification:
    @classmethod
    def from_pretrained(cls, name, num_labels=2, **kwargs):
        return TinyForSequenceClassification(TinyConfig(num_labels=num_labels))
'''


@pytest.fixture
def tinyhf(tmp_path, monkeypatch, ipython):
    folder = tmp_path / "venv" / "lib" / "site-packages"
    folder.mkdir(parents=True)
    (folder / "nllhint_tinyhf.py").write_text(textwrap.dedent(LIBRARY))
    monkeypatch.syspath_prepend(str(folder))
    ipython.fresh_namespace()
    yield
    ipython.fresh_namespace()
    sys.modules.pop("nllhint_tinyhf", None)


BATCH = """
    import torch
    from nllhint_tinyhf import AutoModelForSequenceClassification, TinyConfig, TinyForSequenceClassification
    input_ids = torch.randint(0, 100, (8, 12))
    labels = torch.tensor([0, 3, 1, 4, 2, 0, 1, 2])    # five sentiment classes, 0..4
"""


def hint_part(out: str) -> str:
    return out[out.index("\nnllhint "):]


def test_num_labels_in_the_same_cell_is_the_fix(ipython, tinyhf):
    ipython.run(BATCH)
    run = ipython.run("""
        model = AutoModelForSequenceClassification.from_pretrained("distilbert-base-uncased", num_labels=2)
        outputs = model(input_ids=input_ids, labels=labels)
    """)
    assert "IndexError: Target" in run.out and "is out of bounds." in run.out
    assert "nllhint_tinyhf.py" in run.out  # the traceback is unchanged
    hint = hint_part(run.out)
    assert "nllhint NLH103 [target-range] the model predicts 2 classes, but `labels` has labels up to 4" in hint
    assert "comes from num_labels=2 in your code: set it to 5 (the largest label + 1)" in " ".join(hint.split())
    assert ('fix # line 1: model = AutoModelForSequenceClassification.from_pretrained("distilbert-base-uncased", '
            'num_labels=5) at cell') in " ".join(hint.split())  # a long fix line wraps at the console width
    assert re.search(r"at cell \[\d+\], line 2 · nllhint rules NLH103", hint)
    assert "nn.Linear" not in hint and "nllhint_tinyhf" not in hint


def test_num_labels_in_an_earlier_cell_is_named_by_its_cell(ipython, tinyhf):
    ipython.run(BATCH)
    built = ipython.run('model = AutoModelForSequenceClassification.from_pretrained("bert-base-cased", num_labels=2)')
    number = built.result.execution_count
    run = ipython.run("""
        model.train()
        for step in range(3):
            outputs = model(input_ids=input_ids, labels=labels)
            outputs["loss"].backward()
    """)
    hint = hint_part(run.out)
    assert "NLH103" in hint
    assert (f"\n  fix\n    # cell [{number}], line 1:\n"
            '    model = AutoModelForSequenceClassification.from_pretrained("bert-base-cased", num_labels=5)\n') in hint


def test_num_labels_given_to_a_config(ipython, tinyhf):
    ipython.run(BATCH)
    run = ipython.run("""
        config = TinyConfig(hidden_size=8, num_labels=2)
        model = TinyForSequenceClassification(config)
        loss = model(input_ids, labels=labels)["loss"]
    """)
    assert "\n  fix\n    # line 1:\n    config = TinyConfig(hidden_size=8, num_labels=5)\n" in hint_part(run.out)


def test_num_labels_from_a_constant_fixes_the_constant(ipython, tinyhf):
    ipython.run(BATCH)
    run = ipython.run("""
        NUM_LABELS = 2
        model = AutoModelForSequenceClassification.from_pretrained("roberta-base", num_labels=NUM_LABELS)
        outputs = model(input_ids=input_ids, labels=labels)
    """)
    assert "\n  fix\n    # line 1:\n    NUM_LABELS = 5\n" in hint_part(run.out)


def test_custom_compute_loss_in_the_cell_that_built_the_model(ipython, tinyhf):
    ipython.run(BATCH)
    run = ipython.run("""
        import torch.nn.functional as F

        model = AutoModelForSequenceClassification.from_pretrained("distilbert-base-uncased", num_labels=2)

        def compute_loss(model, inputs):
            labels = inputs.pop("labels")
            outputs = model(**inputs)
            return F.cross_entropy(outputs["logits"], labels)

        loss = compute_loss(model, {"input_ids": input_ids, "labels": labels})
    """)
    hint = hint_part(run.out)
    assert "NLH103" in hint and "num_labels=2 in your code" in " ".join(hint.split())
    assert ('fix # line 3: model = AutoModelForSequenceClassification.from_pretrained("distilbert-base-uncased", '
            'num_labels=5) at cell') in " ".join(hint.split())  # a long fix line wraps at the console width


def test_without_a_class_count_in_sight_the_advice_is_the_last_layer(ipython, tinyhf):
    ipython.run("""
        import torch, torch.nn as nn, torch.nn.functional as F
        model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 10))
        x, y = torch.randn(32, 20), torch.arange(32) % 12
        targets_onehot = F.one_hot(y % 10, num_classes=10)    # a num_classes= that is not the model's
    """)
    run = ipython.run("loss = nn.CrossEntropyLoss()(model(x), y)")
    hint = hint_part(run.out)
    assert "NLH103" in hint and "num_classes=10" not in hint
    assert "\n  fix\n    model[2] = nn.Linear(model[2].in_features, 12)\n" in hint


ASSERT_MESSAGE = ("CUDA error: device-side assert triggered\nCUDA kernel errors might be asynchronously reported at "
                  "some other API call, so the stacktrace below might be incorrect.")


def test_on_cuda_the_assert_names_the_num_labels_line_without_reading_labels(ipython, tinyhf):
    """On a GPU the label check is a device-side assert, reported at the next call that waits for the GPU;
    here ``meta`` tensors stand in for CUDA ones (no values) and the cell raises what ``.item()`` raises."""
    ipython.run("""\
        import torch
        from nllhint_tinyhf import AutoModelForSequenceClassification
        model = AutoModelForSequenceClassification.from_pretrained("bert-base-cased", num_labels=2).to("meta")
    """)
    ipython.shell.user_ns["ASSERT_MESSAGE"] = ASSERT_MESSAGE
    run = ipython.run("""
        input_ids = torch.randint(0, 100, (8, 12), device="meta")
        labels = torch.randint(0, 5, (8,), device="meta")
        outputs = model(input_ids=input_ids, labels=labels)
        loss = outputs["loss"]
        raise torch.AcceleratorError(ASSERT_MESSAGE)   # loss.item() on CUDA
    """)
    flat = " ".join(hint_part(run.out).split())
    assert "NLH106" in flat and "outside 0..1 (C = 2)" in flat
    assert "The model's 2 classes come from num_labels=2 in `model = AutoModelForSequenceClassification" in flat
    assert re.search(r"\(cell \[\d+\], line 3\): if the labels go beyond 1, set num_labels there", flat)
    assert re.search(r"# cell \[\d+\], line 3: num_labels=<number of classes>, not 2", flat)


def test_real_transformers_config_built_in_an_earlier_cell(ipython, monkeypatch):
    """The real package (skipped without it): BertConfig answers attribute reads itself, and the config cell
    is an earlier one than the cell that fails."""
    pytest.importorskip("transformers")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    ipython.fresh_namespace()
    built = ipython.run("""\
        import torch
        from transformers import BertConfig, BertForSequenceClassification
        config = BertConfig(vocab_size=100, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                            intermediate_size=32, num_labels=2)
        model = BertForSequenceClassification(config)
    """)
    run = ipython.run("""
        input_ids = torch.randint(0, 100, (6, 8))
        labels = torch.tensor([0, 1, 2, 3, 4, 1])
        out = model(input_ids=input_ids, labels=labels)
    """)
    assert "modeling_bert.py" in run.out
    flat = " ".join(hint_part(run.out).split())
    assert "NLH103" in flat and "num_labels=2 in your code" in flat and "modeling_bert" not in flat
    assert (f"fix # cell [{built.result.execution_count}], line 3: config = BertConfig(vocab_size=100, hidden_size=16, "
            "num_hidden_layers=1, num_attention_heads=2, intermediate_size=32, num_labels=5)") in flat
    ipython.fresh_namespace()


def test_real_trainer_compute_loss_with_five_classes_and_num_labels_three(ipython, monkeypatch, tmp_path):
    """A Trainer subclass with its own compute_loss (the real packages; skipped without them): the loss
    is the user's, in compute_loss, and the config that set the classes is in the same cell."""
    pytest.importorskip("transformers")
    pytest.importorskip("accelerate")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    ipython.fresh_namespace()
    run = ipython.run(f"""
        import torch
        import torch.nn.functional as F
        from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments

        config = BertConfig(vocab_size=100, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                            intermediate_size=32, num_labels=3)
        model = BertForSequenceClassification(config)

        class Reviews(torch.utils.data.Dataset):
            def __len__(self):
                return 16
            def __getitem__(self, i):
                return {{"input_ids": torch.randint(0, 100, (8,)), "labels": torch.tensor(i % 5)}}

        class MyTrainer(Trainer):
            def compute_loss(self, model, inputs, return_outputs=False, **kwargs):
                labels = inputs.pop("labels")
                outputs = model(**inputs)
                loss = F.cross_entropy(outputs.logits, labels)
                return (loss, outputs) if return_outputs else loss

        args = TrainingArguments(output_dir={str(tmp_path / "out")!r}, max_steps=1, per_device_train_batch_size=16,
                                 report_to="none", use_cpu=True, save_strategy="no", disable_tqdm=True,
                                 logging_strategy="no")
        MyTrainer(model=model, args=args, train_dataset=Reviews()).train()
    """)
    flat = " ".join(hint_part(run.out).split())
    assert "NLH103" in flat and "labels up to 4" in flat and "num_labels=3 in your code" in flat
    assert ("fix # line 5: config = BertConfig(vocab_size=100, hidden_size=16, num_hidden_layers=1, "
            "num_attention_heads=2, intermediate_size=32, num_labels=5)") in flat
    ipython.fresh_namespace()


def test_moving_the_model_in_a_later_cell_keeps_the_build_cell(ipython, tinyhf):
    ipython.run(BATCH)
    built = ipython.run('model = AutoModelForSequenceClassification.from_pretrained("bert-base-cased", num_labels=2)')
    ipython.run('model = model.to("cpu")')
    run = ipython.run("outputs = model(input_ids=input_ids, labels=labels)")
    assert (f"\n  fix\n    # cell [{built.result.execution_count}], line 1:\n"
            '    model = AutoModelForSequenceClassification.from_pretrained("bert-base-cased", num_labels=5)\n'
            ) in hint_part(run.out)


def test_a_model_rebuilt_without_the_keyword_is_not_fixed_in_the_old_cell(ipython, tinyhf):
    ipython.run(BATCH)
    ipython.run('model = AutoModelForSequenceClassification.from_pretrained("bert-base-cased", num_labels=2)')
    ipython.run('model = TinyForSequenceClassification(TinyConfig())   # num_labels left at its default, 2')
    run = ipython.run("outputs = model(input_ids=input_ids, labels=labels)")
    hint = hint_part(run.out)
    assert "NLH103" in hint and "from_pretrained" not in hint
    assert "\n  fix\n    # last layer: nn.Linear(in_features, 5)\n" in hint
