"""Under ``torchrun --nproc_per_node 2`` (gloo, CPU, real processes): one full hint per mistake, labelled
with its rank; the other ranks refer to it in one line. ``watch()`` reports once per rank, labelled."""

from __future__ import annotations

import re
import textwrap

import pytest

from nllhint import distributed
from nllhint.finding import Finding

pytest.importorskip("torch.distributed.run")

from multirank import torchrun  # noqa: E402  (tests/multirank.py: two real ranks)


BOTH_RANKS_ONE_BASED = """
    import torch
    import torch.distributed as dist
    import torch.nn.functional as F

    dist.init_process_group("gloo")
    torch.manual_seed(dist.get_rank())
    logits = torch.randn(8, 5, requires_grad=True)
    labels = torch.randint(1, 6, (8,))
    labels[0] = 5
    loss = F.cross_entropy(logits, labels)
"""


def full_hints(out: str) -> list[str]:
    """The ranks that printed the hint in full."""
    return re.findall(r"^\[rank(\d)\]: nllhint NLH101 \[target-range\] labels are 1-based", out, re.M)


def references(out: str) -> list[str]:
    return re.findall(r"^\[rank(\d)\]: nllhint NLH101 \[target-range\] at train\.py:10: the same mistake as on "
                      r"rank (\d); its output has the full hint$", out, re.M)


def test_same_error_on_both_ranks_one_full_hint_and_a_one_line_reference(tmp_path):
    out = torchrun(tmp_path, BOTH_RANKS_ONE_BASED, "-m", "nllhint", "run")
    assert out.count("IndexError: Target 5 is out of bounds.") >= 2  # both tracebacks, unchanged
    [full_rank] = full_hints(out)
    [(rank, holder)] = references(out)
    assert holder == full_rank and rank != full_rank
    assert re.search(rf"^\[rank{full_rank}\]:     loss = F\.cross_entropy\(logits, labels - 1\)$", out, re.M)


def test_error_on_one_rank_only_gets_the_full_hint_there(tmp_path):
    out = torchrun(tmp_path, """
        import torch
        import torch.distributed as dist
        import torch.nn.functional as F

        dist.init_process_group("gloo")
        logits = torch.randn(8, 5)
        labels = torch.tensor([1, 2, 3, 4, 5, 1, 2, 3]) if dist.get_rank() == 1 else torch.arange(8) % 5
        loss = F.cross_entropy(logits, labels)
        dist.destroy_process_group()
    """, "-m", "nllhint", "run")
    assert full_hints(out) == ["1"], out
    assert "the same mistake as on" not in out


def test_install_after_init_process_group_labels_each_line_once(tmp_path):
    script = textwrap.dedent(BOTH_RANKS_ONE_BASED).replace(
        'dist.init_process_group("gloo")\n', 'dist.init_process_group("gloo")\nimport nllhint\nnllhint.install()\n')
    out = torchrun(tmp_path, script)  # our excepthook now wraps torch's rank-prefixing one
    assert len(full_hints(out)) == 1, out
    assert "[rank0]: [rank" not in out and "[rank1]: [rank" not in out
    assert len(re.findall(r"the same mistake as on rank \d", out)) == 1


def test_watch_reports_once_per_rank_with_its_label(tmp_path):
    out = torchrun(tmp_path, """
        import torch
        import torch.distributed as dist
        import torch.nn.functional as F
        import nllhint

        dist.init_process_group("gloo")
        model = torch.nn.Linear(4, 3)
        x, y = torch.randn(16, 4), torch.randint(0, 3, (16,))
        with nllhint.watch() as report:
            for step in range(5):
                loss = F.nll_loss(model(x), y)
        print(report, flush=True)
        dist.destroy_process_group()
    """)
    for rank in (0, 1):
        assert len(re.findall(rf"^\[rank{rank}\]: nllhint losscheck: 5 loss calls at 1 site", out, re.M)) == 1, out
        assert re.search(rf"^\[rank{rank}\]: .*NLH8\d\d \[\w[\w-]*\] .*NLLLoss|nll_loss", out, re.M)


# --- the claim itself, in one process -----------------------------------------------------------------------

FINDING = Finding(code="NLH101", category="target-range", severity="error", title="labels are 1-based",
                  message="...", location="train.py:10")


def test_first_claim_wins_and_later_ranks_learn_who_has_it(tmp_path):
    key = distributed.key_of(FINDING)
    assert distributed.claim(key, 1, directory=str(tmp_path)) == 1
    assert distributed.claim(key, 0, directory=str(tmp_path)) == 1
    assert distributed.claim("NLH201@train.py:10", 0, directory=str(tmp_path)) == 0
    assert distributed.reference(FINDING, 1) == (
        "nllhint NLH101 [target-range] at train.py:10: the same mistake as on rank 1; its output has the full hint")


def test_outside_a_job_nothing_is_labelled_or_claimed(tmp_path, monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    assert distributed.present([FINDING], lambda fs: "the hint") == "the hint"
    assert list(tmp_path.iterdir()) == []


def test_default_mode_notice_is_labelled_per_rank(tmp_path):
    out = torchrun(tmp_path, """
        import torch
        import torch.distributed as dist
        import torch.nn.functional as F

        dist.init_process_group("gloo")
        model = torch.nn.Linear(4, 3)
        x, y = torch.randn(16, 4), torch.randint(0, 3, (16,))
        for step in range(3):
            loss = F.nll_loss(model(x), y)
        dist.destroy_process_group()
    """, "-m", "nllhint", "run")
    for rank in (0, 1):
        notice = re.findall(rf"^\[rank{rank}\]: nllhint: warning NLH801  F\.nll_loss got raw scores: `model\(x\)`", out, re.M)
        assert len(notice) == 1, out
        assert re.search(rf"^\[rank{rank}\]:   at train\.py:9 ", out, re.M)
