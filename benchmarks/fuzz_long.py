"""The long fuzz profile: tens of thousands of random loss calls through explain(), the watch and IPython.

Run by hand (before a release, after a change to the rules, the probe or the watch):

    python benchmarks/fuzz_long.py            # 20,000 calls + 6,600 correct calls (a few minutes)
    python benchmarks/fuzz_long.py 50000      # more

It runs tests/test_fuzz.py with ``NLLHINT_FUZZ=long``: random, not derandomized, so every run explores
new calls. A failure prints the falsifying call and a ``@reproduce_failure`` line; the counts (examples,
raised, got a hint, IPython cells) are printed at the end.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def main() -> int:
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, NLLHINT_FUZZ="long")
    if len(sys.argv) > 1:
        env["NLLHINT_FUZZ_EXAMPLES"] = str(int(sys.argv[1]))
    command = [sys.executable, "-m", "pytest", str(root / "tests" / "test_fuzz.py"), "-q", "-p", "no:cacheprovider"]
    return subprocess.call(command, cwd=root, env=env)


if __name__ == "__main__":
    sys.exit(main())
