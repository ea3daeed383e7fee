"""Terminal IPython as people run it: a real pseudo-terminal (colour), a pipe (no colour when asked),
and a narrow 60-column window where the hint must still read well."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import shutil
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

CELL = """%load_ext nllhint
import torch, torch.nn as nn
criterion = nn.CrossEntropyLoss()
outputs = torch.randn(8, 5, requires_grad=True)
labels = torch.tensor([1, 2, 3, 4, 5, 1, 2, 3])
loss = criterion(outputs, labels)
"""
ANSI = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]")
IPYTHON = [sys.executable, "-m", "IPython", "--no-banner", "--HistoryManager.enabled=False"]


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "COLUMNS", "LINES", "FORCE_COLOR")}
    env.update(extra)
    return env


def run_in_pty(args: list[str], columns: int = 100, timeout: float = 300, **env) -> str:
    """Run ``args`` with a real terminal of the given width as stdin/stdout/stderr; return what it showed.

    Reading stops when the terminal is closed, or when nothing is pending after the process was seen to
    have exited; never at the moment it exits, when what it wrote last may still be in the terminal."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, env=_env(TERM="xterm-256color", **env),
                            close_fds=True, cwd=Path(__file__).parent)
    os.close(slave)
    chunks, deadline, exited = [], time.monotonic() + timeout, False
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every end of the terminal is closed and all it held was read
                break
            if not data:
                break
            chunks.append(data)
        elif exited:  # exited, and nothing more came in the half second after: all that it wrote was read
            break
        else:
            exited = proc.poll() is not None
    proc.wait(timeout=60)
    os.close(master)
    return b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")


def run_piped(args: list[str], **env) -> str:
    proc = subprocess.run(args, capture_output=True, text=True, env=_env(**env), timeout=300,
                          cwd=Path(__file__).parent)
    return proc.stdout + proc.stderr


def hint_of(output: str) -> str:
    plain = ANSI.sub("", output)
    start = plain.index("nllhint NLH101")
    return plain[start:]


def raw_hint_of(output: str) -> str:
    """The hint with its escape codes: from the line holding the code to the end."""
    start = output.index("NLH101")
    return output[output.rfind("\n", 0, start) + 1:]


def test_a_real_terminal_gets_a_coloured_hint():
    out = run_in_pty(IPYTHON + ["-c", CELL])
    assert "IndexError" in ANSI.sub("", out)
    assert "loss = criterion(outputs, labels - 1)" in hint_of(out)
    assert "\x1b[" in raw_hint_of(out)


@pytest.mark.parametrize("how", ["--colors=nocolor", "NO_COLOR"])
def test_piped_output_has_no_colour_when_asked(how):
    args = IPYTHON + (["--colors=nocolor"] if how.startswith("--") else []) + ["-c", CELL]
    out = run_piped(args, **({"NO_COLOR": "1"} if how == "NO_COLOR" else {}))
    assert "nllhint NLH101" in out
    assert "\x1b[" not in raw_hint_of(out)


def test_a_60_column_window_wraps_the_hint_within_the_window():
    out = run_in_pty(IPYTHON + ["--colors=nocolor", "-c", CELL], columns=60)
    hint = hint_of(out)
    lines = [line for line in hint.splitlines() if line.strip()]
    assert len(lines) >= 8
    assert max(len(line) for line in lines) <= 60, "\n".join(lines)
    assert "loss = criterion(outputs, labels - 1)" in hint
    for line in lines[1:]:
        if not line.startswith("nllhint"):
            assert line.startswith("  "), f"continuation lines stay indented: {line!r}"


def test_the_nllhint_command_is_on_the_path():
    assert shutil.which("nllhint") or Path(sys.executable).with_name("nllhint").exists()
