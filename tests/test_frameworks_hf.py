"""Hugging Face transformers, the real package, with tiny models built from a config (nothing downloaded):
a loss the model computes from ``labels=`` is hinted at the user's labels and line, not at modeling_bert.py;
a ``compute_loss`` override gets the hint in its own names (notebook and ``nllhint run``); ``watch()`` and
``LossCheckCallback`` report a silent mistake in ``trainer.train()``. Skipped when transformers (and, for
the Trainer, accelerate) is not installed (``pip install -e '.[test,hf]'``)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("transformers")
os.environ["HF_HUB_OFFLINE"] = "1"  # nothing may be downloaded: the models are built from a config

MODEL = """
import torch
import torch.nn.functional as F
from transformers import BertConfig, BertForSequenceClassification

torch.manual_seed(0)
config = BertConfig(vocab_size=100, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                    intermediate_size=32, num_labels=3)
model = BertForSequenceClassification(config)
input_ids = torch.randint(0, 100, (4, 8))
"""

# One batch is the whole dataset: the Trainer shuffles with a seed of its own (transformers and accelerate are
# not pinned), so with smaller batches which labels the first failing batch holds could change.
TRAINER = MODEL + """
from transformers import Trainer, TrainingArguments

class Reviews(torch.utils.data.Dataset):
    def __len__(self):
        return 16

    def __getitem__(self, i):
        return {"input_ids": torch.randint(0, 100, (8,)), "labels": torch.tensor(i % 3 + {shift})}

class MyTrainer(Trainer):
    def compute_loss(self, model, inputs, return_outputs=False, **kwargs):
        labels = inputs.pop("labels")
        outputs = model(**inputs)
        {loss_line}
        return (loss, outputs) if return_outputs else loss

args = TrainingArguments(output_dir={out!r}, max_steps=3, per_device_train_batch_size=16, report_to="none",
                         use_cpu=True, save_strategy="no", disable_tqdm=True, logging_strategy="no")
trainer = MyTrainer(model=model, args=args, train_dataset=Reviews(){callbacks})
"""
SOFTMAX = "probs = F.softmax(outputs.logits, dim=-1)\n        loss = F.cross_entropy(probs, labels)"


def trainer_cell(tmp_path, loss_line="loss = F.cross_entropy(outputs.logits, labels)", shift=0, callbacks=""):
    pytest.importorskip("accelerate")  # transformers' Trainer needs it
    return (TRAINER.replace("{loss_line}", loss_line).replace("{shift}", str(shift))
            .replace("{callbacks}", callbacks).replace("{out!r}", repr(str(tmp_path / "out"))))


def hint_part(out: str) -> str:
    return out[out.index("\nnllhint "):]


def test_labels_given_to_the_model_are_hinted_at_the_users_labels_and_line(ipython):
    ipython.run(MODEL)
    run = ipython.run("""
        labels = torch.tensor([1, 2, 3, 3])
        out = model(input_ids=input_ids, labels=labels)
    """)
    assert "IndexError: Target 3 is out of bounds." in run.out
    assert "modeling_bert.py" in run.out  # the traceback is unchanged
    hint = hint_part(run.out)
    assert "nllhint NLH101 [target-range] labels are 1-based: `labels` runs 1..3, but CrossEntropyLoss" in hint
    assert "out = model(input_ids=input_ids, labels=labels - 1)" in hint
    assert re.search(r"at cell \[\d+\], line 2 · nllhint rules NLH101", hint)
    assert "modeling_bert" not in hint and "loss_fct" not in hint and "self.num_labels" not in hint


def test_labels_spread_from_a_batch_dict_are_named_by_their_key(ipython):
    ipython.run(MODEL)
    run = ipython.run("""
        batch = {"input_ids": input_ids, "labels": torch.tensor([1, 2, 3, 3])}
        out = model(**batch)
    """)
    hint = hint_part(run.out)
    assert '`batch["labels"]` runs 1..3' in hint
    assert 'batch["labels"] = batch["labels"] - 1' in hint
    assert "modeling_bert" not in hint and "loss_fct" not in hint


def test_library_reshape_of_the_labels_is_shown_on_the_users_name(ipython):
    ipython.run(MODEL)
    run = ipython.run("""
        labels = torch.tensor([[0], [1], [2], [5]])
        out = model(input_ids, labels=labels)
    """)
    hint = hint_part(run.out)
    assert "`labels.view(-1)` has labels up to" in hint and "{0, 1, 2, 5}" in hint
    assert "modeling_bert" not in hint and "nn.Linear(model." not in hint  # a library model is configured


def test_labels_hint_under_nllhint_run(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(MODEL + "labels = torch.tensor([1, 2, 3, 3])\nout = model(input_ids=input_ids, labels=labels)\n")
    ran = run_script(tmp_path, "run", script)
    assert ran.returncode == 1
    assert "nllhint NLH101 [target-range] labels are 1-based: `labels` runs 1..3" in ran.stderr
    assert "out = model(input_ids=input_ids, labels=labels - 1)" in ran.stderr
    assert "at train.py:12 · nllhint rules NLH101" in ran.stderr


def test_compute_loss_override_error_is_hinted_in_its_own_names(ipython, tmp_path):
    ipython.run(trainer_cell(tmp_path, shift=1))
    run = ipython.run("trainer.train()")
    hint = hint_part(run.out)
    assert "nllhint NLH101 [target-range] labels are 1-based: `labels` runs 1..3, but F.cross_entropy" in hint
    assert "loss = F.cross_entropy(outputs.logits, labels - 1)" in hint
    assert re.search(r"at cell \[\d+\], line 24 · nllhint rules NLH101", hint)  # the shell drops the first blank line


def test_default_trainer_names_the_labels_the_model_received_and_the_train_line(ipython, tmp_path):
    cell = trainer_cell(tmp_path, shift=1).replace("trainer = MyTrainer(", "trainer = Trainer(")
    ipython.run(cell)
    run = ipython.run("trainer.train()")  # the loss is computed inside transformers from the batch's "labels"
    hint = hint_part(run.out)
    assert "nllhint NLH101 [target-range] labels are 1-based: `labels` runs 1..3, but CrossEntropyLoss" in hint
    assert re.search(r"at cell \[\d+\], line 1 · nllhint rules NLH101", hint)
    assert "fix" not in hint  # no line of the user's holds those labels: no made-up assignment
    assert "modeling_bert" not in hint and "trainer.train(" not in hint and "loss_fct" not in hint


def test_compute_loss_override_error_under_nllhint_run(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(trainer_cell(tmp_path, shift=1) + "trainer.train()\n")
    ran = run_script(tmp_path, "run", script)
    assert ran.returncode == 1
    assert "loss = F.cross_entropy(outputs.logits, labels - 1)" in ran.stderr
    assert "at train.py:25 · nllhint rules NLH101" in ran.stderr


def test_watch_around_train_reports_softmax_before_cross_entropy(ipython, tmp_path):
    ipython.run(trainer_cell(tmp_path, SOFTMAX) + "import nllhint\n")
    run = ipython.run("""
        with nllhint.watch() as report:
            trainer.train()
    """)
    assert run.success, run.out
    [site] = ipython.shell.user_ns["report"].sites
    assert site.calls == 3 and site.expression == "F.cross_entropy(probs, labels)"
    [finding] = site.findings
    assert (finding.code, finding.category) == ("NLH804", "double-softmax")
    assert "`probs` is squashed twice" in finding.title


def test_losscheck_callback_is_the_one_line_version(ipython, tmp_path):
    cell = trainer_cell(tmp_path, SOFTMAX, callbacks=", callbacks=[LossCheckCallback()]")
    ipython.run("from nllhint.integrations.huggingface import LossCheckCallback\n" + cell)
    run = ipython.run("trainer.train()")
    assert run.success, run.out
    assert re.search(r"^nllhint losscheck: 3 loss calls at 1 site: 1 warning$", run.out, re.M), run.out
    assert re.search(r"cell \[\d+\], line 27  F\.cross_entropy\(probs, labels\)  F\.cross_entropy, 3 calls", run.out)
    assert "warning NLH804 [double-softmax]" in run.out


def test_losscheck_callback_stops_a_watch_left_by_a_failed_train(ipython, tmp_path):
    import nllhint.watcher as watcher

    cell = trainer_cell(tmp_path, shift=1, callbacks=", callbacks=[check]")
    ipython.run("from nllhint.integrations.huggingface import LossCheckCallback\ncheck = LossCheckCallback()\n" + cell)
    failed = ipython.run("trainer.train()")
    assert "nllhint NLH101" in failed.out
    left = ipython.shell.user_ns["check"]._session.watch
    assert left in watcher._ACTIVE and left._running  # transformers calls no callback when train() raises
    ipython.run("check.close()")
    assert left not in watcher._ACTIVE and not left._running
    assert ipython.shell.user_ns["check"]._session.watch is None


def run_script(cwd, *args) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "FORCE_COLOR", "NLLHINT_DEBUG")}
    env.update(NO_COLOR="1", HF_HUB_OFFLINE="1")
    return subprocess.run([sys.executable, "-m", "nllhint", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=300)
