"""Hints under ``torchrun`` / DDP: one full hint per mistake, labelled with its rank.

When every rank of a job hits the same loss error (they usually do: the same code on shards of the same
data), printing the hint once per rank buries the traceback under copies. So:

* Every line nllhint prints from a rank carries the rank, in the form torch itself uses for tracebacks
  once a process group exists (``[rank1]: ...``); torch's own excepthook adds that prefix when it wraps
  ours, and we add it ourselves otherwise, never twice.
* Each distinct mistake, keyed by the hint's code and the user's line (``NLH101`` at ``train.py:17``), is
  printed in full by exactly one rank per machine: the first rank to reach its excepthook claims the key
  by creating a file with ``O_CREAT | O_EXCL`` in a directory private to the user and the job. A rank
  that finds the key claimed prints one line naming the rank that has the full hint.

Why a claim file and not the process group: a rank in its excepthook cannot use a collective (the other
ranks may be inside another collective, already dead, or never fail), and waiting for the others to learn
the lowest failing rank can deadlock or stall a crash. "Rank 0 prints, the others refer to it" needs no
communication but is wrong when rank 0 does not fail (a bad label on rank 1's shard only). Creating a file
is atomic, never waits, and is always right about who printed: the claimer's rank is written in the file.
Ranks on other machines do not share the directory, so each machine prints the hint once. Which rank
prints in full is the first to fail, not always rank 0. The files (a few bytes per distinct mistake) are
left in place: deleting them would let a late rank print the hint again.

The job is told apart by what torchrun sets (``TORCHELASTIC_RUN_ID``, the restart count, the master
address) and the launching agent's pid, so a rerun or another job never finds an old claim.

``watch()`` reports are per rank: a report is rendered with the same ``[rankN]: `` prefix. Gathering
them on rank 0 would need the same collective this module avoids.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile

from .finding import Finding


def rank() -> int | None:
    """This process's rank in a job of more than one process, else None (read from torchrun's env, or
    from an initialised process group when torch is already imported; never imports torch)."""
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world > 1 and "RANK" in os.environ:
            return int(os.environ["RANK"])
    except ValueError:
        pass
    dist = sys.modules.get("torch.distributed")
    try:
        if dist is not None and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            return int(dist.get_rank())
    except Exception:
        pass
    return None


def emit(text: str, file=None) -> None:
    """Print a block in one write, newline included: ranks share one stdout/stderr pipe, and ``print``
    writes the text and its newline separately, so another rank's block can land between the two."""
    file = file if file is not None else sys.stdout
    file.write(text + "\n")
    file.flush()


def label(text: str, rank_: int | None) -> str:
    """Prefix every line with ``[rankN]: `` as torch does for tracebacks (blank lines stay blank)."""
    if rank_ is None:
        return text
    return "\n".join(f"[rank{rank_}]: {line}" if line else "" for line in text.split("\n"))


def _job() -> str:
    env = os.environ
    parts = [env.get(k, "") for k in ("TORCHELASTIC_RUN_ID", "TORCHELASTIC_RESTART_COUNT", "MASTER_ADDR",
                                      "MASTER_PORT", "GROUP_RANK")]
    parts.append(str(os.getppid()))  # the torchrun agent (or spawning parent) shared by the local ranks
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:20]


def key_of(finding: Finding) -> str:
    """What makes two ranks' hints "the same mistake": the rule and the user's line."""
    return f"{finding.code}@{finding.location}"


def claim(key: str, rank_: int, directory: str | None = None) -> int | None:
    """Claim ``key`` for this rank. Returns the rank that holds it: ours when we got it first, another
    rank's when it was there before; None when the claim could not be made (then print in full).

    The rank is written to a file of our own first and hard-linked to the key's name: ``link`` fails when
    the name exists and is atomic, so a rank that loses always reads the winner's rank, never a half file.
    """
    try:
        base = directory or os.path.join(tempfile.gettempdir(), f"nllhint-ranks-{os.getuid()}", _job())
        os.makedirs(base, mode=0o700, exist_ok=True)
        path = os.path.join(base, hashlib.sha256(key.encode()).hexdigest()[:24])
        mine = f"{path}.{rank_}.{os.getpid()}"
        with open(mine, "w", encoding="ascii") as f:
            f.write(str(rank_))
        try:
            os.link(mine, path)
            return rank_
        except FileExistsError:
            with open(path, encoding="ascii") as f:
                text = f.read().strip()
            return int(text) if text.isdigit() else None
        finally:
            os.unlink(mine)
    except Exception:
        return None


def reference(finding: Finding, holder: int) -> str:
    """The one line a rank prints when another rank has the full hint for the same mistake."""
    who = f"rank {holder}" if holder >= 0 else "another rank"
    where = f" at {finding.location}" if finding.location else ""
    return f"nllhint {finding.code} [{finding.category}]{where}: the same mistake as on {who}; its output has the full hint"


def present(findings: list[Finding], render_one, caller=None) -> str:
    """The text this process prints for its findings through an excepthook.

    Outside a multi-process job: ``render_one(findings)``. In one: the full hint for the keys this rank
    claims, one line for the rest, every line labelled with the rank unless ``caller`` (the frame that
    called our excepthook) is torch's own rank-prefixing hook, which labels what we print.
    """
    rank_ = rank()
    if rank_ is None:
        return render_one(findings)
    parts = []
    for finding in findings:
        holder = claim(key_of(finding), rank_)
        parts.append(render_one([finding]) if holder is None or holder == rank_ else reference(finding, holder))
    text = "\n".join(parts)
    if getattr(getattr(caller, "f_code", None), "co_name", "") == "_distributed_excepthook":
        return text
    return label(text, rank_)
