"""PyTorch Lightning, the real package: a loss error in ``training_step`` gets its hint in the user's names
(notebook and ``nllhint run``), ``watch()`` around ``trainer.fit`` reports a silent mistake, and the
``LossCheck`` callback does that in one line. Skipped when ``lightning`` is not installed
(``pip install -e '.[test,lightning]'``)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("lightning")

MODULE = """
    import torch, torch.nn as nn, torch.nn.functional as F
    import lightning as L
    from torch.utils.data import DataLoader, TensorDataset

    class Classifier(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = nn.Linear(8, 4)

        def training_step(self, batch, batch_idx):
            x, y = batch
            logits = self.net(x)
            {loss_line}
            return loss

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    torch.manual_seed(0)
    loader = DataLoader(TensorDataset(torch.randn(32, 8), torch.randint(0, 4, (32,))), batch_size=8)
    trainer = L.Trainer(max_epochs=1, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False{callbacks})
"""


def module(loss_line: str, callbacks: str = "") -> str:
    return textwrap.dedent(MODULE.replace("{loss_line}", loss_line).replace("{callbacks}", callbacks)).lstrip()


ONE_HOT = "targets = F.one_hot(y, 4)\n            loss = F.cross_entropy(logits, targets)"
RAW_LOGITS = "loss = F.nll_loss(logits, y)"


def test_one_hot_target_in_training_step_is_hinted_in_the_notebook(ipython):
    ipython.run(module(ONE_HOT))
    run = ipython.run("trainer.fit(Classifier(), loader)")
    assert "RuntimeError: Expected floating point type for target with class probabilities, got Long" in run.out
    assert "nllhint NLH201 [target-shape] `targets` is one-hot encoded (8, 4)" in run.out
    assert "loss = F.cross_entropy(logits, targets.argmax(dim=1))" in run.out
    assert re.search(r"at cell \[\d+\], line 14 · nllhint rules NLH201", run.out)
    assert "lightning" not in run.out[run.out.index("nllhint NLH201"):]  # the hint names no library internals


def test_one_hot_target_in_training_step_is_hinted_under_nllhint_run(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(module(ONE_HOT) + "trainer.fit(Classifier(), loader)\n")
    ran = run_script(tmp_path, "run", script)
    assert ran.returncode == 1
    assert "nllhint NLH201 [target-shape] `targets` is one-hot encoded (8, 4)" in ran.stderr
    assert "loss = F.cross_entropy(logits, targets.argmax(dim=1))" in ran.stderr
    assert "at train.py:14 · nllhint rules NLH201" in ran.stderr


def test_watch_around_fit_reports_raw_logits_into_nll_loss(ipython):
    ipython.run(module(RAW_LOGITS) + "import nllhint\n")
    run = ipython.run("""
        with nllhint.watch() as report:
            trainer.fit(Classifier(), loader)
    """)
    assert run.success, run.out
    [site] = ipython.shell.user_ns["report"].sites
    assert site.calls == 4 and re.fullmatch(r"cell \[\d+\], line 13", site.location)
    [finding] = site.findings
    assert (finding.code, finding.category) == ("NLH801", "input-not-logprob")
    assert finding.title == "F.nll_loss got raw scores: `logits` is not log-probabilities"


def test_losscheck_callback_is_the_one_line_version(ipython):
    ipython.run(module(RAW_LOGITS, callbacks=", callbacks=[LossCheck()]").replace(
        "import lightning as L", "import lightning as L\nfrom nllhint.integrations.lightning import LossCheck"))
    run = ipython.run("trainer.fit(Classifier(), loader)")
    assert run.success, run.out
    assert re.search(r"^nllhint losscheck: 4 loss calls at 1 site: 1 warning$", run.out, re.M), run.out
    assert re.search(r"cell \[\d+\], line 14  F\.nll_loss\(logits, y\)  F\.nll_loss, 4 calls", run.out)
    assert "warning NLH801 [input-not-logprob] F.nll_loss got raw scores: `logits`" in run.out
    [callback] = [c for c in ipython.shell.user_ns["trainer"].callbacks if type(c).__name__ == "LossCheck"]
    assert callback.report.findings and callback.report.calls == 4


def test_losscheck_callback_on_a_clean_fit_says_so_in_one_line(ipython):
    ipython.run(module("loss = F.cross_entropy(logits, y)", callbacks=", callbacks=[LossCheck()]").replace(
        "import lightning as L", "import lightning as L\nfrom nllhint.integrations.lightning import LossCheck"))
    run = ipython.run("trainer.fit(Classifier(), loader)")
    assert run.success, run.out
    assert re.search(r"^nllhint losscheck: 4 loss calls at 1 site, no problems found$", run.out, re.M), run.out


def test_losscheck_callback_gives_a_plain_script_the_hint_and_leaves_no_hook_after_a_clean_fit(tmp_path):
    callback = ", callbacks=[LossCheck()]"
    header = "import lightning as L\nfrom nllhint.integrations.lightning import LossCheck\nimport sys"
    failing = module(ONE_HOT, callbacks=callback).replace("import lightning as L", header)
    (tmp_path / "train.py").write_text(failing + "trainer.fit(Classifier(), loader)\n")
    ran = subprocess.run([sys.executable, "train.py"], capture_output=True, text=True, cwd=tmp_path, timeout=300,
                         env={**os.environ, "NO_COLOR": "1"})
    assert ran.returncode == 1
    assert "nllhint NLH201 [target-shape] `targets` is one-hot encoded (8, 4)" in ran.stderr
    assert "at train.py:16 · nllhint rules NLH201" in ran.stderr

    clean = module("loss = F.cross_entropy(logits, y)", callbacks=callback).replace("import lightning as L", header)
    (tmp_path / "clean.py").write_text(clean + "trainer.fit(Classifier(), loader)\nprint(sys.excepthook is sys.__excepthook__)\n")
    ran = subprocess.run([sys.executable, "clean.py"], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert ran.returncode == 0 and ran.stdout.splitlines()[-1] == "True", ran.stdout + ran.stderr


def run_script(cwd, *args) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "FORCE_COLOR", "NLLHINT_DEBUG")}
    env["NO_COLOR"] = "1"
    return subprocess.run([sys.executable, "-m", "nllhint", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=300)


# --- DDP: torchrun --nproc_per_node 2, Lightning's ddp strategy on CPU (gloo) ----------------------------------

DDP = module("{loss_line}", callbacks=", devices=2, strategy='ddp', callbacks=[LossCheck(brief=True)]").replace(
    "import lightning as L", "import lightning as L\nfrom nllhint.integrations.lightning import LossCheck"
) + "trainer.fit(Classifier(), loader)\n"


def ddp(tmp_path, loss_line: str) -> str:
    from multirank import torchrun  # tests/multirank.py: two real ranks

    return torchrun(tmp_path, DDP.replace("{loss_line}", loss_line))


def test_losscheck_under_ddp_reports_once_per_rank_labelled(tmp_path):
    out = ddp(tmp_path, RAW_LOGITS)
    for rank in (0, 1):
        assert re.findall(rf"^\[rank{rank}\]: nllhint losscheck: (.*)$", out, re.M) == ["2 loss calls at 1 site: 1 warning"], out
        assert re.search(rf"^\[rank{rank}\]:     warning NLH801 \[input-not-logprob\] F\.nll_loss got raw scores: "
                         r"`logits`", out, re.M)


def test_training_step_error_under_ddp_one_full_hint_one_reference(tmp_path):
    # one-hot targets fail every batch on every rank (with y + 1 a rank's first batch of random labels lacks
    # a 3 for 1 seed in 6, and that rank would wait in backward instead of failing)
    out = ddp(tmp_path, ONE_HOT.replace("\n    ", "\n", 1))  # DDP's module is dedented already
    full = re.findall(r"^\[rank(\d)\]: nllhint NLH201 \[target-shape\] `targets` is one-hot encoded \(8, 4\)", out,
                      re.M)
    refs = re.findall(r"^\[rank(\d)\]: nllhint NLH201 \[target-shape\] at train\.py:15: the same mistake as on "
                      r"rank (\d); its output has the full hint$", out, re.M)
    assert len(full) == 1 and refs == [(str(1 - int(full[0])), full[0])], out
    assert "losscheck" not in out  # the crash's hint only: nothing found before it, so no clean report
