"""Run a script under ``torchrun --nproc_per_node 2`` (real processes, gloo on CPU) and return what the
user saw. Shared by tests/test_torchrun.py and tests/test_frameworks_lightning.py."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

# torchrun's agent stops the other ranks as soon as one rank has exited with an error, possibly before they
# have printed anything. So that a test sees every rank's output, each rank waits at exit (bounded) until all
# have reached their exit. This runs from sitecustomize, so the user's script and its line numbers are as
# written; it never touches what nllhint or torch do.
WAIT_AT_EXIT = """
import atexit, os, pathlib, time

def _wait_for_every_rank():
    folder = pathlib.Path(os.environ["NLLHINT_TEST_RANKS"])
    (folder / f"exited.{os.environ['RANK']}").touch()
    deadline = time.monotonic() + 240
    while len(list(folder.glob("exited.*"))) < int(os.environ["WORLD_SIZE"]) and time.monotonic() < deadline:
        time.sleep(0.05)

if "RANK" in os.environ and "NLLHINT_TEST_RANKS" in os.environ:
    atexit.register(_wait_for_every_rank)
"""


def torchrun(tmp_path, script: str, *args: str) -> str:
    """Run ``script`` (dedented) as ``train.py`` on two CPU ranks; ``args`` go before the script (``-m nllhint
    run``). Returns stdout and stderr together."""
    (tmp_path / "train.py").write_text(textwrap.dedent(script).lstrip())
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(WAIT_AT_EXIT)
    env = {k: v for k, v in os.environ.items()
           if k not in ("COLUMNS", "FORCE_COLOR", "NLLHINT_DEBUG", "RANK", "WORLD_SIZE", "MASTER_PORT")}
    env.update(NO_COLOR="1", TMPDIR=str(tmp_path), OMP_NUM_THREADS="1", NLLHINT_TEST_RANKS=str(tmp_path),
               PYTHONPATH=os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")])))
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               *args, "train.py"]
    done = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    return done.stdout + done.stderr
